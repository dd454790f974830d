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
from .datapath import Counter, require_positive
from .memories import memory_resources, ram
from .resources import Resources
from .sliding_window import READ_DELAY, SlidingWindow, SlidingWindowParams

__all__ = ["MaxPoolParams", "MaxPool", "RunningMax"]


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
        it enters one cycle after it is accepted (:mod:`~hwgen.engines.credits`)."""
        kh, kw = self.kernel
        return (self.window.issue_cycle((kh * kw - 1) * self.folds)
                + READ_DELAY + QUEUE_LATENCY + 1 + QUEUE_LATENCY)

    def buffer_bits(self):
        """{kind: bits} of the memories holding stream data: the sliding window's line
        buffer and RunningMax's partial maxima."""
        kh, kw = self.kernel
        partial = self.folds * self.word_bits if kh * kw > 1 else 0
        return {**self.window.buffer_bits(), "partial_results": partial}

    def resources(self):
        """The sliding window's estimate plus RunningMax's: ``folds`` partial maxima of
        ``pe * bits`` in RAM (none for a 1x1 kernel,
        :func:`~hwgen.engines.memories.memory_resources`), the compare stage's word register,
        per element a comparator and a 2:1 mux (~1 LUT per bit each; one LUT for both while
        an element has at most two bits), the counters and flags, and the
        :class:`OutputQueue`."""
        kh, kw = self.kernel
        fold_bits = max(1, (self.folds - 1).bit_length())
        counter_bits = fold_bits + max(1, (kh * kw - 1).bit_length())
        compare = self.word_bits * (1 if self.dtype.bits <= 2 else 2)
        reduce = (Resources(lut=compare + 2 * counter_bits,
                            ff=self.word_bits + counter_bits + fold_bits + 6)
                  + queue_resources(self.word_bits, credits_for(1, 1)))
        if kh * kw > 1:
            reduce += memory_resources(self.folds, self.word_bits, writable=True)
        return self.window.resources() + reduce


class RunningMax(wiring.Component):
    """Reduces each window from a sliding window to its per-channel maximum.

    ``i`` carries windows of ``kh * kw * folds`` words in ``(kh, kw, fold)`` order (``pe``
    elements each); ``o`` one word per fold: the element-wise maximum of that fold's ``kh * kw``
    words. The ``folds`` partial maxima in flight live in a small memory, read (free-running)
    at the fold of the word on the input, so that it is on the read port's output when the
    accepted word reaches the compare stage in the next cycle. Finished maxima go to an
    :class:`~hwgen.engines.credits.OutputQueue`; a word that finishes one is accepted
    only while the queue has room for it, every other word every cycle.
    """

    def __init__(self, params):
        self.params = params
        word = unsigned(params.word_bits)
        super().__init__({"i": In(stream.Signature(word)), "o": Out(stream.Signature(word))})

    def elaborate(self, platform):
        p = self.params
        kh, kw = p.kernel
        positions, bits = kh * kw, p.dtype.bits
        m = Module()
        m.submodules.queue = queue = OutputQueue(p.word_bits, credits_for(1, 1))
        wiring.connect(m, queue.o, wiring.flipped(self.o))

        # Fold and kernel position of the word on the input.
        fold, pos = Counter(p.folds, "fold"), Counter(positions, "pos")
        accept = Signal()
        issue_gate(m, accept, queue, self.i, pos.last)
        with m.If(accept):
            m.d.sync += fold.step()
            with m.If(fold.last):
                m.d.sync += pos.step()

        # Compare stage, free-running: the accepted word and its position.
        x = Signal(p.word_bits, reset_less=True)
        x_fold = Signal(range(p.folds), reset_less=True)
        x_first, x_last, x_valid = Signal(reset_less=True), Signal(reset_less=True), Signal()
        m.d.sync += [x.eq(self.i.payload), x_fold.eq(fold.value), x_first.eq(pos.first),
                     x_last.eq(pos.last), x_valid.eq(accept)]

        if positions == 1:
            result = x
        else:
            # With several folds the word on the input is of another fold than x: a read whose
            # data is used never meets a write. With one, the word after x reads the slot x's
            # result is written to in the same cycle: a transparent read.
            m.submodules.partial = partial = ram(p.word_bits, p.folds,
                                                 collision_free=p.folds > 1)
            wr = partial.write_port()
            rd = partial.read_port(transparent_for=(wr,) if p.folds == 1 else ())
            elements = []
            for e in range(p.pe):
                a, b = rd.data[e * bits:(e + 1) * bits], x[e * bits:(e + 1) * bits]
                if p.dtype.kind == "INT":
                    a, b = a.as_signed(), b.as_signed()
                elements.append(Mux(a > b, a, b))
            result = Mux(x_first, x, Cat(*elements))
            m.d.comb += [
                rd.addr.eq(fold.value),
                wr.en.eq(x_valid & ~x_last),
                wr.addr.eq(x_fold),
                wr.data.eq(result),
            ]
        m.d.comb += [queue.w.payload.eq(result), queue.w.valid.eq(x_valid & x_last)]
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
