"""Streaming max-pool: the maximum of every window, per channel (:func:`hwgen.golden.maxpool`).

Input: frames of ``height x width x channels`` values in NHWC order, ``pe`` channels per word.
Output: frames of ``out_height x out_width x channels``, ``pe`` channels per word.

Built as a :class:`~hwgen.engines.sliding_window.SlidingWindow` (same kernel and stride, ``simd
= pe``; a line buffer, never a frame buffer) followed by :class:`RunningMax`, which folds each
window's ``kh * kw`` words per channel group into one output word.

Comparison follows the codes' order: signed for INTn, unsigned for UINTn and BINARY, and for
BIPOLAR (code 1 = +1 > code 0 = -1) unsigned too, i.e. the OR of the code bits.
"""

from dataclasses import dataclass

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import DataType
from .credits import QUEUE_LATENCY, OutputQueue, credits_for, issue_gate, queue_resources
from .datapath import Counter, elements, register, require_positive
from .memories import memory_resources, memory_style, ram
from .resources import Resources
from .sliding_window import READ_DELAY, SlidingWindow, SlidingWindowParams

__all__ = ["MaxPoolParams", "MaxPool", "RunningMax", "PartialMaximaParams", "PartialMaxima",
           "element_max"]


@dataclass(frozen=True)
class MaxPoolParams:
    """Shape of a max-pool engine; ``kernel`` and ``stride`` as in SlidingWindowParams."""

    height: int
    width: int
    channels: int
    kernel: tuple
    stride: tuple
    pe: int
    dtype: DataType

    def __post_init__(self):
        require_positive("max-pool", pe=self.pe)
        if isinstance(self.channels, int) and self.channels % self.pe:
            raise ValueError(f"channels ({self.channels}) must be a multiple of pe ({self.pe})")
        window = self.window      # validates the rest, and normalizes kernel and stride
        object.__setattr__(self, "kernel", window.kernel)
        object.__setattr__(self, "stride", window.stride)

    @property
    def window(self):
        """Parameters of the sliding window this engine is built on."""
        return SlidingWindowParams(self.height, self.width, self.channels, self.kernel,
                                   self.stride, self.pe, self.dtype, lookahead=False)

    @property
    def folds(self):
        """Words per pixel."""
        return self.channels // self.pe

    @property
    def out_height(self):
        return self.window.out_height

    @property
    def out_width(self):
        return self.window.out_width

    @property
    def word_bits(self):
        return self.pe * self.dtype.bits

    @property
    def in_words(self):
        return self.window.in_words

    @property
    def out_words(self):
        return self.out_height * self.out_width * self.folds

    def cycles(self):
        """Cycles per frame with no stalls: the sliding window's (RunningMax takes a word per
        cycle and never holds the window back), with the same accuracy."""
        return self.window.cycles()

    def latency(self):
        """Cycles from a frame's first input word to its first output word (fresh engine):
        the sliding window's read of the first window's last word of channel group 0, then
        through the sliding window's output queue, and through RunningMax, whose output queue
        it enters :attr:`PartialMaximaParams.latency` cycles after it is accepted
        (:mod:`~hwgen.engines.credits`)."""
        kh, kw = self.kernel
        return (self.window.issue_cycle((kh * kw - 1) * self.folds)
                + READ_DELAY + QUEUE_LATENCY + self.partial_maxima.latency + QUEUE_LATENCY)

    @property
    def partial_maxima(self):
        """Parameters of RunningMax's :class:`PartialMaxima`: one slot per fold."""
        kh, kw = self.kernel
        return PartialMaximaParams(self.dtype, self.pe, self.folds, kh * kw, self.folds)

    def buffer_bits(self):
        """{kind: bits} of the memories holding stream data: the sliding window's line
        buffer and RunningMax's partial maxima."""
        kh, kw = self.kernel
        partial = self.folds * self.word_bits if kh * kw > 1 else 0
        return {**self.window.buffer_bits(), "partial_results": partial}

    def resources(self):
        """The sliding window's estimate plus RunningMax's: its :class:`PartialMaxima`, the
        fold and kernel position counters and their flags, and the :class:`OutputQueue`."""
        kh, kw = self.kernel
        counter_bits = (max(1, (self.folds - 1).bit_length())
                        + max(1, (kh * kw - 1).bit_length()))
        return (self.window.resources()
                + Resources(lut=2 * counter_bits, ff=counter_bits + 3)
                + self.partial_maxima.resources()
                + queue_resources(self.word_bits, credits_for(self.partial_maxima.latency, 1)))


