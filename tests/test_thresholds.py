"""Thresholds engine against the golden model (multithreshold)."""

import numpy as np
import pytest
from amaranth.hdl import Fragment

from hwgen import golden
from hwgen.datatypes import BINARY, BIPOLAR, DataType, pack
from hwgen.engines import thresholds as units
from hwgen.engines.datapath import tree_levels
from hwgen.engines.memories import lut_cost
from hwgen.engines.thresholds import (ParallelThresholdUnit, SearchThresholdUnit, Thresholds,
                                      ThresholdsParams, ThresholdUnit, n_thresholds,
                                      threshold_design, threshold_latency, threshold_resources)
from hwgen.simulation.streams import run_stream

from engine_cases import assert_rejected, run_with_backpressure, seeds

IN_TYPES = ["BIPOLAR", "BINARY"] + [f"UINT{b}" for b in (1, 2, 3, 4, 6, 8, 10)] + \
           [f"INT{b}" for b in (2, 3, 4, 5, 8, 12, 16)]
OUT_TYPES = ["BIPOLAR", "BINARY", "UINT1", "UINT2", "UINT3", "INT2", "INT3", "INT4"]

# First seeds: (in, out, pe, folds) corner cases, then random ones.
CORNERS = [
    ("INT16", "BIPOLAR", 4, 2),   # sign activation of accumulators
    ("INT12", "UINT2", 1, 5),     # pe=1
    ("UINT8", "INT4", 3, 1),      # pe=channels, 15 thresholds
    ("INT8", "UINT8", 1, 2),      # 255 thresholds
    ("BIPOLAR", "BINARY", 5, 3),
    ("INT5", "INT2", 2, 3),
    ("INT8", "UINT8", 1, 32),     # 32 x 255 thresholds per lane: in block RAM
]
SEEDS = seeds(0, len(CORNERS) + 40, len(CORNERS) + 74)

# The binary-search unit, built whatever the cheaper unit: outputs of 1 to 8 bits, folds up to
# 32 (its deep stages in block RAM, banked at UINT8), thresholds in any order.
SEARCH_OUT_TYPES = ["BINARY"] + [f"{kind}{b}" for kind in ("UINT", "INT") for b in range(2, 9)]
SEARCH_CORNERS = [
    ("INT8", "UINT8", 1, 32),     # last stage 32 x 128 thresholds: two banks of block RAM
    ("INT16", "INT8", 2, 3),      # wide values
    ("UINT4", "UINT2", 3, 1),     # one fold: the first stage a constant
    ("BIPOLAR", "INT3", 2, 5),
]
SEARCH_SEEDS = seeds(1000, len(SEARCH_CORNERS) + 12, len(SEARCH_CORNERS) + 40)


@pytest.fixture
def search(monkeypatch):
    """Every ThresholdUnit (and its latency and resources) the binary-search one."""
    monkeypatch.setattr(units, "threshold_design", lambda *args: SearchThresholdUnit)


