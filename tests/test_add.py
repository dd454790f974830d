"""AddStreams (elementwise sum of streams, raw or with its fused activation) against the golden
model (add, multithreshold), with every input's gaps and the output's stalls."""

import numpy as np
import pytest

from hwgen import golden
from hwgen.datatypes import BINARY, BIPOLAR, DataType, pack
from hwgen.engines.add import AddParams, AddStreams, sum_dtype
from hwgen.simulation.streams import run_streams

from engine_cases import (assert_rejected, assert_resources_near_yosys, random_thresholds,
                          run_streams_with_backpressure)

IN_TYPES = ["BIPOLAR", "BINARY", "UINT1", "UINT2", "UINT4", "UINT8", "INT2", "INT3", "INT4",
            "INT8", "INT12"]
UINT31 = DataType.parse("UINT31")
OUT_TYPES = [None, None, "BIPOLAR", "BINARY", "UINT2", "UINT4", "INT2", "INT4"]

# First seeds: (input datatypes, output datatype, pe, folds) corners, then random ones.
CORNERS = [
    (("INT4", "INT4"), None, 2, 3),               # the residual add
    (("UINT4", "INT8"), "UINT4", 4, 1),           # fused, different inputs
    (("BINARY", "BINARY", "BINARY"), None, 3, 2),  # a popcount
    (("BIPOLAR", "BIPOLAR"), None, 1, 4),         # sums -2, 0, 2
    (("BIPOLAR", "UINT2", "INT3", "BINARY", "INT2"), "INT3", 2, 2),   # two tree levels
    (("INT8",) * 9, None, 1, 3),                  # two tree levels, raw
    (("UINT8", "UINT8"), "UINT8", 1, 40),         # 255 thresholds per channel, 40 folds
    (("INT16", "INT16"), None, 1, 1),
]
SEEDS = range(len(CORNERS) + 42)


def random_case(seed):
    """Parameters, frames, engine, input word lists and expected output words of one seed."""
    rng = np.random.default_rng(seed)
    if seed < len(CORNERS):
        names, out_name, pe, folds = CORNERS[seed]
    else:
        names = tuple(rng.choice(IN_TYPES, size=int(rng.integers(2, 6))))
        out_name = rng.choice(OUT_TYPES)
        pe, folds = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    dtypes = tuple(DataType.parse(str(name)) for name in names)
    out_dtype = None if out_name is None else DataType.parse(str(out_name))
    params = AddParams(pe * folds, pe, dtypes, int(rng.integers(1, 4)), out_dtype)
    frames = int(rng.integers(2, 4))
    xs = [rng.choice(d.values(), size=(frames, params.pixels, params.channels)) for d in dtypes]
    out = golden.add(*xs)
    thresholds = None
    if out_dtype is not None:
        lo, hi = params.sum_range
        thresholds = random_thresholds(rng, out.reshape(-1, params.channels), out_dtype, lo, hi)
        out = golden.multithreshold(out, thresholds, out_dtype)
    inputs = [pack(x, d, pe) for x, d in zip(xs, dtypes)]
    return (params, frames, AddStreams(params, thresholds), inputs,
            pack(out, params.output_dtype, pe))


def with_junk_above(words, width, port_width, rng):
    """``words`` with random bits above their ``width`` (the engine must ignore them)."""
    return [w | (int(rng.integers(0, 1 << (port_width - width))) << width) for w in words]


@pytest.mark.parametrize("seed", SEEDS)
def test_against_golden_with_gaps_and_stalls(seed):
    params, _, dut, inputs, expected = random_case(seed)
    rng, port_width = np.random.default_rng(seed + 7), max(params.in_widths)
    inputs = [with_junk_above(words, width, port_width, rng)
              for words, width in zip(inputs, params.in_widths)]
    run = run_streams_with_backpressure(dut, inputs, [len(expected)], seed)
    assert run.outputs == [expected]


@pytest.mark.parametrize("seed", SEEDS)
def test_cycles_and_latency_without_stalls(seed):
    """Fed every cycle and never stalled: one output word per cycle across pixels and frames
    (tolerance 0), each exactly latency() cycles after its inputs."""
    params, frames, dut, inputs, expected = random_case(seed)
    run = run_streams(dut, inputs, [len(expected)])
    assert run.outputs == [expected]
    for cycles in run.input_cycles:
        assert cycles == run.input_cycles[0]
    assert np.diff(run.input_cycles[0]).tolist() == [1] * (len(expected) - 1)
    assert [o - i for i, o in zip(run.input_cycles[0], run.output_cycles[0])] == \
        [params.latency()] * len(expected)
    assert len(expected) == frames * params.cycles()


