"""A timed schedule of a frame through a design: when each word of each edge moves.

A frame is replayed word by word through the engines' timing models: for each engine, the
cycle at which each of its output words can leave, from the cycles at which its input words
arrive. An output word leaves once the input it needs has arrived (a sliding window needs the
window's words, a row max-pool its window's last word, an MVAU the whole input vector, a VVAU
the last word of a channel fold, an add
the word of every input, a label select or a global pool the whole frame) plus the engine's own ``latency()``, and no sooner after the
previous word than the engine's pace allows (one word per cycle, or its cycles per frame over
its words). What the replay leaves out: the back-pressure of a slower engine downstream on the
ones before it (FIFOs absorb most of it), and the first cycles of a pad's top border.

Two uses: the latency estimate (the input offered every cycle; ``hwgen sim`` measures the
latency exactly), and the depths of the FIFOs where paths rejoin (:mod:`.fifo_sizing`, with
the input paced at the bottleneck's rate).
"""

import numpy as np

__all__ = ["latency_estimate", "schedule", "join_consumption", "paced"]


def latency_estimate(nodes, input_stream, output):
    """Estimated cycles from the first input word's transfer to the first output word's, for
    the engine ``nodes`` of a design (FIFOs included) in topological order and its ``output``
    port."""
    times = schedule(nodes, np.arange(input_stream.words, dtype=np.float64))
    return int(round(times[output.node][0]))


def schedule(nodes, input_times):
    """{node name: the cycles at which its output words leave} (a fork's outputs all alike),
    and under None the pipeline input's ``input_times``."""
    times = {None: input_times}
    for node in nodes:
        times[node.name] = _replay(node, [times[port.node] for port in node.inputs])
    return times


def join_consumption(node, arrivals):
    """For a node reading several inputs (add, concat), the cycles at which it takes each
    input's words, given their ``arrivals``: a list of arrays, one per input."""
    if node.kind == "add":
        fire = paced(np.maximum.reduce(arrivals), 1)
        return [fire] * len(arrivals)
    order = _concat_order(node.params)
    taken = paced(np.concatenate(arrivals)[order], 1)
    ends = np.cumsum([len(a) for a in arrivals])
    return np.split(taken[np.argsort(order, kind="stable")], ends[:-1])


def _concat_order(p):
    """The index, into all inputs' words laid end to end, of each output word of a concat."""
    starts = np.concatenate([[0], np.cumsum([w * p.pixels for w in p.in_words])[:-1]])
    per_pixel = [start + np.arange(p.pixels)[:, None] * w + np.arange(w)[None, :]
                 for start, w in zip(starts, p.in_words)]
    return np.concatenate(per_pixel, axis=1).ravel()


def paced(ready, period):
    """Cycles of events in order, each no earlier than ``ready`` and at least ``period`` after
    the one before."""
    steps = np.arange(len(ready)) * period
    return steps + np.maximum.accumulate(ready - steps)


def _replay(node, inputs):
    """The cycles at which the output words of ``node`` leave, given its input words' (a list
    of arrays, one per input)."""
    p = node.params
    kind = node.kind
    if kind in ("add", "concat"):
        taken = join_consumption(node, inputs)
        if kind == "add":
            return taken[0] + p.latency()
        return np.sort(np.concatenate(taken)) + p.latency()
    arrivals = inputs[0]
    if kind == "fork":
        return arrivals + p.latency()
    if kind == "subsample":
        return paced(arrivals, 1)[p.kept_words()] + p.latency()
    if kind == "mvau":
        sf, nf, planes = p.synapse_folds, p.neuron_folds, getattr(p, "planes", 1)
        last_taken = paced(arrivals[sf - 1::sf] + p.issue_delay, nf * planes * sf)
        folds = np.arange(nf) * planes * sf + (planes - 1) * sf + p.latency()
        return paced((last_taken[:, None] + folds[None, :]).ravel(), 1)
    if kind == "vvau":   # every step takes a word; the last of a fold completes an output
        sf = p.synapse_folds
        return paced(arrivals, 1)[sf - 1::sf] + p.latency()
    if kind == "sliding_window":
        reads = paced(arrivals[_window_reads(p)] + 1, 1)
        return reads + p.latency() - p.issue_cycle(0)
    if kind == "window_pool":
        window = p.window
        reads = paced(arrivals[_window_reads(window)] + 1, 1)
        kh, kw = p.kernel
        last = (kh * kw - 1) * p.folds                    # each pixel's last kernel position
        emits = reads.reshape(-1, window.window_words)[:, last:].ravel()
        return emits + p.latency() - window.issue_cycle(last)
    if kind == "row_pool":
        ends = p.window_ends()
        return paced(arrivals, 1)[ends] + p.latency() - ends[0]
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
    rows = np.arange(p.out_height)[:, None] * p.stride[0] * p.width
    starts = (rows + np.arange(p.out_width)[None, :] * p.stride[1]).ravel() * p.folds
    return (starts[:, None] + p.window_offsets()[None, :]).ravel()


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
