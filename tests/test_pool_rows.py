"""RowPool (pooling with kernel == stride, max or sum) against hwgen.golden.maxpool and
hwgen.golden.sum_pool, with gaps and stalls, and its cycle, latency and resource models."""

import numpy as np
import pytest

from hwgen import golden
from hwgen.compiler.latency import schedule
from hwgen.compiler.lowering import Node, Port, Stream
from hwgen.datatypes import BINARY, BIPOLAR, DataType, pack
from hwgen.engines.pool_rows import RowPool, RowPoolParams
from hwgen.engines.pool_windows import WindowPool, WindowPoolParams
from hwgen.engines.reduction import pooled_dtype
from hwgen.simulation.streams import run_stream

from engine_cases import (assert_rejected, assert_resources_near_yosys, run_with_backpressure,
                          seeds)

DTYPES = ["BINARY", "BIPOLAR", "UINT1", "UINT2", "UINT3", "UINT6", "UINT8",
          "INT2", "INT3", "INT4", "INT5", "INT8"]
OPS = ["max", "sum"]
GOLDEN = {"max": golden.maxpool, "sum": golden.sum_pool}


def random_params(rng):
    """Kernel 1..4 per axis (rectangular), sometimes the whole width, sometimes the whole input
    (global pooling); input of 1..3 windows per axis plus 0..k-1 trailing pixels; 1..3 PE lanes
    and 1..3 folds; max or sum."""
    kh, kw = (int(k) for k in rng.integers(1, 5, size=2))
    height = kh * int(rng.integers(1, 4)) + int(rng.integers(0, kh))
    width = kw * int(rng.integers(1, 4)) + int(rng.integers(0, kw))
    shape = rng.random()
    if shape < 0.2:
        kw = width
    elif shape < 0.3:
        kh, kw = height, width
    pe = int(rng.integers(1, 4))
    return RowPoolParams(height, width, pe * int(rng.integers(1, 4)), (kh, kw), pe,
                         DataType.parse(str(rng.choice(DTYPES))), str(rng.choice(OPS)))


def frames_and_expected(params, frames, rng):
    """Random input frames as words (now and then the first two frames all the largest value,
    then all the smallest: where a narrow sum would wrap), and the golden model's output
    words."""
    x = rng.choice(params.dtype.values(),
                   size=(frames, params.height, params.width, params.channels))
    if frames > 1 and rng.random() < 0.3:
        x[0], x[1] = params.dtype.max, params.dtype.min
    expected = GOLDEN[params.op](x, params.kernel, params.kernel)
    return pack(x, params.dtype, params.pe), pack(expected, params.out_dtype, params.pe)


@pytest.mark.parametrize("seed", seeds(0, 30, 150))
def test_matches_golden_with_gaps_and_stalls(seed):
    rng = np.random.default_rng(seed)
    params = random_params(rng)
    inputs, expected = frames_and_expected(params, 3, rng)
    run = run_with_backpressure(RowPool(params), inputs, len(expected), seed)
    assert run.outputs == expected, params


@pytest.mark.parametrize("seed", seeds(200, 20, 100))
def test_cycles_and_latency_without_stalls(seed):
    """A word per cycle, frames back to back: frames 1 to 3 take exactly cycles() each, and
    the first output word comes exactly latency() cycles after the first input word."""
    rng = np.random.default_rng(seed)
    params = random_params(rng)
    inputs, expected = frames_and_expected(params, 4, rng)
    run = run_stream(RowPool(params), inputs, len(expected))
    assert run.outputs == expected, params
    measured = np.diff(run.output_cycles[::params.out_words]).tolist()
    assert measured == [params.cycles()] * 3, params
    assert run.output_cycles[0] - run.input_cycles[0] == params.latency(), params


