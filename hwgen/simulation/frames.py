"""Frames <-> stream words for a design, and the comparison of simulated outputs with golden."""

from dataclasses import dataclass

import numpy as np

from ..datatypes import pack, unpack

__all__ = ["input_words", "expected_words", "output_values", "compare", "compare_stream",
           "first_mismatch", "frame_metrics"]


def input_words(design, frames):
    """The input stream words of ``frames`` (N, *input shape), frame after frame."""
    stream = design.input_stream
    return pack(np.asarray(frames).reshape(len(frames), -1), stream.dtype, stream.elems)


def expected_words(design, golden_output):
    """The output stream words that the golden output (N, ...) must produce."""
    stream = design.output_stream
    return pack(np.asarray(golden_output).reshape(len(golden_output), -1), stream.dtype,
                stream.elems)


def output_values(design, golden_output, words):
    """The output values the design gave, in the golden output's shape (N, ...); None if it
    gave fewer than golden."""
    stream = design.output_stream
    values = unpack(words, stream.dtype, stream.elems) if words else np.zeros(0, np.int64)
    golden_output = np.asarray(golden_output)
    if len(values) < golden_output.size:
        return None
    return values[:golden_output.size].reshape(golden_output.shape)


@dataclass(frozen=True)
class Mismatch:
    frame: int
    element: int
    expected: int
    actual: object          # None when the output ended early

    def __str__(self):
        got = "nothing" if self.actual is None else self.actual
        return (f"frame {self.frame}, element {self.element}: expected {self.expected}, "
                f"got {got}")


def compare(design, golden_output, words):
    """(number of output elements that differ from golden or are missing, the first of them as
    a :class:`Mismatch` or None)."""
    return compare_stream(design.output_stream, golden_output, words)


def compare_stream(stream, golden_output, words):
    """:func:`compare` for the words of any ``stream`` of the design (a node's ``sink``) that
    carries ``golden_output`` (N, ...): flattened per frame, ``stream.elems`` elements a word."""
    expected = np.asarray(golden_output).reshape(len(golden_output), -1)
    per_frame = expected.shape[1]
    actual = unpack(words, stream.dtype, stream.elems) if words else np.zeros(0, np.int64)
    flat = expected.reshape(-1)
    common = min(len(actual), len(flat))
    differ = np.flatnonzero(actual[:common] != flat[:common]).tolist()
    differ += list(range(common, len(flat)))
    if not differ:
        return 0, None
    index = differ[0]
    got = int(actual[index]) if index < common else None
    return len(differ), Mismatch(index // per_frame, index % per_frame, int(flat[index]), got)


def first_mismatch(design, golden_output, words):
    """The first output element that differs from golden, or None if all agree."""
    return compare(design, golden_output, words)[1]


def frame_metrics(design, run):
    """Cycles per frame in steady state and latency, from a run's transfer cycles.

    Cycles per frame is the mean interval between the last output words of consecutive
    frames over the second half of the run (the first frames fill the pipeline); latency is
    from the first input transfer to the first output transfer.
    """
    per_frame = design.output_stream.words
    ends = run.output_cycles[per_frame - 1::per_frame]
    frames = len(ends)
    cycles = None
    if frames >= 2:
        start = min(frames // 2, frames - 2)
        cycles = (ends[-1] - ends[start]) / (frames - 1 - start)
    latency = run.output_cycles[0] - run.input_cycles[0] if run.output_cycles else None
    return cycles, latency
