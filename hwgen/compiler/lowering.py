"""Lowering: the layers of a network become a graph of streaming engine nodes.

Each layer kind lowers itself (:meth:`~hwgen.network.kinds.Layer.lower`) into a
:class:`Graph`: as in FINN, conv2d -> [Pad] + SlidingWindow + MVAU (for a 1x1 kernel no window
engine, or a Subsample at a stride; depthwise, a VVAU, kind "vvau", for the MVAU); dense -> MVAU (bit-parallel,
or bit-serial for ``engine: bitserial``; both are nodes of kind "mvau"); an activation that is
the only reader of a matrix layer or an add -> thresholds fused into that engine, otherwise a
Thresholds engine; maxpool, avgpool and global_avgpool -> [Pad] + a RowPool (kind "row_pool")
when the kernel is the stride, a WindowPool (kind "window_pool") otherwise, computing maxima or
sums; label_select, add, concat -> their engines;
flatten -> nothing (NHWC is the stream order). The graph adds the plumbing: a DuplicateStreams
engine (kind "fork") behind every layer read by several, and a WidthConverter on every edge
whose two ends disagree on elements per word. :mod:`.fifo_sizing` then puts a StreamFIFO on the
edges.

Nodes are kept in topological order (the description's dataflow order), the node that produces
the network's output last.
"""

from dataclasses import dataclass, field
from math import prod

from ..datatypes import DataType
from ..engines.add import AddStreams
from ..engines.bitserial_mvau import BitSerialMatrixVectorUnit, BitSerialMVAUParams
from ..engines.concat import ConcatStreams
from ..engines.fork import DuplicateStreams, DuplicateStreamsParams
from ..engines.label_select import LabelSelect
from ..engines.mvau import MatrixVectorUnit
from ..engines.pad import Pad
from ..engines.pool_rows import RowPool
from ..engines.pool_windows import WindowPool
from ..engines.sliding_window import SlidingWindow
from ..engines.stream_fifo import StreamFIFO
from ..engines.subsample import Subsample
from ..engines.thresholds import Thresholds
from ..engines.vvau import VectorVectorUnit
from ..engines.width_converter import WidthConverter, WidthConverterParams

__all__ = ["Stream", "Node", "Port", "Graph", "lower"]


def _matrix_unit(params, **arrays):
    """The bit-parallel or bit-serial MVAU, by the type of ``params``."""
    if isinstance(params, BitSerialMVAUParams):
        return BitSerialMatrixVectorUnit(params, **arrays)
    return MatrixVectorUnit(params, **arrays)


ENGINES = {
    "pad": Pad,
    "sliding_window": SlidingWindow,
    "subsample": Subsample,
    "mvau": _matrix_unit,
    "vvau": VectorVectorUnit,
    "thresholds": Thresholds,
    "window_pool": WindowPool,
    "row_pool": RowPool,
    "label_select": LabelSelect,
    "add": AddStreams,
    "concat": ConcatStreams,
    "fork": DuplicateStreams,
    "width_converter": WidthConverter,
    "fifo": StreamFIFO,
}
# Engine kinds with an array of input streams i[k], and with an array of outputs o[k].
MULTI_INPUT = {"add", "concat"}
MULTI_OUTPUT = {"fork"}


@dataclass(frozen=True)
class Stream:
    """What flows on one edge: ``elems`` elements of ``dtype`` per word, ``frame`` per frame."""
    elems: int
    dtype: DataType
    frame: int

    @property
    def width(self):
        return self.elems * self.dtype.bits

    @property
    def words(self):
        """Words per frame."""
        return self.frame // self.elems


@dataclass(frozen=True)
class Port:
    """Output ``index`` of node ``node`` (None: the pipeline's input), carrying ``stream``."""
    node: str
    index: int
    stream: Stream


@dataclass
class Node:
    """One engine of the pipeline: ``inputs[k]`` is the :class:`Port` its input k reads."""
    name: str
    kind: str
    layer: str               # the description layer it implements
    params: object
    inputs: list             # Port per input
    sink: Stream
    arrays: dict = field(default_factory=dict)   # weights, thresholds
    reason: str = None       # why a FIFO has its depth

    @property
    def sources(self):
        return [port.stream for port in self.inputs]

    @property
    def source(self):
        return self.inputs[0].stream

    def component(self):
        return ENGINES[self.kind](self.params, **self.arrays)

    def cycles(self):
        """Ideal cycles per frame with no stalls (the engine's cycle model)."""
        if self.kind == "fifo":
            return self.params.cycles(self.sink.words)
        return self.params.cycles()

    def resources(self):
        return self.params.resources()

    def buffer_bits(self):
        """{kind: bits} of the engine's memories that hold stream data (line buffers, vector
        buffers, FIFOs, rows of partial results); empty for an engine without any. Output
        queues and pipeline registers are not counted: they hold a few words in flight."""
        bits = getattr(self.params, "buffer_bits", None)
        return {} if bits is None else {k: v for k, v in bits().items() if v}


