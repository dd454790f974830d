"""Zero padding: surrounds every frame with pixels of code 0 (:func:`hwgen.golden.pad`).

Input: frames of ``height x width x channels`` values in NHWC order, ``simd`` channels per word.
Output: frames of ``(height + top + bottom) x (width + left + right) x channels``, same words.
The engine walks the padded frame one word per cycle: border words are zero and produced
without consuming input, interior words are the input words. The border before a frame's first
interior word is held back until that word is offered (``i.valid``), so a frame's output never
starts before its input does. Whether the position is inside the input, and whether it precedes
the frame's first interior word, are registered flags updated as the position advances; words
go out through an :class:`~hwgen.engines.sliding_window.OutputQueue`, so ``i.ready`` comes from
registers and ``o.ready`` drives only the queue.
"""

from dataclasses import dataclass

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import DataType
from .credits import QUEUE_LATENCY, OutputQueue, credits_for, queue_resources
from .datapath import Counter, require_positive
from .resources import Resources
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
        """Cycles from an interior word's input transfer to the earliest cycle it leaves: it
        enters the output queue in the cycle it arrives (:mod:`~hwgen.engines.credits`)."""
        return QUEUE_LATENCY

    def resources(self):
        """First-order estimate: row, column and fold counters with their "last" flags (one
        FF and about two LUTs per bit, the comparisons for the interior flags included), one
        LUT per data bit to force border words to zero, and the output queue (fitted to
        synth_xilinx on mini-cnv's padding)."""
        counter_bits = sum(max(1, (n - 1).bit_length())
                           for n in (self.out_height, self.out_width, self.folds))
        return (Resources(lut=2 * counter_bits + self.word_bits, ff=counter_bits + 6)
                + queue_resources(self.word_bits, credits_for(0, 1)))


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
        m.submodules.queue = queue = OutputQueue(p.word_bits, credits_for(0, 1))
        wiring.connect(m, queue.o, wiring.flipped(self.o))

        y, x = Counter(p.out_height, "y"), Counter(p.out_width, "x")
        fold = Counter(p.folds, "fold")
        # Registered: the position is in the input's rows, in its columns; it precedes the
        # frame's first interior word (whose border waits for that word, so that no output
        # appears for a frame that has not started: the engine is idle between frames).
        in_rows, in_cols = Signal(init=top == 0), Signal(init=left == 0)
        leading = Signal(init=top > 0 or left > 0)
        inside = in_rows & in_cols

        issue = queue.available & (~(inside | leading) | self.i.valid)
        m.d.comb += [
            self.i.ready.eq(inside & queue.available),
            queue.take.eq(issue),
            queue.w.valid.eq(issue),
            queue.w.payload.eq(Mux(inside, self.i.payload, 0)),
        ]

        def entering(counter, start, size, flag):
            """``flag`` after ``counter`` steps: whether it is then in ``[start, start + size)``."""
            return Mux(counter.last, start == 0,
                       Mux(counter.value == start - 1, 1,
                           Mux(counter.value == start + size - 1, 0, flag)))

        with m.If(issue):
            m.d.sync += fold.step()
            with m.If(inside):
                m.d.sync += leading.eq(0)
            with m.If(fold.last):
                m.d.sync += [*x.step(), in_cols.eq(entering(x, left, p.width, in_cols))]
                with m.If(x.last):
                    m.d.sync += [*y.step(), in_rows.eq(entering(y, top, p.height, in_rows))]
                    with m.If(y.last):
                        m.d.sync += leading.eq(top > 0 or left > 0)
        return m
