"""Lowering: the layers of a network become a chain of streaming engine nodes.

As in FINN: conv2d -> [Pad] + SlidingWindow + MVAU; dense -> MVAU (bit-parallel, or bit-serial for
``engine: bitserial``; both are nodes of kind "mvau"); an activation after a matrix
layer -> thresholds fused into its MVAU, otherwise a Thresholds engine; maxpool -> MaxPool;
label_select -> LabelSelect; flatten -> nothing (NHWC is the stream order). A WidthConverter goes
wherever neighbouring engines disagree on elements per word, and a StreamFIFO between every two
engines (:mod:`.fifo_sizing` chooses its depth).
"""

from dataclasses import dataclass, field
from math import prod

from ..datatypes import DataType
from ..engines.label_select import LabelSelect, LabelSelectParams
from ..engines.maxpool import MaxPool, MaxPoolParams
from ..engines.bitserial_mvau import BitSerialMatrixVectorUnit, BitSerialMVAUParams
from ..engines.mvau import MatrixVectorUnit, MVAUParams
from ..engines.pad import Pad, PadParams
from ..engines.sliding_window import SlidingWindow, SlidingWindowParams
from ..engines.stream_fifo import StreamFIFO
from ..engines.thresholds import Thresholds, ThresholdsParams
from ..engines.width_converter import WidthConverter, WidthConverterParams
from ..network.layers import Activation, Conv2d, Dense, Flatten, InputLayer, LabelSelect as \
    LabelSelectLayer, MaxPool as MaxPoolLayer

__all__ = ["Stream", "Node", "lower", "matrix_params"]


def _matrix_unit(params, **arrays):
    """The bit-parallel or bit-serial MVAU, by the type of ``params``."""
    if isinstance(params, BitSerialMVAUParams):
        return BitSerialMatrixVectorUnit(params, **arrays)
    return MatrixVectorUnit(params, **arrays)


def matrix_params(layer, out_dtype, pe, simd):
    """The MVAU parameters of a conv2d/dense ``layer`` at folding (pe, simd), with thresholds
    to ``out_dtype`` fused (None: raw dot products). ValueError beyond what the engine can
    generate."""
    shape = (layer.mw, layer.mh, pe, simd, layer.in_dtype, layer.weight_dtype, layer.vectors,
             out_dtype)
    if layer.engine == "bitserial":
        return BitSerialMVAUParams(*shape, mode=layer.bitserial_mode)
    return MVAUParams(*shape, style=layer.engine)

ENGINES = {
    "pad": Pad,
    "sliding_window": SlidingWindow,
    "mvau": _matrix_unit,
    "thresholds": Thresholds,
    "maxpool": MaxPool,
    "label_select": LabelSelect,
    "width_converter": WidthConverter,
    "fifo": StreamFIFO,
}


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


@dataclass
class Node:
    """One engine of the pipeline, with the streams it consumes and produces."""
    name: str
    kind: str
    layer: str               # the description layer it implements
    params: object
    source: Stream
    sink: Stream
    arrays: dict = field(default_factory=dict)   # weights, thresholds

    def component(self):
        return ENGINES[self.kind](self.params, **self.arrays)

    def cycles(self):
        """Ideal cycles per frame with no stalls (the engine's cycle model)."""
        if self.kind == "fifo":
            return self.params.cycles(self.sink.words)
        return self.params.cycles()

    def resources(self):
        return self.params.resources()


class _Chain:
    """Appends nodes, converting the running stream's word width where a node needs another.

    The pipeline's input stream takes the word width of the first engine.
    """

    def __init__(self, dtype, frame):
        self.nodes = []
        self.stream = None
        self.input = (dtype, frame)

    def add(self, name, kind, layer, params, elems, sink, **arrays):
        if self.stream is None:
            self.stream = Stream(elems, *self.input)
        elif self.stream.elems != elems:
            converted = Stream(elems, self.stream.dtype, self.stream.frame)
            self.nodes.append(Node(
                f"{layer}_dwc", "width_converter", layer,
                WidthConverterParams(self.stream.elems, elems, self.stream.dtype.bits,
                                     self.stream.frame), self.stream, converted))
            self.stream = converted
        self.nodes.append(Node(name, kind, layer, params, self.stream, sink, arrays))
        self.stream = sink


def _fused_activation(network, index):
    following = network.layers[index + 1] if index + 1 < len(network.layers) else None
    return following if isinstance(following, Activation) and following.fused_into else None


def lower(network):
    """The engine nodes of ``network`` (already folded), in stream order, without FIFOs."""
    chain = _Chain(network.input.out_dtype, prod(network.input.out_shape))
    for index, layer in enumerate(network.layers):
        dtype = layer.in_dtype
        if isinstance(layer, (Conv2d, Dense)):
            _lower_matrix(chain, layer, _fused_activation(network, index))
        elif isinstance(layer, Activation):
            if layer.fused_into:
                continue
            params = ThresholdsParams(layer.channels, layer.pe, dtype, layer.out_dtype,
                                      prod(layer.in_shape) // layer.channels)
            chain.add(layer.name, "thresholds", layer.name, params, layer.pe,
                      Stream(layer.pe, layer.out_dtype, prod(layer.in_shape)),
                      thresholds=layer.thresholds)
        elif isinstance(layer, MaxPoolLayer):
            h, w, c = layer.in_shape
            params = MaxPoolParams(h, w, c, tuple(layer.kernel), tuple(layer.stride), layer.pe,
                                   dtype)
            chain.add(layer.name, "maxpool", layer.name, params, layer.pe,
                      Stream(layer.pe, dtype, prod(layer.out_shape)))
        elif isinstance(layer, LabelSelectLayer):
            params = LabelSelectParams(layer.classes, layer.pe, dtype, layer.k)
            chain.add(layer.name, "label_select", layer.name, params, layer.pe,
                      Stream(1, layer.out_dtype, layer.k))
        else:
            assert isinstance(layer, (InputLayer, Flatten))
    if not chain.nodes:
        raise ValueError("the network has no layer that needs hardware")
    return chain.nodes


def _lower_matrix(chain, layer, activation):
    dtype = layer.in_dtype
    if isinstance(layer, Conv2d):
        h, w, c = layer.in_shape
        if any(layer.pads):
            ph, pw, _ = layer.padded_shape
            chain.add(f"{layer.name}_pad", "pad", layer.name,
                      PadParams(h, w, c, tuple(layer.pads), layer.simd, dtype), layer.simd,
                      Stream(layer.simd, dtype, ph * pw * c))
            h, w = ph, pw
        kh, kw = layer.kernel
        chain.add(f"{layer.name}_swg", "sliding_window", layer.name,
                  SlidingWindowParams(h, w, c, (kh, kw), tuple(layer.stride), layer.simd, dtype),
                  layer.simd, Stream(layer.simd, dtype, layer.vectors * layer.mw))
    out_dtype = activation.out_dtype if activation else layer.out_dtype
    params = matrix_params(layer, activation.out_dtype if activation else None, layer.pe,
                           layer.simd)
    arrays = {"weights": layer.weights.reshape(layer.mh, layer.mw)}
    if activation:
        arrays["thresholds"] = activation.thresholds
    chain.add(f"{layer.name}_mvau", "mvau", layer.name, params, layer.simd,
              Stream(layer.pe, out_dtype, layer.vectors * layer.mh), **arrays)
