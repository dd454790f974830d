"""The input of a matrix unit that makes several passes over each vector: two vectors' room.

A matrix unit (:mod:`~hwgen.engines.mvau`, :mod:`~hwgen.engines.bitserial_mvau`) makes
``passes`` passes of ``sf`` steps over every input vector of ``sf`` words. This buffer holds
``2 * sf`` words, one vector in each half, written from the input stream as words come and
room allows, and read by the unit's steps. While the unit re-reads one vector, the producer
deposits the next one in the other half at its own pace, so a producer slower than one word per
cycle (an MVAU emitting a word per neuron fold, say) does not stretch the next vector's first
pass. That is the room a FIFO of one vector in front of the unit used to give, now in the
buffer's own memory: one buffer, not two.

Two counters gate it, as in the sliding window (:mod:`~hwgen.engines.sliding_window`), each
kept offset by one so that its test is a sign bit:

- ``ahead``: words written beyond the word of the next step. The step's word is there iff
  ``ahead >= 1``, which can fail only on a vector's first pass (the later passes re-read words
  that pass has read). A write adds one; a step subtracts one, except at the end of a pass
  that is not the vector's last, where the unit goes back to the vector's first word
  (``sf - 1`` more).
- ``room``: free slots. A write takes one; a vector's last step frees its half.

The writer's slot is never the reader's: it writes the half that the previous vector freed.
"""

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .datapath import Counter
from .memories import ram

__all__ = ["VectorBuffer"]


class VectorBuffer(wiring.Component):
    """``2 * sf`` words of ``width`` bits between an input stream and a matrix unit's steps.

    Ports: ``i``, the input vectors' words (``i.ready`` from a register). ``ready`` (a
    register): the word of the next step is in the buffer. The unit issues a step by raising
    ``step`` (only while ``ready``) with ``s``, the step's word within the vector, ``pass_end``
    when it is the last step of a pass and ``vector_end`` when it is also the vector's last
    pass. ``data``: the word of the step issued in the previous cycle (a synchronous read).
    """

    def __init__(self, width, sf):
        self.sf = sf
        super().__init__({
            "i": In(stream.Signature(unsigned(width))),
            "step": In(1), "s": In(range(sf)), "pass_end": In(1), "vector_end": In(1),
            "ready": Out(1), "data": Out(width),
        })

    def elaborate(self, platform):
        sf = self.sf
        depth = 2 * sf
        m = Module()
        m.submodules.memory = memory = ram(len(self.i.payload), depth, collision_free=True)
        write_port, read_port = memory.write_port(), memory.read_port()

        ahead_1 = Signal(range(-1, depth), init=-1)       # ahead - 1
        room_1 = Signal(range(-1, depth), init=depth - 1)  # room - 1
        write = Signal()
        m.d.comb += [
            self.ready.eq(ahead_1 >= 0),
            self.i.ready.eq(room_1 >= 0),
            write.eq(self.i.valid & self.i.ready),
        ]
        back = self.pass_end & ~self.vector_end
        m.d.sync += [
            ahead_1.eq(ahead_1 + write + Mux(self.step, Mux(back, sf - 1, -1), 0)),
            room_1.eq(room_1 - write + Mux(self.step & self.vector_end, sf, 0)),
        ]

        # Writer: the next slot, around both halves. Reader: the step's word in the half of the
        # current vector.
        w_addr, half = Counter(depth, "w_addr"), Signal()
        m.d.comb += [write_port.en.eq(write), write_port.addr.eq(w_addr.value),
                     write_port.data.eq(self.i.payload),
                     read_port.addr.eq(Mux(half, self.s + sf, self.s)),
                     self.data.eq(read_port.data)]
        with m.If(write):
            m.d.sync += w_addr.step()
        with m.If(self.step & self.vector_end):
            m.d.sync += half.eq(~half)
        return m
