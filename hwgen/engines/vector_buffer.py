"""The input of a matrix unit that makes several passes over each vector, and room for the next.

A matrix unit (:mod:`~hwgen.engines.mvau`, :mod:`~hwgen.engines.bitserial_mvau`) makes
``passes`` passes of ``sf`` steps over every input vector of ``sf`` words. This buffer, a
circular memory of ``depth >= sf`` words, is written from the input stream as words come and
room allows, and read by the unit's steps. A word's slot is freed when the vector's last pass
has read it, so the next vector can flow in behind that pass.

The matrix units use ``depth = 2 * sf + 1``: the producer deposits the whole next vector while
the current one is re-read, at its own pace, so a producer slower than one word per cycle (an
MVAU emitting a word per neuron fold, say) does not stretch the next vector's first pass. That
is the room a FIFO of a vector in front of the unit used to give, in the buffer's own memory.
Less room costs throughput where a fork feeds the unit's branch, as the fork must wait for the
branch: ResNet-8-w4a4 ran 1.5% slower than its ideal with ``2 * sf`` and 1.8% with ``sf + 1``
behind its sliding windows, though chains keep their ideal with ``sf + 1``.

Two counters gate it, as in the sliding window (:mod:`~hwgen.engines.sliding_window`), each
kept offset by one so that its test is a sign bit:

- ``ahead``: words written beyond the word of the next step. The step's word is there iff
  ``ahead >= 1``, which can fail only on a vector's first pass (the later passes re-read words
  that pass has read). A write adds one; a step subtracts one, except at the end of a pass
  that is not the vector's last, where the unit goes back to the vector's first word
  (``sf - 1`` more).
- ``room``: free slots. A write takes one; a step of the last pass frees one.

The writer's slot is never one the reader still reads, nor the one it reads in that cycle.
"""

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .datapath import Counter
from .memories import ram

__all__ = ["VectorBuffer"]


class VectorBuffer(wiring.Component):
    """``depth`` words of ``width`` bits (at least ``sf``) between an input stream and a matrix
    unit's steps.

    Ports: ``i``, the input vectors' words (``i.ready`` from a register). ``ready`` (a
    register): the word of the next step is in the buffer. The unit issues a step by raising
    ``step`` (only while ``ready``), with ``pass_end`` when it is the last step of a pass and
    ``last_pass`` when it belongs to the vector's last pass. ``data``: the word of the step
    issued in the previous cycle (a synchronous read).
    """

    def __init__(self, width, sf, depth):
        assert depth >= sf
        self.sf, self.depth = sf, depth
        super().__init__({
            "i": In(stream.Signature(unsigned(width))),
            "step": In(1), "pass_end": In(1), "last_pass": In(1),
            "ready": Out(1), "data": Out(width),
        })

    def elaborate(self, platform):
        sf, depth = self.sf, self.depth
        m = Module()
        m.submodules.memory = memory = ram(len(self.i.payload), depth, collision_free=True)
        write_port, read_port = memory.write_port(), memory.read_port()

        ahead_1 = Signal(range(-1, depth), init=-1)       # ahead - 1
        room_1 = Signal(range(-1, depth), init=depth - 1)  # room - 1
        write = Signal()
        back = self.pass_end & ~self.last_pass            # to the vector's first word again
        m.d.comb += [
            self.ready.eq(ahead_1 >= 0),
            self.i.ready.eq(room_1 >= 0),
            write.eq(self.i.valid & self.i.ready),
        ]
        m.d.sync += [
            ahead_1.eq(ahead_1 + write + Mux(self.step, Mux(back, sf - 1, -1), 0)),
            room_1.eq(room_1 - write + (self.step & self.last_pass)),
        ]

        # Writer: the next slot. Reader: the next step's slot, one forward (modulo the depth,
        # by a registered "last" flag as a Counter's) or back to the vector's first slot, kept in
        # a register: no adder between the unit's flags and the address (r_addr.first unused).
        w_addr, r_addr = Counter(depth, "w_addr"), Counter(depth, "r_addr")
        base = Signal(range(depth))                     # the current vector's first slot
        base_last = Signal(init=depth == 1)             # base == depth - 1
        m.d.comb += [write_port.en.eq(write), write_port.addr.eq(w_addr.value),
                     write_port.data.eq(self.i.payload), read_port.addr.eq(r_addr.value),
                     self.data.eq(read_port.data)]
        with m.If(write):
            m.d.sync += w_addr.step()
        with m.If(self.step):
            with m.If(back):
                m.d.sync += [r_addr.value.eq(base), r_addr.last.eq(base_last)]
            with m.Else():
                m.d.sync += r_addr.step()
            with m.If(self.pass_end & self.last_pass):     # the next vector starts after it
                m.d.sync += [base.eq(Mux(r_addr.last, 0, r_addr.value + 1)),
                             base_last.eq(r_addr.next_last)]
        return m
