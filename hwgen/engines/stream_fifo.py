"""Stream FIFO: buffers up to ``depth`` words between two engines.

A thin wrapper around :class:`amaranth.lib.fifo.SyncFIFOBuffered`, whose read port is registered
so that synthesis can map the storage to block RAM. Its ``depth - 1`` entries live in a memory
and one in the output register. Words leave in the order they came, none lost or duplicated;
``i.ready`` is low exactly when ``depth`` words are held, so the FIFO breaks the combinational
ready path between its neighbours.

Throughput: one word per cycle in and out for ``depth >= 3``. Depths 1 and 2 move only one word
every other cycle: at depth 1 the single register alternates between full and empty, and at
depth 2 SyncFIFOBuffered's one-entry memory refuses a write in the cycle it is being read. So
use ``depth >= 3`` wherever the stream must run at full rate. Latency: a word written into an
empty FIFO at cycle t can leave at cycle t + 2 (t + 1 at depth 1).
"""

from dataclasses import dataclass

from amaranth import Module, unsigned
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .datapath import require_positive
from .memories import bram18_blocks, lutram_luts
from .resources import Resources

__all__ = ["StreamFIFOParams", "StreamFIFO"]

# Largest memory depth (entries) still estimated as distributed RAM (LUTRAM); deeper ones go to
# block RAM. 64 is the depth of one 6-input LUT used as RAM (RAM64M: 64 x 3 bits simple dual
# port in 4 LUTs); past it LUTRAM needs muxes between LUT banks and BRAM becomes cheaper.
LUTRAM_MAX_DEPTH = 64
# Memories of at most this many entries are estimated as plain flip-flops (Yosys makes a
# memory of two entries LUT RAM already).
FF_MAX_DEPTH = 1


@dataclass(frozen=True)
class StreamFIFOParams:
    """A FIFO of ``depth`` words of ``width`` bits."""

    width: int
    depth: int

    def __post_init__(self):
        require_positive("stream FIFO", width=self.width, depth=self.depth)

    def cycles(self, words=1):
        """Cycles to pass ``words`` words in steady state (a FIFO has no frame of its own: pass
        the frame size of the stream it sits on): one per word, two below depth 3."""
        return words * (2 if self.depth < 3 else 1)

    def latency(self):
        """Cycles from writing a word into an empty FIFO to the earliest cycle it can leave."""
        return 1 if self.depth == 1 else 2

    def buffer_bits(self):
        """{kind: bits} of the memories holding stream data: the FIFO's words."""
        return {"fifo": self.depth * self.width}

    def resources(self):
        """First-order estimate of SyncFIFOBuffered(width, depth).

        Storage: the output register holds one word (``width`` flip-flops) and a memory the
        other ``mem = depth - 1``. Where that memory goes:

        - ``mem <= FF_MAX_DEPTH`` (1): flip-flops, ``mem * width`` of them;
        - ``mem <= LUTRAM_MAX_DEPTH`` (64): LUT RAM
          (:func:`~hwgen.engines.memories.lutram_luts`);
        - deeper: block RAM (:func:`~hwgen.engines.memories.bram18_blocks`).

        (Yosys chooses for lib.fifo's memory, which takes no placement attribute; these are the
        choices it makes.)

        Control: read and write pointers of ``clog2(mem)`` bits and a level counter of
        ``clog2(depth + 1)`` bits, with an incrementer and a comparison each (about two LUTs
        per bit), plus a few LUTs of handshake logic.
        """
        mem = self.depth - 1
        ptr = (mem - 1).bit_length() if mem else 0
        level = (self.depth + 1).bit_length()
        control = Resources(lut=2 * (2 * ptr + level) + 3, ff=2 * ptr + level + 1)
        storage = Resources(ff=self.width)
        if mem <= FF_MAX_DEPTH:
            storage += Resources(lut=mem * self.width if mem > 1 else 0, ff=mem * self.width)
        elif mem <= LUTRAM_MAX_DEPTH:
            storage += Resources(lut=lutram_luts(mem, self.width))
        else:
            storage += Resources(bram18=bram18_blocks(mem, self.width))
        return control + storage


class StreamFIFO(wiring.Component):
    """FIFO for :class:`StreamFIFOParams` (see the module docstring)."""

    def __init__(self, params):
        self.params = params
        super().__init__({"i": In(stream.Signature(unsigned(params.width))),
                          "o": Out(stream.Signature(unsigned(params.width)))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = queue = fifo.SyncFIFOBuffered(width=self.params.width,
                                                          depth=self.params.depth)
        wiring.connect(m, wiring.flipped(self.i), queue.w_stream)
        wiring.connect(m, queue.r_stream, wiring.flipped(self.o))
        return m
