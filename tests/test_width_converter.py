"""WidthConverter against exact expectations: repacking the same elements into other words."""

import math

import numpy as np
import pytest

from hwgen.datatypes import DataType, pack
from hwgen.engines.width_converter import WidthConverter, WidthConverterParams
from hwgen.simulation.streams import run_stream

# Coprime, dividing, equal and extreme pairs, then random ones.
PAIRS = [(3, 2), (2, 3), (4, 6), (6, 4), (1, 8), (8, 1), (5, 3), (3, 5), (2, 2), (1, 1),
         (7, 1), (1, 7), (4, 2), (2, 4), (6, 9)]
SEEDS = range(len(PAIRS) + 45)


def random_case(seed):
    """A parameter set, 3-5 frames of random elements, and the expected input/output words."""
    rng = np.random.default_rng(seed)
    if seed < len(PAIRS):
        in_elems, out_elems = PAIRS[seed]
    else:
        in_elems, out_elems = (int(v) for v in rng.integers(1, 9, size=2))
    dtype = DataType("UINT", int(rng.integers(1, 9)))
    lcm = math.lcm(in_elems, out_elems)
    frame_elems = lcm * int(rng.integers(1, max(2, 96 // lcm) + 1))
    params = WidthConverterParams(in_elems, out_elems, dtype.bits, frame_elems)
    frames = int(rng.integers(3, 6))
    values = rng.integers(dtype.min, dtype.max + 1, size=frames * frame_elems)
    return params, frames, pack(values, dtype, in_elems), pack(values, dtype, out_elems)


@pytest.mark.parametrize("seed", SEEDS)
def test_against_repacking_with_gaps_and_stalls(seed):
    params, _, inputs, expected = random_case(seed)
    rng = np.random.default_rng(seed + 1000)
    run = run_stream(WidthConverter(params), inputs, len(expected), seed=seed,
                     gap_prob=float(rng.uniform(0.3, 0.5)),
                     stall_prob=float(rng.uniform(0.3, 0.5)))
    assert run.outputs == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_cycles_and_latency_without_stalls(seed):
    """Fed every cycle and never stalled, frames must follow each other exactly cycles() apart
    (tolerance 0: the narrow side moves one word every cycle, so the model is exact), and the
    first output must leave latency() cycles after the input that completes it."""
    params, frames, inputs, expected = random_case(seed)
    run = run_stream(WidthConverter(params), inputs, len(expected))
    assert run.outputs == expected
    per_frame = len(expected) // frames
    frame_ends = [run.output_cycles[(f + 1) * per_frame - 1] for f in range(frames)]
    assert np.diff(frame_ends).tolist() == [params.cycles()] * (frames - 1)
    first_stage_out = params.stages[0][1]
    completing = max(1, first_stage_out // params.in_elems) - 1
    assert run.output_cycles[0] == run.input_cycles[completing] + params.latency()


def test_stages():
    assert WidthConverterParams(3, 2, 4, 12).stages == [(3, 6), (6, 2)]
    assert WidthConverterParams(8, 2, 4, 8).stages == [(8, 2)]
    assert WidthConverterParams(2, 8, 4, 8).stages == [(2, 8)]
    assert WidthConverterParams(3, 2, 4, 12).cycles() == 6
    assert WidthConverterParams(4, 6, 1, 24).cycles() == 6


@pytest.mark.parametrize("fields, message", [
    ((0, 2, 4, 8), "in_elems"),
    ((2, 2, 0, 8), "elem_bits"),
    ((3, 2, 4, 8), "multiple of in_elems"),
    ((2, 3, 4, 8), "multiple of out_elems"),
    ((2, 2.0, 4, 8), "out_elems"),
])
def test_invalid_params(fields, message):
    with pytest.raises(ValueError, match=message):
        WidthConverterParams(*fields)
