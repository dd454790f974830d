"""LabelSelect against hwgen.golden.label_select, with many ties; its cycle model; its ready
path; the label select's default PE."""

from pathlib import Path

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen import golden
from hwgen.compiler.folding import fold_network
from hwgen.datatypes import BINARY, BIPOLAR, DataType, pack
from hwgen.engines.label_select import LabelSelect, LabelSelectParams
from hwgen.network import load_network
from hwgen.simulation.streams import run_stream

from engine_cases import seeds

SEEDS = seeds(0, 40, 100)
NETWORKS = Path(__file__).parent.parent / "networks"


def random_dtype(rng):
    kind = rng.choice(["INT", "UINT", "BIPOLAR", "BINARY"], p=[0.45, 0.35, 0.15, 0.05])
    if kind == "BIPOLAR":
        return BIPOLAR
    if kind == "BINARY":
        return BINARY
    return DataType(str(kind), int(rng.integers(2 if kind == "INT" else 1, 17)))


def random_case(seed):
    """Parameters, scores of 3-6 frames (every other seed from a tiny range, so ties abound),
    and the expected output words."""
    rng = np.random.default_rng(seed)
    classes = int(rng.integers(1, 21))
    pe = int(rng.choice([d for d in range(1, classes + 1) if classes % d == 0]))
    params = LabelSelectParams(classes, pe, random_dtype(rng), int(rng.integers(1, classes + 1)))
    dtype, frames = params.in_dtype, int(rng.integers(3, 7))
    lo, hi = dtype.min, dtype.max
    if seed % 2:
        lo = int(rng.integers(lo, hi + 1))
        hi = min(hi, lo + int(rng.integers(0, 3)))
    scores = rng.integers(lo, hi + 1, size=(frames, classes))
    if dtype == BIPOLAR:
        scores = 2 * (scores > 0) - 1
    expected = pack(golden.label_select(scores, params.k), DataType("UINT", params.index_bits), 1)
    return params, frames, pack(scores, dtype, pe), expected


@pytest.mark.parametrize("seed", SEEDS)
def test_against_golden_with_gaps_and_stalls(seed):
    params, _, inputs, expected = random_case(seed)
    rng = np.random.default_rng(seed + 1000)
    run = run_stream(LabelSelect(params), inputs, len(expected), seed=seed,
                     gap_prob=float(rng.uniform(0.3, 0.5)), stall_prob=float(rng.uniform(0.3, 0.5)))
    assert run.outputs == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_cycles_and_latency_without_stalls(seed):
    """Fed every cycle and never stalled, frames end exactly cycles() apart (classes/pe for
    k = 1, classes for k > 1: tolerance 0, the output queue is deep enough that no frame waits
    for credit), and the first index leaves latency() cycles after the first input word."""
    params, frames, inputs, expected = random_case(seed)
    run = run_stream(LabelSelect(params), inputs, len(expected))
    assert run.outputs == expected
    frame_ends = [run.output_cycles[(f + 1) * params.k - 1] for f in range(frames)]
    assert np.diff(frame_ends).tolist() == [params.cycles()] * (frames - 1)
    assert run.output_cycles[0] - run.input_cycles[0] == params.latency()


@pytest.mark.parametrize("classes, pe, k", [(10, 10, 1), (10, 1, 3), (6, 3, 2), (4, 4, 4)])
def test_ready_does_not_depend_on_output_ready(classes, pe, k):
    """In every cycle of a run with gaps and stalls, i.ready is the same whatever o.ready is
    (the output queue's credit decouples them)."""
    params = LabelSelectParams(classes, pe, DataType("INT", 4), k)
    dut = LabelSelect(params)
    rng = np.random.default_rng(classes * 100 + pe * 10 + k)
    scores = rng.integers(-8, 8, size=(40, classes))
    words = iter(pack(scores, params.in_dtype, pe))
    checked = []

    async def testbench(ctx):
        word = next(words)
        for _ in range(400):
            ctx.set(dut.i.payload, word)
            ctx.set(dut.i.valid, rng.random() < 0.8)
            readies = []
            for o_ready in (0, 1, rng.random() < 0.3):
                ctx.set(dut.o.ready, o_ready)
                readies.append(ctx.get(dut.i.ready))
            checked.append(readies[0] == readies[1])
            if ctx.get(dut.i.valid) and readies[-1]:
                word = next(words, 0)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert all(checked) and len(checked) == 400


def test_ties_and_extremes():
    """Hand-made frames: all equal, the minimum and maximum codes of a signed type, and a
    descending frame (which a reversed tie rule or an unsigned compare would get wrong)."""
    dtype = DataType("INT", 4)
    params = LabelSelectParams(6, 2, dtype, 6)
    scores = np.array([[3, 3, 3, 3, 3, 3],
                       [-8, 7, -1, 0, 7, -8],
                       [5, 4, 3, 2, 1, 0],
                       [-1, -1, 0, -8, 0, 7]])
    expected = [[0, 1, 2, 3, 4, 5], [1, 4, 3, 2, 0, 5], [0, 1, 2, 3, 4, 5], [5, 2, 4, 0, 1, 3]]
    assert golden.label_select(scores, 6).tolist() == expected
    run = run_stream(LabelSelect(params), pack(scores, dtype, 2), 24, stall_prob=0.4, seed=3)
    assert run.outputs == [i for row in expected for i in row]


@pytest.mark.parametrize("fields, message", [
    ((10, 3, DataType("INT", 4), 1), "does not divide"),
    ((10, 2, DataType("INT", 4), 11), "exceeds classes"),
    ((10, 2, DataType("INT", 4), 0), "k must be"),
    ((0, 1, DataType("INT", 4), 1), "classes must be"),
    ((10, 2, "INT4", 1), "DataType"),
])
def test_invalid_params(fields, message):
    with pytest.raises(ValueError, match=message):
        LabelSelectParams(*fields)


def test_default_pe_is_the_smallest_that_keeps_up():
    """k = 1: the smallest PE whose cycles meet the bottleneck (no target) or the target; k > 1:
    the PE of the stream feeding it (every PE takes `classes` cycles)."""
    tfc = load_network(NETWORKS / "tfc-w1a1.yaml")     # 64-cycle bottleneck; fc3 has PE 10
    assert tfc.layer("top").pe == 1
    assert fold_network(tfc, 5)[0].layer("top").pe == 2
    assert fold_network(tfc, 1)[0].layer("top").pe == 10
    mini_cnv = load_network(NETWORKS / "mini-cnv.yaml")  # top-2 of 6 classes after PE 3
    assert mini_cnv.layer("top").pe == 3
    assert fold_network(mini_cnv, 1000)[0].layer("top").pe == 3
