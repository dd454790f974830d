"""MatrixVectorUnit against the golden model (matmul, then multithreshold when fused)."""


import re

import numpy as np
import pytest
from amaranth.back import verilog

from hwgen.datatypes import BINARY, BIPOLAR, DataType
from hwgen.engines.mvau import MatrixVectorUnit, MVAUParams
from hwgen.simulation.streams import run_stream

from engine_cases import (IN_TYPES, OUT_TYPES, assert_rejected, matrix_case,
                          run_with_backpressure, seeds)

# First seeds: (in, weight, out, style, shape) corner cases; shape = (nf, pe, sf, simd) or None
# for random. pe=1 / simd=1 / pe=mh / simd=mw also come up in the random seeds.
CORNERS = [
    ("BIPOLAR", "BIPOLAR", None, None, (3, 2, 4, 3)),       # xnor, raw dot product
    ("BIPOLAR", "BIPOLAR", "BIPOLAR", None, (2, 3, 3, 5)),  # xnor, fused sign (w1a1)
    ("BIPOLAR", "BIPOLAR", "UINT2", "parallel", None),      # bipolar through multipliers
    ("BIPOLAR", "BIPOLAR", "INT4", None, (2, 2, 2, 8)),     # xnor, 15 thresholds
    ("UINT8", "BIPOLAR", "BIPOLAR", None, (2, 4, 3, 3)),    # CNV first layer, w1
    ("UINT8", "INT2", "UINT2", None, (2, 2, 3, 3)),         # CNV first layer, w2a2
    ("INT8", "INT8", None, None, (2, 2, 2, 4)),             # widest products
    ("BINARY", "INT4", None, None, (1, 3, 1, 6)),           # AND lanes, pe=mh, simd=mw
    ("UINT2", "INT2", "INT2", None, (4, 1, 4, 1)),          # pe=1, simd=1
    ("INT3", "UINT5", "UINT8", None, (1, 1, 2, 3)),         # 255 thresholds
    ("BIPOLAR", "BINARY", "INT3", None, (1, 2, 5, 1)),
    ("INT2", "BIPOLAR", None, None, (5, 1, 1, 7)),
    ("BIPOLAR", "BIPOLAR", "BIPOLAR", None, (8, 4, 8, 9)),    # weights in block RAM
    ("UINT2", "INT2", None, None, (8, 2, 8, 9)),
    ("BIPOLAR", "BIPOLAR", "BIPOLAR", None, (24, 4, 24, 9)),  # two banks of 512 x 36
    ("UINT4", "INT4", "INT8", None, (4, 2, 3, 4)),          # binary-search activation
    ("INT8", "INT2", "UINT8", None, (16, 2, 2, 4)),         # its last stages in block RAM
]
SEEDS = seeds(0, len(CORNERS) + 40, len(CORNERS) + 88)


def random_case(seed):
    """Parameters, weights, thresholds, inputs and expected output words for one seed."""
    rng = np.random.default_rng(seed)
    if seed < len(CORNERS):
        in_name, w_name, out_name, style, shape = CORNERS[seed]
    else:
        in_name, w_name = rng.choice(IN_TYPES, size=2)
        style, shape = None, None
        if rng.random() < 0.25:     # w1a1: xnor, sometimes through multipliers
            in_name = w_name = "BIPOLAR"
            style = "parallel" if rng.random() < 0.25 else None
        out_name = None if rng.random() < 0.4 else rng.choice(OUT_TYPES)
    if shape is None:
        shape = (int(rng.integers(1, 5)), int(rng.integers(1, 7)),
                 int(rng.integers(1, 6)), int(rng.choice([1, 2, 3, 4, 5, 7, 8, 16])))
    return matrix_case(rng, MatrixVectorUnit, MVAUParams, (in_name, w_name, out_name), shape,
                       style=style)


@pytest.mark.parametrize("seed", SEEDS)
def test_against_golden_with_gaps_and_stalls(seed):
    params, _, dut, inputs, expected = random_case(seed)
    assert run_with_backpressure(dut, inputs, len(expected), seed).outputs == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_cycles_and_latency_without_stalls(seed):
    assert_unstalled_schedule(*random_case(seed))