def test_one_late_input_holds_the_sum_back():
    """An input that starts late (a long branch) delays the sums without losing a word, and
    the other inputs wait (their ready stays low once their holding register is full)."""
    params, _, dut, inputs, expected = random_case(0)
    run = run_streams(dut, inputs, [len(expected)], gap_prob=[0.0, 0.9], stall_prob=0.2, seed=3)
    assert run.outputs == [expected]


def test_sum_datatypes():
    int4, uint4, int8 = (DataType.parse(n) for n in ("INT4", "UINT4", "INT8"))
    assert sum_dtype([int4, int4]) == DataType.parse("INT5")           # -16 .. 14
    assert sum_dtype([uint4, uint4]) == DataType.parse("UINT5")        # 0 .. 30
    assert sum_dtype([int4, uint4]) == DataType.parse("INT6")          # -8 .. 22
    assert sum_dtype([BINARY, BINARY, BINARY]) == DataType.parse("UINT2")
    assert sum_dtype([BIPOLAR, BIPOLAR]) == DataType.parse("INT3")     # -2 .. 2
    assert sum_dtype([int8] * 9) == DataType.parse("INT12")            # -1152 .. 1143
    assert AddParams(4, 2, (int4, int4), 1).output_dtype == DataType.parse("INT5")
    assert AddParams(4, 2, (int4, int4), 1, BIPOLAR).output_dtype == BIPOLAR


def test_cycles_latency_resources():
    int4 = DataType.parse("INT4")
    raw = AddParams(16, 4, (int4, int4), 9)
    assert raw.cycles() == 36
    assert raw.latency() == 1 + 1 + 2      # holding register, one adder level, queue
    assert AddParams(16, 4, (int4,) * 5, 9).latency() == 1 + 2 + 2
    fused = AddParams(16, 4, (int4, int4), 9, DataType.parse("UINT4"))
    assert fused.latency() > raw.latency()
    assert fused.resources().lut > raw.resources().lut
    assert AddParams(16, 8, (int4, int4), 9).resources().lut > raw.resources().lut
    assert raw.resources().bram18 == 0



def test_resources_near_yosys(tmp_path):
    """The raw sum (the fused activation's model is the Thresholds engine's)."""
    uint4 = DataType.parse("UINT4")
    params = AddParams(16, 16, (uint4, uint4), 64)
    assert_resources_near_yosys(AddStreams(params), params.resources(), tmp_path)


@pytest.mark.parametrize("make, message", [
    (lambda: AddParams(10, 3, (BINARY, BINARY), 1), "add: channels .* multiple of pe"),
    (lambda: AddParams(4, 2, (BINARY,), 1), "add: in_dtypes must be two or more"),
    (lambda: AddParams(4, 2, (BINARY, "INT4"), 1), "add: in_dtypes must be two or more"),
    (lambda: AddParams(4, 2, BINARY, 1), "add: in_dtypes must be two or more"),
    (lambda: AddParams(4, 2, (BINARY, BINARY), 0), "add: pixels must be a positive"),
    (lambda: AddParams(4, 2, (BINARY, BINARY), 1, "INT4"), "add: out_dtype must be"),
    (lambda: AddParams(4, 2, (DataType.parse("INT32"),) * 2, 1), "add: the sum .* too wide"),
    (lambda: AddParams(4, 2, (UINT31, UINT31, BINARY), 1, BINARY), "thresholds up to max"),
    (lambda: AddParams(4, 2, (UINT31, UINT31, BINARY), 1), None),
    (lambda: AddStreams(AddParams(4, 2, (BINARY, BINARY), 1)), None),
    (lambda: AddStreams(AddParams(4, 2, (BINARY, BINARY), 1), np.zeros((4, 1))),
     "add: thresholds are given exactly when out_dtype is"),
    (lambda: AddStreams(AddParams(4, 2, (BINARY, BINARY), 1, BINARY)),
     "add: thresholds are given exactly when out_dtype is"),
    (lambda: AddStreams(AddParams(4, 2, (BINARY, BINARY), 1, BINARY), np.zeros((4, 3))),
     r"add: thresholds must have shape \(4, 1\)"),
])
def test_invalid_parameters(make, message):
    if message is None:
        make()     # accepted
    else:
        assert_rejected(make, message)
