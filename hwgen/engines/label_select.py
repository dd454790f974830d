"""Label select: the indices of the ``k`` largest class scores of each frame (top-k argmax).

Matches :func:`hwgen.golden.label_select`: largest score first, ties toward the lower index.

Input: a frame is ``classes / pe`` words of ``pe`` scores of ``in_dtype`` (INT compares signed,
UINT and BINARY unsigned, BIPOLAR by its code, which orders -1 < +1 correctly).
Output: ``k`` words per frame, each one class index as an unsigned ``index_bits``-bit number.

How it works: registers hold the best ``k`` (score, index) pairs seen so far in the frame, best
first, each with a valid bit. Each input word is inserted in one cycle by a combinational chain
of ``pe`` insertions (each compares the new score with all ``k`` entries in parallel and shifts
the beaten tail down by one), so the critical path grows with ``pe``: keep ``pe`` up to about 8.
A new score must beat an entry strictly to pass it; since indices arrive in increasing order this
keeps ties in index order, as the golden model's stable sort does. On a frame's first word the
entries are treated as empty instead of being cleared in an extra cycle.

The chain's result for a frame's last word is loaded into a separate output shift register of
``k`` indices, which emits them while the next frame streams in (emission overlaps input). The
next frame's last word waits only if the previous frame's indices have not all left by then, so
one frame takes ``max(classes / pe, k)`` cycles in steady state. ``i.ready`` depends
combinationally on ``o.ready`` (only on a frame's last word).
"""

from dataclasses import dataclass

from amaranth import Module, Signal, Cat, Const, Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import DataType
from .datapath import require_positive
from .resources import Resources

__all__ = ["LabelSelectParams", "LabelSelect"]


@dataclass(frozen=True)
class LabelSelectParams:
    """Top-``k`` of ``classes`` scores of ``in_dtype``, arriving ``pe`` per word."""

    classes: int
    pe: int
    in_dtype: DataType
    k: int = 1

    def __post_init__(self):
        require_positive("label select", classes=self.classes, pe=self.pe, k=self.k)
        if not isinstance(self.in_dtype, DataType):
            raise ValueError(f"label select: in_dtype must be a DataType, not {self.in_dtype!r}")
        if self.classes % self.pe:
            raise ValueError(f"label select: pe ({self.pe}) does not divide classes "
                             f"({self.classes})")
        if self.k > self.classes:
            raise ValueError(f"label select: k ({self.k}) exceeds classes ({self.classes})")

    @property
    def index_bits(self):
        """Width of an output word: enough for the largest class index."""
        return max(1, (self.classes - 1).bit_length())

    @property
    def in_width(self):
        return self.pe * self.in_dtype.bits

    @property
    def out_width(self):
        return self.index_bits

    @property
    def words(self):
        """Input words per frame."""
        return self.classes // self.pe

    def cycles(self):
        """Cycles per frame in steady state: one input word per cycle and one index per cycle,
        the two overlapping across frames."""
        return max(self.words, self.k)

    def latency(self):
        """Cycles from a frame's first input transfer to its first output transfer, when the
        output buffer is free: the words stream in, the first index leaves the cycle after
        the last word."""
        return self.words

    def resources(self):
        """First-order estimate.

        Flip-flops: ``k`` entries of (score ``b``, index ``ib``, valid) bits, the output shift
        register (``k * ib``), the word-base counter and the output count. LUTs: per lane and
        entry a ``b``-bit comparison (about ``b`` LUTs with the carry chain) and a 3:1 mux of the
        entry (``b + ib + 1`` LUTs); per output entry a 2:1 mux (load or shift, ``ib`` LUTs);
        an index adder per lane (``ib``); a few LUTs of control. No RAM, no DSP.
        """
        b, ib, k, pe = self.in_dtype.bits, self.index_bits, self.k, self.pe
        counters = 2 * ib + (k + 1).bit_length()
        return Resources(lut=pe * k * (2 * b + ib + 1) + k * ib + pe * ib + 2 * counters,
                         ff=k * (b + 2 * ib + 1) + counters)


class LabelSelect(wiring.Component):
    """Label select for :class:`LabelSelectParams` (see the module docstring)."""

    def __init__(self, params):
        self.params = params
        super().__init__({"i": In(stream.Signature(unsigned(params.in_width))),
                          "o": Out(stream.Signature(unsigned(params.out_width)))})

    def elaborate(self, platform):
        p = self.params
        m = Module()
        bits, ib = p.in_dtype.bits, p.index_bits
        entry = data.StructLayout({
            "score": signed(bits) if p.in_dtype.kind == "INT" else unsigned(bits),
            "index": ib,
            "valid": 1,
        })

        best = [Signal(entry, name=f"best{j}") for j in range(p.k)]    # best first
        base = Signal(range(p.classes))     # class index of lane 0 of the current word
        first = base == 0
        last = base == p.classes - p.pe

        # Insertion chain: `chain` is the list before each lane's insertion.
        chain = [Signal(entry, name=f"start{j}") for j in range(p.k)]
        for held, start in zip(best, chain):
            m.d.comb += [start.eq(held), start.valid.eq(held.valid & ~first)]
        for lane in range(p.pe):
            new = Signal(entry, name=f"new{lane}")
            m.d.comb += new.eq(Cat(self.i.payload[lane * bits:(lane + 1) * bits],
                                   (base + lane)[:ib], Const(1, 1)))
            beats = [~e.valid | (new.score > e.score) for e in chain]
            after = [Signal(entry, name=f"lane{lane}_best{j}") for j in range(p.k)]
            for j, e in enumerate(after):
                keep_or_new = Mux(beats[j], new, chain[j])
                m.d.comb += e.eq(Mux(beats[j - 1], chain[j - 1], keep_or_new) if j
                                 else keep_or_new)
            chain = after

        # Output shift register: the indices of the last finished frame, best first.
        out = [Signal(ib, name=f"out{j}") for j in range(p.k)]
        left = Signal(range(p.k + 1))       # indices in `out` not yet sent
        m.d.comb += [
            self.o.payload.eq(out[0]),
            self.o.valid.eq(left != 0),
            self.i.ready.eq(~last | (left == 0) | ((left == 1) & self.o.ready)),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += [dst.eq(src) for dst, src in zip(out, out[1:])]
            m.d.sync += left.eq(left - 1)

        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [held.eq(new) for held, new in zip(best, chain)]
            m.d.sync += base.eq(Mux(last, 0, base + p.pe))
            with m.If(last):
                m.d.sync += [dst.eq(e.index) for dst, e in zip(out, chain)]
                m.d.sync += left.eq(p.k)
        return m
