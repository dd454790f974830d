"""The engines' handshakes come from registers: within a cycle, ``i.ready`` does not follow
``o.ready``, and ``o.valid`` / ``o.payload`` do not follow ``i.valid`` / ``i.payload`` (RunningMax
and Pad used to pass them through; the MVAUs, Thresholds and label select stalled their whole
pipeline on ``o.ready``). Engines with several input or output streams (``i[k]``, ``o[k]``) are
held to more: no handshake or payload follows any stream's inputs, so no input's ready follows
another input's valid either. Function against the golden model and cycle models are
tested per engine; paths inside an engine are measured with synthesis, not here."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.datatypes import BIPOLAR, DataType
from hwgen.engines.add import AddParams, AddStreams
from hwgen.engines.bitserial_mvau import BitSerialMatrixVectorUnit, BitSerialMVAUParams
from hwgen.engines.concat import ConcatParams, ConcatStreams
from hwgen.engines.fork import DuplicateStreams, DuplicateStreamsParams
from hwgen.engines.label_select import LabelSelect, LabelSelectParams
from hwgen.engines.mvau import MatrixVectorUnit, MVAUParams
from hwgen.engines.thresholds import Thresholds, ThresholdsParams
from hwgen.engines.pad import Pad, PadParams
from hwgen.engines.pool_rows import RowPool, RowPoolParams
from hwgen.engines.pool_windows import RunningReduction, WindowPool, WindowPoolParams
from hwgen.engines.sliding_window import SlidingWindow, SlidingWindowParams
from hwgen.engines.subsample import Subsample, SubsampleParams
from hwgen.simulation.streams import stream_ports

INT3 = DataType.parse("INT3")
ENGINES = {
    "sliding_window": lambda: SlidingWindow(SlidingWindowParams(6, 5, 4, (3, 2), (2, 1), 2, INT3)),
    "window_pool": lambda: WindowPool(WindowPoolParams(6, 6, 4, (2, 2), (2, 2), 2, INT3)),
    "window_pool_sum": lambda: WindowPool(WindowPoolParams(6, 6, 4, (3, 3), (2, 1), 2, INT3,
                                                           "sum")),
    "running_max": lambda: RunningReduction(WindowPoolParams(6, 6, 4, (2, 2), (2, 2), 2, INT3)),
    "running_max_one_fold": lambda: RunningReduction(WindowPoolParams(4, 4, 2, (2, 2), (1, 1),
                                                                      2, INT3)),
    "row_pool": lambda: RowPool(RowPoolParams(5, 7, 4, (2, 3), 2, INT3)),
    "row_pool_sum": lambda: RowPool(RowPoolParams(5, 7, 4, (2, 3), 2, INT3, "sum")),
    "row_pool_one_fold": lambda: RowPool(RowPoolParams(4, 4, 2, (2, 2), 2, INT3)),
    "row_pool_block_ram": lambda: RowPool(RowPoolParams(2, 256, 4, (1, 2), 4,
                                                        DataType.parse("UINT8"))),
    "pad": lambda: Pad(PadParams(3, 4, 2, (1, 2, 2, 1), 1, INT3)),
    "subsample": lambda: Subsample(SubsampleParams(5, 4, 4, (2, 3), 2, INT3)),
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
    "fork": lambda: DuplicateStreams(DuplicateStreamsParams(5, 3, 4)),
    "global_pool": lambda: RowPool(RowPoolParams(2, 2, 6, (2, 2), 2, INT3, "sum")),
    "global_pool_one_fold": lambda: RowPool(RowPoolParams(1, 4, 2, (1, 4), 2, INT3, "sum")),
    "concat": lambda: ConcatStreams(ConcatParams((4, 2, 6), 2, INT3, 3)),
    "add": lambda: AddStreams(AddParams(4, 2, (INT3, BIPOLAR, DataType.parse("UINT2")), 3)),
    "add_fused": lambda: AddStreams(AddParams(4, 2, (INT3, INT3), 3, INT3),
                                    np.tile(np.arange(-3, 4), (4, 1))),
}


@pytest.mark.parametrize("name", ENGINES)
def test_outputs_do_not_follow_inputs_within_a_cycle(name):
    dut = ENGINES[name]()
    rng = random.Random(0)
    ins, outs = stream_ports(dut.i), stream_ports(dut.o)
    transfers = 0

    async def bench(ctx):
        nonlocal transfers
        for _ in range(400):
            stimulus = ([(i.valid, rng.random() < 0.7) for i in ins]
                        + [(i.payload, rng.getrandbits(len(i.payload))) for i in ins]
                        + [(o.ready, rng.random() < 0.7) for o in outs])
            for signal, value in stimulus:
                ctx.set(signal, value)
            outputs = [i.ready for i in ins] + [s for o in outs for s in (o.valid, o.payload)]
            settled = [ctx.get(s) for s in outputs]
            for signal, value in stimulus:
                ctx.set(signal, ~value & ((1 << len(signal)) - 1))
                assert [ctx.get(s) for s in outputs] == settled, signal.name
                ctx.set(signal, value)
            transfers += sum(ctx.get(o.valid) and ctx.get(o.ready) for o in outs)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert transfers > 20      # the engine did run
