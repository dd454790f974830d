"""The window engines' handshakes come from registers: within a cycle, ``i.ready`` does not follow
``o.ready``, and ``o.valid`` / ``o.payload`` do not follow ``i.valid`` / ``i.payload`` (RunningMax
and Pad used to pass them through). Function against the golden model and cycle models are
tested per engine; paths inside an engine are measured with synthesis, not here."""

import random

import pytest
from amaranth.sim import Simulator

from hwgen.datatypes import DataType
from hwgen.engines.maxpool import MaxPool, MaxPoolParams, RunningMax
from hwgen.engines.pad import Pad, PadParams
from hwgen.engines.sliding_window import SlidingWindow, SlidingWindowParams

INT3 = DataType.parse("INT3")
ENGINES = {
    "sliding_window": lambda: SlidingWindow(SlidingWindowParams(6, 5, 4, (3, 2), (2, 1), 2, INT3)),
    "maxpool": lambda: MaxPool(MaxPoolParams(6, 6, 4, (2, 2), (2, 2), 2, INT3)),
    "running_max": lambda: RunningMax(MaxPoolParams(6, 6, 4, (2, 2), (2, 2), 2, INT3)),
    "running_max_one_fold": lambda: RunningMax(MaxPoolParams(4, 4, 2, (2, 2), (1, 1), 2, INT3)),
    "pad": lambda: Pad(PadParams(3, 4, 2, (1, 2, 2, 1), 1, INT3)),
}


@pytest.mark.parametrize("name", ENGINES)
def test_outputs_do_not_follow_inputs_within_a_cycle(name):
    dut = ENGINES[name]()
    rng = random.Random(0)
    width = len(dut.i.payload)
    transfers = 0

    async def bench(ctx):
        nonlocal transfers
        for _ in range(400):
            stimulus = [(dut.i.valid, rng.random() < 0.7),
                        (dut.i.payload, rng.getrandbits(width)),
                        (dut.o.ready, rng.random() < 0.7)]
            for signal, value in stimulus:
                ctx.set(signal, value)
            outputs = (dut.i.ready, dut.o.valid, dut.o.payload)
            settled = [ctx.get(s) for s in outputs]
            for signal, value in stimulus:
                ctx.set(signal, ~value & ((1 << len(signal)) - 1))
                assert [ctx.get(s) for s in outputs] == settled, signal.name
                ctx.set(signal, value)
            transfers += settled[1] and stimulus[2][1]
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert transfers > 20      # the engine did run
