"""Stream width converter: words of ``in_elems`` elements become words of ``out_elems`` elements.

Element order is preserved and words stay packed as :func:`hwgen.datatypes.pack` packs them
(element ``i`` of a word at bits ``[i*b, (i+1)*b)``). The converter never looks at element
values, so it serves every datatype of ``elem_bits`` bits.

Structure:

- ``out_elems`` divides ``in_elems``: one :class:`Serializer` shifts each input word out over
  ``in_elems / out_elems`` cycles;
- ``in_elems`` divides ``out_elems``: one :class:`Deserializer` collects
  ``out_elems / in_elems`` input words into one output word;
- equal widths: a one-piece deserializer, i.e. a register slice (the pipeline only inserts a
  converter where widths differ, but the component stays valid and sequential either way);
- otherwise a deserializer up to ``lcm(in_elems, out_elems)`` elements followed by a serializer
  down to ``out_elems``. Going through the lcm (not the gcd) keeps full throughput: the gcd route
  would move one gcd-wide word per cycle, slower than the narrower side. A frame holds a multiple
  of both widths, hence of their lcm, so no word straddles two frames.

Each stage sustains one narrow-side word per cycle with no bubbles: a serializer accepts its next
input in the cycle its last piece leaves, a deserializer accepts a new input in the cycle its full
word leaves. Their ``i.ready`` therefore depends combinationally on ``o.ready``.
"""

import math
from dataclasses import dataclass

from amaranth import Module, Signal, Cat, Mux, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .datapath import require_positive
from .resources import Resources

__all__ = ["WidthConverterParams", "WidthConverter", "Serializer", "Deserializer"]


@dataclass(frozen=True)
class WidthConverterParams:
    """``in_elems`` -> ``out_elems`` elements of ``elem_bits`` bits; ``frame_elems`` per frame."""

    in_elems: int
    out_elems: int
    elem_bits: int
    frame_elems: int

    def __post_init__(self):
        require_positive("width converter", in_elems=self.in_elems, out_elems=self.out_elems,
                         elem_bits=self.elem_bits, frame_elems=self.frame_elems)
        for name in ("in_elems", "out_elems"):
            if self.frame_elems % getattr(self, name):
                raise ValueError(f"width converter: frame_elems ({self.frame_elems}) is not a "
                                 f"multiple of {name} ({getattr(self, name)})")

    @property
    def in_width(self):
        return self.in_elems * self.elem_bits

    @property
    def out_width(self):
        return self.out_elems * self.elem_bits

    @property
    def stages(self):
        """The single-stage conversions this converter is built from, as (in, out) elements."""
        i, o = self.in_elems, self.out_elems
        if i % o == 0 or o % i == 0:
            return [(i, o)]
        lcm = math.lcm(i, o)
        return [(i, lcm), (lcm, o)]

    def cycles(self):
        """Cycles per frame in steady state: the narrower side moves one word per cycle."""
        return max(self.frame_elems // self.in_elems, self.frame_elems // self.out_elems)

    def latency(self):
        """Pipeline registers from input to output, one per stage: with no stalls, the first
        output word that an input transfer at cycle t completes leaves at cycle t + latency()."""
        return len(self.stages)

    def resources(self):
        """First-order estimate, summed over the stages.

        Serializer of an ``W``-bit word into ``n`` pieces: ``W`` data flip-flops, one LUT per
        data bit below the top piece (a 2:1 mux between loading the input and shifting, the
        enable going to the flip-flop's CE; the top piece only loads or clears, which the
        flip-flop's reset does), plus a piece counter of ``bit_length(n)`` bits (about two
        LUTs per bit for the decrement and the zero/one tests). Deserializer into a ``W``-bit
        word: ``W`` flip-flops wired as a shift register with clock enable (no data LUTs),
        plus the same counter. No RAM, no DSP.
        """
        total = Resources()
        for i, o in self.stages:
            pieces = max(i, o) // min(i, o)
            counter = pieces.bit_length()
            width = max(i, o) * self.elem_bits
            data_luts = width - width // pieces if i > o else 0
            total += Resources(lut=data_luts + 2 * counter + 2, ff=width + counter)
        return total


class Serializer(wiring.Component):
    """Shifts each ``width``-bit input word out as ``pieces`` words of ``width // pieces`` bits,
    least significant piece first. Accepts the next input in the cycle the last piece leaves, so
    it outputs one piece per cycle when fed and not stalled."""

    def __init__(self, width, pieces):
        if width % pieces:
            raise ValueError(f"serializer: {pieces} pieces do not divide {width} bits")
        self.width, self.pieces = width, pieces
        super().__init__({"i": In(stream.Signature(unsigned(width))),
                          "o": Out(stream.Signature(unsigned(width // pieces)))})

    def elaborate(self, platform):
        m = Module()
        piece = self.width // self.pieces
        data = Signal(self.width, reset_less=True)
        left = Signal(range(self.pieces + 1))   # pieces of `data` not yet sent

        m.d.comb += [
            self.o.payload.eq(data[:piece]),
            self.o.valid.eq(left != 0),
            self.i.ready.eq((left == 0) | ((left == 1) & self.o.ready)),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += [data.eq(data >> piece), left.eq(left - 1)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [data.eq(self.i.payload), left.eq(self.pieces)]
        return m


class Deserializer(wiring.Component):
    """Collects ``pieces`` input words of ``width`` bits into one output word, the first input
    in the least significant bits. Accepts a new input in the cycle the full word leaves, so it
    takes one input per cycle when fed and not stalled."""

    def __init__(self, width, pieces):
        self.width, self.pieces = width, pieces
        super().__init__({"i": In(stream.Signature(unsigned(width))),
                          "o": Out(stream.Signature(unsigned(width * pieces)))})

    def elaborate(self, platform):
        m = Module()
        # Inputs enter at the top and shift down: after `pieces` of them the first is at bit 0.
        # The output register is the shift register itself; a new input may shift in only as
        # the complete word leaves.
        data = Signal(self.width * self.pieces, reset_less=True)
        have = Signal(range(self.pieces + 1))   # inputs collected in `data`
        full = have == self.pieces

        m.d.comb += [
            self.o.payload.eq(data),
            self.o.valid.eq(full),
            self.i.ready.eq(~full | self.o.ready),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += have.eq(0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [data.eq(Cat(data[self.width:], self.i.payload)),
                         have.eq(Mux(full, 1, have + 1))]
        return m


class WidthConverter(wiring.Component):
    """Width converter for :class:`WidthConverterParams` (see the module docstring)."""

    def __init__(self, params):
        self.params = params
        super().__init__({"i": In(stream.Signature(unsigned(params.in_width))),
                          "o": Out(stream.Signature(unsigned(params.out_width)))})

    def elaborate(self, platform):
        m = Module()
        bits = self.params.elem_bits
        source = wiring.flipped(self.i)
        for n, (i, o) in enumerate(self.params.stages):
            if i > o:
                stage = Serializer(i * bits, i // o)
            else:
                stage = Deserializer(i * bits, o // i)
            m.submodules[f"stage{n}"] = stage
            wiring.connect(m, source, stage.i)
            source = stage.o
        wiring.connect(m, source, wiring.flipped(self.o))
        return m
