"""Streaming pool of overlapping (or spaced) windows, max or sum: per channel the maximum
(``op="max"``, :func:`hwgen.golden.maxpool`) or the sum (``op="sum"``,
:func:`hwgen.golden.sum_pool`) of every window.

Input: frames of ``height x width x channels`` values in NHWC order, ``pe`` channels per word.
Output: frames of ``out_height x out_width x channels``, ``pe`` channels per word (for a sum, of
:func:`~hwgen.engines.reduction.pooled_dtype`).

Built as a :class:`~hwgen.engines.sliding_window.SlidingWindow` (same kernel and stride, ``simd
= pe``; a line buffer, never a frame buffer) followed by :class:`RunningReduction`, which
folds each window's ``kh * kw`` words per channel group into one output word. Windows that tile
the input (kernel == stride) need no window: :mod:`~hwgen.engines.pool_rows`.
"""

from dataclasses import dataclass

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import DataType
from .credits import QUEUE_LATENCY, issue_gate
from .datapath import Counter
from .reduction import PartialReductionParams, PoolWords, reduction_into_queue
from .resources import Resources
from .sliding_window import READ_DELAY, SlidingWindow, SlidingWindowParams

__all__ = ["WindowPoolParams", "WindowPool", "RunningReduction"]


@dataclass(frozen=True)
class WindowPoolParams(PoolWords):
    """Shape of a window pool; ``kernel`` and ``stride`` as in SlidingWindowParams; ``op``
    ``"max"`` or ``"sum"``."""

    height: int
    width: int
    channels: int
    kernel: tuple
    stride: tuple
    pe: int
    dtype: DataType
    op: str = "max"

    def __post_init__(self):
        self.check_feature_map("window pool")
        window = self.window      # validates the rest, and normalizes kernel and stride
        object.__setattr__(self, "kernel", window.kernel)
        object.__setattr__(self, "stride", window.stride)
        self.reduction      # checks op, and that a sum fits

    @property
    def window(self):
        """Parameters of the sliding window this engine is built on."""
        return SlidingWindowParams(self.height, self.width, self.channels, self.kernel,
                                   self.stride, self.pe, self.dtype, lookahead=False)

    @property
    def out_height(self):
        return self.window.out_height

    @property
    def out_width(self):
        return self.window.out_width

    def cycles(self):
        """Cycles per frame with no stalls: the sliding window's (the reduction takes a word per
        cycle and never holds the window back), with the same accuracy."""
        return self.window.cycles()

    def latency(self):
        """Cycles from a frame's first input word to its first output word (fresh engine):
        the sliding window's read of the first window's last word of channel group 0, then
        through the sliding window's output queue, and through the :class:`RunningReduction`,
        whose output queue it enters :attr:`PartialReductionParams.latency` cycles after it is
        accepted (:mod:`~hwgen.engines.credits`)."""
        kh, kw = self.kernel
        return (self.window.issue_cycle((kh * kw - 1) * self.folds)
                + READ_DELAY + QUEUE_LATENCY + self.reduction.latency + QUEUE_LATENCY)

    @property
    def reduction(self):
        """Parameters of the :class:`RunningReduction`'s
        :class:`~hwgen.engines.reduction.PartialReduction`: one slot per fold."""
        kh, kw = self.kernel
        return PartialReductionParams(self.dtype, self.pe, self.folds, kh * kw, self.folds,
                                      self.op)

    def buffer_bits(self):
        """{kind: bits} of the memories holding stream data: the sliding window's line
        buffer and the partial results."""
        kh, kw = self.kernel
        partial = self.folds * self.out_bits if kh * kw > 1 else 0
        return {**self.window.buffer_bits(), "partial_results": partial}

    def resources(self):
        """The sliding window's estimate plus the :class:`RunningReduction`'s: its
        :class:`~hwgen.engines.reduction.PartialReduction`, the fold and kernel position
        counters and their flags, and the :class:`OutputQueue`."""
        kh, kw = self.kernel
        counter_bits = (max(1, (self.folds - 1).bit_length())
                        + max(1, (kh * kw - 1).bit_length()))
        return (self.window.resources()
                + Resources(lut=2 * counter_bits, ff=counter_bits + 3)
                + self.reduction.queued_resources())


class RunningReduction(wiring.Component):
    """Reduces each window from a sliding window to its per-channel maximum or sum.

    ``i`` carries windows of ``kh * kw * folds`` words in ``(kh, kw, fold)`` order (``pe``
    elements each); ``o`` one word per fold: the element-wise ``op`` of that fold's ``kh * kw``
    words. The ``folds`` partial results in flight are a
    :class:`~hwgen.engines.reduction.PartialReduction`, one slot per fold. Finished results go
    to an :class:`~hwgen.engines.credits.OutputQueue`; a word that finishes one is accepted only
    while the queue has room for it, every other word every cycle.
    """

    def __init__(self, params):
        self.params = params
        super().__init__({"i": In(stream.Signature(unsigned(params.word_bits))),
                          "o": Out(stream.Signature(unsigned(params.out_bits)))})

    def elaborate(self, platform):
        p = self.params
        kh, kw = p.kernel
        m = Module()
        stage, queue = reduction_into_queue(m, p.reduction, self.o)

        # Fold and kernel position of the word on the input.
        fold, pos = Counter(p.folds, "fold"), Counter(kh * kw, "pos")
        accept = Signal()
        issue_gate(m, accept, queue, self.i, pos.last)
        with m.If(accept):
            m.d.sync += fold.step()
            with m.If(fold.last):
                m.d.sync += pos.step()

        m.d.comb += [stage.take.eq(accept), stage.word.eq(self.i.payload),
                     stage.slot.eq(fold.value), stage.first.eq(pos.first),
                     stage.last.eq(pos.last)]
        return m


class WindowPool(wiring.Component):
    """Streaming window pool; see the module docstring for the contract."""

    def __init__(self, params):
        self.params = params
        super().__init__({"i": In(stream.Signature(unsigned(params.word_bits))),
                          "o": Out(stream.Signature(unsigned(params.out_bits)))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.window = window = SlidingWindow(self.params.window)
        m.submodules.reduce = reduce = RunningReduction(self.params)
        wiring.connect(m, wiring.flipped(self.i), window.i)
        wiring.connect(m, window.o, reduce.i)
        wiring.connect(m, reduce.o, wiring.flipped(self.o))
        return m
