"""Duplicate a stream: every word of ``i`` goes to each of the ``outputs`` streams ``o[k]``, in
order (the fork of a graph: a layer whose result several layers take).

Each output has a buffer of :data:`BUFFER_WORDS` words (an :class:`amaranth.lib.fifo.SyncFIFO`)
and stalls on its own: a word is taken from ``i`` on a cycle when every buffer has room, and is
written into all of them at once. ``i.ready`` is the AND of the buffers' "not full", each a
comparison of a two-bit register (one LUT level up to about five outputs); ``o[k]`` comes from
buffer k's registers. Unstalled, the buffers hold at most one word each, so the stream runs at
one word per cycle; an output that stalls holds the others back once its buffer is full.
"""

from dataclasses import dataclass

from amaranth import Module, unsigned
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .datapath import require_positive
from .memories import lutram_luts
from .resources import Resources

__all__ = ["BUFFER_WORDS", "DuplicateStreamsParams", "DuplicateStreams"]

# Words buffered per output: a word taken on every cycle that every buffer held at most one
# (the "not full" flags are registered, so a buffer must still have room for the word taken in
# the cycle its last free slot is filled, while its output is stalled).
BUFFER_WORDS = 2


@dataclass(frozen=True)
class DuplicateStreamsParams:
    """``outputs`` copies of a stream of ``width``-bit words, ``words`` per frame."""

    width: int
    outputs: int
    words: int

    def __post_init__(self):
        require_positive("duplicate streams", width=self.width, outputs=self.outputs,
                         words=self.words)
        if self.outputs < 2:
            raise ValueError(f"duplicate streams: outputs must be at least 2, not {self.outputs}")

    @property
    def in_width(self):
        return self.width

    @property
    def out_width(self):
        return self.width

    def cycles(self):
        """Cycles per frame in steady state, no output stalled: one word per cycle."""
        return self.words

    def latency(self):
        """Cycles from a word's input transfer to its transfer on each output, none stalled:
        one (the write into the buffers)."""
        return 1

    def buffer_bits(self):
        """{kind: bits} of the memories holding stream data: the outputs' buffers."""
        return {"fifo": self.outputs * BUFFER_WORDS * self.width}

    def resources(self):
        """First-order estimate. Per output: the buffer of :data:`BUFFER_WORDS` words in LUT
        RAM (:func:`~hwgen.engines.memories.lutram_luts`; its read is asynchronous, no read
        register), its read and write pointers and level (four flip-flops) with about two LUTs
        each. ``i.ready``: the AND of the "not full" flags, a LUT per four outputs."""
        n = self.outputs
        return Resources(lut=n * (lutram_luts(BUFFER_WORDS, self.width) + 6) + -(-n // 4),
                         ff=n * 4)


class DuplicateStreams(wiring.Component):
    """Stream duplicator for :class:`DuplicateStreamsParams`; see the module docstring.

    Ports: ``i`` (one stream), ``o[0] .. o[outputs - 1]`` (streams of the same words)."""

    def __init__(self, params):
        self.params = params
        word = unsigned(params.width)
        super().__init__({"i": In(stream.Signature(word)),
                          "o": Out(stream.Signature(word)).array(params.outputs)})

    def elaborate(self, platform):
        p = self.params
        m = Module()
        buffers = [fifo.SyncFIFO(width=p.width, depth=BUFFER_WORDS) for _ in range(p.outputs)]
        room = 1
        for k, buffer in enumerate(buffers):
            m.submodules[f"buffer{k}"] = buffer
            wiring.connect(m, buffer.r_stream, wiring.flipped(self.o[k]))
            room &= buffer.w_rdy
        m.d.comb += self.i.ready.eq(room)
        for buffer in buffers:
            m.d.comb += [buffer.w_data.eq(self.i.payload), buffer.w_en.eq(self.i.valid & room)]
        return m
