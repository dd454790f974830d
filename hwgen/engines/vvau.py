"""Vector-vector-activation unit (VVAU): a depthwise convolution's dot products,
``out[c] = sum_k W[c, k] * x[k, c]`` per output pixel, each channel with its own window.

Folding: ``pe`` channels at a time, ``simd`` kernel positions at a time. A pixel's window of
``k = kh*kw`` positions x ``channels`` arrives in the depthwise order of
:class:`~hwgen.engines.sliding_window.SlidingWindow` (channel fold, kh, kw), packed ``simd``
positions x ``pe`` channels per word (element ``q*pe + p``: position ``q`` of the word, channel
``p`` of the fold; a width converter packs ``simd`` consecutive words of ``pe`` channels), so
``k / simd`` words per channel fold and ``nf = channels / pe`` folds per pixel. Unlike the MVAU,
no input is used twice: every MAC step takes its own word from the stream, one step per cycle,
``pixels * nf * (k / simd)`` cycles per frame, and there is no input buffer.

Everything else is the MVAU's (:mod:`hwgen.engines.mvau`), which this engine is a
:class:`~hwgen.engines.mvau.MatrixVectorUnit` of: the weights as an ``mh x mw`` = ``channels x
k`` matrix in the same memory order (word ``f*sf + s`` holding ``W[f*pe:(f+1)*pe,
s*simd:(s+1)*simd]``), the free-running pipeline, the products (a conditional negation for
BIPOLAR), the adder or popcount tree per PE lane, the accumulators, the fused activation
(thresholds per channel) and the output queue with its credits. Only the lanes' inputs differ:
PE row ``p`` takes elements ``p, pe + p, ..., (simd - 1)*pe + p`` of the input word, where an
MVAU row takes the whole (shared) word.
"""

from dataclasses import dataclass

from amaranth import Cat

from .datapath import elements
from .mvau import MatrixVectorUnit, MVAUParams

__all__ = ["VVAUParams", "VectorVectorUnit"]


@dataclass(frozen=True)
class VVAUParams(MVAUParams):
    """Depthwise unit parameters, in the MVAU's fields (:class:`~hwgen.engines.mvau.MVAUParams`):
    ``mw`` the kernel positions ``kh*kw``, ``mh`` the channels, ``vectors`` the output pixels per
    frame; ``pe`` channels and ``simd`` positions per step (``mw % simd == 0``, ``mh % pe ==
    0``); ``style`` as the MVAU's."""

    what = "vvau"
    rows_share_input = False     # so DSP lanes are never packed (MVAUParams.dsp_pack)

    @property
    def channels(self):
        return self.mh

    @property
    def kernel_positions(self):
        return self.mw

    @property
    def in_width(self):
        """An input word: ``simd`` positions x ``pe`` channels."""
        return self.simd * self.pe * self.in_dtype.bits

    @property
    def buffer_words(self):
        """No input buffer: each input word is used by one step only."""
        return 0

    def buffer_bits(self):
        """No memory holds stream data."""
        return {}

    def resources(self):
        """First-order estimate, counted as the MVAU's (:meth:`MVAUParams.resources`: lanes,
        adder trees and accumulators per PE, fused activation, the weight memory, the step
        counters, the input word register, here ``pe*simd`` elements wide, and the output
        queue); there is no input buffer. Against synth_xilinx on 9 positions x 32 channels,
        64 pixels (PE 4, SIMD 3, UINT4 x INT4 raw: 589 LUTs / 364 FFs modelled, 506 / 350
        synthesized; PE 8, SIMD 9, UINT2 x INT2 fused UINT2: 1093 / 1142 against 927 / 976):
        16 to 18% over in LUTs, 4 to 17% in flip-flops."""
        return super().resources()


class VectorVectorUnit(MatrixVectorUnit):
    """VVAU for :class:`VVAUParams` (see the module docstring).

    ``weights``: (channels, k) true values of ``weight_dtype``, row ``c`` channel ``c``'s
    kernel in (kh, kw) order (:func:`hwgen.golden.depthwise_conv2d`'s (C, KH, KW, 1) reshaped).
    ``thresholds``: with ``out_dtype``, (channels, n_thresholds(out_dtype)) integers.

    Input: per output pixel, ``nf * k / simd`` words of ``simd x pe`` ``in_dtype`` elements (see
    the module docstring). Output: ``nf`` words of ``pe`` ``output_dtype`` elements per pixel,
    channels in order.
    """

    def row_inputs(self, x):
        """PE row ``p`` takes channel ``p`` of each of the word's ``simd`` positions."""
        p = self.params
        xs = elements(x, p.in_dtype, p.simd * p.pe)
        return [Cat(xs[q * p.pe + row] for q in range(p.simd)) for row in range(p.pe)]
