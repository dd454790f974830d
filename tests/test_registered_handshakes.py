"""The engines' handshakes come from registers: within a cycle, ``i.ready`` does not follow
``o.ready``, and ``o.valid`` / ``o.payload`` do not follow ``i.valid`` / ``i.payload`` (RunningMax
and Pad used to pass them through; the MVAUs, Thresholds and label select stalled their whole
pipeline on ``o.ready``). Function against the golden model and cycle models are
tested per engine; paths inside an engine are measured with synthesis, not here."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.datatypes import BIPOLAR, DataType
from hwgen.engines.bitserial_mvau import BitSerialMatrixVectorUnit, BitSerialMVAUParams
from hwgen.engines.label_select import LabelSelect, LabelSelectParams
from hwgen.engines.mvau import MatrixVectorUnit, MVAUParams
from hwgen.engines.thresholds import Thresholds, ThresholdsParams
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
    "mvau_xnor": lambda: MatrixVectorUnit(MVAUParams(8, 4, 2, 4, BIPOLAR, BIPOLAR, 1),
                                          np.ones((4, 8), dtype=int)),
    "mvau_fused": lambda: MatrixVectorUnit(MVAUParams(4, 4, 2, 2, INT3, INT3, 1, INT3),
                                           np.ones((4, 4), dtype=int),
                                           np.tile(np.arange(-3, 4), (4, 1))),
    "bitserial_mvau": lambda: BitSerialMatrixVectorUnit(
        BitSerialMVAUParams(4, 4, 2, 2, INT3, INT3, 1), np.ones((4, 4), dtype=int)),
    "thresholds": lambda: Thresholds(ThresholdsParams(4, 2, INT3, INT3, 3),
                                     np.tile(np.arange(-3, 4), (4, 1))),
    "label_select": lambda: LabelSelect(LabelSelectParams(6, 3, INT3)),
    "label_select_top3": lambda: LabelSelect(LabelSelectParams(6, 2, INT3, 3)),
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
