"""Global accumulation pool: the integer sum over all pixels of a frame, per channel
(:func:`hwgen.golden.global_sum`), the integer part of global average pooling.

Input ``i``: frames of ``pixels`` vectors of ``channels`` ``dtype`` values (NHWC, the H x W
pixels in any order), ``pe`` channels per word. Output ``o``: per frame ``channels / pe`` words
of ``pe`` sums, codes of :func:`pooled_dtype` (exact: nothing wraps). The scaling by
1 / pixels is *not* done here: the description folds it into what follows (the next layer's
thresholds), so that hardware and golden model agree exactly.

The ``folds = channels / pe`` partial sums live in accumulators (see :class:`GlobalAccPool`);
each word is added to its fold's partial sum, the first pixel's words start them, and the last
pixel's words complete them: each such word sends its sums to the
:class:`~hwgen.engines.credits.OutputQueue` (it is taken only while the queue has a credit) in
the cycle its partial sum would have been written. So the output words leave while the next
frame accumulates, one word per cycle goes in, and a frame takes ``pixels * folds`` cycles.
"""

from dataclasses import dataclass

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import MAX_BITS, DataType
from .credits import QUEUE_LATENCY, OutputQueue, credits_for, issue_gate, queue_resources
from .datapath import Counter, elements, range_bits, register, require_positive, value_of
from .memories import memory_resources, memory_style, ram
from .resources import Resources

__all__ = ["pooled_dtype", "GlobalAccPoolParams", "GlobalAccPool"]

WHAT = "global pool"


def pooled_dtype(dtype, pixels):
    """The exact datatype of the sum of ``pixels`` values of ``dtype``."""
    return DataType.for_range(pixels * dtype.min, pixels * dtype.max)


@dataclass(frozen=True)
class GlobalAccPoolParams:
    """Sum over ``pixels`` pixels of ``channels`` ``dtype`` values per frame, ``pe`` channels
    per word."""

    channels: int
    pe: int
    dtype: DataType
    pixels: int

    def __post_init__(self):
        require_positive(WHAT, channels=self.channels, pe=self.pe, pixels=self.pixels)
        if self.channels % self.pe:
            raise ValueError(f"{WHAT}: channels ({self.channels}) must be a multiple of "
                             f"pe ({self.pe})")
        if not isinstance(self.dtype, DataType):
            raise ValueError(f"{WHAT}: dtype must be a DataType, not {self.dtype!r}")
        if range_bits(self.pixels * self.dtype.min, self.pixels * self.dtype.max) > MAX_BITS:
            raise ValueError(f"{WHAT}: the sum of {self.pixels} {self.dtype} values is too "
                             f"wide (at most {MAX_BITS} bits)")

    @property
    def folds(self):
        """Words per pixel (channel folds), and partial sums per frame."""
        return self.channels // self.pe

    @property
    def out_dtype(self):
        return pooled_dtype(self.dtype, self.pixels)

    @property
    def in_width(self):
        return self.pe * self.dtype.bits

    @property
    def out_width(self):
        return self.pe * self.out_dtype.bits

    @property
    def storage(self):
        """Where the partial sums live: ``"registers"`` when there is one fold (a memory of
        one word would be read in the cycle after it is written, every cycle), else a RAM
        placed by :func:`~hwgen.engines.memories.memory_style` (``"distributed"`` or
        ``"block"``)."""
        if self.folds == 1:
            return "registers"
        return memory_style(self.folds, self.out_width, writable=True)

    @property
    def read_latency(self):
        """Cycles from a word's transfer to its partial sum being ready for the adders: one
        (the RAM's synchronous read, or the input register beside the accumulator registers);
        two from block RAM with three or more folds, its read data registered once more (a
        block RAM's output is slow). A partial sum is written in that cycle, so the same fold's
        next word, ``folds`` or more cycles later, reads it when folds > read latency."""
        return 2 if self.storage == "block" and self.folds >= 3 else 1

    def cycles(self):
        """Cycles per frame in steady state: one input word per cycle (the output words leave
        beside the last pixel's input words)."""
        return self.pixels * self.folds

    @property
    def credits(self):
        """Output words in flight or queued (:mod:`hwgen.engines.credits`): a word per cycle
        during the last pixel."""
        return credits_for(self.read_latency, 1)

    def latency(self):
        """Cycles from the transfer of a last-pixel word to its sums' transfer (no stalls):
        :attr:`read_latency`, then the output queue. (A frame's first output word thus comes
        ``(pixels - 1) * folds + latency()`` cycles after its first input word.)"""
        return self.read_latency + QUEUE_LATENCY

    def buffer_bits(self):
        """{kind: bits} of the memories holding stream data: the partial sums."""
        return {"partial_results": self.folds * self.out_width}

    def resources(self):
        """First-order estimate. Partial sums: ``pe`` accumulators of the output width in
        flip-flops (one fold), or ``folds`` words of ``out_width`` in RAM
        (:func:`~hwgen.engines.memories.memory_resources`, plus the block RAM's extra read
        register). Per lane an adder whose one input is zeroed on the first pixel (a LUT per
        output bit on the carry chain). The input word and its fold and flags delayed to the
        adders (:attr:`read_latency` registers). Fold and pixel counters (a flip-flop and
        about two LUTs per bit, and their flags). The output queue
        (:func:`~hwgen.engines.credits.queue_resources`)."""
        r = self.read_latency
        if self.storage == "registers":
            storage = Resources(ff=self.out_width)
        else:
            storage = (memory_resources(self.folds, self.out_width, writable=True)
                       + Resources(ff=(r - 1) * self.out_width))
        fold_bits = (self.folds - 1).bit_length()
        counters = fold_bits + (self.pixels - 1).bit_length() + 4
        return (storage
                + Resources(lut=self.out_width + 2 * counters,
                            ff=r * (self.in_width + fold_bits + 3) + counters)
                + queue_resources(self.out_width, self.credits))


