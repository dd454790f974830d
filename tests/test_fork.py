"""DuplicateStreams: every output gets every word, in order, whatever each output's stalls."""

import numpy as np
import pytest

from hwgen.engines.fork import DuplicateStreams, DuplicateStreamsParams
from hwgen.simulation.streams import run_streams

from engine_cases import (assert_rejected, assert_resources_near_yosys,
                          run_streams_with_backpressure)

# First seeds: (width, outputs) corners, then random ones.
CORNERS = [(1, 2), (8, 2), (37, 3), (64, 5), (3, 8)]
SEEDS = range(len(CORNERS) + 25)


def random_case(seed):
    """Parameters, frames and the input words of one seed."""
    rng = np.random.default_rng(seed)
    if seed < len(CORNERS):
        width, outputs = CORNERS[seed]
    else:
        width, outputs = int(rng.integers(1, 70)), int(rng.integers(2, 6))
    params = DuplicateStreamsParams(width, outputs, int(rng.integers(1, 30)))
    frames = int(rng.integers(2, 4))
    words = [int.from_bytes(rng.bytes(9), "little") & ((1 << width) - 1)
             for _ in range(params.words * frames)]
    return params, frames, words


@pytest.mark.parametrize("seed", SEEDS)
def test_every_output_gets_every_word_with_gaps_and_stalls(seed):
    params, _, words = random_case(seed)
    run = run_streams_with_backpressure(DuplicateStreams(params), [words],
                                        [len(words)] * params.outputs, seed)
    assert run.outputs == [words] * params.outputs


@pytest.mark.parametrize("stalls", [[0.9, 0.0], [0.0, 0.0, 0.95], [0.5, 0.9, 0.0, 0.2]])
def test_outputs_stall_independently(stalls):
    """One output nearly always stalled holds the others back, loses nothing, and they all
    get the words in order."""
    params = DuplicateStreamsParams(6, len(stalls), 40)
    words = [(n * 7) % 64 for n in range(params.words)]
    run = run_streams(DuplicateStreams(params), [words], [len(words)] * len(stalls),
                      stall_prob=stalls, seed=len(stalls))
    assert run.outputs == [words] * len(stalls)


@pytest.mark.parametrize("seed", SEEDS)
def test_cycles_and_latency_without_stalls(seed):
    """Fed every cycle and never stalled: a word per cycle (tolerance 0), each on every output
    exactly latency() cycles after its input transfer."""
    params, frames, words = random_case(seed)
    run = run_streams(DuplicateStreams(params), [words], [len(words)] * params.outputs)
    assert np.diff(run.input_cycles[0]).tolist() == [1] * (len(words) - 1)
    for cycles in run.output_cycles:
        assert [o - i for i, o in zip(run.input_cycles[0], cycles)] == \
            [params.latency()] * len(words)
    assert run.input_cycles[0][-1] - run.input_cycles[0][0] + 1 == frames * params.cycles()


def test_resources():
    small = DuplicateStreamsParams(8, 2, 1).resources()
    assert small.bram18 == 0 and small.lut > 0
    assert DuplicateStreamsParams(8, 3, 1).resources().lut > small.lut
    assert DuplicateStreamsParams(32, 2, 1).resources().lut > small.lut



def test_resources_near_yosys(tmp_path):
    params = DuplicateStreamsParams(64, 2, 1024)
    assert_resources_near_yosys(DuplicateStreams(params), params.resources(), tmp_path)


@pytest.mark.parametrize("make, message", [
    (lambda: DuplicateStreamsParams(8, 1, 4), "duplicate streams: outputs must be at least 2"),
    (lambda: DuplicateStreamsParams(0, 2, 4), "duplicate streams: width must be a positive"),
    (lambda: DuplicateStreamsParams(8, 2, 0), "words must be a positive"),
    (lambda: DuplicateStreamsParams(8, True, 4), "outputs must be a positive"),
])
def test_invalid_parameters(make, message):
    assert_rejected(make, message)
