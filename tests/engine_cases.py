"""Pieces shared by the engine tests: random backpressure, and random matrix-unit cases for the
bit-parallel and bit-serial MVAUs (which take the same parameters and streams)."""

import gc
import warnings

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import UnusedElaboratable

from hwgen import golden
from hwgen.datatypes import DataType, pack
from hwgen.engines.thresholds import n_thresholds
from hwgen.simulation.streams import run_stream, run_streams
from hwgen.synthesis import synthesize

IN_TYPES = ["BIPOLAR", "BINARY"] + [f"UINT{b}" for b in range(1, 9)] + \
           [f"INT{b}" for b in range(2, 9)]
OUT_TYPES = ["BIPOLAR", "BINARY", "UINT1", "UINT2", "UINT3", "INT2", "INT3", "INT4"]


def seeds(first, default, total):
    """Seeds ``first`` to ``first + total - 1`` for a random-case test: the first ``default`` in
    the default tier, the rest under ``-m slow``."""
    return [seed if seed < first + default else pytest.param(seed, marks=pytest.mark.slow)
            for seed in range(first, first + total)]


def run_with_backpressure(dut, inputs, n_outputs, seed, **kwargs):
    """``run_stream`` with input gaps and output stalls of probabilities drawn in [0.3, 0.5)."""
    rng = np.random.default_rng(seed + 1000)
    return run_stream(dut, inputs, n_outputs, seed=seed,
                      gap_prob=float(rng.uniform(0.3, 0.5)),
                      stall_prob=float(rng.uniform(0.3, 0.5)), **kwargs)


def run_streams_with_backpressure(dut, inputs, n_outputs, seed, **kwargs):
    """``run_streams`` with a gap probability per input and a stall probability per output,
    each drawn in [0.3, 0.5)."""
    rng = np.random.default_rng(seed + 1000)
    return run_streams(dut, inputs, n_outputs, seed=seed,
                       gap_prob=[float(rng.uniform(0.3, 0.5)) for _ in inputs],
                       stall_prob=[float(rng.uniform(0.3, 0.5)) for _ in n_outputs], **kwargs)


def assert_resources_near_yosys(dut, model, cache_dir, lut=0.2, ff=0.1):
    """The first-order ``model`` (a Resources) within ``lut`` and ``ff`` (relative) of Yosys'
    synth_xilinx count for ``dut``, and the same block RAMs and DSPs."""
    text = verilog.convert(dut, name="unit", emit_src=False)
    totals = synthesize(text, "unit", "xc7", cache_dir=cache_dir).totals()
    assert abs(model.lut - totals["lut"]) <= lut * totals["lut"], (model, totals)
    assert abs(model.ff - totals["ff"]) <= ff * totals["ff"], (model, totals)
    assert model.bram18 == totals["bram18"], (model, totals)
    assert model.dsp == totals["dsp"], (model, totals)


def assert_rejected(make, message):
    """``make()`` raises ValueError matching ``message``; the half-built component it leaves is
    not reported as unused."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match=message):
            make()
        gc.collect()


def random_thresholds(rng, acc, out_dtype, lo, hi):
    """Sorted thresholds per channel, mostly at or next to accumulator values that occur (so
    that equality and both sides of it are exercised), some anywhere in [lo - 2, hi + 2], and
    occasionally far outside (clamped by the hardware)."""
    channels, n = acc.shape[-1], n_thresholds(out_dtype)
    table = np.empty((channels, n), dtype=np.int64)
    for c in range(channels):
        near = rng.choice(acc[:, c], size=n) + rng.integers(-1, 2, size=n)
        anywhere = rng.integers(lo - 2, hi + 3, size=n)
        table[c] = np.sort(np.where(rng.random(n) < 0.75, near, anywhere))
    if rng.random() < 0.3:
        table[rng.integers(channels), 0] = -(1 << 40)
        table[rng.integers(channels), -1] = 1 << 40
    return table


def matrix_case(rng, unit, params_type, names, shape, **options):
    """A random matrix-unit case: (params, frames, unit, input words, expected output words).

    ``names``: (input, weight, output or None) datatype names; ``shape``: (nf, pe, sf, simd);
    ``options``: extra parameters of ``params_type`` (style, mode).
    """
    in_dtype, w_dtype = DataType.parse(str(names[0])), DataType.parse(str(names[1]))
    out_dtype = None if names[2] is None else DataType.parse(str(names[2]))
    nf, pe, sf, simd = shape
    vectors, frames = int(rng.integers(1, 4)), int(rng.integers(2, 4))
    params = params_type(sf * simd, nf * pe, pe, simd, in_dtype, w_dtype, vectors, out_dtype,
                         **options)
    weights = rng.choice(w_dtype.values(), size=(params.mh, params.mw))
    x = rng.choice(in_dtype.values(), size=(frames * vectors, params.mw))
    out = golden.matmul(x, weights)
    thresholds = None
    if out_dtype is not None:
        thresholds = random_thresholds(rng, out, out_dtype, params.acc_dtype.min,
                                       params.acc_dtype.max)
        out = golden.multithreshold(out, thresholds, out_dtype)
    dut = unit(params, weights, thresholds)
    return params, frames, dut, pack(x, in_dtype, simd), pack(out, params.output_dtype, pe)
