"""Elementwise sum of streams (the join of a residual block), optionally with its activation.

``n >= 2`` input streams ``i[k]`` carry the same tensor shape, ``pe`` channels per word,
channels fastest, each in its own integer datatype (INTn, UINTn, BINARY, BIPOLAR as
:mod:`hwgen.datatypes` codes them). Output word j holds, per element, the sum of the inputs'
elements of word j: as codes of :func:`sum_dtype` (the exact sum: nothing wraps), or, with an
``out_dtype`` and thresholds, that sum through the multi-threshold activation of
:class:`~hwgen.engines.thresholds.ThresholdUnit` (so that ``add`` + activation is one engine,
as the MVAU fuses its own).

Each input has a one-word holding register with a "full" flag. The sum of the held words
*fires* when every register is full and the output queue has a credit; a register takes a word
while it is empty or firing, so ``i[k].ready`` comes from registers only (the flags and the
queue's credit flag, one LUT), never from another input's ``valid``. Firing empties the
registers into a free-running registered adder tree per lane
(:func:`~hwgen.engines.datapath.sum_tree`, one level for up to four inputs), then the
activation, then the :class:`~hwgen.engines.credits.OutputQueue`. So a word per cycle when
every input has one.

The holding registers load with an enable (``pe`` x bits wide per input, as a FIFO's memory
writes): a join must hold one input's word while another's is missing.
"""

from dataclasses import dataclass, field

from amaranth import Cat, Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import MAX_BITS, DataType
from .credits import QUEUE_LATENCY, OutputQueue, credits_for, queue_resources
from .datapath import (counter, elements, range_bits, register, require_positive, sum_tree,
                       tree_levels, tree_resources, value_of)
from .resources import Resources
from .requantize import Requantizer
from .thresholds import ThresholdUnit, check_activation, threshold_latency, threshold_resources

__all__ = ["sum_range", "sum_dtype", "AddParams", "AddStreams"]

WHAT = "add"


def sum_range(dtypes):
    """(lo, hi) of the sum of one value of each of ``dtypes``."""
    return sum(d.min for d in dtypes), sum(d.max for d in dtypes)


def sum_dtype(dtypes):
    """The exact datatype of the sum of one value of each of ``dtypes``: the narrowest INTn
    (when the sum can be negative) or UINTn holding every possible sum. ValueError when that is
    wider than a DataType can be."""
    return DataType.for_range(*sum_range(dtypes))


@dataclass(frozen=True)
class AddParams:
    """Sum of ``len(in_dtypes)`` streams of ``pixels`` vectors of ``channels`` per frame, ``pe``
    at a time; input k's elements are ``in_dtypes[k]``. ``out_dtype``: None for the raw sum
    (elements of :attr:`sum_dtype`), or the datatype of the fused activation's codes;
    ``requantizer``: its thresholds' affine form on :attr:`sum_range`, if they have one."""

    channels: int
    pe: int
    in_dtypes: tuple
    pixels: int
    out_dtype: DataType = None
    requantizer: Requantizer = field(default=None, kw_only=True)

    def __post_init__(self):
        require_positive(WHAT, channels=self.channels, pe=self.pe, pixels=self.pixels)
        if self.channels % self.pe:
            raise ValueError(f"{WHAT}: channels ({self.channels}) must be a multiple of "
                             f"pe ({self.pe})")
        dtypes = tuple(self.in_dtypes) if isinstance(self.in_dtypes, (list, tuple)) else ()
        if len(dtypes) < 2 or not all(isinstance(d, DataType) for d in dtypes):
            raise ValueError(f"{WHAT}: in_dtypes must be two or more DataTypes, "
                             f"not {self.in_dtypes!r}")
        object.__setattr__(self, "in_dtypes", dtypes)
        if self.out_dtype is not None and not isinstance(self.out_dtype, DataType):
            raise ValueError(f"{WHAT}: out_dtype must be a DataType or None, "
                             f"not {self.out_dtype!r}")
        if self.out_dtype is not None:
            check_activation(self.out_dtype, WHAT)
        lo, hi = self.sum_range
        fused = self.out_dtype is not None
        # A fused activation's thresholds go up to hi + 1 (see ThresholdUnit): a bit more.
        if range_bits(lo, hi + fused) > MAX_BITS:
            raise ValueError(f"{WHAT}: the sum of {', '.join(map(str, dtypes))} is too wide "
                             f"(the sums{', and the thresholds up to max + 1,' * fused} must "
                             f"fit {MAX_BITS} bits)")

    @property
    def activation(self):
        """The arguments (after the thresholds) of :func:`ThresholdUnit`,
        :func:`threshold_latency` and :func:`threshold_resources` for the fused activation."""
        return self.channels, self.pe, self.sum_range, self.out_dtype, self.requantizer

    @property
    def inputs(self):
        return len(self.in_dtypes)

    @property
    def sum_range(self):
        return sum_range(self.in_dtypes)

    @property
    def sum_dtype(self):
        return sum_dtype(self.in_dtypes)

    @property
    def output_dtype(self):
        """The output elements' datatype: the activation's, or the sum's."""
        return self.sum_dtype if self.out_dtype is None else self.out_dtype

    @property
    def folds(self):
        """Words per pixel (channel folds)."""
        return self.channels // self.pe

    @property
    def in_widths(self):
        return tuple(self.pe * d.bits for d in self.in_dtypes)

    @property
    def out_width(self):
        return self.pe * self.output_dtype.bits

    @property
    def term_range(self):
        """(lo, hi) bounding every input value (the adder tree's terms)."""
        return min(d.min for d in self.in_dtypes), max(d.max for d in self.in_dtypes)

    def cycles(self):
        """Cycles per frame in steady state: one word per cycle."""
        return self.pixels * self.folds

    @property
    def pipeline_latency(self):
        """Cycles from firing to the result's write into the output queue: the adder tree's
        registered levels (:func:`tree_levels`), then the activation's
        (:func:`threshold_latency`)."""
        activation = 0 if self.out_dtype is None else threshold_latency(*self.activation)
        return tree_levels(self.inputs) + activation

    @property
    def credits(self):
        """Words in flight or queued (:mod:`hwgen.engines.credits`), for one word per cycle."""
        return credits_for(self.pipeline_latency, 1)

    def latency(self):
        """Cycles from the transfer of a word's last input (the inputs of a word transfer on
        the same cycle when none has a gap) to its output word's (no stalls): the holding
        register, the pipeline, then the output queue."""
        return 1 + self.pipeline_latency + QUEUE_LATENCY

    def resources(self):
        """First-order estimate.

        Inputs: the holding registers (a flip-flop per bit, and a full flag each) and their
        ready and load logic (two LUTs each). Sum: per lane a registered adder tree over the
        inputs (:func:`~hwgen.engines.datapath.tree_resources`, terms in :attr:`term_range`).
        Activation, when fused: :func:`~hwgen.engines.thresholds.threshold_resources`, its
        fold counter, and the fold delayed to the tree's output. Control: the valid pipeline.
        Output: the queue and credit counter (:func:`~hwgen.engines.credits.queue_resources`).
        """
        tree = tree_resources(self.inputs, *self.term_range)
        total = (Resources(lut=2 * self.inputs + self.pe * tree.lut,
                           ff=sum(self.in_widths) + self.inputs + self.pe * tree.ff
                           + self.pipeline_latency)
                 + queue_resources(self.out_width, self.credits))
        if self.out_dtype is not None:
            fold_bits = (self.folds - 1).bit_length()
            total += threshold_resources(*self.activation)
            total += Resources(lut=2 * fold_bits + 2,
                               ff=fold_bits * tree_levels(self.inputs) + 2)
        return total


