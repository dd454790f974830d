"""Thresholds engine (QONNX MultiThreshold), and the pieces it shares with the MVAU.

Per channel ``c`` the output counts the thresholds the input reaches,
``count = #{i : x >= T[c, i]}`` over ``n = 2**bits - 1`` thresholds (1 for a BIPOLAR output),
and emits the code of ``out_dtype``'s value for that count (see :func:`hwgen.golden.multithreshold`):
``count`` itself for UINTn, BINARY and BIPOLAR (whose code 1 is +1), and ``count`` with its most
significant bit inverted for INTn (the code of ``count + min``). The count is a popcount of the
comparisons, so the result matches the golden model even for thresholds that are not sorted.

The pipeline is free-running, as the MVAU's is: an input word is taken only when the output
queue has a credit for its result (:mod:`hwgen.engines.credits`), so ``o.ready`` never reaches
the comparators, and ``i.ready`` is a register.

Shared with :mod:`hwgen.engines.mvau`: :class:`ThresholdUnit` (threshold memory + comparators
+ popcount, also the MVAU's fused activation); both build on :mod:`hwgen.engines.datapath`.
"""

from dataclasses import dataclass

import numpy as np
from amaranth import Cat, Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import DataType, pack
from .credits import QUEUE_LATENCY, OutputQueue, credits_for, queue_resources
from .datapath import (counter, elements, range_bits, register, require_positive, tree_levels,
                       tree_resources, sum_tree, value_of)
from .memories import ReadOnlyMemory, rom_latency, rom_resources
from .resources import Resources

__all__ = ["ThresholdsParams", "Thresholds", "ThresholdUnit", "check_thresholds", "n_thresholds",
           "threshold_latency", "threshold_resources"]

# --- thresholds -----------------------------------------------------------------------------------

def n_thresholds(out_dtype):
    """Thresholds per channel for ``out_dtype``: 2**bits - 1, or 1 for BIPOLAR."""
    return 1 if out_dtype.kind == "BIPOLAR" else (1 << out_dtype.bits) - 1


def _table_shape(channels, pe, value_range, out_dtype):
    """(words, bits) of each of a :class:`ThresholdUnit`'s per-lane tables."""
    return channels // pe, n_thresholds(out_dtype) * range_bits(value_range[0], value_range[1] + 1)


def threshold_latency(channels, pe, value_range, out_dtype):
    """Cycles from values entering a :class:`ThresholdUnit` (``channels`` at ``pe`` per word,
    values in ``value_range``) to their codes: the tables' read (:func:`rom_latency`, the
    values delayed beside it), the comparison register, then the popcount tree."""
    return (rom_latency(*_table_shape(channels, pe, value_range, out_dtype))
            + tree_levels(n_thresholds(out_dtype)))


def threshold_resources(channels, pe, value_range, out_dtype):
    """First-order cost of a :class:`ThresholdUnit` (see :meth:`ThresholdsParams.resources`)."""
    n = n_thresholds(out_dtype)
    tbits = range_bits(value_range[0], value_range[1] + 1)
    popcount = tree_resources(n, 0, 1)
    words, bits = _table_shape(channels, pe, value_range, out_dtype)
    table = rom_resources(words, bits)
    delayed = (rom_latency(words, bits) - 1) * tbits      # the values, beside the read
    return Resources(lut=pe * (n * tbits + popcount.lut + table.lut),
                     ff=pe * (n + popcount.ff + table.ff + delayed), bram18=pe * table.bram18)


def check_thresholds(thresholds, channels, out_dtype, what):
    """``thresholds`` checked to be (channels, n_thresholds(out_dtype)) integers, or floats
    holding integers or +-inf; returned as int64 (or float) array. ValueError (naming ``what``)
    otherwise."""
    table = np.asarray(thresholds)
    n = n_thresholds(out_dtype)
    if table.shape != (channels, n):
        raise ValueError(f"{what}: thresholds must have shape ({channels}, {n}) for "
                         f"{channels} channels of {out_dtype} outputs, not {table.shape}")
    if table.dtype.kind == "f":
        finite = table[np.isfinite(table)]
        if np.isnan(table).any() or (finite != np.round(finite)).any():
            raise ValueError(f"{what}: thresholds must be integers (or +-inf)")
        return table
    if table.dtype.kind not in "iu":
        raise ValueError(f"{what}: thresholds must be integers, not {table.dtype}")
    return np.minimum(table, np.iinfo(np.int64).max).astype(np.int64)   # uint64 saturates


