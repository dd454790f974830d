"""Affine multi-thresholds: affine_form against the tables, the affine unit and an MVAU with a
fused affine activation against the golden model."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from amaranth.back import verilog
from amaranth.hdl import Fragment

from hwgen import golden
from hwgen.datatypes import DataType, pack
from hwgen.engines import thresholds as units
from hwgen.engines.memories import lut_cost
from hwgen.engines.mvau import MatrixVectorUnit, MVAUParams
from hwgen.engines.requantize import Requantizer, _may_be_affine, affine_form, requantizer_for
from hwgen.engines.thresholds import (AffineThresholdUnit, Thresholds, ThresholdsParams,
                                      ThresholdUnit, n_thresholds, threshold_design,
                                      threshold_latency, threshold_resources)
from hwgen.network.batchnorm import fold_batchnorm
from hwgen.network.kinds.activation import uniform_thresholds
from hwgen.engines.add import AddParams, AddStreams
from hwgen.simulation.streams import run_stream, run_streams

from engine_cases import assert_rejected, run_streams_with_backpressure, run_with_backpressure


def quantizer(rng, channels, out_dtype, value_range, steep=False):
    """Thresholds of a random batch norm + uniform quantizer (:func:`fold_batchnorm`) on
    ``value_range``: levels spread over about the range, or ``steep`` (several levels per
    input step: duplicate thresholds); the first two channels' levels half beyond the range
    (thresholds clamped to lo or hi + 1)."""
    lo, hi = value_range
    levels = out_dtype.max - out_dtype.min + 1
    spread = (hi - lo) / levels * rng.uniform(0.3, 1.5, channels)   # input steps per level
    if steep:
        spread = rng.uniform(0.2, 0.9, channels)
    std = rng.uniform(0.5, 3, channels)
    gamma = std / spread                       # y moves a level (scale 1) per ``spread`` steps
    mean = rng.uniform(lo, hi, channels) * rng.uniform(0, 1.2)
    mean[:2] = (lo, hi)[:channels]     # half their levels beyond the range
    beta = rng.uniform(-2, 2, channels) + (out_dtype.min + out_dtype.max) / 2
    return fold_batchnorm(gamma, beta, mean, std ** 2, 0.0, 1.0, out_dtype, lo, hi)


def exact_counts(table, x):
    """#{i : x >= T[c, i]} for every x (X,) and channel: (X, C)."""
    return np.stack([np.searchsorted(np.sort(row), x, side="right") for row in table], axis=1)


AFFINE_CASES = [(out, value_range, steep, seed)
                for seed, (out, value_range, steep) in enumerate([
                    ("UINT8", (-512, 511), False), ("INT8", (-512, 511), False),
                    ("UINT4", (0, 255), False), ("UINT8", (0, 255), True),
                    ("INT8", (-128, 127), True), ("UINT4", (-(1 << 14), 1 << 14), False),
                    ("UINT8", (-3000, 2000), False), ("INT4", (-100, 100), True)])]


@pytest.mark.parametrize("out_name, value_range, steep, seed", AFFINE_CASES)
def test_affine_form_of_uniform_quantizers(out_name, value_range, steep, seed):
    """A form is found and matches the table at every input of the range."""
    rng = np.random.default_rng(seed)
    out_dtype = DataType.parse(out_name)
    table = quantizer(rng, 8, out_dtype, value_range, steep)
    if steep:
        assert (np.diff(table, axis=1) == 0).any()       # duplicates, in range
    assert (table == value_range[0]).any() or (table == value_range[1] + 1).any()
    form = affine_form(table, value_range)
    assert form is not None
    x = np.arange(value_range[0], value_range[1] + 1)
    got = np.clip(form.counts(x[:, None]), 0, table.shape[1])
    assert (got == exact_counts(table, x)).all()
    assert form.requantizer == requantizer_for(table, value_range)
    assert (form.multipliers > 0).all() and form.requantizer.m_bits <= 24


def test_affine_form_of_infinite_and_unsorted_thresholds():
    """+-inf acts as the range's ends, and the order of a channel's thresholds is irrelevant."""
    table = np.array([[-np.inf, 2, 4, 6, 8, 10, np.inf], [3, 1, 5, 7, 9, 11, 13]])
    form = affine_form(table, (0, 12))
    x = np.arange(0, 13)
    assert (np.clip(form.counts(x[:, None]), 0, 7) ==
            exact_counts(np.clip(table, 0, 13), x)).all()