class Graph:
    """Engine nodes being built from layers, and each layer's output stream.

    A layer reads an input with :meth:`read` (once per input it names) and registers its output
    with :meth:`produce`. A layer read by several layers gets a fork whose outputs are handed
    out in reading order; a reader that wants another number of elements per word gets a width
    converter on its edge."""

    PLUMBING = {"width_converter", "fifo", "fork"}

    def __init__(self, readers, input_stream=None):
        self.nodes = []
        self.readers = readers       # layer name -> how many layers read its output
        self.outputs = {}            # layer name -> _Output
        self.input_stream = input_stream   # the pipeline's input; elems fixed by its reader

    @classmethod
    def for_layer(cls, layer):
        """A graph in which ``layer`` can be lowered alone: each of its inputs is a pipeline
        input of its shape and datatype."""
        graph = cls({})
        for name in layer.inputs:
            graph.outputs[name] = _Output(Port(None, 0, Stream(None, layer.in_dtype,
                                                              prod(layer.in_shape))), 1)
        return graph

    def pipeline_input(self):
        return Port(None, 0, self.input_stream)

    def produce(self, layer, port):
        self.outputs[layer] = _Output(port, self.readers.get(layer, 1))

    def alias(self, layer, source):
        """``layer``'s output is ``source``'s (a layer without hardware of its own)."""
        output = self.outputs[layer] = self.outputs[source]
        output.readers += self.readers.get(layer, 1) - 1

    def read(self, layer):
        """A port carrying ``layer``'s output for one reader."""
        output = self.outputs[layer]
        taken, output.taken = output.taken, output.taken + 1
        if output.readers == 1:
            return output.port
        if taken == 0:       # the first of several readers: put a fork behind the layer
            port = self.fix(output.port, None)
            self.nodes.append(Node(f"{layer}_fork", "fork", layer,
                                   DuplicateStreamsParams(port.stream.width, output.readers,
                                                          port.stream.words),
                                   [port], port.stream))
            output.port = Port(f"{layer}_fork", 0, port.stream)
        return Port(output.port.node, taken, output.port.stream)

    def fix(self, port, elems):
        """``port``; if it is a pipeline input whose word width is not fixed yet, fixed at
        ``elems`` (one element if None)."""
        if port.node is not None or port.stream.elems is not None:
            return port
        stream = Stream(elems or 1, port.stream.dtype, port.stream.frame)
        if port.stream == self.input_stream:
            self.input_stream = stream
        return Port(None, 0, stream)

    def add(self, name, kind, layer, params, inputs, sink, **arrays):
        """Append engine ``name`` reading ``inputs`` (pairs of a port and the elements per word
        the engine takes there, converted if they differ); returns its output port."""
        ports = []
        for port, elems in inputs:
            port = self.fix(port, elems)
            stream = port.stream
            if stream.elems != elems:
                converted = Stream(elems, stream.dtype, stream.frame)
                converter = f"{layer}_dwc{len(ports)}" if len(inputs) > 1 else f"{layer}_dwc"
                self.nodes.append(Node(
                    converter, "width_converter", layer,
                    WidthConverterParams(stream.elems, elems, stream.dtype.bits, stream.frame),
                    [port], converted))
                port = Port(converter, 0, converted)
            ports.append(port)
        self.nodes.append(Node(name, kind, layer, params, ports, sink, arrays))
        return Port(name, 0, sink)


@dataclass
class _Output:
    """A layer's output in a :class:`Graph`: the port that produces it, the port its readers
    read (a fork's, when there are several), read by ``readers`` layers, ``taken`` of them so
    far."""
    producer: Port
    readers: int
    taken: int = 0
    port: Port = None

    def __post_init__(self):
        self.port = self.port or self.producer


def lower(network):
    """The engine nodes of ``network`` (already folded), in topological order, without FIFOs;
    the pipeline's input stream and output port; and {layer name: the port that produces its
    output} for the layers computed by an engine. ValueError if no layer needs hardware."""
    graph = Graph(network.read_counts(),
                  Stream(None, network.input.out_dtype, prod(network.input.out_shape)))
    for layer in network.layers:
        layer.lower(graph)
    output = graph.read(network.output.name)
    if not graph.nodes:
        raise ValueError("the network has no layer that needs hardware")
    producers = {name: entry.producer for name, entry in graph.outputs.items()
                 if entry.producer.node is not None}
    return graph.nodes, graph.input_stream, output, producers
