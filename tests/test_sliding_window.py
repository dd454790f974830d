"""SlidingWindow against hwgen.golden.sliding_window, its cycle model and its buffer size."""

import re
from dataclasses import replace

import numpy as np
import pytest
from amaranth.back import verilog

from hwgen import golden
from hwgen.datatypes import DataType, pack
from hwgen.engines.credits import credits_for
from hwgen.engines.sliding_window import READ_DELAY, SlidingWindow, SlidingWindowParams
from hwgen.simulation.streams import run_stream

from engine_cases import seeds

DTYPES = ["BINARY", "BIPOLAR", "UINT1", "UINT2", "UINT3", "UINT5", "UINT8",
          "INT2", "INT3", "INT4", "INT6", "INT8"]


def random_params(rng, max_extra=4, max_folds=3, depthwise=False):
    """Kernel 1..4 (non-square), stride 1..3, input from the kernel size up, 1..3 SIMD lanes,
    with or without the lookahead (three times in four; always in the depthwise order, which
    needs it); in the depthwise order, any divisor of the kernel's width as positions per
    word."""
    kh, kw = (int(k) for k in rng.integers(1, 5, size=2))
    simd = int(rng.integers(1, 4))
    lookahead = bool(rng.random() < 0.75)
    positions = int(rng.choice([q for q in range(1, kw + 1) if kw % q == 0])) if depthwise else 1
    return SlidingWindowParams(
        height=kh + int(rng.integers(0, max_extra + 1)),
        width=kw + int(rng.integers(0, max_extra + 1)),
        channels=simd * int(rng.integers(1, max_folds + 1)),
        kernel=(kh, kw), stride=tuple(int(s) for s in rng.integers(1, 4, size=2)),
        simd=simd, dtype=DataType.parse(str(rng.choice(DTYPES))),
        lookahead=lookahead or depthwise, depthwise=depthwise, positions=positions)


def run_frames(params, frames, rng, **kwargs):
    """Stream random frames through the engine; the full output must equal the golden model's."""
    x = rng.choice(params.dtype.values(),
                   size=(frames, params.height, params.width, params.channels))
    expected = pack(windows(params, x), params.dtype, params.positions * params.simd)
    run = run_stream(SlidingWindow(params), pack(x, params.dtype, params.simd), len(expected),
                     **kwargs)
    assert run.outputs == expected
    return run


def windows(params, x):
    """The golden windows of ``x`` in the engine's order."""
    if params.depthwise:
        return golden.depthwise_windows(x, params.kernel, params.stride, params.simd)
    return golden.sliding_window(x, params.kernel, params.stride)


def frame_periods(output_cycles, out_words):
    """Cycles between the first output words of consecutive frames."""
    return np.diff(output_cycles[::out_words]).tolist()


def replay(params, frames):
    """Cycle-by-cycle replay of the engine's two gating rules, input always valid and output
    always ready: word w may be written when w < free + depth (free: the oldest word any
    remaining read needs; in the depthwise order, before a window's last fold, bounded by the
    window's first word plus the read's fold), and a word may be read once written (with
    several positions per read, its newest). Returns the frame periods."""
    h, w, folds, q = params.height, params.width, params.folds, params.positions
    frame = params.in_words
    index = np.arange(frame).reshape(1, h, w, folds)
    words = windows(replace(params, simd=1), index)      # a word per "channel"
    guards = words
    if params.depthwise:   # the window's first word plus the read's fold, but in the last fold
        guards = np.where(words % folds < folds - 1, words % folds + golden.sliding_window(
            index, params.kernel, params.stride)[..., :1], words)
    # Per read of q positions: the newest word it needs, and the oldest word it guards.
    reads, guards = words.reshape(-1, q)[:, -1], guards.reshape(-1, q)[:, 0]
    reads = np.concatenate([reads + n * frame for n in range(frames)] + [[frames * frame]])
    guards = np.concatenate([guards + n * frame for n in range(frames)] + [[frames * frame]])
    free = np.minimum.accumulate(guards[::-1])[::-1].tolist()
    reads = reads.tolist()
    written = read = cycle = 0
    starts = []
    while read < len(reads) - 1:
        can_write = written < frames * frame and written < free[read] + params.depth
        can_read = reads[read] < written
        if can_read and read % params.out_words == 0:
            starts.append(cycle)
        written += can_write
        read += can_read
        cycle += 1
    return np.diff(starts).tolist()


def model_slack(params):
    """Documented accuracy of cycles(): exact unless the input side is nearly the bottleneck,
    then the engine may be slower by less than one window's words per frame."""
    return params.window_words - 1


@pytest.mark.parametrize("depthwise", [False, True])
@pytest.mark.parametrize("seed", seeds(0, 24, 60))
def test_matches_golden_with_gaps_and_stalls(seed, depthwise):
    rng = np.random.default_rng(seed)
    params = random_params(rng, depthwise=depthwise)
    run_frames(params, 3, rng, gap_prob=float(rng.uniform(0.3, 0.5)),
               stall_prob=float(rng.uniform(0.3, 0.5)), seed=seed)