class GlobalAccPool(wiring.Component):
    """Global accumulation pool for :class:`GlobalAccPoolParams`; see the module docstring.

    Partial sums: with one fold, ``pe`` accumulator registers; otherwise a RAM of ``folds``
    words (one per fold, ``pe`` sums each), read free-running at the fold of the word on the
    input, so that its partial sum reaches the adders together with the word,
    :attr:`~GlobalAccPoolParams.read_latency` cycles after the word is taken, and written back
    in that cycle. A fold's next word comes at least ``folds`` words later, and ``folds`` >
    read latency, so a read never needs the word being written (no bypass: Yosys'
    ``no_rw_check``).
    """

    def __init__(self, params):
        self.params = params
        super().__init__({"i": In(stream.Signature(unsigned(params.in_width))),
                          "o": Out(stream.Signature(unsigned(params.out_width)))})

    def elaborate(self, platform):
        p = self.params
        bits, r = p.out_dtype.bits, p.read_latency
        m = Module()
        m.submodules.queue = queue = OutputQueue(p.out_width, p.credits)
        wiring.connect(m, queue.o, wiring.flipped(self.o))

        # Fold and pixel of the word on the input; a last-pixel word needs a credit.
        fold, pixel = Counter(p.folds, "fold"), Counter(p.pixels, "pixel")
        take = Signal()
        issue_gate(m, take, queue, self.i, pixel.last)
        with m.If(take):
            m.d.sync += fold.step()
            with m.If(fold.last):
                m.d.sync += pixel.step()

        # Adder stage, free-running: the word taken read_latency cycles ago, and its fold's
        # partial sum.
        x = register(m, self.i.payload, r)
        x_first, x_last = register(m, pixel.first, r), register(m, pixel.last, r)
        x_valid = register(m, take, r, reset=True)
        if p.storage == "registers":
            partial = Signal(p.out_width, reset_less=True)
        else:
            m.submodules.partial = memory = ram(p.out_width, p.folds, collision_free=True)
            read, write = memory.read_port(), memory.write_port()
            m.d.comb += read.addr.eq(fold.value)
            partial = register(m, read.data, r - 1)
        sums = Cat((Mux(x_first, 0, value_of(acc, p.out_dtype)) + value_of(code, p.dtype))[:bits]
                   for acc, code in zip(elements(partial, p.out_dtype, p.pe),
                                        elements(x, p.dtype, p.pe)))
        if p.storage == "registers":
            with m.If(x_valid):
                m.d.sync += partial.eq(sums)
        else:
            m.d.comb += [write.en.eq(x_valid), write.addr.eq(register(m, fold.value, r)),
                         write.data.eq(sums)]
        m.d.comb += [queue.w.payload.eq(sums), queue.w.valid.eq(x_valid & x_last)]
        return m