def element_max(a, b, dtype, count):
    """The element-wise maximum of words ``a`` and ``b`` of ``count`` ``dtype`` codes, in the
    codes' order (see the module docstring): signed for INTn, unsigned otherwise."""
    larger = []
    for x, y in zip(elements(a, dtype, count), elements(b, dtype, count)):
        if dtype.kind == "INT":
            x, y = x.as_signed(), y.as_signed()
        larger.append(Mux(x > y, x, y))
    return Cat(*larger)


@dataclass(frozen=True)
class PartialMaximaParams:
    """Shape of a :class:`PartialMaxima`: words of ``lanes`` elements of ``dtype``; ``slots``
    partial maxima, each the maximum of ``positions`` words; two words of one slot are at least
    ``distance`` words apart in the input."""

    dtype: DataType
    lanes: int
    slots: int
    positions: int
    distance: int

    @property
    def word_bits(self):
        return self.lanes * self.dtype.bits

    @property
    def slot_bits(self):
        return max(1, (self.slots - 1).bit_length())

    @property
    def in_block_ram(self):
        """Whether the partial maxima go to block RAM (:func:`~hwgen.engines.memories.ram`)."""
        return (self.positions > 1
                and memory_style(self.slots, self.word_bits, writable=True) == "block")

    @property
    def forwarded(self):
        """How many of the results of the words compared one and two cycles before a word are
        handed to it straight from the compare stage, as its read cannot see their writes:
        those that can be of its slot (``distance`` 1: both, 2: the older). Only in block RAM,
        whose read data is registered before the comparators; with LUT RAM the read is
        transparent for the write in the same cycle, which covers the only one it misses."""
        return max(0, 3 - self.distance) if self.in_block_ram else 0

    @property
    def latency(self):
        """Cycles from a word's take to the maximum it completes on ``o``: 1, or 2 with the
        partial maxima in block RAM (its read data registered before the comparators)."""
        return 2 if self.in_block_ram else 1

    def resources(self):
        """First-order estimate: per element a comparator and a 2:1 mux (~1 LUT per bit each;
        one LUT for both while an element has at most two bits); the compare stage's registers
        (word, slot, three flags); unless ``positions == 1``, the memory
        (:func:`~hwgen.engines.memories.memory_resources`), as Yosys builds it: one slot is a
        register of flip-flops, and a transparent read of LUT RAM registers the address
        instead of the data (measured on pools of 8 UINT8 lanes with one, two and three slots);
        in block RAM, the read data's register and a second stage of registers, and when
        results are forwarded the two last results, one's slot and valid bit, a flag and a slot
        comparator per forwarded result and a LUT per bit for the choice (within 6 LUTs and 1
        flip-flop of synth_xilinx on RowMaxPool's, docs/resource-models.md)."""
        stage = Resources(lut=self.word_bits * (1 if self.dtype.bits <= 2 else 2),
                          ff=self.word_bits + self.slot_bits + 3)
        if self.positions == 1:
            return stage
        if self.slots == 1:
            return stage + Resources(ff=self.word_bits)
        memory = memory_resources(self.slots, self.word_bits, writable=True)
        if self.distance == 1 and not self.in_block_ram:
            memory = Resources(lut=memory.lut, ff=self.slot_bits)
        if self.in_block_ram:
            memory += Resources(ff=2 * self.word_bits + self.slot_bits + 3)
        if self.forwarded:
            memory += Resources(lut=self.word_bits + self.forwarded * self.slot_bits,
                                ff=2 * self.word_bits + self.slot_bits + 1 + self.forwarded)
        return stage + memory


