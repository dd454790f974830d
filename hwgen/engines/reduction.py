"""The compare-or-add stage that pooling engines share: a running maximum or a running sum of
each group of words, the group's partial result kept in a memory slot while its words come in.

:class:`PartialReduction` is the stage; the pools around it (:mod:`.pool_rows`,
:mod:`.pool_windows`) decide which words form a group and which slot holds it, and share
:class:`PoolWords` (their parameters' word counts) and :func:`reduction_into_queue` (the stage
and the output queue its results go to).

- ``"max"``: the element-wise maximum in the codes' order: signed for INTn, unsigned for
  UINTn and BINARY, and for BIPOLAR (code 1 = +1 > code 0 = -1) unsigned too.
- ``"sum"``: the element-wise integer sum of the values, in :func:`pooled_dtype` (exact:
  nothing wraps). Average pooling is this sum; its 1 / (kernel size) belongs to whatever reads
  it (an activation's thresholds), so that hardware and golden model agree exactly.
"""

from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import MAX_BITS, DataType
from .credits import OutputQueue, credits_for, queue_resources
from .datapath import elements, range_bits, register, value_of
from .memories import memory_resources, memory_style, ram
from .resources import Resources
from .sliding_window import FeatureMapWords

__all__ = ["OPS", "pooled_dtype", "element_max", "PartialReductionParams", "PartialReduction",
           "PoolWords", "reduction_into_queue"]

OPS = ("max", "sum")


def pooled_dtype(dtype, count):
    """The exact datatype of the sum of ``count`` values of ``dtype``."""
    return DataType.for_range(count * dtype.min, count * dtype.max)


def element_max(a, b, dtype, count):
    """The element-wise maximum of words ``a`` and ``b`` of ``count`` ``dtype`` codes, in the
    codes' order (see the module docstring)."""
    larger = []
    for x, y in zip(elements(a, dtype, count), elements(b, dtype, count)):
        if dtype.kind == "INT":
            x, y = x.as_signed(), y.as_signed()
        larger.append(Mux(x > y, x, y))
    return Cat(*larger)