def random_case(seed):
    """Parameters, thresholds, input and expected output words for one seed (from 1000: a
    binary-search case, thresholds unsorted)."""
    rng = np.random.default_rng(seed)
    if seed < len(CORNERS):
        in_name, out_name, pe, folds = CORNERS[seed]
    elif 1000 <= seed < 1000 + len(SEARCH_CORNERS):
        in_name, out_name, pe, folds = SEARCH_CORNERS[seed - 1000]
    elif seed >= 1000:
        in_name, out_name = rng.choice(IN_TYPES), rng.choice(SEARCH_OUT_TYPES)
        pe, folds = int(rng.integers(1, 5)), int(rng.choice([1, 2, 3, 4, 7, 8, 16, 32]))
    else:
        in_name, out_name = rng.choice(IN_TYPES), rng.choice(OUT_TYPES)
        pe, folds = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    in_dtype, out_dtype = DataType.parse(str(in_name)), DataType.parse(str(out_name))
    pixels, frames = int(rng.integers(1, 5)), int(rng.integers(2, 4))
    params = ThresholdsParams(pe * folds, pe, in_dtype, out_dtype, pixels)
    # Inputs spread over a random sub-range, thresholds mostly at or next to input values
    # (equality and both sides of it), some anywhere from below min to above max + 1, and
    # occasionally far out of range or infinite (clamped by the hardware).
    values = in_dtype.values()
    lo, hi = np.sort(rng.choice(values, size=2))
    x = rng.choice(values[(values >= lo) & (values <= hi)], size=(frames, pixels, params.channels))
    shape = (params.channels, n_thresholds(out_dtype))
    near = rng.choice(x.reshape(-1), size=shape) + rng.integers(-1, 2, size=shape)
    anywhere = rng.integers(in_dtype.min - 2, in_dtype.max + 3, size=shape)
    thresholds = np.sort(np.where(rng.random(shape) < 0.7, near, anywhere))
    if seed >= 1000:    # runs of equal thresholds, then each channel's in a random order
        runs = rng.random(shape) < 0.3
        thresholds = np.where(runs, np.roll(thresholds, 1, axis=1), thresholds)
        thresholds = rng.permuted(thresholds, axis=1)
    if seed % 4 == 2:
        thresholds[0, 0], thresholds[-1, -1] = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    expected = pack(golden.multithreshold(x, thresholds, out_dtype), out_dtype, pe)
    if seed % 4 == 1:    # the same as +-inf (the golden model takes integers only)
        thresholds[0, 0], thresholds[-1, -1] = in_dtype.min, in_dtype.max + 1
        expected = pack(golden.multithreshold(x, thresholds, out_dtype), out_dtype, pe)
        thresholds = thresholds.astype(float)
        thresholds[0, 0], thresholds[-1, -1] = -np.inf, np.inf
    return params, frames, Thresholds(params, thresholds), pack(x, in_dtype, pe), expected


@pytest.mark.parametrize("seed", SEEDS)
def test_against_golden_with_gaps_and_stalls(seed):
    params, _, dut, inputs, expected = random_case(seed)
    assert run_with_backpressure(dut, inputs, len(expected), seed).outputs == expected


