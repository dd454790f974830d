"""Subsample against hwgen.golden.sliding_window with a 1x1 kernel, its cycle, latency and
resource models, and its Verilog in Verilator's lint."""

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen import golden
from hwgen.datatypes import DataType, pack
from hwgen.engines.mvau import MatrixVectorUnit, MVAUParams
from hwgen.engines.sliding_window import SlidingWindowParams
from hwgen.engines.subsample import Subsample, SubsampleParams
from hwgen.simulation.streams import run_stream
from hwgen.simulation.verilator import lint

from engine_cases import (IN_TYPES, assert_rejected, assert_resources_near_yosys,
                          run_with_backpressure, seeds)


def random_params(rng):
    """Input 1..9 pixels a side (so that a stride of 1..3 divides it or not, or exceeds it),
    stride 1..3 each way, 1..3 SIMD lanes and 1..3 folds, any input datatype."""
    simd = int(rng.integers(1, 4))
    return SubsampleParams(
        height=int(rng.integers(1, 10)), width=int(rng.integers(1, 10)),
        channels=simd * int(rng.integers(1, 4)),
        stride=tuple(int(s) for s in rng.integers(1, 4, size=2)),
        simd=simd, dtype=DataType.parse(str(rng.choice(IN_TYPES))))


def case(params, frames, rng):
    """(input words, expected output words) of ``frames`` random frames: the golden model's
    1x1 sliding window."""
    x = rng.choice(params.dtype.values(),
                   size=(frames, params.height, params.width, params.channels))
    expected = golden.sliding_window(x, (1, 1), params.stride)
    assert expected.shape[1:3] == (params.out_height, params.out_width)
    return pack(x, params.dtype, params.simd), pack(expected, params.dtype, params.simd)


@pytest.mark.parametrize("seed", seeds(0, 10, 30))
def test_matches_golden_with_gaps_and_stalls(seed):
    rng = np.random.default_rng(seed)
    params = random_params(rng)
    words, expected = case(params, 3, rng)
    run = run_with_backpressure(Subsample(params), words, len(expected), seed)
    assert run.outputs == expected


@pytest.mark.parametrize("seed", seeds(100, 6, 20))
def test_cycles_and_latency_without_stalls(seed):
    """Fed every cycle and never stalled: an input word every cycle, so every frame takes
    exactly cycles() (tolerance 0), and each kept word leaves exactly latency() cycles after its
    input transfer."""
    rng = np.random.default_rng(seed)
    params, frames = random_params(rng), 3
    words, expected = case(params, frames, rng)
    run = run_stream(Subsample(params), words, len(expected))
    assert run.outputs == expected
    assert np.diff(run.input_cycles).tolist() == [1] * (len(words) - 1)
    assert run.input_cycles[-1] - run.input_cycles[0] + 1 == frames * params.cycles()
    kept = (np.arange(frames)[:, None] * params.in_words + params.kept_words()).ravel()
    assert len(kept) == len(expected)
    arrivals = np.asarray(run.input_cycles)[kept]
    assert (np.asarray(run.output_cycles) - arrivals).tolist() == \
        [params.latency()] * len(expected)


def test_replaces_a_one_by_one_sliding_window():
    """A ResNet shortcut's input (32x32x64, SIMD 4, stride 2): the sliding window with a 1x1
    kernel is as fast (both take an input word per cycle), but its line buffer takes a block
    RAM and its reads three cycles more."""
    int4 = DataType.parse("INT4")
    params = SubsampleParams(32, 32, 64, (2, 2), 4, int4)
    window = SlidingWindowParams(32, 32, 64, (1, 1), (2, 2), 4, int4)
    assert params.cycles() == window.cycles() == params.in_words
    assert (params.resources().bram18, window.resources().bram18) == (0, 1)
    assert window.latency() - params.latency() == 3


