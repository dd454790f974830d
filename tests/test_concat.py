"""ConcatStreams (channel concatenation) against golden.concat, with every input's gaps and the
output's stalls."""

import numpy as np
import pytest

from hwgen import golden
from hwgen.datatypes import BIPOLAR, DataType, pack
from hwgen.engines.concat import ConcatParams, ConcatStreams
from hwgen.simulation.streams import run_streams

from engine_cases import (assert_rejected, assert_resources_near_yosys,
                          run_streams_with_backpressure)

DTYPES = ["BIPOLAR", "BINARY", "UINT2", "UINT4", "UINT8", "INT2", "INT4", "INT8"]

# First seeds: (channels, simd, dtype) corners, then random ones.
CORNERS = [
    ((16, 16), 4, "INT4"),
    ((1, 1), 1, "BIPOLAR"),         # a word per input per pixel
    ((8, 2, 6), 2, "UINT8"),
    ((3, 9, 3, 6), 3, "INT2"),
    ((32, 4), 4, "BINARY"),
]
SEEDS = range(len(CORNERS) + 35)


def random_case(seed):
    """Parameters, frames, input word lists and expected output words of one seed."""
    rng = np.random.default_rng(seed)
    if seed < len(CORNERS):
        channels, simd, name = CORNERS[seed]
    else:
        simd = int(rng.integers(1, 5))
        channels = tuple(simd * int(f) for f in rng.integers(1, 4, size=int(rng.integers(2, 5))))
        name = rng.choice(DTYPES)
    dtype = DataType.parse(str(name))
    params = ConcatParams(channels, simd, dtype, int(rng.integers(1, 5)))
    frames = int(rng.integers(2, 4))
    xs = [rng.choice(dtype.values(), size=(frames, params.pixels, c)) for c in channels]
    return (params, frames, [pack(x, dtype, simd) for x in xs],
            pack(golden.concat(*xs), dtype, simd))


@pytest.mark.parametrize("seed", SEEDS)
def test_against_golden_with_gaps_and_stalls(seed):
    params, _, inputs, expected = random_case(seed)
    run = run_streams_with_backpressure(ConcatStreams(params), inputs, [len(expected)], seed)
    assert run.outputs == [expected]


@pytest.mark.parametrize("seed", SEEDS)
def test_cycles_and_latency_without_stalls(seed):
    """Every input offering a word every cycle, the output never stalled: one output word per
    cycle (tolerance 0), each latency() cycles after its input transfer, and an input's words
    taken back to back in its turn."""
    params, frames, inputs, expected = random_case(seed)
    run = run_streams(ConcatStreams(params), inputs, [len(expected)])
    assert run.outputs == [expected]
    taken = sorted(c for cycles in run.input_cycles for c in cycles)
    assert taken == list(range(taken[0], taken[0] + len(expected)))
    assert [o - i for i, o in zip(taken, run.output_cycles[0])] == [params.latency()] * len(taken)
    assert len(expected) == frames * params.cycles()


def test_resources():
    small = ConcatParams((8, 8), 4, DataType.parse("INT4"), 4).resources()
    assert small.bram18 == 0 and small.lut > 0
    assert ConcatParams((8, 8, 8, 8), 4, DataType.parse("INT4"), 4).resources().lut > small.lut
    assert ConcatParams((8, 8), 8, DataType.parse("INT4"), 4).resources().lut > small.lut



def test_resources_near_yosys(tmp_path):
    params = ConcatParams((32, 32), 16, DataType.parse("UINT4"), 64)
    assert_resources_near_yosys(ConcatStreams(params), params.resources(), tmp_path)


@pytest.mark.parametrize("make, message", [
    (lambda: ConcatParams((4,), 2, BIPOLAR, 1), "concat: channels must list two or more"),
    (lambda: ConcatParams(4, 2, BIPOLAR, 1), "concat: channels must list two or more"),
    (lambda: ConcatParams((4, 3), 2, BIPOLAR, 1), r"concat: channels\[1\] \(3\) must be a "
                                                  "multiple of simd"),
    (lambda: ConcatParams((4, 0), 2, BIPOLAR, 1), r"concat: channels\[1\] must be a positive"),
    (lambda: ConcatParams((4, 4), 0, BIPOLAR, 1), "concat: simd must be a positive"),
    (lambda: ConcatParams((4, 4), 2, "INT4", 1), "concat: dtype must be a DataType"),
    (lambda: ConcatParams((4, 4), 2, BIPOLAR, 0), "concat: pixels must be a positive"),
])
def test_invalid_parameters(make, message):
    assert_rejected(make, message)
