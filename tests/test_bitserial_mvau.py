"""BitSerialMatrixVectorUnit against the golden model (matmul, then multithreshold when fused)."""


import numpy as np
import pytest

from hwgen.datatypes import BINARY, BIPOLAR, DataType
from hwgen.engines.bitserial_mvau import BitSerialMatrixVectorUnit, BitSerialMVAUParams
from hwgen.simulation.streams import run_stream

from engine_cases import (IN_TYPES, OUT_TYPES, assert_rejected, matrix_case,
                          run_with_backpressure, seeds)

# First seeds: (in, weight, out, mode, shape) corner cases; shape = (nf, pe, sf, simd) or None
# for random. Random seeds cover the rest (pe=1, simd=1, pe=mh, simd=mw among them).
CORNERS = [
    ("BIPOLAR", "BIPOLAR", None, "both", (3, 2, 4, 3)),         # +-1 x +-1 lanes, raw
    ("BIPOLAR", "BIPOLAR", "BIPOLAR", "activations", (2, 3, 3, 5)),
    ("BIPOLAR", "INT3", "UINT2", "both", (2, 2, 2, 4)),         # BIPOLAR input, weight planes
    ("INT4", "BIPOLAR", None, "both", (2, 2, 3, 3)),            # BIPOLAR weights, input planes
    ("UINT8", "INT2", "UINT2", "both", (2, 2, 3, 3)),           # CNV first layer, w2a2
    ("UINT8", "INT2", "UINT2", "activations", (2, 2, 3, 3)),
    ("INT8", "INT8", None, "both", (2, 2, 2, 4)),               # 64 planes, both signed
    ("INT8", "INT8", "INT4", "activations", (1, 1, 1, 1)),      # pe=mh, simd=mw, one fold
    ("BINARY", "INT4", None, "both", (1, 3, 1, 6)),
    ("UINT2", "INT2", "INT2", "both", (4, 1, 4, 1)),            # pe=1, simd=1
    ("INT3", "UINT5", "UINT8", "both", (1, 1, 2, 3)),           # 255 thresholds
    ("UINT1", "UINT3", None, "activations", (1, 2, 1, 7)),      # one plane, one pass
    ("UINT2", "INT2", "UINT2", "activations", (8, 2, 8, 9)),    # weights in block RAM
    ("UINT2", "INT2", None, "activations", (24, 2, 24, 9)),     # two banks of 512 x 36
]
SEEDS = seeds(0, len(CORNERS) + 36, len(CORNERS) + 108)


def random_case(seed):
    """Parameters, the unit, inputs and expected output words for one seed."""
    rng = np.random.default_rng(seed)
    if seed < len(CORNERS):
        in_name, w_name, out_name, mode, shape = CORNERS[seed]
    else:
        in_name, w_name = rng.choice(IN_TYPES, size=2)
        mode, shape = str(rng.choice(["activations", "both"])), None
        out_name = None if rng.random() < 0.4 else rng.choice(OUT_TYPES)
    if shape is None:
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 5)),
                 int(rng.integers(1, 4)), int(rng.choice([1, 2, 3, 4, 8])))
    return matrix_case(rng, BitSerialMatrixVectorUnit, BitSerialMVAUParams,
                       (in_name, w_name, out_name), shape, mode=mode)


@pytest.mark.parametrize("seed", SEEDS)
def test_against_golden_with_gaps_and_stalls(seed):
    params, _, dut, inputs, expected = random_case(seed)
    run = run_with_backpressure(dut, inputs, len(expected), seed,
                                max_cycles=1000 + 4 * params.cycles() * 3)
    assert run.outputs == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_cycles_and_latency_without_stalls(seed):
    """Fed every cycle and never stalled, the unit performs one step per cycle: output words
    exactly planes*sf cycles apart (also across vectors and frames), so vectors exactly
    cycles()/vectors apart; the first output word leaves issue_delay + (planes - 1)*sf +
    latency() cycles after the last input word of its vector."""
    params, frames, dut, inputs, expected = random_case(seed)
    run = run_stream(dut, inputs, len(expected), max_cycles=1000 + 2 * params.cycles() * 3)
    assert run.outputs == expected
    nf, sf, planes = params.neuron_folds, params.synapse_folds, params.planes
    assert np.diff(run.output_cycles).tolist() == [planes * sf] * (len(expected) - 1)
    assert params.cycles() == params.vectors * nf * planes * sf
    vector_starts = run.output_cycles[::nf]
    assert np.diff(vector_starts).tolist() == [params.cycles() // params.vectors] * \
        (frames * params.vectors - 1)
    assert run.output_cycles[0] == run.input_cycles[sf - 1] + params.issue_delay + \
        (planes - 1) * sf + params.latency()


def test_planes_and_schedule():
    uint8, int2, int3 = (DataType.parse(n) for n in ("UINT8", "INT2", "INT3"))
    assert BitSerialMVAUParams(9, 4, 1, 3, uint8, int2, 1).planes == 8
    assert BitSerialMVAUParams(9, 4, 1, 3, uint8, int2, 1, mode="both").planes == 16
    assert BitSerialMVAUParams(9, 4, 1, 3, BIPOLAR, BIPOLAR, 1, mode="both").planes == 1
    # INT3 x INT2 both: significance 3, 2, 2, 1, 1, 0; the sign planes are w1 and x2.
    schedule = BitSerialMVAUParams(9, 4, 1, 3, int3, int2, 1, mode="both").schedule
    assert [(i, j) for i, j, _, _ in schedule] == [(1, 2), (0, 2), (1, 1), (0, 1), (1, 0),
                                                   (0, 0)]
    assert [n for _, _, n, _ in schedule] == [False, True, True, False, True, False]
    assert [d for _, _, _, d in schedule] == [False, True, False, True, False, True]


def test_resources_shrink_with_serialization():
    """Per PE x SIMD, bit-serial lanes are cheaper than bit-parallel multipliers."""
    from hwgen.engines.mvau import MVAUParams
    int4 = DataType.parse("INT4")
    shape = (256, 64, 4, 32, int4, int4, 1)
    parallel = MVAUParams(*shape).resources().lut
    serial = BitSerialMVAUParams(*shape).resources().lut
    both = BitSerialMVAUParams(*shape, mode="both").resources().lut
    assert both < serial < parallel
    # Weights: 128 words of 4 x 32 x 4 bits (activation planes) or 512 words of 4 x 32 bits
    # (both), in 512 x 36 block RAMs: 15 or 4 of them.
    assert BitSerialMVAUParams(*shape).resources().bram18 == 15
    assert BitSerialMVAUParams(*shape, mode="both").resources().bram18 == 4


@pytest.mark.parametrize("make, message", [
    (lambda: BitSerialMVAUParams(9, 4, 2, 3, BINARY, BINARY, 1, mode="weights"),
     "mode must be one of activations, both"),
    (lambda: BitSerialMVAUParams(10, 4, 2, 3, BINARY, BINARY, 1), "bitserial_mvau: mw"),
    (lambda: BitSerialMatrixVectorUnit(BitSerialMVAUParams(4, 2, 1, 2, BINARY, BINARY, 1),
                                       2 * np.ones((2, 4))), "weights outside BINARY"),
    (lambda: BitSerialMatrixVectorUnit(
        BitSerialMVAUParams(4, 2, 1, 2, BINARY, BINARY, 1, BINARY), np.ones((2, 4))),
     "exactly when out_dtype"),
])
def test_invalid_parameters(make, message):
    assert_rejected(make, message)
