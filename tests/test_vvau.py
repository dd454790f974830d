"""VectorVectorUnit against the golden model (depthwise_conv2d, then multithreshold when fused),
fed the depthwise window order that the sliding window and a width converter give it."""

import numpy as np
import pytest

from hwgen import golden
from hwgen.datatypes import BINARY, BIPOLAR, DataType, pack
from hwgen.engines.vvau import VectorVectorUnit, VVAUParams
from hwgen.simulation.streams import run_stream

from engine_cases import (IN_TYPES, OUT_TYPES, assert_rejected, random_thresholds,
                          run_with_backpressure, seeds)

# First seeds: (in, weight, out, kernel, (nf, pe, simd)) corner cases; None: random.
CORNERS = [
    ("UINT4", "INT4", None, (3, 3), (2, 2, 3)),         # raw, 3x3, SIMD 3
    ("UINT2", "INT2", "UINT2", (3, 3), (1, 4, 9)),      # fused, pe = channels, simd = k
    ("BIPOLAR", "BIPOLAR", None, (3, 3), (3, 2, 1)),    # xnor, raw dot product
    ("BIPOLAR", "BIPOLAR", "BIPOLAR", (2, 2), (2, 3, 2)),   # xnor, fused sign
    ("INT8", "BIPOLAR", "INT3", (3, 1), (2, 1, 3)),     # conditional negation, pe 1
    ("BINARY", "INT3", None, (1, 2), (4, 1, 1)),        # AND lanes, simd 1
    ("INT8", "INT8", None, (2, 3), (1, 2, 2)),          # widest products
    ("UINT3", "BINARY", "UINT3", (3, 3), (3, 2, 9)),
]
SEEDS = seeds(0, len(CORNERS) + 32, len(CORNERS) + 100)


def random_case(seed, **options):
    """(params, frames, unit, input words, expected output words) for one seed: frames of a
    random feature map, their windows at a random stride in the depthwise order. ``options``:
    extra parameters of VVAUParams (resource)."""
    rng = np.random.default_rng(seed)
    if seed < len(CORNERS):
        in_name, w_name, out_name, kernel, fold = CORNERS[seed]
    else:
        in_name, w_name = rng.choice(IN_TYPES, size=2)
        if rng.random() < 0.2:
            in_name = w_name = "BIPOLAR"
        out_name = None if rng.random() < 0.4 else rng.choice(OUT_TYPES)
        kernel = tuple(int(k) for k in rng.integers(1, 4, size=2))
        positions = kernel[0] * kernel[1]
        simd = int(rng.choice([d for d in range(1, positions + 1) if positions % d == 0]))
        fold = (int(rng.integers(1, 4)), int(rng.integers(1, 4)), simd)
    in_dtype, w_dtype = DataType.parse(str(in_name)), DataType.parse(str(w_name))
    out_dtype = None if out_name is None else DataType.parse(str(out_name))
    nf, pe, simd = fold
    channels = nf * pe
    stride = tuple(int(s) for s in rng.integers(1, 3, size=2))
    height, width = (k + int(rng.integers(0, 3)) for k in kernel)
    frames = int(rng.integers(2, 4))
    x = rng.choice(in_dtype.values(), size=(frames, height, width, channels))
    weights = rng.choice(w_dtype.values(), size=(channels, *kernel, 1))
    out = golden.depthwise_conv2d(x, weights, stride)
    pixels = out.shape[1] * out.shape[2]
    params = VVAUParams(kernel[0] * kernel[1], channels, pe, simd, in_dtype, w_dtype, pixels,
                        out_dtype, **options)
    thresholds = None
    if out_dtype is not None:
        flat = out.reshape(-1, channels)
        thresholds = random_thresholds(rng, flat, out_dtype, params.acc_dtype.min,
                                       params.acc_dtype.max)
        out = golden.multithreshold(out, thresholds, out_dtype)
    windows = golden.depthwise_windows(x, kernel, stride, pe)
    dut = VectorVectorUnit(params, weights.reshape(channels, -1), thresholds)
    return (params, frames, dut, pack(windows, in_dtype, pe * simd),
            pack(out, params.output_dtype, pe))


@pytest.mark.parametrize("seed", SEEDS)
def test_against_golden_with_gaps_and_stalls(seed):
    _, _, dut, inputs, expected = random_case(seed)
    assert run_with_backpressure(dut, inputs, len(expected), seed).outputs == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_cycles_and_latency_without_stalls(seed):
    """Fed every cycle and never stalled: one MAC step per cycle, so output words exactly
    k/simd cycles apart and cycles() = pixels * nf * k/simd per frame; the first output word
    leaves exactly latency() cycles after the input word that completes it."""
    params, frames, dut, inputs, expected = random_case(seed)
    run = run_stream(dut, inputs, len(expected))
    assert run.outputs == expected
    sf = params.synapse_folds
    assert np.diff(run.output_cycles).tolist() == [sf] * (len(expected) - 1)
    assert params.cycles() == params.vectors * params.neuron_folds * sf
    assert run.output_cycles[-1] - run.output_cycles[0] == frames * params.cycles() - sf
    assert run.output_cycles[0] == run.input_cycles[sf - 1] + params.latency()


def test_no_input_buffer_and_resources():
    """No buffer of stream data; the input word is pe x simd elements, and the lanes cost as
    many MVAU lanes."""
    uint4, int4 = DataType.parse("UINT4"), DataType.parse("INT4")
    params = VVAUParams(9, 16, 4, 3, uint4, int4, 64)
    assert params.buffer_bits() == {} and params.buffer_words == 0
    assert params.in_width == 4 * 3 * 4
    assert params.cycles() == 64 * 4 * 3
    cost = params.resources()
    assert cost.dsp == 0 and cost.lut > 12 * 4 * 4 // 2 and cost.bram18 == 0
    assert VVAUParams(9, 16, 8, 3, uint4, int4, 64).resources().lut > cost.lut


@pytest.mark.parametrize("make, message", [
    (lambda: VVAUParams(9, 4, 2, 2, BINARY, BINARY, 1), "vvau: mw .9. must be a multiple"),
    (lambda: VVAUParams(9, 4, 3, 3, BINARY, BINARY, 1), "vvau: mh .4. must be a multiple of pe"),
    (lambda: VVAUParams(9, 4, 2, 3, BINARY, BIPOLAR, 1, style="xnor"), "vvau: .*needs BIPOLAR"),
    (lambda: VectorVectorUnit(VVAUParams(4, 2, 1, 2, BINARY, BINARY, 1), np.ones((4, 2))),
     "shape"),
])
def test_invalid_parameters(make, message):
    assert_rejected(make, message)