class Chain(wiring.Component):
    """``engines`` connected one after the other."""

    def __init__(self, *engines):
        self.engines = engines
        super().__init__({
            "i": In(stream.Signature(unsigned(len(engines[0].i.payload)))),
            "o": Out(stream.Signature(unsigned(len(engines[-1].o.payload))))})

    def elaborate(self, platform):
        m = Module()
        for k, engine in enumerate(self.engines):
            m.submodules[f"engine{k}"] = engine
        for a, b in zip(self.engines, self.engines[1:]):
            wiring.connect(m, a.o, b.i)
        wiring.connect(m, wiring.flipped(self.i), self.engines[0].i)
        wiring.connect(m, self.engines[-1].o, wiring.flipped(self.o))
        return m


@pytest.mark.parametrize("seed", seeds(200, 4, 8))
def test_one_by_one_convolution_without_a_sliding_window(seed):
    """A 1x1 convolution lowered without a sliding window: Subsample then the MVAU (stride
    other than 1x1), or the MVAU reading the pixels directly (stride 1x1), with the MVAU's
    parameters of the sliding window path (``mw`` = input channels, a vector per output pixel),
    is exactly golden.conv2d, with gaps and stalls."""
    rng = np.random.default_rng(seed)
    params = random_params(rng)
    if seed % 4 == 0:
        params = SubsampleParams(params.height, params.width, params.channels, 1, params.simd,
                                 params.dtype)
    w_dtype = DataType.parse(str(rng.choice(["BIPOLAR", "INT2", "UINT3", "INT4"])))
    pe = int(rng.integers(1, 3))
    mh = pe * int(rng.integers(1, 4))
    weights = rng.choice(w_dtype.values(), size=(mh, 1, 1, params.channels))
    mvau = MVAUParams(params.channels, mh, pe, params.simd, params.dtype, w_dtype,
                      params.out_height * params.out_width)
    frames = 2
    x = rng.choice(params.dtype.values(),
                   size=(frames, params.height, params.width, params.channels))
    expected = pack(golden.conv2d(x, weights, params.stride), mvau.output_dtype, pe)
    unit = MatrixVectorUnit(mvau, weights.reshape(mh, params.channels))
    dut = unit if params.stride == (1, 1) else Chain(Subsample(params), unit)
    run = run_with_backpressure(dut, pack(x, params.dtype, params.simd), len(expected), seed)
    assert run.outputs == expected


@pytest.mark.parametrize("height, width, channels, stride, simd, name", [
    (16, 16, 32, (2, 2), 8, "BIPOLAR"),
    (15, 9, 12, (3, 2), 12, "UINT2"),
    # About 11 s of Yosys each:
    pytest.param(32, 32, 64, (2, 2), 4, "INT4", marks=pytest.mark.slow),
    pytest.param(8, 8, 16, (1, 1), 16, "INT8", marks=pytest.mark.slow),
    pytest.param(224, 224, 64, (2, 2), 32, "INT8", marks=pytest.mark.slow),
])
def test_resources_near_yosys(height, width, channels, stride, simd, name, tmp_path):
    params = SubsampleParams(height, width, channels, stride, simd, DataType.parse(name))
    assert_resources_near_yosys(Subsample(params), params.resources(), tmp_path)


def test_verilog_lints_clean(tmp_path):
    """Verilator (which ``hwgen sim`` runs) has nothing to say about the emitted Verilog, with
    a stride that does not divide the input and one of 1 (a phase counter of one value)."""
    for stride in [(2, 3), (1, 2)]:
        params = SubsampleParams(7, 5, 6, stride, 2, DataType.parse("INT3"))
        path = tmp_path / "subsample.v"
        path.write_text(verilog.convert(Subsample(params), name="subsample", emit_src=False))
        assert lint(path, "subsample") == "", stride


@pytest.mark.parametrize("kwargs, message", [
    (dict(channels=3, simd=2), "multiple of simd"),
    (dict(stride=0), "stride"),
    (dict(stride=(1, 2, 3)), "stride"),
    (dict(width=0), "width"),
    (dict(simd=True), "simd"),
    (dict(dtype="INT2"), "DataType"),
])
def test_rejects_bad_params(kwargs, message):
    fields = dict(height=4, width=4, channels=4, stride=(2, 2), simd=2,
                  dtype=DataType.parse("INT4"))
    fields.update(kwargs)
    assert_rejected(lambda: SubsampleParams(**fields), message)
