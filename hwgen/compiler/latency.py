"""An estimate of a design's latency: cycles from a frame's first input word to its first output
word, with the input offered every cycle and the output always ready.

The first frame is replayed word by word through the engines' timing models: for each engine,
the cycle at which each of its output words can leave, from the cycles at which its input words
arrive. An output word leaves once the input it needs has arrived (a sliding window needs the
window's words, an MVAU the whole input vector, a label select the whole frame) plus the
engine's own ``latency()``, and no sooner after the previous word than the engine's pace allows
(one word per cycle, or its cycles per frame over its words). What the replay leaves out: the
back-pressure of a slower engine downstream on the ones before it (FIFOs absorb most of it),
and the first cycles of a pad's top border. ``hwgen sim`` measures the latency exactly.
"""

import numpy as np

__all__ = ["latency_estimate"]


def latency_estimate(nodes):
    """Estimated cycles from the first input word's transfer to the first output word's, for
    the engine ``nodes`` of a design (FIFOs included), in stream order."""
    arrivals = np.arange(nodes[0].source.words, dtype=np.float64)
    for node in nodes:
        arrivals = _replay(node, arrivals)
    return int(round(arrivals[0]))


def paced(ready, period):
    """Cycles of events in order, each no earlier than ``ready`` and at least ``period`` after
    the one before."""
    steps = np.arange(len(ready)) * period
    return steps + np.maximum.accumulate(ready - steps)


def _replay(node, arrivals):
    """The cycles at which the output words of ``node`` leave, given its input words'."""
    p = node.params
    kind = node.kind
    if kind == "mvau":
        sf, nf, planes = p.synapse_folds, p.neuron_folds, getattr(p, "planes", 1)
        last_taken = paced(arrivals[sf - 1::sf], nf * planes * sf)     # each vector's last word
        folds = np.arange(nf) * planes * sf + (planes - 1) * sf + p.latency()
        return paced((last_taken[:, None] + folds[None, :]).ravel(), 1)
    if kind == "sliding_window":
        reads = paced(arrivals[_window_reads(p)] + 1, 1)
        return reads + p.latency() - p.issue_cycle(0)
    if kind == "maxpool":
        window = p.window
        reads = paced(arrivals[_window_reads(window)] + 1, 1)
        kh, kw = p.kernel
        last = (kh * kw - 1) * p.folds                    # each pixel's last kernel position
        emits = reads.reshape(-1, window.window_words)[:, last:].ravel()
        return emits + p.latency() - window.issue_cycle(last)
    if kind == "label_select":
        fed = max(arrivals[-1], arrivals[0] + p.cycles() - p.word_period)
        return fed + p.latency() - (p.cycles() - p.word_period) + np.arange(node.sink.words)
    if kind == "pad":
        return paced(arrivals[_pad_sources(p)], 1) + p.latency()
    # One output word per input word (FIFO, thresholds), or a width converter: each output
    # word needs the input word that holds its last element.
    out_words, in_words = node.sink.words, node.source.words
    needed = ((np.arange(out_words) + 1) * in_words - 1) // out_words
    pace = node.cycles() / max(out_words, in_words)
    return paced(arrivals[needed], pace) + p.latency()


def _window_reads(p):
    """The input word each output word of a sliding window (``p``) reads, in output order."""
    kh, kw = p.kernel
    offsets = ((np.arange(kh)[:, None, None] * p.width + np.arange(kw)[None, :, None]) * p.folds
               + np.arange(p.folds)).ravel()
    rows = np.arange(p.out_height)[:, None] * p.stride[0] * p.width
    starts = (rows + np.arange(p.out_width)[None, :] * p.stride[1]).ravel() * p.folds
    return (starts[:, None] + offsets[None, :]).ravel()


def _pad_sources(p):
    """For each output word of a pad (``p``), the input word it waits for: its own, or for a
    border word the last interior word before it (the first word for the top border)."""
    top, _, left, _ = p.pads
    y = np.arange(p.out_height)[:, None, None] - top
    x = np.arange(p.out_width)[None, :, None] - left
    inside = (y >= 0) & (y < p.height) & (x >= 0) & (x < p.width)
    inside = np.broadcast_to(inside, (p.out_height, p.out_width, p.folds)).ravel()
    interior = np.cumsum(inside) - 1
    return np.maximum(interior, 0)
