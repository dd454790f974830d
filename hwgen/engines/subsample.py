"""Pixel subsampling: the input of a 1x1 convolution with a stride, i.e. a sliding window with a
1x1 kernel (:func:`hwgen.golden.sliding_window` with kernel ``(1, 1)``: ``x[:, ::sh, ::sw, :]``).

Input: frames of ``height x width x channels`` values in NHWC order, ``simd`` channels per word.
Output: the pixels ``(y, x)`` with ``y % stride[0] == 0`` and ``x % stride[1] == 0``, in the same
order and words: frames of ``out_height x out_width x channels``. The other pixels' words are
taken and dropped. A 1x1 window is one pixel, so no line buffer is needed: the engine takes one
input word per cycle, whatever it keeps, and frames follow each other without a gap.

Whether the word on the input is kept is the AND of two registered flags, the "first" flags of
a column phase counter (modulo ``stride[1]``, restarted at every row) and of a row phase counter
(modulo ``stride[0]``, restarted at every frame). They step with the fold, column and row
counters, whose registered "last" flags mark the ends of pixels, rows and frames: no comparison
of a frame-wide position is on the stream path. Kept words go out through an
:class:`~hwgen.engines.credits.OutputQueue` (a kept word needs one of its credits, a dropped one
none), so ``i.ready`` comes from registers through one LUT and ``o.ready`` drives only the
queue.
"""

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import DataType
from .credits import QUEUE_LATENCY, OutputQueue, credits_for, issue_gate, queue_resources
from .datapath import Counter, positive_pair
from .resources import Resources
from .sliding_window import FeatureMapWords

__all__ = ["SubsampleParams", "Subsample"]


@dataclass(frozen=True)
class SubsampleParams(FeatureMapWords):
    """Shape of a subsampling engine; ``stride`` is a ``(rows, columns)`` pair (an int means a
    square one), ``channels`` a multiple of ``simd``."""

    height: int
    width: int
    channels: int
    stride: tuple
    simd: int
    dtype: DataType

    def __post_init__(self):
        self.check_feature_map("subsample")
        object.__setattr__(self, "stride", positive_pair(self.stride, "stride"))

    @property
    def out_height(self):
        return (self.height - 1) // self.stride[0] + 1

    @property
    def out_width(self):
        return (self.width - 1) // self.stride[1] + 1

    @property
    def out_words(self):
        """Output words per frame."""
        return self.out_height * self.out_width * self.folds

    def kept_words(self):
        """Indices of the kept words among a frame's input words, in order."""
        y, x, _ = np.indices((self.height, self.width, self.folds))
        return np.flatnonzero((y % self.stride[0] == 0) & (x % self.stride[1] == 0))

    def cycles(self):
        """Cycles per frame with no stalls: one per input word (exact)."""
        return self.in_words

    def latency(self):
        """Cycles from a kept word's input transfer to its output transfer, no stalls: it enters
        the output queue in the cycle it arrives (:mod:`~hwgen.engines.credits`)."""
        return QUEUE_LATENCY

    def resources(self):
        """First-order estimate: for each of the fold, column, row and two phase counters that
        has more than one value (``n``), ``(n - 1).bit_length()`` value flip-flops and a "last"
        flag, and about one LUT per value bit; two LUTs for the issue and keep logic; and the
        output queue. Fitted to synth_xilinx on strides 1 to 3 and words of 8 to 256 bits (the
        phases' "first" flags are left out, within the fit)."""
        sizes = [n for n in (self.folds, self.width, self.height, *self.stride) if n > 1]
        bits = sum((n - 1).bit_length() for n in sizes)
        return (Resources(lut=bits + 2, ff=bits + len(sizes))
                + queue_resources(self.word_bits, credits_for(0, 1)))


class Subsample(wiring.Component):
    """Keeps every ``stride``-th pixel of every ``stride``-th row; see the module docstring."""

    def __init__(self, params):
        self.params = params
        word = unsigned(params.word_bits)
        super().__init__({"i": In(stream.Signature(word)), "o": Out(stream.Signature(word))})

    def elaborate(self, platform):
        p = self.params
        m = Module()
        m.submodules.queue = queue = OutputQueue(p.word_bits, credits_for(0, 1))
        wiring.connect(m, queue.o, wiring.flipped(self.o))

        fold, x, y = Counter(p.folds, "fold"), Counter(p.width, "x"), Counter(p.height, "y")
        # Position modulo the stride: phase 0 in both directions is a kept pixel.
        x_phase, y_phase = Counter(p.stride[1], "x_phase"), Counter(p.stride[0], "y_phase")
        keep = y_phase.first & x_phase.first

        accept = Signal()
        issue_gate(m, accept, queue, self.i, keep)
        m.d.comb += [queue.w.valid.eq(accept & keep), queue.w.payload.eq(self.i.payload)]

        with m.If(accept):
            m.d.sync += fold.step()
            with m.If(fold.last):
                m.d.sync += x.step()
                with m.If(x.last):
                    m.d.sync += [*_restart(x_phase), *y.step()]
                    with m.If(y.last):
                        m.d.sync += _restart(y_phase)
                    with m.Else():
                        m.d.sync += y_phase.step()
                with m.Else():
                    m.d.sync += x_phase.step()
        return m


def _restart(counter):
    """Statements that set ``counter`` back to 0 (a phase restarting where the stride does not
    divide the row or the frame)."""
    return [counter.value.eq(0), counter.first.eq(1), counter.last.eq(counter.modulus == 1)]
