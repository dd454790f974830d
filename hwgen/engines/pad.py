"""Zero padding: surrounds every frame with pixels of code 0 (:func:`hwgen.golden.pad`).

Input: frames of ``height x width x channels`` values in NHWC order, ``simd`` channels per word.
Output: frames of ``(height + top + bottom) x (width + left + right) x channels``, same words.
The engine walks the padded frame one word per cycle: border words are zero and produced
without consuming input, interior words are the input words passed straight through
(combinationally: ``o.valid`` follows ``i.valid`` and ``i.ready`` follows ``o.ready``, so it adds
no latency and no register on the data path). The border before a frame's first interior word
is held back until that word is offered (``i.valid``), so a frame's output never starts before
its input does.
"""

from dataclasses import dataclass

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import DataType
from .resources import Resources
from .datapath import require_positive
from .sliding_window import FeatureMapWords

__all__ = ["PadParams", "Pad"]


@dataclass(frozen=True)
class PadParams(FeatureMapWords):
    """Shape of a padding engine; ``pads = (top, bottom, left, right)`` in pixels.

    The padding value is code 0, so ``dtype`` must represent 0: BIPOLAR is rejected.
    """

    height: int
    width: int
    channels: int
    pads: tuple
    simd: int
    dtype: DataType

    def __post_init__(self):
        require_positive("pad", height=self.height, width=self.width, channels=self.channels,
                        simd=self.simd)
        pads = tuple(self.pads) if not isinstance(self.pads, (str, bytes)) else ()
        if len(pads) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                     for v in pads):
            raise ValueError(f"pads must be four non-negative ints (top, bottom, left, right), "
                             f"not {self.pads!r}")
        object.__setattr__(self, "pads", pads)
        if not isinstance(self.dtype, DataType):
            raise ValueError(f"dtype must be a DataType, not {self.dtype!r}")
        if self.dtype.kind == "BIPOLAR":
            raise ValueError("BIPOLAR cannot represent the padding value 0")
        if self.channels % self.simd:
            raise ValueError(f"channels ({self.channels}) must be a multiple of simd ({self.simd})")

    @property
    def out_height(self):
        return self.height + self.pads[0] + self.pads[1]

    @property
    def out_width(self):
        return self.width + self.pads[2] + self.pads[3]

    @property
    def out_words(self):
        return self.out_height * self.out_width * self.folds

    def cycles(self):
        """Cycles per frame with no stalls: one per output word (exact)."""
        return self.out_words

    def latency(self):
        """Interior words pass through in the cycle they arrive."""
        return 0

    def resources(self):
        """First-order estimate: row, column and fold counters (one FF and about one LUT per
        bit, plus two comparisons per coordinate for the interior test) and one LUT per data
        bit to force border words to zero; no RAM."""
        counter_bits = sum(max(1, (n - 1).bit_length())
                           for n in (self.out_height, self.out_width, self.folds))
        return Resources(lut=3 * counter_bits + self.word_bits, ff=counter_bits)


class Pad(wiring.Component):
    """Pads every frame with zero pixels; see the module docstring for the contract."""

    def __init__(self, params):
        self.params = params
        word = unsigned(params.word_bits)
        super().__init__({"i": In(stream.Signature(word)), "o": Out(stream.Signature(word))})

    def elaborate(self, platform):
        p = self.params
        top, _, left, _ = p.pads
        m = Module()

        y = Signal(range(p.out_height))
        x = Signal(range(p.out_width))
        fold = Signal(range(p.folds))
        inside = ((y >= top) & (y < top + p.height) & (x >= left) & (x < left + p.width))
        # A frame's leading border waits for the frame's first input word, so that no output
        # appears for a frame that has not started (the engine is idle between frames).
        leading = (y < top) | ((y == top) & (x < left))

        m.d.comb += [
            self.o.valid.eq(Mux(inside | leading, self.i.valid, 1)),
            self.o.payload.eq(Mux(inside, self.i.payload, 0)),
            self.i.ready.eq(inside & self.o.ready),
        ]
        with m.If(self.o.valid & self.o.ready):
            last_fold = fold == p.folds - 1
            last_x = x == p.out_width - 1
            m.d.sync += fold.eq(Mux(last_fold, 0, fold + 1))
            with m.If(last_fold):
                m.d.sync += x.eq(Mux(last_x, 0, x + 1))
                with m.If(last_x):
                    m.d.sync += y.eq(Mux(y == p.out_height - 1, 0, y + 1))
        return m