@dataclass(frozen=True)
class PartialReductionParams:
    """Shape of a :class:`PartialReduction`: words of ``lanes`` elements of ``dtype``; ``slots``
    partial results, each the ``op`` (``"max"`` or ``"sum"``) of ``positions`` words; two words
    of one slot are at least ``distance`` words apart in the input."""

    dtype: DataType
    lanes: int
    slots: int
    positions: int
    distance: int
    op: str = "max"

    def __post_init__(self):
        if self.op not in OPS:
            raise ValueError(f"op must be one of {', '.join(OPS)}, not {self.op!r}")
        if self.op == "sum" and range_bits(self.positions * self.dtype.min,
                                           self.positions * self.dtype.max) > MAX_BITS:
            raise ValueError(f"the sum of {self.positions} {self.dtype} values is too wide "
                             f"(at most {MAX_BITS} bits)")

    @property
    def out_dtype(self):
        """The results' datatype: the input's for a maximum, :func:`pooled_dtype` for a sum."""
        return self.dtype if self.op == "max" else pooled_dtype(self.dtype, self.positions)

    @property
    def in_bits(self):
        return self.lanes * self.dtype.bits

    @property
    def out_bits(self):
        return self.lanes * self.out_dtype.bits

    @property
    def slot_bits(self):
        return max(1, (self.slots - 1).bit_length())

    @property
    def in_block_ram(self):
        """Whether the partial results go to block RAM (:func:`~hwgen.engines.memories.ram`)."""
        return (self.positions > 1
                and memory_style(self.slots, self.out_bits, writable=True) == "block")

    @property
    def forwarded(self):
        """How many of the results of the words reduced one and two cycles before a word are
        handed to it straight from the stage, as its read cannot see their writes: those that
        can be of its slot (``distance`` 1: both, 2: the older). Only in block RAM, whose read
        data is registered before the operators; with LUT RAM the read is transparent for the
        write in the same cycle, which covers the only one it misses."""
        return max(0, 3 - self.distance) if self.in_block_ram else 0

    @property
    def latency(self):
        """Cycles from a word's take to the result it completes on ``o``: 1, or 2 with the
        partial results in block RAM (its read data registered before the operators)."""
        return 2 if self.in_block_ram else 1

    @property
    def credits(self):
        """Credits of the output queue behind the stage: a result per cycle, :attr:`latency`
        cycles after its take (:func:`~hwgen.engines.credits.credits_for`)."""
        return credits_for(self.latency, 1)

    def queued_resources(self):
        """:meth:`resources` and those of the output queue (:func:`reduction_into_queue`)."""
        return self.resources() + queue_resources(self.out_bits, self.credits)

    def resources(self):
        """First-order estimate: per element a comparator and a 2:1 mux (~1 LUT per bit each;
        one LUT for both while an element has at most two bits), or an adder of the result's
        width whose partial input is zeroed for a group's first word (a LUT per bit on the
        carry chain); the stage's registers (word, slot, three flags); unless ``positions ==
        1``, the memory (:func:`~hwgen.engines.memories.memory_resources`), as Yosys builds it:
        one slot is a register of flip-flops, and a transparent read of LUT RAM registers the
        address instead of the data (measured on pools of 8 UINT8 lanes with one, two and three
        slots); in block RAM, the read data's register and a second stage of registers, and when
        results are forwarded the two last results, one's slot and valid bit, a flag and a slot
        comparator per forwarded result and a LUT per bit for the choice (within 6 LUTs and 1
        flip-flop of synth_xilinx on RowPool's maxima, docs/resource-models.md)."""
        if self.op == "sum":
            operators = self.out_bits
        else:
            operators = self.in_bits * (1 if self.dtype.bits <= 2 else 2)
        stage = Resources(lut=operators, ff=self.in_bits + self.slot_bits + 3)
        if self.positions == 1:
            return stage
        if self.slots == 1:
            return stage + Resources(ff=self.out_bits)
        memory = memory_resources(self.slots, self.out_bits, writable=True)
        if self.distance == 1 and not self.in_block_ram:
            memory = Resources(lut=memory.lut, ff=self.slot_bits)
        if self.in_block_ram:
            memory += Resources(ff=self.in_bits + self.out_bits + self.slot_bits + 3)
        if self.forwarded:
            memory += Resources(lut=self.out_bits + self.forwarded * self.slot_bits,
                                ff=2 * self.out_bits + self.slot_bits + 1 + self.forwarded)
        return stage + memory