def assert_unstalled_schedule(params, frames, dut, inputs, expected):
    """Fed every cycle and never stalled, the engine performs one MAC step per cycle: output
    words exactly sf cycles apart (also across vectors and frames), so consecutive vectors
    exactly nf*sf = cycles()/vectors apart; tolerance 0, the pipeline has no bubbles. The first
    output word leaves exactly issue_delay + latency() cycles after the last input word of its
    vector."""
    run = run_stream(dut, inputs, len(expected))
    assert run.outputs == expected
    nf, sf = params.neuron_folds, params.synapse_folds
    assert np.diff(run.output_cycles).tolist() == [sf] * (len(expected) - 1)
    vector_starts = run.output_cycles[::nf]
    assert np.diff(vector_starts).tolist() == [params.cycles() // params.vectors] * \
        (frames * params.vectors - 1)
    assert run.output_cycles[0] == run.input_cycles[sf - 1] + params.issue_delay + \
        params.latency()


def test_style_defaults_and_acc_dtype():
    int8 = DataType.parse("INT8")
    assert MVAUParams(4, 2, 1, 1, BIPOLAR, BIPOLAR, 1).style == "xnor"
    assert MVAUParams(4, 2, 1, 1, BINARY, BIPOLAR, 1).style == "parallel"
    # 4 products of INT8 x INT8 lie in [4 * -128 * 127, 4 * 128 * 128] = [-65024, 65536].
    assert MVAUParams(4, 2, 1, 1, int8, int8, 1).acc_dtype == DataType.parse("INT18")
    assert MVAUParams(9, 2, 1, 1, BIPOLAR, BIPOLAR, 1).acc_dtype == DataType.parse("INT5")
    assert MVAUParams(7, 2, 1, 1, BINARY, DataType.parse("UINT2"), 1).acc_dtype == \
        DataType.parse("UINT5")


@pytest.mark.parametrize("pe, words", [(2, 9), (8, 0)])
def test_input_buffer_holds_two_vectors_and_a_word(pe, words):
    """The emitted input buffer is buffer_words x in_width, as buffer_bits() reports: two
    vectors of 4 words and a word with 4 neuron folds, none with one."""
    params = MVAUParams(12, 8, pe, 3, DataType.parse("UINT4"), DataType.parse("INT2"), 1)
    assert params.buffer_words == words
    assert params.buffer_bits() == {"vector_buffer": words * 12}
    text = verilog.convert(MatrixVectorUnit(params, np.zeros((8, 12), int)))
    memories = re.findall(r"reg \[(\d+):0\] memory \[(\d+):0\];", text)
    assert memories == ([("11", str(words - 1))] if words else [])


def test_resources_memories():
    """Weights go to block RAM when deep enough to fill it, small tables to LUTs; the input
    buffer exists only with several neuron folds; fused thresholds add comparators."""
    uint4, int2 = DataType.parse("UINT4"), DataType.parse("INT2")
    # 512 words of 4 x 32 BIPOLAR weights: four 512 x 36 block RAMs; the input buffer, 65
    # words of 32 inputs, a fifth.
    assert MVAUParams(1024, 64, 4, 32, BIPOLAR, BIPOLAR, 1).resources().bram18 == 5
    raw = MVAUParams(12, 8, 2, 3, uint4, int2, 1)
    one_fold = MVAUParams(12, 8, 8, 3, uint4, int2, 1)
    assert raw.resources().bram18 == one_fold.resources().bram18 == 0
    # The input buffer, two vectors of 4 words and a word, of 3 UINT4 inputs: two RAM32M (8
    # LUTs), its counters and addresses (40 LUTs, 20 flip-flops) and its read register.
    with_buffer, without = (p.storage_resources(2 * 3 * 2) for p in (raw, one_fold))
    assert (with_buffer.lut - without.lut, with_buffer.ff - without.ff) == (8 + 40, 20 + 12)
    fused = MVAUParams(12, 8, 2, 3, uint4, int2, 1, int2)
    assert fused.resources().lut > raw.resources().lut
    xnor = MVAUParams(64, 8, 2, 16, BIPOLAR, BIPOLAR, 1)
    assert xnor.resources().lut < MVAUParams(64, 8, 2, 16, BIPOLAR, BIPOLAR, 1,
                                             style="parallel").resources().lut
    assert all(v >= 0 for v in fused.resources().as_dict().values()) and fused.resources().dsp == 0


@pytest.mark.parametrize("make, message", [
    (lambda: MVAUParams(10, 4, 2, 3, BINARY, BINARY, 1), "multiple of simd"),
    (lambda: MVAUParams(9, 4, 3, 3, BINARY, BINARY, 1), "multiple of pe"),
    (lambda: MVAUParams(9, 4, 0, 3, BINARY, BINARY, 1), "pe must be a positive"),
    (lambda: MVAUParams(9, 4, 2, 3, BINARY, BINARY, 1.5), "vectors must be a positive"),
    (lambda: MVAUParams(9, 4, 2, 3, "INT2", BINARY, 1), "in_dtype must be a DataType"),
    (lambda: MVAUParams(9, 4, 2, 3, BINARY, BIPOLAR, 1, style="xnor"), "needs BIPOLAR"),
    (lambda: MVAUParams(9, 4, 2, 3, BIPOLAR, BIPOLAR, 1, style="dsp"), "style must be"),
    (lambda: MVAUParams(1 << 20, 4, 2, 1, DataType.parse("INT16"), DataType.parse("INT16"), 1),
     "more than 32 bits"),
    (lambda: MatrixVectorUnit(MVAUParams(4, 2, 1, 2, BINARY, BINARY, 1), np.ones((4, 2))),
     "shape"),
    (lambda: MatrixVectorUnit(MVAUParams(4, 2, 1, 2, BINARY, BINARY, 1), 2 * np.ones((2, 4))),
     "weights outside BINARY"),
    (lambda: MatrixVectorUnit(MVAUParams(4, 2, 1, 2, BINARY, BINARY, 1), np.ones((2, 4)),
                              np.zeros((2, 1))), "exactly when out_dtype"),
    (lambda: MatrixVectorUnit(MVAUParams(4, 2, 1, 2, BINARY, BINARY, 1, BINARY),
                              np.ones((2, 4)), np.zeros((2, 3))), r"shape \(2, 1\)"),
    (lambda: MatrixVectorUnit(MVAUParams(4, 2, 1, 2, BINARY, BINARY, 1, BINARY),
                              np.ones((2, 4)), np.full((2, 1), 0.5)), "integers"),
    (lambda: MatrixVectorUnit(MVAUParams(4, 2, 1, 2, BIPOLAR, BIPOLAR, 1, BINARY),
                              np.ones((2, 4)), np.full((2, 1), 0.5)), "integers"),
])
def test_invalid_parameters(make, message):
    assert_rejected(make, message)
