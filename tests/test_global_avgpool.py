"""GlobalAccPool (the per-channel sum over a frame's pixels) against golden.global_sum, with
gaps and stalls; its cycle model exactly; accumulators in registers, LUT RAM and block RAM."""

import numpy as np
import pytest

from hwgen import golden
from hwgen.datatypes import BINARY, BIPOLAR, DataType, pack
from hwgen.engines.global_avgpool import GlobalAccPool, GlobalAccPoolParams, pooled_dtype
from hwgen.simulation.streams import run_stream

from engine_cases import assert_rejected, assert_resources_near_yosys, run_with_backpressure

DTYPES = ["BIPOLAR", "BINARY", "UINT1", "UINT2", "UINT4", "UINT8", "INT2", "INT3", "INT4",
          "INT8", "INT16"]

# First seeds: (dtype, pe, folds, pixels) corners, then random ones.
CORNERS = [
    ("UINT4", 4, 16, 64),      # ResNet-8's pool, 64 channels at pe 4 over 8 x 8 pixels
    ("INT8", 2, 1, 5),         # one fold: accumulator registers
    ("INT4", 3, 2, 4),         # two folds: the RAM written and read on consecutive cycles
    ("BIPOLAR", 1, 3, 3),
    ("UINT8", 1, 1, 1),        # one pixel: the sum is the input
    ("INT8", 1, 4, 1),
    ("INT8", 2, 128, 3),       # 128 words of 2 x 10 bits: block RAM, read registered twice
    ("INT16", 16, 2, 2),       # two folds of wide sums
]
SEEDS = range(len(CORNERS) + 42)


def random_case(seed):
    """Parameters, frames, input and expected output words of one seed."""
    rng = np.random.default_rng(seed)
    if seed < len(CORNERS):
        name, pe, folds, pixels = CORNERS[seed]
    else:
        name = rng.choice(DTYPES)
        pe, folds, pixels = (int(v) for v in rng.integers(1, [5, 5, 10]))
    dtype = DataType.parse(str(name))
    params = GlobalAccPoolParams(pe * folds, pe, dtype, pixels)
    frames = int(rng.integers(2, 4))
    x = rng.choice(dtype.values(), size=(frames, 1, pixels, params.channels))
    if seed % 3 == 0:     # the extremes, where a narrow accumulator would wrap
        x[0] = dtype.max
        x[1] = dtype.min
    return (params, frames, pack(x, dtype, pe),
            pack(golden.global_sum(x), params.out_dtype, pe))


@pytest.mark.parametrize("seed", SEEDS)
def test_against_golden_with_gaps_and_stalls(seed):
    params, _, inputs, expected = random_case(seed)
    run = run_with_backpressure(GlobalAccPool(params), inputs, len(expected), seed)
    assert run.outputs == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_cycles_and_latency_without_stalls(seed):
    """Fed every cycle and never stalled: one input word per cycle across frames (tolerance
    0), so frames cycles() apart; each output word latency() cycles after its last-pixel
    input word."""
    params, frames, inputs, expected = random_case(seed)
    run = run_stream(GlobalAccPool(params), inputs, len(expected))
    assert run.outputs == expected
    assert np.diff(run.input_cycles).tolist() == [1] * (len(inputs) - 1)
    assert len(inputs) == frames * params.cycles()
    last_pixel = [c for n, c in enumerate(run.input_cycles)
                  if n % params.cycles() >= params.cycles() - params.folds]
    assert [o - i for i, o in zip(last_pixel, run.output_cycles)] == \
        [params.latency()] * len(expected)


def test_storage_and_datatypes():
    uint4, int8 = DataType.parse("UINT4"), DataType.parse("INT8")
    assert pooled_dtype(uint4, 64) == DataType.parse("UINT10")     # 0 .. 960
    assert pooled_dtype(int8, 64) == DataType.parse("INT14")       # -8192 .. 8128
    assert pooled_dtype(BIPOLAR, 3) == DataType.parse("INT3")      # -3 .. 3
    assert pooled_dtype(BINARY, 1) == DataType.parse("UINT1")
    assert GlobalAccPoolParams(8, 8, uint4, 64).storage == "registers"
    resnet8 = GlobalAccPoolParams(64, 4, uint4, 64)
    assert resnet8.storage == "distributed" and resnet8.read_latency == 1
    assert resnet8.latency() == 3 and resnet8.cycles() == 1024
    wide = GlobalAccPoolParams(256, 2, int8, 3)
    assert wide.storage == "block" and wide.read_latency == 2
    assert wide.resources().bram18 > 0 and resnet8.resources().bram18 == 0



def test_resources_near_yosys(tmp_path):
    """ResNet-8's pool (accumulators in LUT RAM)."""
    params = GlobalAccPoolParams(64, 4, DataType.parse("UINT4"), 64)
    assert_resources_near_yosys(GlobalAccPool(params), params.resources(), tmp_path)


@pytest.mark.parametrize("make, message", [
    (lambda: GlobalAccPoolParams(10, 3, BINARY, 4), "global pool: channels .* multiple of pe"),
    (lambda: GlobalAccPoolParams(4, 2, BINARY, 0), "global pool: pixels must be a positive"),
    (lambda: GlobalAccPoolParams(4, 0, BINARY, 4), "global pool: pe must be a positive"),
    (lambda: GlobalAccPoolParams(4, 2, "UINT4", 4), "global pool: dtype must be a DataType"),
    (lambda: GlobalAccPoolParams(4, 2, DataType.parse("INT32"), 2), "too wide"),
])
def test_invalid_parameters(make, message):
    assert_rejected(make, message)