class PartialReduction(wiring.Component):
    """The stage of a running maximum or sum: the ``op`` of each group of ``positions`` words,
    the group's partial result kept in one of ``slots`` memory words while its words come in
    (:class:`PartialReductionParams`).

    The issuing stage drives, for the word on its input: ``slot`` (the partial it belongs to),
    ``first`` (it starts its group) and ``last`` (it completes it), and ``take`` and ``word``
    in the cycle it takes the word. The memory is read at ``slot`` free-running, so that the
    slot's partial is on the read port's output in the cycle after the word is taken; the word
    meets it in the stage (one cycle after the take, or two, the read data registered first,
    when the memory is block RAM), and the result is written back, or, for a ``last`` word,
    put on ``o`` (for an :class:`~hwgen.engines.credits.OutputQueue`'s ``w``) instead: a result
    leaves on ``o`` :attr:`PartialReductionParams.latency` cycles after its last word was taken.

    A word taken right behind another of the same slot (``distance`` 1 or 2) reads the slot
    before that word's result is written: with LUT RAM and one cycle between them the read is
    transparent for the write, and in block RAM the result is handed to it from the stage's
    output (forwarded). With ``positions == 1`` every word is its own result, and there is no
    memory.
    """

    def __init__(self, params):
        self.params = params
        super().__init__({
            "take": In(1), "word": In(unsigned(params.in_bits)),
            "slot": In(range(params.slots)), "first": In(1), "last": In(1),
            "o": Out(stream.Signature(unsigned(params.out_bits), always_ready=True)),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()
        # The taken word and its place, a cycle later.
        x, slot, first, last = (register(m, value)
                                for value in (self.word, self.slot, self.first, self.last))
        valid = register(m, self.take, reset=True)
        result = Signal(p.out_bits)
        if p.positions == 1:     # every word its own group (a sum re-codes it)
            m.d.comb += result.eq(self._combine(Const(0, p.out_bits), x, Const(1)))
        else:
            transparent = p.distance == 1 and not p.in_block_ram
            m.submodules.partial = partial = ram(p.out_bits, p.slots,
                                                 collision_free=not transparent)
            wr = partial.write_port()
            rd = partial.read_port(transparent_for=(wr,) if transparent else ())
            m.d.comb += rd.addr.eq(self.slot)
            if p.in_block_ram:
                held, (x, slot, first, last, valid) = self._late_stage(
                    m, rd.data, result, (x, slot, first, last, valid))
            else:
                held = rd.data
            m.d.comb += [
                result.eq(self._combine(held, x, first)),
                wr.en.eq(valid & ~last),
                wr.addr.eq(slot),
                wr.data.eq(result),
            ]
        m.d.comb += [self.o.payload.eq(result), self.o.valid.eq(valid & last)]
        return m

    def _combine(self, held, x, first):
        """The partial result ``held`` combined with word ``x``; ``x`` alone if it is the
        group's ``first``."""
        p = self.params
        if p.op == "max":
            return Mux(first, x, element_max(held, x, p.dtype, p.lanes))
        bits = p.out_dtype.bits
        return Cat((Mux(first, 0, value_of(acc, p.out_dtype)) + value_of(code, p.dtype))[:bits]
                   for acc, code in zip(elements(held, p.out_dtype, p.lanes),
                                        elements(x, p.dtype, p.lanes)))

    def _late_stage(self, m, data, result, taken):
        """For partials in block RAM: the stage one cycle later, its read ``data`` in a
        register (no logic behind the block's output) and the ``taken`` word's signals beside
        it. A word's read missed the writes of the ``result`` of the words reduced one and two
        cycles before it; those of its slot (possible at a ``distance`` of 1 or 2) are handed
        over from registers, chosen by flags compared a cycle ahead. Returns the partial to
        combine with and the word's signals in the stage."""
        p = self.params
        x, slot, first, last, valid = taken
        held = register(m, data)
        y, y_slot, y_first, y_last = (register(m, value) for value in (x, slot, first, last))
        y_valid = register(m, valid, reset=True)
        if p.forwarded:
            r1, r1_slot = register(m, result), register(m, y_slot)
            r1_valid = register(m, y_valid, reset=True)
            # (words back, the stage that holds that word's result a cycle ahead, the result)
            back = [(2, r1_slot, r1_valid, register(m, r1)), (1, y_slot, y_valid, r1)]
            for k, ahead_slot, ahead_valid, earlier in back:     # the newest result wins
                if k >= p.distance:
                    hit = register(m, ahead_valid & (ahead_slot == slot))
                    held = Mux(hit, earlier, held)
        return held, (y, y_slot, y_first, y_last, y_valid)


class PoolWords(FeatureMapWords):
    """What the pools' parameters share: a ``height x width x channels`` feature map of
    ``pe`` channels per word in (:class:`~hwgen.engines.sliding_window.FeatureMapWords`), and
    ``out_height x out_width`` pixels of their :attr:`reduction`'s results out."""

    LANES = "pe"

    @property
    def out_dtype(self):
        return self.reduction.out_dtype

    @property
    def out_bits(self):
        """Bits per output word."""
        return self.reduction.out_bits

    @property
    def out_words(self):
        return self.out_height * self.out_width * self.folds


def reduction_into_queue(m, params, o):
    """Adds to ``m`` a :class:`PartialReduction` for ``params`` and the
    :class:`~hwgen.engines.credits.OutputQueue` its results go to, which drives the engine's
    output stream ``o``; returns ``(stage, queue)``. The caller drives the stage and issues its
    takes against the queue's credits (:func:`~hwgen.engines.credits.issue_gate`)."""
    m.submodules.queue = queue = OutputQueue(params.out_bits, params.credits)
    wiring.connect(m, queue.o, wiring.flipped(o))
    m.submodules.stage = stage = PartialReduction(params)
    wiring.connect(m, stage.o, queue.w)
    return stage, queue
