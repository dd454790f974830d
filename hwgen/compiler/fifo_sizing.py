"""FIFO sizing: a depth for the FIFO in front of every engine, computed from access patterns.

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
- everywhere else (and at the pipeline's ends): ``MIN_DEPTH``, the smallest SyncFIFOBuffered
  that passes one word per cycle, which also breaks the combinational ready paths between
  engines. Behind an engine whose output already leaves from a queue of its own
  (:class:`~hwgen.engines.credits.OutputQueue`: registered valid and payload, ``o.ready`` reaching
  only the queue and a credit counter) that FIFO would add nothing, and is left out.

The pipeline tests and ``hwgen sim`` check the result: measured cycles per frame against the
bottleneck's ideal cycles.
"""

from .lowering import Node
from ..engines.stream_fifo import StreamFIFOParams

__all__ = ["MIN_DEPTH", "SLACK", "fifo_depth", "with_fifos"]

MIN_DEPTH = 3
SLACK = 2

# Engine kinds whose output leaves from an OutputQueue.
QUEUED_OUTPUT = {"mvau", "thresholds"}


def fifo_depth(consumer):
    """Depth of the FIFO in front of ``consumer`` (a :class:`~.lowering.Node`), or behind the
    last engine when ``consumer`` is None."""
    if consumer is not None and consumer.kind == "mvau":
        params = consumer.params
        if params.neuron_folds * getattr(params, "planes", 1) > 1:
            return max(MIN_DEPTH, params.mw // params.simd + SLACK)
    if consumer is not None and consumer.kind == "sliding_window":
        return max(MIN_DEPTH, consumer.params.span + SLACK)
    return MIN_DEPTH


def with_fifos(nodes):
    """``nodes`` with a StreamFIFO in front of each engine and one behind the last, but for the
    ``MIN_DEPTH`` ones behind an engine with a queued output."""
    chained = []
    for producer, node in zip([None] + nodes, nodes + [None]):
        if (producer is not None and producer.kind in QUEUED_OUTPUT
                and fifo_depth(node) == MIN_DEPTH):
            if node is not None:
                chained.append(node)
            continue
        stream = node.source if node is not None else nodes[-1].sink
        layer = node.layer if node is not None else nodes[-1].layer
        name = f"{node.name}_fifo" if node is not None else "output_fifo"
        params = StreamFIFOParams(stream.width, fifo_depth(node))
        chained.append(Node(name, "fifo", layer, params, stream, stream))
        if node is not None:
            chained.append(node)
    return chained