@pytest.mark.parametrize("seed", range(4))
def test_no_affine_form_of_quantiles(seed):
    """Thresholds at quantiles of random data (networks' generated ones) have no exact form."""
    rng = np.random.default_rng(seed)
    n = 255 if seed % 2 else 15
    data = rng.normal(0, 300, size=(2000, 4)) * rng.uniform(0.5, 2, 4)
    table = np.ceil(np.quantile(data, (np.arange(n) + 1) / (n + 1), axis=0).T)
    assert not _may_be_affine(table, -(1 << 12), 1 << 12)      # without the search
    assert affine_form(table, (-(1 << 12), 1 << 12)) is None


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 1023), st.integers(-5000, 5000), st.integers(0, 12), st.integers(1, 40),
       st.integers(-300, 300), st.integers(0, 600))
def test_tables_of_affine_counts_pass_the_filter(m, b, shift, n, lo, span):
    """The quick test that spares the search (_may_be_affine) never rejects a table that some
    clamp(floor((x M + B) / 2**S), 0, n) counts, and the search finds a form for it."""
    hi = lo + span
    x = np.arange(lo, hi + 1)
    counts = np.clip((x * m + b) >> shift, 0, n)
    table = (lo + np.searchsorted(counts, np.arange(1, n + 1)))[None]   # hi + 1: never reached
    assert _may_be_affine(table, lo, hi)
    form = affine_form(table, (lo, hi))
    assert form is not None
    assert (np.clip(form.counts(x[:, None]), 0, n)[:, 0] == counts).all()


@pytest.fixture
def affine(monkeypatch):
    """Every ThresholdUnit given a form (and its latency and resources) the affine one."""
    def design(*args):
        return AffineThresholdUnit if args[4] is not None else units.SearchThresholdUnit
    monkeypatch.setattr(units, "threshold_design", design)


# (in, out, pe, folds): pe 1 and more, one fold (constants) and more.
UNIT_CASES = [("INT10", "UINT8", 1, 1), ("INT10", "INT8", 2, 3), ("UINT8", "UINT4", 3, 1),
              ("INT12", "INT8", 4, 2), ("INT8", "UINT8", 1, 4), ("INT16", "UINT8", 2, 2)]


def unit_case(seed):
    """An affine Thresholds engine, inputs (extremes included) and expected output words."""
    in_name, out_name, pe, folds = UNIT_CASES[seed]
    rng = np.random.default_rng(100 + seed)
    in_dtype, out_dtype = DataType.parse(in_name), DataType.parse(out_name)
    value_range = in_dtype.min, in_dtype.max
    channels, pixels, frames = pe * folds, int(rng.integers(1, 4)), 2
    table = quantizer(rng, channels, out_dtype, value_range, steep=seed == 4)
    requantizer = requantizer_for(table, value_range)
    params = ThresholdsParams(channels, pe, in_dtype, out_dtype, pixels, requantizer=requantizer)
    x = rng.integers(in_dtype.min, in_dtype.max + 1, size=(frames, pixels, channels))
    x[0, 0, ::2], x[-1, -1, 1::2] = in_dtype.min, in_dtype.max
    expected = pack(golden.multithreshold(x, table, out_dtype), out_dtype, pe)
    return params, Thresholds(params, table), pack(x, in_dtype, pe), expected


@pytest.mark.parametrize("seed", range(len(UNIT_CASES)))
def test_affine_unit_against_golden(seed, affine):
    params, dut, inputs, expected = unit_case(seed)
    assert isinstance(dut._unit, AffineThresholdUnit)
    assert run_with_backpressure(dut, inputs, len(expected), seed).outputs == expected
    run = run_stream(dut, inputs, len(expected))     # not stalled: exactly latency() cycles
    assert run.outputs == expected
    assert [o - i for i, o in zip(run.input_cycles, run.output_cycles)] == \
        [params.latency()] * len(expected)


@pytest.mark.parametrize("in_name, out_name, pe, folds", [("INT20", "UINT8", 2, 3),
                                                         ("INT12", "INT8", 1, 4)])
