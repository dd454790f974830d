"""Concatenation of streams along the channels (the join of a concat layer).

``n >= 2`` input streams ``i[k]`` carry frames of ``pixels`` vectors of ``channels[k]`` values,
``simd`` per word, channels fastest, all of one datatype. Per pixel, the output ``o`` carries
input 0's ``channels[0] / simd`` words, then input 1's, and so on: the pixel's vector of
``sum(channels)`` values.

The inputs take turns, one word per cycle: a one-hot register says whose turn it is and a
counter per input counts that input's words of the pixel; ``i[k].ready`` is its turn bit AND
the output queue's credit flag (registers only). The taken word goes into an
:class:`~hwgen.engines.credits.OutputQueue` in the cycle it arrives. An input whose turn it is
not waits (its words stay in the FIFO in front of it) until its turn comes: at most the words
of the other inputs in one pixel.
"""

from dataclasses import dataclass

from amaranth import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import DataType
from .credits import QUEUE_LATENCY, OutputQueue, credits_for, queue_resources
from .datapath import Counter, require_positive
from .resources import Resources

__all__ = ["ConcatParams", "ConcatStreams"]

WHAT = "concat"


@dataclass(frozen=True)
class ConcatParams:
    """Concatenation of ``len(channels)`` streams along the channels: input k has
    ``channels[k]`` channels per pixel, ``pixels`` pixels per frame, ``simd`` ``dtype``
    elements per word."""

    channels: tuple
    simd: int
    dtype: DataType
    pixels: int

    def __post_init__(self):
        require_positive(WHAT, simd=self.simd, pixels=self.pixels)
        channels = tuple(self.channels) if isinstance(self.channels, (list, tuple)) else ()
        if len(channels) < 2:
            raise ValueError(f"{WHAT}: channels must list two or more inputs' channels, "
                             f"not {self.channels!r}")
        for k, c in enumerate(channels):
            require_positive(WHAT, **{f"channels[{k}]": c})
            if c % self.simd:
                raise ValueError(f"{WHAT}: channels[{k}] ({c}) must be a multiple of "
                                 f"simd ({self.simd})")
        object.__setattr__(self, "channels", channels)
        if not isinstance(self.dtype, DataType):
            raise ValueError(f"{WHAT}: dtype must be a DataType, not {self.dtype!r}")

    @property
    def inputs(self):
        return len(self.channels)

    @property
    def out_channels(self):
        return sum(self.channels)

    @property
    def in_words(self):
        """Words per pixel of each input."""
        return tuple(c // self.simd for c in self.channels)

    @property
    def word_bits(self):
        return self.simd * self.dtype.bits

    in_width = out_width = word_bits

    def cycles(self):
        """Cycles per frame in steady state: one output word per cycle."""
        return self.pixels * self.out_channels // self.simd

    def latency(self):
        """Cycles from a word's input transfer to its output transfer (no stalls): the word
        enters the output queue in the cycle it arrives (:mod:`~hwgen.engines.credits`)."""
        return QUEUE_LATENCY

    def resources(self):
        """First-order estimate: per input a word counter with its flags (a flip-flop and about
        two LUTs per bit), the one-hot turn register, the multiplexer that picks the word (an
        AND-OR of the turn bits and the inputs' bits, a LUT6 per bit per three inputs) and
        the output queue (:func:`~hwgen.engines.credits.queue_resources`)."""
        counters = sum(max(1, (w - 1).bit_length()) + 2 for w in self.in_words)
        return (Resources(lut=2 * counters + self.word_bits * -(-self.inputs // 3),
                          ff=counters + self.inputs)
                + queue_resources(self.word_bits, credits_for(0, 1)))


class ConcatStreams(wiring.Component):
    """Channel concatenation for :class:`ConcatParams`; see the module docstring.

    Ports: ``i[0] .. i[n - 1]`` and ``o``, all words of ``simd`` ``dtype`` codes."""

    def __init__(self, params):
        self.params = params
        word = unsigned(params.word_bits)
        super().__init__({"i": In(stream.Signature(word)).array(params.inputs),
                          "o": Out(stream.Signature(word))})

    def elaborate(self, platform):
        p = self.params
        m = Module()
        m.submodules.queue = queue = OutputQueue(p.word_bits, credits_for(0, 1))
        wiring.connect(m, queue.o, wiring.flipped(self.o))

        turn = Signal(p.inputs, init=1)      # one-hot: whose words the pixel takes now
        take, word = 0, 0
        for k, (port, words) in enumerate(zip(self.i, p.in_words)):
            count = Counter(words, f"word{k}")
            m.d.comb += port.ready.eq(turn[k] & queue.available)
            taken = port.valid & port.ready
            take |= taken
            word |= port.payload & turn[k].replicate(p.word_bits)
            with m.If(taken):
                m.d.sync += count.step()
                with m.If(count.last):
                    m.d.sync += turn.eq(turn.rotate_left(1))
        m.d.comb += [queue.take.eq(take), queue.w.valid.eq(take), queue.w.payload.eq(word)]
        return m