class AddStreams(wiring.Component):
    """Elementwise sum of streams for :class:`AddParams`; see the module docstring.

    Ports: ``i[0] .. i[n - 1]`` (input k: words of ``pe`` ``in_dtypes[k]`` codes), ``o``
    (words of ``pe`` ``output_dtype`` codes). The members of a wiring array share one
    signature, so every input port is ``max(in_widths)`` bits wide: input k's word is in its
    low ``in_widths[k]`` bits and the bits above are ignored (connect a narrower stream by
    assignment rather than :func:`wiring.connect`). ``thresholds``: given exactly when ``out_dtype``
    is, (channels, n_thresholds(out_dtype)) integers (or +-inf) applied to the sums as in
    :func:`hwgen.golden.multithreshold`.
    """

    def __init__(self, params, thresholds=None):
        p = self.params = params
        if (thresholds is None) != (p.out_dtype is None):
            raise ValueError(f"{WHAT}: thresholds are given exactly when out_dtype is")
        self._activation = None if thresholds is None else ThresholdUnit(
            thresholds, *p.activation, what=WHAT)
        super().__init__({
            "i": In(stream.Signature(unsigned(max(p.in_widths)))).array(p.inputs),
            "o": Out(stream.Signature(unsigned(p.out_width))),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()
        m.submodules.queue = queue = OutputQueue(p.out_width, p.credits)
        wiring.connect(m, queue.o, wiring.flipped(self.o))

        held = [Signal(width, name=f"held{k}", reset_less=True)
                for k, width in enumerate(p.in_widths)]
        full = [Signal(name=f"full{k}") for k in range(p.inputs)]
        fire = Signal()
        m.d.comb += [fire.eq(Cat(full).all() & queue.available), queue.take.eq(fire)]
        for port, word, flag in zip(self.i, held, full):
            load = ~flag | fire
            m.d.comb += port.ready.eq(load)
            with m.If(port.valid & load):
                m.d.sync += [word.eq(port.payload), flag.eq(1)]
            with m.Elif(fire):
                m.d.sync += flag.eq(0)

        # Free-running from here: the held words are summed every cycle, and `fire` travels
        # beside them as the valid bit.
        lanes = [elements(word, dtype, p.pe) for word, dtype in zip(held, p.in_dtypes)]
        sums = [sum_tree(m, [value_of(codes[lane], dtype)
                             for codes, dtype in zip(lanes, p.in_dtypes)], *p.term_range)
                for lane in range(p.pe)]
        if self._activation is None:
            bits = p.sum_dtype.bits
            m.d.comb += queue.w.payload.eq(Cat(s[:bits] for s in sums))
        else:
            m.submodules.activation = unit = self._activation
            fold, _, _ = counter(m, fire, p.folds, "fold")     # channel fold of the held words
            # The thresholds are read a cycle before the sums reach the unit.
            m.d.comb += unit.fold.eq(register(m, fold, tree_levels(p.inputs) - 1))
            for lane, total in enumerate(sums):
                m.d.comb += unit.values[lane].eq(total)
            m.d.comb += queue.w.payload.eq(unit.codes)
        m.d.comb += queue.w.valid.eq(register(m, fire, p.pipeline_latency, reset=True))
        return m