class ThresholdUnit(wiring.Component):
    """Multi-threshold activation of ``pe`` channels at a time, thresholds in memories.

    ``thresholds`` is (channels, n) integers (or +-inf), ``n = n_thresholds(out_dtype)``;
    ``value_range`` = (lo, hi) bounds the values compared. Thresholds below ``lo`` (always
    reached) or above ``hi`` (never) are clamped to ``lo`` or ``hi + 1`` at elaboration: same
    result, narrower comparators. Lane p has its own memory (one wide memory would exceed
    Amaranth's 65536-bit limit at 8-bit outputs): word f holds the n thresholds of channel f*pe + p.
    ``what`` names the engine in error messages.

    Ports (free-running: no enable): ``fold`` is the memory address: it must select the channel
    fold of ``values`` one cycle *before* ``values`` are presented (synchronous read).
    ``values[p]`` is the value of channel fold*pe + p; ``codes`` (element p = channel
    fold*pe + p, ``out_dtype`` codes packed as in :func:`hwgen.datatypes.pack`) follow
    :attr:`latency` cycles later (:func:`threshold_latency`).
    """

    def __init__(self, thresholds, channels, pe, value_range, out_dtype, what="thresholds"):
        lo, hi = value_range
        n = n_thresholds(out_dtype)
        table = check_thresholds(thresholds, channels, out_dtype, what)
        self.pe, self.out_dtype, self.n = pe, out_dtype, n
        self.latency = threshold_latency(channels, pe, value_range, out_dtype)
        self.tdtype = DataType.for_range(lo, hi + 1)
        lanes = np.clip(table, lo, hi + 1).astype(np.int64).reshape(-1, pe, n)
        self.memories = [ReadOnlyMemory(n * self.tdtype.bits, pack(lanes[:, p], self.tdtype, n))
                         for p in range(pe)]
        super().__init__({
            "fold": In(range(channels // pe)),
            "values": In(data.ArrayLayout(range(lo, hi + 1), pe)),
            "codes": Out(unsigned(pe * out_dtype.bits)),
        })

    def elaborate(self, platform):
        m = Module()
        codes = []
        for p, memory in enumerate(self.memories):
            m.submodules[f"thresholds{p}"] = memory
            m.d.comb += memory.addr.eq(self.fold)
            row = elements(memory.data, self.tdtype, self.n)
            value = register(m, self.values[p], memory.latency - 1)
            reached = register(m, Cat(value >= value_of(t, self.tdtype) for t in row))
            count = sum_tree(m, list(reached), 0, 1)
            if self.out_dtype.kind == "INT":     # code of count + min
                count = count ^ (1 << (self.out_dtype.bits - 1))
            codes.append(count[:self.out_dtype.bits])
        m.d.comb += self.codes.eq(Cat(codes))
        return m


# --- the standalone engine ------------------------------------------------------------------------

@dataclass(frozen=True)
class ThresholdsParams:
    """Multi-threshold activation of ``pixels`` vectors of ``channels`` per frame, ``pe`` at a
    time: input words of ``pe`` ``in_dtype`` elements, output words of ``pe`` ``out_dtype``
    elements, channels fastest."""

    channels: int
    pe: int
    in_dtype: DataType
    out_dtype: DataType
    pixels: int

    def __post_init__(self):
        require_positive("thresholds", channels=self.channels, pe=self.pe, pixels=self.pixels)
        if self.channels % self.pe:
            raise ValueError(f"thresholds: channels ({self.channels}) must be a multiple of "
                             f"pe ({self.pe})")
        for name in ("in_dtype", "out_dtype"):
            if not isinstance(getattr(self, name), DataType):
                raise ValueError(f"thresholds: {name} must be a DataType, "
                                 f"not {getattr(self, name)!r}")
        if self.in_dtype.bits > 31:
            raise ValueError(f"thresholds: in_dtype {self.in_dtype} is too wide (at most 31 bits)")

    @property
    def folds(self):
        """Words per pixel (channel folds)."""
        return self.channels // self.pe

    @property
    def in_width(self):
        return self.pe * self.in_dtype.bits

    @property
    def out_width(self):
        return self.pe * self.out_dtype.bits

    @property
    def value_range(self):
        """(lo, hi) of the input values."""
        return self.in_dtype.min, self.in_dtype.max

    def cycles(self):
        """Cycles per frame in steady state: one word per cycle."""
        return self.pixels * self.folds

    @property
    def pipeline_latency(self):
        """Cycles from an input word's transfer to its result's write into the output queue:
        the input register (while the thresholds are read), then :func:`threshold_latency`."""
        return 1 + threshold_latency(self.channels, self.pe, self.value_range, self.out_dtype)

    @property
    def credits(self):
        """Words in flight or queued (:mod:`hwgen.engines.credits`), for one word per cycle."""
        return credits_for(self.pipeline_latency, 1)

    def latency(self):
        """Cycles from an input word's transfer to its output word's (no stalls): the pipeline,
        then the output queue."""
        return self.pipeline_latency + QUEUE_LATENCY

    def resources(self):
        """First-order estimate.

        Per lane and threshold: a comparator on a carry chain, one LUT per threshold bit
        (thresholds are ``in_dtype`` widened by one bit to hold ``max + 1``), and a flip-flop
        for its result; per lane a popcount tree of the n results (:func:`tree_resources`).
        Registers: the input word.
        Memory: per lane, ``channels/pe`` words of ``n`` thresholds
        (:func:`~hwgen.engines.memories.rom_resources`).
        Control: the fold counter and the valid pipeline, a few LUTs and flip-flops.
        Output: the queue and credit counter (:func:`~hwgen.engines.credits.queue_resources`).
        """
        counter_bits = (self.folds - 1).bit_length()
        control = Resources(lut=2 * counter_bits + 2,
                            ff=counter_bits + 2 + self.pipeline_latency)
        return (threshold_resources(self.channels, self.pe, self.value_range, self.out_dtype)
                + Resources(ff=self.in_width) + control
                + queue_resources(self.out_width, self.credits))


class Thresholds(wiring.Component):
    """Standalone multi-threshold engine for :class:`ThresholdsParams`.

    ``thresholds``: (channels, n_thresholds(out_dtype)) integers, see :class:`ThresholdUnit`.
    Streams one word per cycle, each output word ``latency()`` cycles after its input word when
    not stalled; frames follow each other with no gap.
    """

    def __init__(self, params, thresholds):
        self.params = params
        self._unit = ThresholdUnit(thresholds, params.channels, params.pe, params.value_range,
                                   params.out_dtype)
        super().__init__({"i": In(stream.Signature(unsigned(params.in_width))),
                          "o": Out(stream.Signature(unsigned(params.out_width)))})

    def elaborate(self, platform):
        p = self.params
        m = Module()
        m.submodules.unit = unit = self._unit
        m.submodules.queue = queue = OutputQueue(p.out_width, p.credits)
        wiring.connect(m, queue.o, wiring.flipped(self.o))

        take = Signal()
        m.d.comb += [self.i.ready.eq(queue.available), take.eq(self.i.valid & self.i.ready),
                     queue.take.eq(take)]
        fold, _, _ = counter(m, take, p.folds, "fold")     # channel fold of the word on the input
        m.d.comb += unit.fold.eq(fold)

        # Input register: the word waits one cycle for its thresholds to be read.
        word = register(m, self.i.payload)
        for lane, code in enumerate(elements(word, p.in_dtype, p.pe)):
            m.d.comb += unit.values[lane].eq(value_of(code, p.in_dtype))
        m.d.comb += [queue.w.payload.eq(unit.codes),
                     queue.w.valid.eq(register(m, take, p.pipeline_latency, reset=True))]
        return m