def test_affine_unit_of_a_power_of_two_step(in_name, out_name, pe, folds):
    """`calibration: uniform` thresholds (one power-of-two step, an offset per channel): M is 1
    for every channel, so the unit stores B alone and has no multiplier; bit-exact, picked by
    the models over the tables (no monkeypatch)."""
    rng = np.random.default_rng(folds)
    in_dtype, out_dtype = DataType.parse(in_name), DataType.parse(out_name)
    value_range, channels, pixels = (in_dtype.min, in_dtype.max), pe * folds, 3
    acc = rng.normal(rng.uniform(-1000, 1000, channels), 300, size=(500, channels))
    table = uniform_thresholds(acc, n_thresholds(out_dtype))
    requantizer = requantizer_for(table, value_range)
    assert requantizer.m_bits == 1
    params = ThresholdsParams(channels, pe, in_dtype, out_dtype, pixels,
                              requantizer=requantizer)
    dut = Thresholds(params, table)
    assert isinstance(dut._unit, AffineThresholdUnit)
    assert dut._unit.memories[0].width == requantizer.b_bits
    x = rng.integers(max(in_dtype.min, -3000), min(in_dtype.max, 3000),
                     size=(2, pixels, channels))
    x[0, 0, ::2], x[-1, -1, 1::2] = in_dtype.min, in_dtype.max
    expected = pack(golden.multithreshold(x, table, out_dtype), out_dtype, pe)
    inputs = pack(x, in_dtype, pe)
    assert run_with_backpressure(dut, inputs, len(expected), 3).outputs == expected


def test_mvau_with_fused_affine_activation(affine):
    """Batch-norm thresholds on the dot products, applied by the MVAU's affine unit."""
    rng = np.random.default_rng(7)
    int4, out_dtype = DataType.parse("INT4"), DataType.parse("UINT8")
    shape = dict(mw=12, mh=6, pe=2, simd=3, in_dtype=int4, weight_dtype=int4, vectors=3,
                 out_dtype=out_dtype)
    probe = MVAUParams(**shape)
    table = quantizer(rng, probe.mh, out_dtype, probe.acc_range)
    params = MVAUParams(**shape, requantizer=requantizer_for(table, probe.acc_range))
    weights = rng.choice(int4.values(), size=(params.mh, params.mw))
    x = rng.choice(int4.values(), size=(2 * params.vectors, params.mw))
    expected = pack(golden.multithreshold(golden.matmul(x, weights), table, out_dtype),
                    out_dtype, params.pe)
    dut = MatrixVectorUnit(params, weights, table)
    assert isinstance(dut._activation, AffineThresholdUnit)
    inputs = pack(x, int4, params.simd)
    assert run_with_backpressure(dut, inputs, len(expected), 7).outputs == expected


def test_selection():
    """The affine unit is a candidate only with a form, and wins on wide tables; the DSP
    version marks its product registers for DSP mapping."""
    uint8 = DataType.parse("UINT8")
    value_range = (-512, 511)
    table = quantizer(np.random.default_rng(3), 64, uint8, value_range)
    form = requantizer_for(table, value_range)
    args = 64, 4, value_range, uint8
    assert threshold_design(*args) is not AffineThresholdUnit
    for resource in ("lut", "dsp"):
        model = AffineThresholdUnit.model_resources(*args, form, resource)
        design = threshold_design(*args, form, resource)
        assert lut_cost(threshold_resources(*args, form, resource)) == min(
            lut_cost(model), lut_cost(threshold_resources(*args)))
        assert threshold_latency(*args, form, resource) == design.model_latency(
            *args, *((form, resource) if design is AffineThresholdUnit else ()))
    assert threshold_design(*args, form, "dsp") is AffineThresholdUnit
    unit = ThresholdUnit(table, *args, form, "dsp")
    assert "use_dsp" in verilog.convert(unit, name="unit", emit_src=False)
    # One threshold: a comparator, whatever the form.
    assert threshold_design(64, 4, value_range, DataType.parse("BINARY"),
                            Requantizer(1, 2, 0)) is units.ParallelThresholdUnit


