"""OutputQueue: behind a pipeline of fixed latency, credits keep the queue from overflowing
under any stalls, and are enough for full rate without them."""

import random

import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hwgen.engines.credits import OutputQueue, credits_for
from hwgen.engines.datapath import register


class DelayLine(wiring.Component):
    """Issues a counter value every ``interval`` cycles while the queue has credit; the value
    reaches the queue ``latency`` cycles later."""

    def __init__(self, latency, interval):
        self.latency, self.interval = latency, interval
        self.queue = OutputQueue(8, credits_for(latency, interval))
        super().__init__({"o": wiring.Out(self.queue.o.signature.members["payload"].shape)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.queue = self.queue
        wait = Signal(range(self.interval))
        value = Signal(8)
        issue = Signal()
        m.d.comb += [issue.eq((wait == 0) & self.queue.available), self.queue.take.eq(issue)]
        with m.If(issue):
            m.d.sync += [value.eq(value + 1), wait.eq(self.interval - 1)]
        with m.Elif(wait != 0):
            m.d.sync += wait.eq(wait - 1)
        m.d.comb += [self.queue.w.payload.eq(register(m, value, self.latency)),
                     self.queue.w.valid.eq(register(m, issue, self.latency, reset=True))]
        return m


@pytest.mark.parametrize("latency, interval, stall_prob",
                         [(1, 1, 0.0), (5, 1, 0.0), (5, 2, 0.0), (9, 4, 0.0), (3, 7, 0.0),
                          (1, 1, 0.5), (6, 1, 0.3), (6, 3, 0.7), (2, 2, 0.9)])
def test_no_overflow_and_full_rate(latency, interval, stall_prob):
    """Every issued value comes out, in order (a write the queue refused would lose one), and
    unstalled the values leave exactly ``interval`` cycles apart (the credits never run out)."""
    dut = DelayLine(latency, interval)
    received, cycles = [], []
    rng = random.Random(latency * 100 + interval)

    async def bench(ctx):
        for cycle in range(400):
            ready = rng.random() >= stall_prob
            ctx.set(dut.queue.o.ready, ready)
            await ctx.delay(1e-9)
            if ready and ctx.get(dut.queue.o.valid):
                received.append(ctx.get(dut.queue.o.payload))
                cycles.append(cycle)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert received == [n % 256 for n in range(len(received))] and len(received) > 10
    if stall_prob == 0:
        assert set(b - a for a, b in zip(cycles, cycles[1:])) == {interval}