@pytest.mark.parametrize("seed", SEARCH_SEEDS)
def test_search_against_golden_with_gaps_and_stalls(seed, search):
    test_against_golden_with_gaps_and_stalls(seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_cycles_and_latency_without_stalls(seed):
    """Fed every cycle and never stalled: one output word per cycle with no bubble across
    pixels and frames (tolerance 0: the model is exact), so frames cycles() apart; each word
    exactly latency() cycles after its input word."""
    params, frames, dut, inputs, expected = random_case(seed)
    assert isinstance(dut._unit, units.threshold_design(params.channels, params.pe,
                                                        params.value_range, params.out_dtype))
    run = run_stream(dut, inputs, len(expected))
    assert run.outputs == expected
    assert np.diff(run.input_cycles).tolist() == [1] * (len(inputs) - 1)
    assert [o - i for i, o in zip(run.input_cycles, run.output_cycles)] == \
        [params.latency()] * len(expected)
    frame_ends = run.output_cycles[params.cycles() - 1::params.cycles()]
    assert np.diff(frame_ends).tolist() == [params.cycles()] * (frames - 1)


@pytest.mark.parametrize("seed", SEARCH_SEEDS)
def test_search_cycles_and_latency_without_stalls(seed, search):
    test_cycles_and_latency_without_stalls(seed)


def test_latency_and_counts():
    assert n_thresholds(BIPOLAR) == n_thresholds(BINARY) == 1
    assert n_thresholds(DataType.parse("INT4")) == 15
    # Popcount of 255 bits, 4 terms per level: 64, 16, 4, 1.
    assert tree_levels(255) == 4 and tree_levels(4) == 1 and tree_levels(1) == 0
    uint8, parallel = DataType.parse("UINT8"), ParallelThresholdUnit.model_latency
    assert parallel(16, 2, (-100, 100), uint8) == 5
    # 32 words of 255 thresholds per lane: block RAM, whose reads are registered once more.
    assert parallel(64, 2, (-100, 100), uint8) == 6
    # Binary search, 8 folds of 9-bit thresholds: stages of 8 to 1024 words, the last three
    # in block RAM (read in 2 cycles), each stage a comparison register more; the values enter
    # a cycle after the first address.
    assert SearchThresholdUnit.model_latency(16, 2, (-100, 100), uint8) == 5 * 2 + 3 * 3 - 1
    assert threshold_latency(16, 2, (-100, 100), uint8) == 18
    # Input register, comparison register, output queue.
    assert ThresholdsParams(8, 2, DataType.parse("INT8"), BIPOLAR, 3).latency() == 1 + 1 + 2
    assert ThresholdsParams(8, 2, DataType.parse("INT8"), BIPOLAR, 3).cycles() == 12


@pytest.mark.parametrize("channels, pe, value_range, out_name, design", [
    (16, 2, (-128, 127), "UINT8", SearchThresholdUnit),
    (64, 4, (-(1 << 17), 1 << 17), "INT8", SearchThresholdUnit),   # MVAU accumulators
    (4, 4, (0, 255), "UINT8", SearchThresholdUnit),                  # one fold
    (16, 2, (-128, 127), "BINARY", ParallelThresholdUnit),           # one threshold
    (16, 2, (-128, 127), "BIPOLAR", ParallelThresholdUnit),
    (16, 2, (-128, 127), "UINT2", SearchThresholdUnit),      # 56 LUTs against 82 (Yosys)
])
def test_the_cheaper_unit_is_built(channels, pe, value_range, out_name, design):
    args = channels, pe, value_range, DataType.parse(out_name)
    assert threshold_design(*args) is design
    costs = [lut_cost(unit.model_resources(*args))
             for unit in (ParallelThresholdUnit, SearchThresholdUnit)]
    assert lut_cost(threshold_resources(*args)) == min(costs)
    assert threshold_latency(*args) == design.model_latency(*args)
    table = np.zeros((channels, n_thresholds(args[-1])), dtype=np.int64)
    unit = ThresholdUnit(table, *args)
    Fragment.get(unit, None)     # it elaborates
    assert type(unit) is design


def test_resources():
    """Small threshold tables are LUT ROMs; more lanes or thresholds cost more LUTs."""
    int8, uint2 = DataType.parse("INT8"), DataType.parse("UINT2")
    small = ThresholdsParams(16, 2, int8, uint2, 1).resources()
    assert small.bram18 == 0 and small.dsp == 0
    assert ThresholdsParams(16, 4, int8, uint2, 1).resources().lut > small.lut
    assert ThresholdsParams(16, 2, int8, DataType.parse("UINT4"), 1).resources().lut > small.lut


@pytest.mark.parametrize("make, message", [
    (lambda: ThresholdsParams(10, 3, BINARY, BINARY, 1), "multiple of pe"),
    (lambda: ThresholdsParams(10, 2, BINARY, BINARY, 0), "pixels must be a positive"),
    (lambda: ThresholdsParams(10, 2, "INT4", BINARY, 1), "in_dtype must be a DataType"),
    (lambda: ThresholdsParams(10, 2, DataType.parse("INT32"), BINARY, 1), "too wide"),
    (lambda: ThresholdsParams(10, 2, BINARY, DataType.parse("UINT10"), 1),
     "UINT10 activations are too wide"),
    (lambda: ThresholdUnit(np.zeros((4, 1023)), 4, 2, (0, 9), DataType.parse("INT10")),
     "INT10 activations are too wide"),
    (lambda: Thresholds(ThresholdsParams(4, 2, BINARY, BINARY, 1), np.zeros((4, 3))),
     r"shape \(4, 1\)"),
    (lambda: Thresholds(ThresholdsParams(4, 2, BINARY, BINARY, 1), np.zeros((2, 1))),
     r"shape \(4, 1\)"),
    (lambda: Thresholds(ThresholdsParams(4, 2, BINARY, BINARY, 1), np.full((4, 1), np.nan)),
     "integers"),
    (lambda: Thresholds(ThresholdsParams(4, 2, BINARY, BINARY, 1), np.full((4, 1), "a")),
     "integers"),
])
def test_invalid_parameters(make, message):
    assert_rejected(make, message)
