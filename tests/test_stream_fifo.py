"""StreamFIFO: order, no loss or duplication, throughput, and that it really holds depth words."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.engines.stream_fifo import StreamFIFO, StreamFIFOParams
from hwgen.simulation.streams import run_stream

DEPTHS = [1, 2, 3, 4, 5, 16, 33, 70]   # register only, 1-entry memory, small, LUTRAM and BRAM sized
SEEDS = range(24)


def random_case(seed):
    rng = np.random.default_rng(seed)
    depth = DEPTHS[seed % len(DEPTHS)]
    params = StreamFIFOParams(int(rng.integers(1, 17)), depth)
    words = [int(w) for w in rng.integers(0, 1 << params.width, size=2 * depth + 40)]
    return params, words


@pytest.mark.parametrize("seed", SEEDS)
def test_order_with_gaps_and_stalls(seed):
    params, words = random_case(seed)
    rng = np.random.default_rng(seed + 1000)
    run = run_stream(StreamFIFO(params), words, len(words), seed=seed,
                     gap_prob=float(rng.uniform(0.3, 0.5)), stall_prob=float(rng.uniform(0.3, 0.5)))
    assert run.outputs == words


@pytest.mark.parametrize("seed", SEEDS)
def test_throughput_and_latency_without_stalls(seed):
    """Fed every cycle and never stalled, words leave exactly cycles(1) apart and the first one
    latency() cycles after it entered (tolerance 0: both are fixed by the FIFO's registers)."""
    params, words = random_case(seed)
    run = run_stream(StreamFIFO(params), words, len(words))
    assert run.outputs == words
    assert np.diff(run.output_cycles).tolist() == [params.cycles()] * (len(words) - 1)
    assert run.output_cycles[0] - run.input_cycles[0] == params.latency()


@pytest.mark.parametrize("depth", DEPTHS)
def test_buffers_depth_words_while_consumer_stalls(depth):
    """With the consumer stalled, exactly ``depth`` words get in (valid held on the output
    meanwhile); released, they come out in order and the FIFO accepts the rest."""
    dut = StreamFIFO(StreamFIFOParams(12, depth))
    words = [(0x5a5 * (n + 1)) & 0xfff for n in range(depth + 6)]
    taken, outputs = [], []

    async def bench(ctx):
        ctx.set(dut.o.ready, 0)
        for _ in range(3 * depth + 10):
            ctx.set(dut.i.payload, words[len(taken)])
            ctx.set(dut.i.valid, 1)
            _, _, ready, valid = await ctx.tick().sample(dut.i.ready, dut.o.valid)
            if ready:
                taken.append(words[len(taken)])
        assert len(taken) == depth, f"held {len(taken)} words, expected {depth}"
        assert valid, "output not offered while full"
        ctx.set(dut.o.ready, 1)
        for _ in range(3 * len(words) + 10):
            if len(taken) < len(words):
                ctx.set(dut.i.payload, words[len(taken)])
            ctx.set(dut.i.valid, len(taken) < len(words))
            _, _, ready, valid, payload = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.payload)
            if ready and len(taken) < len(words):
                taken.append(words[len(taken)])
            if valid:
                outputs.append(payload)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert outputs == words


def test_resource_model_memory_style():
    """Small depths use LUTRAM or flip-flops, large ones block RAM (threshold: 64 entries)."""
    assert StreamFIFOParams(8, 65).resources().bram18 == 0
    assert StreamFIFOParams(8, 66).resources().bram18 == 1
    assert StreamFIFOParams(64, 1025).resources().bram18 == 4     # 1024 x 18 blocks
    assert StreamFIFOParams(8, 16).resources().lut < StreamFIFOParams(16, 16).resources().lut


@pytest.mark.parametrize("fields", [(0, 4), (8, 0), (8, 2.5), (True, 4)])
def test_invalid_params(fields):
    with pytest.raises(ValueError, match="stream FIFO"):
        StreamFIFOParams(*fields)