class PartialMaxima(wiring.Component):
    """The compare stage of a running maximum: the element-wise maximum of each group of
    ``positions`` words, the group's partial maximum kept in one of ``slots`` memory words
    while its words come in (:class:`PartialMaximaParams`).

    The issuing stage drives, for the word on its input: ``slot`` (the partial it belongs to),
    ``first`` (it starts its group's maximum) and ``last`` (it completes it), and ``take`` and
    ``word`` in the cycle it takes the word. The memory is read at ``slot`` free-running, so
    that the slot's partial is on the read port's output in the cycle after the word is taken;
    the word meets it in the compare stage (one cycle after the take, or two, the read data
    registered first, when the memory is block RAM), and the result is written back, or, for a
    ``last`` word, put on ``o`` (for an :class:`~hwgen.engines.credits.OutputQueue`'s ``w``)
    instead: a maximum leaves on ``o`` :attr:`PartialMaximaParams.latency` cycles after its
    last word was taken.

    A word taken right behind another of the same slot (``distance`` 1 or 2) reads the slot
    before that word's result is written: with LUT RAM and one cycle between them the read is
    transparent for the write, and in block RAM the result is handed to it from the compare
    stage's output (forwarded). With ``positions == 1`` every word is its own maximum, and there
    is no memory.
    """

    def __init__(self, params):
        self.params = params
        word = unsigned(params.word_bits)
        super().__init__({
            "take": In(1), "word": In(word), "slot": In(range(params.slots)),
            "first": In(1), "last": In(1),
            "o": Out(stream.Signature(word, always_ready=True)),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()
        # The taken word and its place, a cycle later.
        x, slot, first, last = (register(m, value)
                                for value in (self.word, self.slot, self.first, self.last))
        valid = register(m, self.take, reset=True)
        if p.positions == 1:
            result = x
        else:
            transparent = p.distance == 1 and not p.in_block_ram
            m.submodules.partial = partial = ram(p.word_bits, p.slots,
                                                 collision_free=not transparent)
            wr = partial.write_port()
            rd = partial.read_port(transparent_for=(wr,) if transparent else ())
            m.d.comb += rd.addr.eq(self.slot)
            result = Signal.like(x)
            if p.in_block_ram:
                held, (x, slot, first, last, valid) = self._late_compare(
                    m, rd.data, result, (x, slot, first, last, valid))
            else:
                held = rd.data
            m.d.comb += [
                result.eq(Mux(first, x, element_max(held, x, p.dtype, p.lanes))),
                wr.en.eq(valid & ~last),
                wr.addr.eq(slot),
                wr.data.eq(result),
            ]
        m.d.comb += [self.o.payload.eq(result), self.o.valid.eq(valid & last)]
        return m

    def _late_compare(self, m, data, result, taken):
        """For partials in block RAM: the compare stage one cycle later, its read ``data`` in a
        register (no logic behind the block's output) and the ``taken`` word's signals beside
        it. A word's read missed the writes of the ``result`` of the words compared one and two
        cycles before it; those of its slot (possible at a ``distance`` of 1 or 2) are handed
        over from registers, chosen by flags compared a cycle ahead. Returns the partial to
        compare with and the word's signals in the compare stage."""
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


class RunningMax(wiring.Component):
    """Reduces each window from a sliding window to its per-channel maximum.

    ``i`` carries windows of ``kh * kw * folds`` words in ``(kh, kw, fold)`` order (``pe``
    elements each); ``o`` one word per fold: the element-wise maximum of that fold's ``kh * kw``
    words. The ``folds`` partial maxima in flight are a :class:`PartialMaxima`, one slot per
    fold. Finished maxima go to an :class:`~hwgen.engines.credits.OutputQueue`; a word that
    finishes one is accepted only while the queue has room for it, every other word every
    cycle.
    """

    def __init__(self, params):
        self.params = params
        word = unsigned(params.word_bits)
        super().__init__({"i": In(stream.Signature(word)), "o": Out(stream.Signature(word))})

    def elaborate(self, platform):
        p = self.params
        kh, kw = p.kernel
        m = Module()
        m.submodules.queue = queue = OutputQueue(p.word_bits,
                                                 credits_for(p.partial_maxima.latency, 1))
        wiring.connect(m, queue.o, wiring.flipped(self.o))

        # Fold and kernel position of the word on the input.
        fold, pos = Counter(p.folds, "fold"), Counter(kh * kw, "pos")
        accept = Signal()
        issue_gate(m, accept, queue, self.i, pos.last)
        with m.If(accept):
            m.d.sync += fold.step()
            with m.If(fold.last):
                m.d.sync += pos.step()

        m.submodules.stage = stage = PartialMaxima(p.partial_maxima)
        m.d.comb += [stage.take.eq(accept), stage.word.eq(self.i.payload),
                     stage.slot.eq(fold.value), stage.first.eq(pos.first),
                     stage.last.eq(pos.last)]
        wiring.connect(m, stage.o, queue.w)
        return m


class MaxPool(wiring.Component):
    """Streaming max-pool; see the module docstring for the contract."""

    def __init__(self, params):
        self.params = params
        word = unsigned(params.word_bits)
        super().__init__({"i": In(stream.Signature(word)), "o": Out(stream.Signature(word))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.window = window = SlidingWindow(self.params.window)
        m.submodules.reduce = reduce = RunningMax(self.params)
        wiring.connect(m, wiring.flipped(self.i), window.i)
        wiring.connect(m, window.o, reduce.i)
        wiring.connect(m, reduce.o, wiring.flipped(self.o))
        return m
