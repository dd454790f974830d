"""FIFO sizing: a depth for the FIFO on every edge, computed from access patterns.

A linear chain of engines that each make progress whenever their input has data and their output
has room cannot deadlock, whatever the FIFO depths; depths matter only for throughput. The
engines here all move at most one word per cycle on each side. Those that reuse or revisit
their input keep the room their producer needs in their own buffers: an MVAU's input buffer
holds two vectors, so the next one arrives while the current one is reused
(:mod:`~hwgen.engines.vector_buffer`), and a convolution's line buffer a span more than its
windows need (the sliding window's ``lookahead``). So:

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

Where paths rejoin (an add or a concat reading a fork's outputs through different engines), a
branch must also hold its words while the join waits for the others: on a residual block, the
shortcut's words while the convolutions' output for the same pixel is computed. Too little
room, the fork stalls the long path's input while the join waits for it, and the design
deadlocks. So each join input's branch gets a FIFO of the most words that input ever holds in
the timed schedule of a frame (:func:`~.latency.schedule`, the input paced at the bottleneck's
rate, as in steady state), counted in the words of the branch's first edge (the same part of a
frame), but never more than the other branches can hold (their engines' buffers and FIFOs: the
fork gives every branch each word at once, so a branch is never ahead of the others by more),
plus a quarter (at least ``SLACK``) for what the models round away (an eighth left the
shortcut of resnet8-w8a8's stage 2, folded for an XC7Z020, 15 words short: 523 held in
Verilator, 508 deep, and the fork stalled the long path: 37,719 cycles per frame for 36,864).
(Subtracting what the branch's own engines hold as well, estimated, deadlocked 2 of 11 random
networks: the engines' room is not a model as exact as their timing.) It sits on the
branch's first edge, right behind the fork, so that the fork never waits for the branch's own
engines either: a shortcut whose Subsample takes a pixel only when its MVAU has room would
otherwise hold the fork back whenever the long path wants words (21% of ResNet-8's
throughput). The schedule's long path produces a word no sooner than the input it needs has
been forked, so that depth covers everything the fork must pass before the join can take the
shortcut's word: no pattern of input gaps or output stalls can deadlock the join. A depth
beyond :data:`~hwgen.engines.stream_fifo.LUTRAM_MAX_DEPTH` maps to block RAM.

The pipeline tests and ``hwgen sim`` check the result: measured cycles per frame against the
bottleneck's ideal cycles, and each FIFO's largest occupancy.
"""

from dataclasses import replace

import numpy as np

from ..engines.stream_fifo import StreamFIFOParams
from ..errors import plural
from .latency import join_consumption, schedule
from .lowering import Node, Port

__all__ = ["MIN_DEPTH", "SLACK", "fifo_depth", "join_depths", "with_fifos"]

MIN_DEPTH = 3
SLACK = 2

# Engine kinds whose output leaves from an OutputQueue.
QUEUED_OUTPUT = {"mvau", "vvau", "thresholds", "add", "concat", "subsample", "sliding_window",
                 "window_pool", "row_pool", "pad", "label_select"}
# Engine kinds that pause their input (a pad, during its borders): always behind a FIFO.
PACED_INPUT = {"pad"}


def fifo_depth(consumer, bottleneck):
    """Depth of the FIFO in front of ``consumer`` (a :class:`~.lowering.Node`), or behind the
    last engine when ``consumer`` is None, before any join's needs; ``bottleneck``: the
    pipeline's cycles per frame."""
    if consumer is not None and consumer.kind == "pad":
        p = consumer.params
        top, bottom, left, right = p.pads
        border = ((top + bottom) * p.out_width + left + right) * p.folds
        return max(MIN_DEPTH, -(-border * consumer.source.words // bottleneck) + SLACK)
    return MIN_DEPTH


def join_depths(nodes, input_stream, bottleneck):
    """{(node name, input index): (depth, reason)}: for every input of every add and concat
    among ``nodes``, the FIFO that holds what that input's words are early by, on the first
    edge of its branch (see the module docstring); ``bottleneck``: the pipeline's cycles per
    frame."""
    times = schedule(nodes, np.arange(input_stream.words) * bottleneck / input_stream.words)
    by_name = {node.name: node for node in nodes}
    depths = {}
    for node in nodes:
        if len(node.inputs) < 2:
            continue
        arrivals = [times[port.node] for port in node.inputs]
        held = [int(np.max(np.searchsorted(a, taken, side="right") - np.arange(len(a))))
                for a, taken in zip(arrivals, join_consumption(node, arrivals))]
        branches = [_branch(by_name, node, k) for k in range(len(held))]
        most = [sum(_room(engine, bottleneck) / engine.source.words for engine in engines)
                for engines, _ in branches]
        late = min(range(len(held)), key=held.__getitem__)
        for k, port in enumerate(node.inputs):
            # As parts of a frame: what the input holds in the schedule, but never more than
            # the other branches hold (the fork gives every branch each word at once).
            part = min(held[k] / port.stream.words,
                       max(r for j, r in enumerate(most) if j != k))
            consumer, index = branches[k][1]
            words = int(np.ceil(part * consumer.inputs[index].stream.words))
            if words <= 0:
                continue
            depth = max(MIN_DEPTH, words + max(SLACK, -(-words // 4)))
            reason = (f"input {k} of {node.name} holds up to {plural(held[k], 'word')} while it "
                      f"waits for input {late} ({node.inputs[late].node})" if k != late else
                      f"input {k} of {node.name}, the one it waits for, holds up to "
                      f"{plural(held[k], 'word')}")
            # Two joins may reach back to one edge: the deeper FIFO serves both.
            depths[consumer.name, index] = max(depths.get((consumer.name, index), (0, None)),
                                               (depth, reason))
    return depths


def _room(node, bottleneck):
    """The most words of its input that ``node`` and the FIFO in front of it can hold (an
    upper estimate): the FIFO, a line buffer, the input a row max-pool folds into its partial
    maxima, the vector an MVAU reuses and the next, and a few words of registers and output
    queue."""
    p, room = node.params, fifo_depth(node, bottleneck) + 4
    if node.kind == "sliding_window":
        room += p.depth
    elif node.kind == "window_pool":
        room += p.window.depth
    elif node.kind == "row_pool":
        # While its output is held it takes input until a word that completes a result
        # finds no credit: less than a row of windows.
        room += p.kernel[0] * p.width * p.folds
    elif node.kind == "mvau":
        room += p.buffer_words
    return room


def _branch(by_name, join, k):
    """The engines of the branch that ends at input ``k`` of ``join``, from the join back, and
    the (node, input index) of its first edge: walking back through engines of one input to a
    fork (or a join, or the pipeline input). A FIFO on that edge takes the fork's words as soon
    as they come, so the fork never waits for the branch's engines to take them (a Subsample
    waiting for its MVAU's credit, say) while the other branches want words."""
    consumer, index, engines = join, k, []
    while True:
        producer = by_name.get(consumer.inputs[index].node)
        if producer is None or producer.kind == "fork" or len(producer.inputs) != 1:
            return engines, (consumer, index)
        engines.append(producer)
        consumer, index = producer, 0


def with_fifos(nodes, input_stream, output):
    """``nodes`` with a StreamFIFO on every edge, and behind the ``output`` port, but for the
    ``MIN_DEPTH`` ones behind an engine with a queued output; and the new output port."""
    bottleneck = max(node.cycles() for node in nodes)
    joins = join_depths(nodes, input_stream, bottleneck)
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
