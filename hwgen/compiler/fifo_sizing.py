"""FIFO sizing: a depth for the FIFO on every edge, computed from access patterns.

A linear chain of engines that each make progress whenever their input has data and their output
has room cannot deadlock, whatever the FIFO depths; depths matter only for throughput. The
engines here all move at most one word per cycle on each side, and all but one consume their
input smoothly. The exception is the MVAU: it takes an input vector (MW/SIMD words) at one word
per cycle during its first neuron fold and then takes nothing for the remaining
(MH/PE - 1) * (MW/SIMD) cycles while it reuses the buffered vector. If the producer in front of
it is slower than one word per cycle (an upstream MVAU emitting a word per fold, say), the
first fold stretches to the producer's pace and the MVAU loses throughput unless the producer can
deposit the whole next vector while the current one is being reused. (A bit-serial MVAU
also reuses its vector once per bit plane.) So:

- in front of an MVAU that makes more than one pass over its vector (neuron folds, and bit
  planes of a bit-serial one): MW/SIMD words (one input vector) plus ``SLACK``;
- in front of a sliding window: its span ((KH-1) rows plus KW pixels) plus ``SLACK``. The line
  buffer holds one window's span, so while the last row of windows of a frame is emitted it
  cannot take the next frame's first rows; without room for them the producer in front stalls,
  and the next frame's first window then waits for a whole fill at the producer's pace (on
  CNV-w1a1 that cost 11% of throughput at conv3). With this FIFO the fill overlaps the last row;
- in front of a pad: what its producer delivers, at the pipeline's steady rate (the pad's input
  words per frame over the bottleneck's cycles), while the pad emits its longest run of border
  words and takes no input (a frame's bottom rows and the next frame's top rows), plus
  ``SLACK``; even behind a queued output, whose few credits cannot hold them (a producer at the
  bottleneck's rate loses every cycle it is stalled: 2.5% on a random network);
- everywhere else (and at the pipeline's ends): ``MIN_DEPTH``, the smallest SyncFIFOBuffered
  that passes one word per cycle, which also breaks the combinational ready paths between
  engines. Behind an engine whose output already leaves from a queue of its own
  (:class:`~hwgen.engines.credits.OutputQueue`: registered valid and payload, ``o.ready`` reaching
  only the queue and a credit counter) that FIFO would add nothing, and is left out.

Where paths rejoin (an add or a concat reading a fork's outputs through different engines), the
FIFO in front of each input of the join must also hold that input's words while the join waits
for the others: on a residual block, the shortcut's words while the convolutions' output for
the same pixel is computed. Too shallow, the fork stalls the long path's input while the join
waits for it, and the design deadlocks; so every join input gets the most words it ever holds
in the timed schedule of a frame (:func:`~.latency.schedule`, the input paced at the
bottleneck's rate, as in steady state), plus an eighth (at least ``SLACK``) for what the models
round away. The schedule's long path produces a word no sooner than the input it needs has
been forked, so that depth covers everything the fork must pass before the join can take the
shortcut's word: no pattern of input gaps or output stalls can deadlock the join. A depth
beyond :data:`~hwgen.engines.stream_fifo.LUTRAM_MAX_DEPTH` maps to block RAM.

The pipeline tests and ``hwgen sim`` check the result: measured cycles per frame against the
bottleneck's ideal cycles, and each FIFO's largest occupancy.
"""

from dataclasses import replace

import numpy as np

from ..engines.stream_fifo import StreamFIFOParams
from .latency import join_consumption, schedule
from .lowering import Node, Port

__all__ = ["MIN_DEPTH", "SLACK", "fifo_depth", "join_depths", "with_fifos"]

MIN_DEPTH = 3
SLACK = 2

# Engine kinds whose output leaves from an OutputQueue.
QUEUED_OUTPUT = {"mvau", "thresholds", "add", "concat", "global_avgpool", "subsample"}
# Engine kinds that pause their input (a pad, during its borders): always behind a FIFO.
PACED_INPUT = {"pad"}


def fifo_depth(consumer, bottleneck):
    """Depth of the FIFO in front of ``consumer`` (a :class:`~.lowering.Node`), or behind the
    last engine when ``consumer`` is None, before any join's needs; ``bottleneck``: the
    pipeline's cycles per frame."""
    if consumer is not None and consumer.kind == "mvau":
        params = consumer.params
        if params.neuron_folds * getattr(params, "planes", 1) > 1:
            return max(MIN_DEPTH, params.mw // params.simd + SLACK)
    if consumer is not None and consumer.kind == "sliding_window":
        return max(MIN_DEPTH, consumer.params.span + SLACK)
    if consumer is not None and consumer.kind == "pad":
        p = consumer.params
        top, bottom, left, right = p.pads
        border = ((top + bottom) * p.out_width + left + right) * p.folds
        return max(MIN_DEPTH, -(-border * consumer.source.words // bottleneck) + SLACK)
    return MIN_DEPTH


def join_depths(nodes, input_stream):
    """{(join node name, input index): (depth, reason)} for every input of every add and
    concat among ``nodes`` (see the module docstring)."""
    bottleneck = max(node.cycles() for node in nodes)
    times = schedule(nodes, np.arange(input_stream.words) * bottleneck / input_stream.words)
    depths = {}
    for node in nodes:
        if len(node.inputs) < 2:
            continue
        arrivals = [times[port.node] for port in node.inputs]
        held = [int(np.max(np.searchsorted(a, taken, side="right") - np.arange(len(a))))
                for a, taken in zip(arrivals, join_consumption(node, arrivals))]
        for k, port in enumerate(node.inputs):
            depth = max(MIN_DEPTH, held[k] + max(SLACK, -(-held[k] // 8)))
            late = min(range(len(held)), key=held.__getitem__)
            reason = (f"holds up to {held[k]} words of input {k} while {node.name} waits for "
                      f"input {late} ({node.inputs[late].node})" if k != late else
                      f"the latest input of {node.name}")
            depths[node.name, k] = (depth, reason)
    return depths


def with_fifos(nodes, input_stream, output):
    """``nodes`` with a StreamFIFO on every edge, and behind the ``output`` port, but for the
    ``MIN_DEPTH`` ones behind an engine with a queued output; and the new output port."""
    joins = join_depths(nodes, input_stream)
    bottleneck = max(node.cycles() for node in nodes)
    kinds = {node.name: node.kind for node in nodes}
    fifod = []

    def fifo(port, name, layer, depth, reason=None, consumer=None):
        if (kinds.get(port.node) in QUEUED_OUTPUT and depth == MIN_DEPTH
                and consumer not in PACED_INPUT):
            return port
        fifod.append(Node(name, "fifo", layer, StreamFIFOParams(port.stream.width, depth),
                          [port], port.stream, reason=reason))
        return Port(name, 0, port.stream)

    for node in nodes:
        ports = []
        for k, port in enumerate(node.inputs):
            own = fifo_depth(node, bottleneck)
            depth, reason = joins.get((node.name, k), (own, None))
            name = f"{node.name}_fifo{k}" if len(node.inputs) > 1 else f"{node.name}_fifo"
            ports.append(fifo(port, name, node.layer, max(depth, own), reason, node.kind))
        fifod.append(replace(node, inputs=ports))
    return fifod, fifo(output, "output_fifo", nodes[-1].layer, MIN_DEPTH)