@pytest.mark.parametrize("depthwise", [False, True])
@pytest.mark.parametrize("seed", seeds(100, 24, 60))
def test_cycles_without_stalls(seed, depthwise):
    """Without gaps or stalls: output exact, per-frame cycles in steady state (frames 1 to 3;
    frame 0 starts from an empty buffer) equal to the replay of the gating rules, and within
    the model's documented accuracy; first output exactly latency() after the first input."""
    rng = np.random.default_rng(seed)
    params = random_params(rng, depthwise=depthwise)
    run = run_frames(params, 4, rng)
    measured = frame_periods(run.output_cycles, params.out_words)[1:]
    assert measured == replay(params, 4)[1:]
    for cycles in measured:
        assert params.cycles() <= cycles <= params.cycles() + model_slack(params)
    assert run.output_cycles[0] - run.input_cycles[0] == params.latency()


SPECIAL_CASES = [
    # 3x3 stride 1 is output-bound: one output word per cycle but for the start of a frame.
    ((8, 7, 2, (3, 3), (1, 1), 1), False, None),
    ((8, 7, 2, (3, 3), (1, 1), 1), True, None),
    # 1x1 stride 2 is input-bound: one input word per cycle, nothing lost.
    ((6, 6, 4, (1, 1), (2, 2), 2), True, 6 * 6 * 2),
    # Kernel as large as the input: the buffer is the whole frame (and a span more).
    ((3, 4, 3, (3, 4), (1, 1), 3), False, 3 * 4),
    ((3, 4, 3, (3, 4), (1, 1), 3), True, 3 * 4),
    # A one-word frame: a one-word buffer is written and read in turns; with the lookahead
    # the writer refills another slot while one is read.
    ((1, 1, 1, (1, 1), (1, 1), 1), False, 2),
    ((1, 1, 1, (1, 1), (1, 1), 1), True, 1),
]


# Both window orders; the depthwise one only with the lookahead it needs.
@pytest.mark.parametrize("shape, lookahead, expected, depthwise", [
    (*case, depthwise) for case in SPECIAL_CASES for depthwise in (False, True)
    if case[1] or not depthwise])
def test_cycles_special_cases(shape, lookahead, expected, depthwise):
    params = SlidingWindowParams(*shape, dtype=DataType.parse("INT4"), lookahead=lookahead,
                                 depthwise=depthwise)
    run = run_frames(params, 4, np.random.default_rng(0))
    measured = frame_periods(run.output_cycles, params.out_words)[1:]
    assert measured == [params.cycles()] * 2
    if expected is None:    # output-bound: at most part of a frame's fill is not hidden
        assert params.out_words <= measured[0] < params.out_words + params.in_words // 4
    else:
        assert measured[0] == expected


@pytest.mark.parametrize("depthwise", [False, True])
@pytest.mark.parametrize("seed", range(200, 205))
def test_cycle_model_on_larger_shapes(seed, depthwise):
    """cycles() against the replay on shapes too large to simulate quickly."""
    rng = np.random.default_rng(seed)
    for _ in range(40):
        params = random_params(rng, max_extra=9, max_folds=6, depthwise=depthwise)
        steady = replay(params, 3)[1]
        assert params.cycles() <= steady <= params.cycles() + model_slack(params), params
        assert steady >= max(params.in_words, params.out_words)


def memory_bits(component):
    """Bits of every memory in the emitted Verilog, by name."""
    text = verilog.convert(component)
    return {name: (int(width) + 1) * (int(depth) + 1)
            for width, name, depth in re.findall(r"reg \[(\d+):0\] (\S+) \[(\d+):0\];", text)}


@pytest.mark.parametrize("lookahead", [False, True])
def test_line_buffer_not_frame_buffer(lookahead):
    params = SlidingWindowParams(32, 32, 64, (3, 3), (1, 1), 32, DataType.parse("INT2"),
                                 lookahead=lookahead)
    row = params.width * params.folds
    span = 2 * row + 3 * params.folds
    assert params.depth == span + 1 + lookahead * (span + 1)
    # The line buffer, and the output queue's few words.
    assert memory_bits(SlidingWindow(params)) == {
        "buffer": params.depth * params.word_bits,
        "storage": (credits_for(READ_DELAY, 1) - 1) * params.word_bits}
    assert params.depth * 3 < params.in_words
    assert params.buffer_bits() == {"line_buffer": params.depth * 64}
    # 135 or 270 words of 64 bits: two 512 x 36 block RAMs (LUT RAM would take three or six
    # banks of 22 RAM64M).
    assert params.resources().bram18 == 2


@pytest.mark.parametrize("kwargs, message", [
    (dict(channels=6, simd=4), "multiple of simd"),
    (dict(kernel=(5, 1)), "does not fit"),
    (dict(kernel=(1, 2, 3)), "kernel"),
    (dict(stride=(0, 1)), "stride"),
    (dict(height=0), "height"),
    (dict(dtype="INT4"), "DataType"),
    (dict(depthwise=True, lookahead=False), "needs the lookahead"),
    (dict(positions=2), "need the depthwise order"),
    (dict(positions=3, depthwise=True), "a kernel width they divide, not 2"),
    (dict(positions=0, depthwise=True), "positions"),
])
def test_rejects_bad_params(kwargs, message):
    fields = dict(height=4, width=4, channels=4, kernel=(2, 2), stride=(1, 1), simd=2,
                  dtype=DataType.parse("INT4"))
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        SlidingWindowParams(**fields)


def test_square_kernel_and_stride_as_ints():
    params = SlidingWindowParams(5, 5, 2, 3, 2, 1, DataType.parse("UINT2"))
    assert (params.kernel, params.stride) == ((3, 3), (2, 2))
