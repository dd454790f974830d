"""Pad against hwgen.golden.pad and its cycle model."""

import numpy as np
import pytest

from hwgen import golden
from hwgen.datatypes import DataType, pack
from hwgen.engines.pad import Pad, PadParams
from hwgen.simulation.streams import run_stream

from engine_cases import seeds

DTYPES = ["BINARY", "UINT1", "UINT2", "UINT4", "UINT8", "INT2", "INT3", "INT5", "INT8"]


def random_params(rng):
    simd = int(rng.integers(1, 4))
    return PadParams(
        height=int(rng.integers(1, 6)), width=int(rng.integers(1, 6)),
        channels=simd * int(rng.integers(1, 4)),
        pads=tuple(int(v) for v in rng.integers(0, 4, size=4)),
        simd=simd, dtype=DataType.parse(str(rng.choice(DTYPES))))


def run_frames(params, frames, rng, **kwargs):
    """Stream random frames through Pad; the full output must equal the golden model's."""
    x = rng.choice(params.dtype.values(),
                   size=(frames, params.height, params.width, params.channels))
    expected = pack(golden.pad(x, params.pads), params.dtype, params.simd)
    run = run_stream(Pad(params), pack(x, params.dtype, params.simd), len(expected), **kwargs)
    assert run.outputs == expected
    return run


@pytest.mark.parametrize("seed", seeds(0, 16, 40))
def test_matches_golden_with_gaps_and_stalls(seed):
    rng = np.random.default_rng(seed)
    run_frames(random_params(rng), 3, rng, gap_prob=float(rng.uniform(0.3, 0.5)),
               stall_prob=float(rng.uniform(0.3, 0.5)), seed=seed)


@pytest.mark.parametrize("seed", seeds(100, 12, 30))
def test_cycles_without_stalls(seed):
    """One output word per cycle, so every frame (the first included) takes exactly cycles();
    the first interior word leaves exactly latency() cycles after it arrived."""
    rng = np.random.default_rng(seed)
    params = random_params(rng)
    run = run_frames(params, 3, rng)
    starts = run.output_cycles[::params.out_words] + [run.cycles]
    assert np.diff(starts).tolist() == [params.cycles()] * 3
    top, _, left, _ = params.pads
    first_interior = (top * params.out_width + left) * params.folds
    assert (run.output_cycles[first_interior] - run.input_cycles[0]) == params.latency()


def test_no_output_before_a_frame_starts():
    """The leading border of a frame waits for the frame's first input word."""
    params = PadParams(2, 2, 1, (2, 1, 1, 1), 1, DataType.parse("UINT2"))
    run = run_stream(Pad(params), [], 0, drain_cycles=40)
    assert run.outputs == []


@pytest.mark.parametrize("kwargs, message", [
    (dict(dtype=DataType.parse("BIPOLAR")), "BIPOLAR"),
    (dict(pads=(1, 1, 1)), "pads"),
    (dict(pads=(1, -1, 0, 0)), "pads"),
    (dict(channels=3, simd=2), "multiple of simd"),
    (dict(width=0), "width"),
])
def test_rejects_bad_params(kwargs, message):
    fields = dict(height=3, width=3, channels=2, pads=(1, 1, 1, 1), simd=1,
                  dtype=DataType.parse("INT4"))
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        PadParams(**fields)