@pytest.mark.parametrize("seed", seeds(400, 10, 50))
def test_timed_replay_with_input_gaps(seed):
    """The compiler's timed replay of a "row_pool" node (:func:`hwgen.compiler.latency.schedule`)
    gives, from the cycles the input words were taken, exactly the cycles the output words
    left, under random input gaps (and no output stalls, which the replay leaves out)."""
    rng = np.random.default_rng(seed)
    params = random_params(rng)
    inputs, expected = frames_and_expected(params, 1, rng)
    run = run_stream(RowPool(params), inputs, len(expected), seed=seed,
                     gap_prob=float(rng.uniform(0.2, 0.6)))
    source = Stream(params.pe, params.dtype, params.in_words * params.pe)
    node = Node("pool", "row_pool", "pool", params, [Port(None, 0, source)],
                Stream(params.pe, params.out_dtype, params.out_words * params.pe))
    times = schedule([node], np.array(run.input_cycles, dtype=np.float64))
    assert times["pool"].tolist() == list(run.output_cycles), params


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape", [
    # height, width, channels, kernel, pe
    (5, 7, 4, (2, 3), 2),      # rectangular, trailing row and column
    (4, 6, 3, (1, 1), 3),      # 1x1: every word its own result, no memory
    (6, 5, 2, (3, 5), 1),      # the kernel as wide as the input: one window per row
    (3, 3, 2, (3, 3), 1),      # one window per frame, one fold: every word in one slot
    (7, 4, 6, (2, 1), 2),      # a column of two pixels, trailing row
    (2, 9, 2, (2, 4), 2),      # one fold of pe lanes, trailing column
    (8, 8, 64, (8, 8), 4),     # ResNet-8's global pool: 16 folds in LUT RAM
    (1, 3, 256, (1, 3), 2),    # 128 folds: partials in block RAM, three words apart
])
def test_edge_shapes(shape, op):
    height, width, channels, kernel, pe = shape
    params = RowPoolParams(height, width, channels, kernel, pe, DataType.parse("INT4"), op)
    rng = np.random.default_rng(sum(shape[:3]))
    inputs, expected = frames_and_expected(params, 3, rng)
    assert run_with_backpressure(RowPool(params), inputs, len(expected), 7).outputs == \
        expected
    run = run_stream(RowPool(params), inputs, len(expected))
    assert run.outputs == expected
    assert run.output_cycles[0] - run.input_cycles[0] == params.latency()


@pytest.mark.parametrize("shape", [
    # height, width, channels, kernel, pe: partials in block RAM, the words of a slot ...
    (2, 512, 2, (2, 2), 2),    # ... 1 word apart: results forwarded from 1 and 2 cycles back
    (3, 513, 1, (1, 2), 1),    # ... 1 word apart, along a row only
    (2, 256, 4, (2, 2), 2),    # ... 2 words apart: forwarded from 2 cycles back
    (3, 385, 6, (3, 3), 2),    # ... 3 words apart: no forwarding
])
def test_partials_in_block_ram(shape):
    """The partials' read data registered before the comparators (latency 2), and the results
    the reads miss forwarded: golden-exact under backpressure, and a word per cycle with the
    latency modelled without it."""
    params = RowPoolParams(*shape, DataType.parse("UINT8"), "sum" if shape[1] % 2 else "max")
    assert params.reduction.in_block_ram and params.reduction.latency == 2
    rng = np.random.default_rng(shape[1])
    inputs, expected = frames_and_expected(params, 2, rng)
    assert run_with_backpressure(RowPool(params), inputs, len(expected), 3).outputs == \
        expected
    run = run_stream(RowPool(params), inputs, len(expected))
    assert run.outputs == expected
    assert np.diff(run.output_cycles[::params.out_words]).tolist() == [params.cycles()]
    assert run.output_cycles[0] - run.input_cycles[0] == params.latency()


@pytest.mark.parametrize("engine, make_params", [
    (RowPool, lambda dtype: RowPoolParams(2, 2, 1, 2, 1, dtype)),
    (WindowPool, lambda dtype: WindowPoolParams(2, 2, 1, (2, 2), (1, 1), 1, dtype)),
])
def test_signed_and_bipolar_comparison(engine, make_params):
    """The comparison of the stage both pools share (reduction.element_max): INT compares
    signed (-1 > -4, code 0b1111 > 0b1100 but 0b0001 > 0b1111), BIPOLAR is the OR of codes,
    UINT unsigned."""
    for name, values, expected in [("INT4", [-1, 1, -8, -4], 1), ("INT4", [-8, -3, -5, -4], -3),
                                   ("BIPOLAR", [-1, -1, 1, -1], 1),
                                   ("BIPOLAR", [-1, -1, -1, -1], -1),
                                   ("UINT4", [15, 1, 8, 0], 15)]:
        params = make_params(DataType.parse(name))
        x = np.array(values).reshape(1, 2, 2, 1)
        run = run_stream(engine(params), pack(x, params.dtype, 1), 1)
        assert run.outputs == pack([expected], params.dtype, 1)


