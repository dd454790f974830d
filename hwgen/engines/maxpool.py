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
from .datapath import Counter, elements, require_positive
from .memories import memory_resources, ram
from .resources import Resources
from .sliding_window import READ_DELAY, SlidingWindow, SlidingWindowParams

__all__ = ["MAX_LATENCY", "MaxPoolParams", "MaxPool", "RunningMax", "PartialMaxima",
           "element_max", "partial_maxima_resources"]


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
                                   self.stride, self.pe, self.dtype)

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
        it enters one cycle after it is accepted (:mod:`~hwgen.engines.credits`)."""
        kh, kw = self.kernel
        return (self.window.issue_cycle((kh * kw - 1) * self.folds)
                + READ_DELAY + QUEUE_LATENCY + MAX_LATENCY)

    def resources(self):
        """The sliding window's estimate plus RunningMax's: its :class:`PartialMaxima`
        (:func:`partial_maxima_resources`, ``folds`` slots), the fold and kernel position
        counters and their flags, and the :class:`OutputQueue`."""
        kh, kw = self.kernel
        counter_bits = (max(1, (self.folds - 1).bit_length())
                        + max(1, (kh * kw - 1).bit_length()))
        return (self.window.resources()
                + Resources(lut=2 * counter_bits, ff=counter_bits + 3)
                + partial_maxima_resources(self.word_bits, self.dtype.bits, self.folds, kh * kw,
                                           repeats=self.folds == 1)
                + queue_resources(self.word_bits, credits_for(1, 1)))


def element_max(a, b, dtype, count):
    """The element-wise maximum of words ``a`` and ``b`` of ``count`` ``dtype`` codes, in the
    codes' order (see the module docstring): signed for INTn, unsigned otherwise."""
    larger = []
    for x, y in zip(elements(a, dtype, count), elements(b, dtype, count)):
        if dtype.kind == "INT":
            x, y = x.as_signed(), y.as_signed()
        larger.append(Mux(x > y, x, y))
    return Cat(*larger)


# Cycles from a word's acceptance by an issuing stage in front of PartialMaxima to the first
# cycle the maximum it completes can leave the OutputQueue behind: the compare stage, then the
# queue.
MAX_LATENCY = 1 + QUEUE_LATENCY


class PartialMaxima(wiring.Component):
    """The compare stage of a running maximum: the element-wise maximum of each group of
    ``positions`` words, the group's partial maximum kept in one of ``slots`` memory words
    while its words come in.

    The issuing stage drives, for the word on its input: ``slot`` (the partial it belongs to),
    ``first`` (it starts its group's maximum) and ``last`` (it completes it), and ``take`` and
    ``word`` in the cycle it accepts the word. The memory is read at ``slot`` free-running, so
    that the slot's partial is on the read port's output when the accepted word reaches the
    compare stage in the next cycle; there the word is compared with it, and the result written
    back, or, for a ``last`` word, put on ``o`` (for an
    :class:`~hwgen.engines.credits.OutputQueue`'s ``w``) instead. So a maximum leaves on ``o``
    one cycle after its last word was taken.

    ``repeats``: a word may be taken in the cycle right after another of the same slot (the
    read then also sees the write of that word's result). With ``positions == 1`` every word
    is its own maximum, and there is no memory.
    """

    def __init__(self, dtype, lanes, slots, positions, *, repeats):
        self.dtype, self.lanes, self.slots = dtype, lanes, slots
        self.positions, self.repeats = positions, repeats
        word = unsigned(lanes * dtype.bits)
        super().__init__({
            "take": In(1), "word": In(word), "slot": In(range(slots)),
            "first": In(1), "last": In(1),
            "o": Out(stream.Signature(word, always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        x = Signal.like(self.word, reset_less=True)
        x_slot = Signal.like(self.slot, reset_less=True)
        x_first, x_last, x_valid = Signal(reset_less=True), Signal(reset_less=True), Signal()
        m.d.sync += [x.eq(self.word), x_slot.eq(self.slot), x_first.eq(self.first),
                     x_last.eq(self.last), x_valid.eq(self.take)]
        if self.positions == 1:
            result = x
        else:
            # Without repeats the word taken after x is of another slot: a read whose data is
            # used never meets a write. With them, it may read the slot x's result is written
            # to in the same cycle: a transparent read.
            m.submodules.partial = partial = ram(len(x), self.slots,
                                                 collision_free=not self.repeats)
            wr = partial.write_port()
            rd = partial.read_port(transparent_for=(wr,) if self.repeats else ())
            result = Mux(x_first, x, element_max(rd.data, x, self.dtype, self.lanes))
            m.d.comb += [
                rd.addr.eq(self.slot),
                wr.en.eq(x_valid & ~x_last),
                wr.addr.eq(x_slot),
                wr.data.eq(result),
            ]
        m.d.comb += [self.o.payload.eq(result), self.o.valid.eq(x_valid & x_last)]
        return m


def partial_maxima_resources(word_bits, bits, slots, positions, repeats):
    """First-order cost of a :class:`PartialMaxima` of ``word_bits`` words of ``bits``-bit
    elements: per element a comparator and a 2:1 mux (~1 LUT per bit each; one LUT for both
    while an element has at most two bits); the compare stage's registers (word, slot, three
    flags); and, unless ``positions == 1``, the memory of ``slots`` partial maxima
    (:func:`~hwgen.engines.memories.memory_resources`), as Yosys builds it: one slot is a
    register of flip-flops, and a transparent read (``repeats``) of LUT RAM registers the
    address instead of the data (measured: 9x9x8 3x3 pools, 8 UINT8 lanes, with one, two and
    three slots)."""
    slot_bits = max(1, (slots - 1).bit_length())
    stage = Resources(lut=word_bits * (1 if bits <= 2 else 2), ff=word_bits + slot_bits + 3)
    if positions == 1:
        return stage
    if slots == 1:
        return stage + Resources(ff=word_bits)
    memory = memory_resources(slots, word_bits, writable=True)
    if repeats and not memory.bram18:
        memory = Resources(lut=memory.lut, ff=slot_bits)
    return stage + memory


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
        m.submodules.queue = queue = OutputQueue(p.word_bits, credits_for(1, 1))
        wiring.connect(m, queue.o, wiring.flipped(self.o))

        # Fold and kernel position of the word on the input.
        fold, pos = Counter(p.folds, "fold"), Counter(kh * kw, "pos")
        accept = Signal()
        issue_gate(m, accept, queue, self.i, pos.last)
        with m.If(accept):
            m.d.sync += fold.step()
            with m.If(fold.last):
                m.d.sync += pos.step()

        m.submodules.stage = stage = PartialMaxima(p.dtype, p.pe, p.folds, kh * kw,
                                                   repeats=p.folds == 1)
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