def test_wrong_form_rejected():
    table = quantizer(np.random.default_rng(5), 4, DataType.parse("UINT4"), (0, 255))
    form = requantizer_for(table, (0, 255))
    wrong = Requantizer(form.m_bits + 1, form.b_bits, form.shift)
    assert_rejected(lambda: AffineThresholdUnit(table, 4, 2, (0, 255), DataType.parse("UINT4"),
                                                wrong), "do not have the affine form")
    Fragment.get(AffineThresholdUnit(table, 4, 2, (0, 255), DataType.parse("UINT4"), form),
                 None)
    assert n_thresholds(DataType.parse("UINT4")) == 15


def test_uniform_calibration_network_bit_exact(tmp_path):
    """A network whose 8-bit activations have `calibration: uniform` thresholds: the fused
    activations of its conv and dense layers are affine units without multipliers, and the
    whole design matches the golden model in Amaranth's simulator, with stalls."""
    from hwgen.compiler.build import design
    from hwgen.network import load_network
    from hwgen.simulation.run import simulate

    path = tmp_path / "net.yaml"
    path.write_text("""
name: uniform8
seed: 3
layers:
  - {name: input, kind: input, shape: [4, 4, 2], datatype: UINT8}
  - {name: conv, kind: conv2d, channels: 4, kernel: 3, padding: 1, weight_datatype: INT8,
     pe: 2, simd: 2}
  - {name: act, kind: activation, datatype: UINT8, calibration: uniform}
  - {name: fc, kind: dense, outputs: 4, weight_datatype: INT8, pe: 2, simd: 4}
  - {name: act2, kind: activation, datatype: INT8, calibration: uniform}
""")
    network = load_network(path)
    d = design(network, None)
    units = [node.component()._activation for node in d.nodes if node.kind == "mvau"]
    assert [type(u) for u in units] == [AffineThresholdUnit] * 2
    assert all(u.requantizer.m_bits == 1 for u in units)
    result = simulate(d, network.random_frames(2, seed=4), backend="amaranth", seed=1,
                      stall_prob=0.2)
    assert result.mismatches == 0 and result.frames == 2


@pytest.mark.parametrize("pe, folds", [(2, 3), (1, 4), (4, 1)])
def test_add_with_fused_affine_activation_at_full_rate(pe, folds):
    """A residual add (INT8 + INT8) with `calibration: uniform` UINT8 thresholds: the affine
    unit, a word per cycle when fed every cycle, each exactly latency() after its inputs, and
    the golden model's words with gaps and stalls."""
    rng = np.random.default_rng(pe * 10 + folds)
    int8, uint8 = DataType.parse("INT8"), DataType.parse("UINT8")
    params0 = AddParams(pe * folds, pe, (int8, int8), 3, uint8)
    sums = rng.integers(-200, 200, size=(400, params0.channels))
    table = uniform_thresholds(sums, n_thresholds(uint8))
    params = AddParams(pe * folds, pe, (int8, int8), 3, uint8,
                       requantizer=requantizer_for(table, params0.sum_range))
    dut = AddStreams(params, table)
    assert isinstance(dut._activation, AffineThresholdUnit)
    xs = [rng.integers(-128, 128, size=(2, params.pixels, params.channels)) for _ in range(2)]
    expected = pack(golden.multithreshold(golden.add(*xs), table, uint8), uint8, pe)
    inputs = [pack(x, int8, pe) for x in xs]
    run = run_streams(dut, inputs, [len(expected)])
    assert run.outputs == [expected]
    assert np.diff(run.input_cycles[0]).tolist() == [1] * (len(expected) - 1)
    assert [o - i for i, o in zip(run.input_cycles[0], run.output_cycles[0])] == \
        [params.latency()] * len(expected)
    assert run_streams_with_backpressure(AddStreams(params, table), inputs, [len(expected)],
                                         pe).outputs == [expected]


def test_model_of_a_one_bit_value():
    """A 1-bit value range (a random network's BINARY sums): the multiplier is AND gates, not
    an INT1 (which does not exist); found by tests/test_random_networks.py."""
    table = np.array([[1, 1, 2], [0, 1, 1]])
    requantizer = requantizer_for(table, (0, 1))
    assert requantizer is not None
    out = DataType.parse("UINT2")
    for r in (requantizer, Requantizer(3, 4, 2)):
        assert AffineThresholdUnit.model_resources(2, 1, (0, 1), out, r).lut > 0