def test_buffer_is_a_row_of_partial_results():
    """CNV's first pool (28 x 28 x 64, 2x2, 32 channels per word): 28 words of partial maxima
    where the sliding window's line buffer holds 117; none for a 1x1 kernel; sums as wide as
    their datatype."""
    params = RowPoolParams(28, 28, 64, 2, 32, BIPOLAR)
    assert params.buffer_bits() == {"partial_results": 28 * 32}
    assert WindowPoolParams(28, 28, 64, 2, 2, 32, BIPOLAR).window.depth == 117
    assert RowPoolParams(28, 28, 64, 1, 32, BIPOLAR).buffer_bits() == {"partial_results": 0}
    sums = RowPoolParams(28, 28, 64, 2, 32, BIPOLAR, "sum")      # -4 .. 4: INT4
    assert sums.buffer_bits() == {"partial_results": 28 * 32 * 4}


def test_sum_datatypes():
    uint4, int8 = DataType.parse("UINT4"), DataType.parse("INT8")
    assert pooled_dtype(uint4, 64) == DataType.parse("UINT10")     # 0 .. 960
    assert pooled_dtype(int8, 64) == DataType.parse("INT14")       # -8192 .. 8128
    assert pooled_dtype(BIPOLAR, 3) == DataType.parse("INT3")      # -3 .. 3
    assert pooled_dtype(BINARY, 1) == DataType.parse("UINT1")
    resnet8 = RowPoolParams(8, 8, 64, 8, 4, uint4, "sum")
    assert resnet8.out_dtype == DataType.parse("UINT10") and resnet8.cycles() == 1024
    assert resnet8.out_bits == 40 and not resnet8.reduction.in_block_ram


@pytest.mark.parametrize("shape", [
    (28, 28, 64, 2, 32, "BIPOLAR", "max"),      # CNV-w1a1's first pool
    (8, 8, 64, 8, 4, "UINT4", "sum"),           # ResNet-8's global pool, sums in LUT RAM
    # one fold: a transparent read of the partials
    pytest.param((9, 9, 8, 3, 8, "UINT8", "max"), marks=pytest.mark.slow),
    pytest.param((25, 5, 64, (25, 5), 1, "UINT4", "sum"), marks=pytest.mark.slow),   # DS-CNN
    # partials in block RAM, results forwarded
    pytest.param((2, 512, 2, 2, 2, "UINT8", "max"), marks=pytest.mark.slow),
    pytest.param((2, 512, 2, 2, 2, "INT8", "sum"), marks=pytest.mark.slow),
])
def test_resources_near_yosys(shape, tmp_path):
    params = RowPoolParams(*shape[:5], DataType.parse(shape[5]), shape[6])
    assert_resources_near_yosys(RowPool(params), params.resources(), tmp_path)


@pytest.mark.parametrize("kwargs, message", [
    (dict(channels=6, pe=4), "multiple of pe"),
    (dict(pe=0), "pe"),
    (dict(height=0), "height"),
    (dict(kernel=(2, 5)), "does not fit"),
    (dict(kernel=(2, 0)), "kernel"),
    (dict(dtype="INT2"), "DataType"),
    (dict(op="mean"), "op must be one of max, sum"),
    (dict(dtype=DataType.parse("INT31"), op="sum"), "too wide"),
])
def test_rejects_bad_params(kwargs, message):
    fields = dict(height=4, width=4, channels=4, kernel=(2, 2), pe=2,
                  dtype=DataType.parse("INT4"))
    fields.update(kwargs)
    assert_rejected(lambda: RowPoolParams(**fields), message)
