"""The layers of a network description, after loading and validation.

A network is a DAG of layers in dataflow order: each layer names the layers it reads
(``inputs``), the first is the input layer and the last the output. Each layer knows its input
and output shapes and datatypes, its parameters, its golden execution (via :mod:`hwgen.golden`)
and its lowering onto streaming engines (:meth:`Layer.lower`, into a
:class:`~hwgen.compiler.lowering.Graph`). Its ideal cycles per frame are those of the engines
it lowers to (their own cycle models), so the cost that folding and ``hwgen check`` use is the
built pipeline's. Shapes exclude the batch axis: (H, W, C) for feature maps, (N,) for vectors.
``in_shape``/``in_dtype`` are those of the first input.
"""

from dataclasses import dataclass, field
from math import gcd, prod

import numpy as np

from .. import golden
from ..compiler.lowering import Graph, Stream
from ..datatypes import DataType, product_range
from ..engines.add import AddParams, sum_dtype
from ..engines.bitserial_mvau import BitSerialMVAUParams, bit_planes
from ..engines.concat import ConcatParams
from ..engines.global_avgpool import GlobalAccPoolParams, pooled_dtype
from ..engines.label_select import LabelSelectParams
from ..engines.maxpool import MaxPoolParams
from ..engines.mvau import MVAUParams
from ..engines.pad import PadParams
from ..engines.sliding_window import SlidingWindowParams
from ..engines.thresholds import ThresholdsParams

__all__ = ["Layer", "InputLayer", "Conv2d", "Dense", "MaxPool", "Activation", "Flatten",
           "LabelSelect", "Add", "Concat", "GlobalAvgPool", "KINDS"]


@dataclass
class Layer:
    name: str
    in_shape: tuple
    in_dtype: DataType
    inputs: tuple = field(default=(), kw_only=True)     # names of the layers it reads
    # The activation this layer's engine applies to its output (its ``fused_into`` names this
    # layer): set by the loader when the activation is this layer's only reader.
    fused: object = field(default=None, kw_only=True, repr=False, compare=False)

    kind = "layer"
    hints = frozenset()      # the folding fields ("pe", "simd") the description set explicitly
    fusable = False          # whether an activation reading this layer can be fused into it

    @property
    def out_shape(self):
        return self.in_shape

    @property
    def out_dtype(self):
        return self.in_dtype

    def golden(self, x):
        """This layer's output for batches of its inputs, each of shape (N, *input's shape)."""
        return x

    def lower(self, graph):
        """Add this layer's engines to ``graph``, reading its inputs' streams from it
        (:meth:`Graph.read`) and registering its output's (:meth:`Graph.produce`)."""
        graph.alias(self.name, self.inputs[0])

    def engine_nodes(self):
        """The engines this layer lowers to on its own (no width converters, FIFOs or forks)."""
        graph = Graph.for_layer(self)
        self.lower(graph)
        return [node for node in graph.nodes if node.kind not in Graph.PLUMBING]

    def ideal_cycles(self):
        """Ideal cycles per frame of this layer's engines at its folding (0: no hardware): the
        most of any engine it lowers to, from that engine's cycle model."""
        return max((node.cycles() for node in self.engine_nodes()), default=0)

    @property
    def output_dtype(self):
        """The datatype of this layer's output stream: its fused activation's, if any."""
        return self.fused.out_dtype if self.fused else self.out_dtype

    def folding(self):
        """{'pe': .., 'simd': ..} where the layer has them."""
        return {}

    @property
    def folding_channels(self):
        """What a channel-wise layer's PE must divide."""
        return self.out_shape[-1]

    @property
    def out_elems(self):
        """Elements per word of this layer's output stream at its folding."""
        return self.folding().get("pe", 1)


@dataclass
class InputLayer(Layer):
    kind = "input"

    def lower(self, graph):
        graph.produce(self.name, graph.pipeline_input())


def _pixels(shape):
    """Values per channel of a (H, W, C) or (C,) shape."""
    return prod(shape[:-1])


@dataclass
class _MatrixLayer(Layer):
    """A layer computed by a matrix-vector unit: dense, or conv2d as windows x weight matrix."""
    weight_dtype: DataType = None
    weights: np.ndarray = None
    pe: int = 1
    simd: int = 1
    engine: str = "parallel"
    bitserial_mode: str = None     # "activations" or "both" for engine "bitserial"
    fusable = True

    @property
    def mw(self):
        return self.weights[0].size

    @property
    def mh(self):
        return self.weights.shape[0]

    @property
    def vectors(self):
        """Input vectors (output pixels) per frame."""
        return 1

    @property
    def acc_range(self):
        """Worst-case (lo, hi) of a dot product, from the datatypes."""
        lo, hi = product_range(self.in_dtype, self.weight_dtype)
        return self.mw * lo, self.mw * hi

    @property
    def out_dtype(self):
        return DataType.for_range(*self.acc_range)

    def folding(self):
        return {"pe": self.pe, "simd": self.simd}

    @property
    def planes(self):
        """Bit-planes per MAC step: 1, or weight x activation planes for a bit-serial engine."""
        if self.engine != "bitserial":
            return 1
        weight_planes, act_planes = bit_planes(self.in_dtype, self.weight_dtype,
                                               self.bitserial_mode)
        return weight_planes * act_planes

    @property
    def macs(self):
        return self.vectors * self.mw * self.mh

    def matrix_params(self, pe, simd):
        """The MVAU parameters at folding (pe, simd), the fused activation's thresholds
        included. ValueError beyond what the engine can generate."""
        shape = (self.mw, self.mh, pe, simd, self.in_dtype, self.weight_dtype, self.vectors,
                 self.fused.out_dtype if self.fused else None)
        if self.engine == "bitserial":
            return BitSerialMVAUParams(*shape, mode=self.bitserial_mode)
        return MVAUParams(*shape, style=self.engine)

    def lower_matrix(self, graph, source):
        """The MVAU reading ``source`` (a port of ``graph``) and producing this layer's output."""
        arrays = {"weights": self.weights.reshape(self.mh, self.mw)}
        if self.fused:
            arrays["thresholds"] = self.fused.thresholds
        graph.produce(self.name, graph.add(
            f"{self.name}_mvau", "mvau", self.name, self.matrix_params(self.pe, self.simd),
            [(source, self.simd)], Stream(self.pe, self.output_dtype, self.vectors * self.mh),
            **arrays))


@dataclass
class Dense(_MatrixLayer):
    """out[n] = sum_k W[n, k] x[k]; weights (MH, MW); the input is flattened in NHWC order."""
    kind = "dense"

    @property
    def out_shape(self):
        return (self.mh,)

    def golden(self, x):
        return golden.dense(x, self.weights)

    def lower(self, graph):
        self.lower_matrix(graph, graph.read(self.inputs[0]))


@dataclass
class Conv2d(_MatrixLayer):
    """Convolution; weights (OFM, KH, KW, IFM); pads (top, bottom, left, right). Lowered as in
    FINN: [Pad] + SlidingWindow + MVAU."""
    stride: tuple = (1, 1)
    pads: tuple = (0, 0, 0, 0)
    kind = "conv2d"

    @property
    def kernel(self):
        return self.weights.shape[1:3]

    @property
    def padded_shape(self):
        h, w, c = self.in_shape
        top, bottom, left, right = self.pads
        return (h + top + bottom, w + left + right, c)

    @property
    def out_shape(self):
        (h, w, _), (kh, kw), (sh, sw) = self.padded_shape, self.kernel, self.stride
        return ((h - kh) // sh + 1, (w - kw) // sw + 1, self.mh)

    @property
    def vectors(self):
        return self.out_shape[0] * self.out_shape[1]

    def golden(self, x):
        return golden.conv2d(x, self.weights, self.stride, self.pads)

    def lower(self, graph):
        dtype, simd = self.in_dtype, self.simd
        (h, w, c), source = self.in_shape, graph.read(self.inputs[0])
        if any(self.pads):
            ph, pw, _ = self.padded_shape
            source = graph.add(f"{self.name}_pad", "pad", self.name,
                               PadParams(h, w, c, tuple(self.pads), simd, dtype), [(source, simd)],
                               Stream(simd, dtype, ph * pw * c))
            h, w = ph, pw
        source = graph.add(f"{self.name}_swg", "sliding_window", self.name,
                           SlidingWindowParams(h, w, c, tuple(self.kernel), tuple(self.stride),
                                               simd, dtype),
                           [(source, simd)], Stream(simd, dtype, self.vectors * self.mw))
        self.lower_matrix(graph, source)


@dataclass
class MaxPool(Layer):
    kernel: tuple = (2, 2)
    stride: tuple = (2, 2)
    pe: int = 1
    kind = "maxpool"

    @property
    def out_shape(self):
        (h, w, c), (kh, kw), (sh, sw) = self.in_shape, self.kernel, self.stride
        return ((h - kh) // sh + 1, (w - kw) // sw + 1, c)

    def golden(self, x):
        return golden.maxpool(x, self.kernel, self.stride)

    def folding(self):
        return {"pe": self.pe}

    def lower(self, graph):
        h, w, c = self.in_shape
        params = MaxPoolParams(h, w, c, tuple(self.kernel), tuple(self.stride), self.pe,
                               self.in_dtype)
        graph.produce(self.name, graph.add(
            self.name, "maxpool", self.name, params, [(graph.read(self.inputs[0]), self.pe)],
            Stream(self.pe, self.in_dtype, prod(self.out_shape))))


@dataclass
class Activation(Layer):
    """Batch-norm + quantized activation as integer multi-thresholds (C, 2**bits - 1): fused
    into the engine of the layer it reads (``fused_into``), or a Thresholds engine."""
    thresholds: np.ndarray = None
    activation_dtype: DataType = None
    pe: int = 1
    fused_into: str = None   # the layer whose engine applies these thresholds
    kind = "activation"

    @property
    def out_dtype(self):
        return self.activation_dtype

    @property
    def channels(self):
        return self.in_shape[-1]

    def golden(self, x):
        return golden.multithreshold(x, self.thresholds, self.activation_dtype)

    def folding(self):
        return {"pe": self.pe}

    def lower(self, graph):
        if self.fused_into:
            graph.alias(self.name, self.fused_into)
            return
        params = ThresholdsParams(self.channels, self.pe, self.in_dtype, self.out_dtype,
                                  _pixels(self.in_shape))
        graph.produce(self.name, graph.add(
            self.name, "thresholds", self.name, params, [(graph.read(self.inputs[0]), self.pe)],
            Stream(self.pe, self.out_dtype, prod(self.in_shape)), thresholds=self.thresholds))


@dataclass
class Flatten(Layer):
    """(H, W, C) -> (H*W*C,) in NHWC order: the stream order already, so no hardware."""
    out_elems: int = 1
    kind = "flatten"

    @property
    def out_shape(self):
        return (prod(self.in_shape),)

    def golden(self, x):
        return x.reshape(len(x), -1)


@dataclass
class LabelSelect(Layer):
    """Indices of the k largest class scores, largest first (ties: lower index first)."""
    k: int = 1
    pe: int = 1
    kind = "label_select"

    @property
    def classes(self):
        return prod(self.in_shape)

    @property
    def out_shape(self):
        return (self.k,)

    @property
    def out_dtype(self):
        return DataType("UINT", max(1, (self.classes - 1).bit_length()))

    def golden(self, x):
        return golden.label_select(x, self.k)

    def folding(self):
        return {"pe": self.pe}

    def lower(self, graph):
        params = LabelSelectParams(self.classes, self.pe, self.in_dtype, self.k)
        graph.produce(self.name, graph.add(
            self.name, "label_select", self.name, params,
            [(graph.read(self.inputs[0]), self.pe)], Stream(1, self.out_dtype, self.k)))

    def default_pe(self, natural, target):
        """The PE without a hint, given the ``natural`` one (that of the stream feeding it,
        which needs no width converter) and a ``target`` of cycles per frame. k = 1: the
        smallest PE that meets the target (the engine's tournament tree grows with PE; a width
        converter inserted in front of a narrow one is cheaper), else ``classes``. k > 1: the
        natural PE, since the engine takes one class per cycle at any PE (shifting the lanes of
        a word out itself, as a converter would)."""
        if self.k > 1:
            return natural
        return next((pe for pe in range(1, self.classes + 1)
                     if self.classes % pe == 0 and self.classes // pe <= target), self.classes)


@dataclass
class Add(Layer):
    """Elementwise sum of two or more same-shape inputs, each in its own integer datatype
    (``in_dtypes``); the output datatype holds every possible sum exactly. An activation
    reading it is fused into its engine."""
    in_dtypes: tuple = ()
    pe: int = 1
    kind = "add"
    fusable = True

    @property
    def out_dtype(self):
        return sum_dtype(self.in_dtypes)

    def golden(self, *xs):
        return golden.add(*xs)

    def folding(self):
        return {"pe": self.pe}

    def lower(self, graph):
        params = AddParams(self.in_shape[-1], self.pe, tuple(self.in_dtypes),
                           _pixels(self.in_shape), self.fused.out_dtype if self.fused else None)
        arrays = {"thresholds": self.fused.thresholds} if self.fused else {}
        graph.produce(self.name, graph.add(
            self.name, "add", self.name, params,
            [(graph.read(name), self.pe) for name in self.inputs],
            Stream(self.pe, self.output_dtype, prod(self.in_shape)), **arrays))


@dataclass
class Concat(Layer):
    """Inputs of the same height, width and datatype joined along the channels, in order."""
    in_channels: tuple = ()
    pe: int = 1
    kind = "concat"

    @property
    def out_shape(self):
        return (*self.in_shape[:-1], sum(self.in_channels))

    @property
    def folding_channels(self):
        return gcd(*self.in_channels)

    def golden(self, *xs):
        return golden.concat(*xs)

    def folding(self):
        return {"pe": self.pe}

    def lower(self, graph):
        params = ConcatParams(tuple(self.in_channels), self.pe, self.in_dtype,
                              _pixels(self.in_shape))
        graph.produce(self.name, graph.add(
            self.name, "concat", self.name, params,
            [(graph.read(name), self.pe) for name in self.inputs],
            Stream(self.pe, self.in_dtype, prod(self.out_shape))))


@dataclass
class GlobalAvgPool(Layer):
    """Global average pooling as its integer part: the sum over H x W per channel, output
    (1, 1, C) in the exact datatype of that sum. The 1 / (H x W) belongs to what reads it (the
    thresholds of an activation, which the loader calibrates on these sums)."""
    pe: int = 1
    kind = "global_avgpool"

    @property
    def out_shape(self):
        return (1, 1, self.in_shape[-1])

    @property
    def out_dtype(self):
        return pooled_dtype(self.in_dtype, _pixels(self.in_shape))

    def golden(self, x):
        return golden.global_sum(x)

    def folding(self):
        return {"pe": self.pe}

    def lower(self, graph):
        params = GlobalAccPoolParams(self.in_shape[-1], self.pe, self.in_dtype,
                                     _pixels(self.in_shape))
        graph.produce(self.name, graph.add(
            self.name, "global_avgpool", self.name, params,
            [(graph.read(self.inputs[0]), self.pe)],
            Stream(self.pe, self.out_dtype, self.in_shape[-1])))


def natural_pe(channels, *elems):
    """The PE of a channel-wise layer that needs no width converter in front: the largest
    divisor of ``channels`` that every input stream's elements per word (``elems``) allows."""
    return gcd(channels, *elems)


KINDS = {cls.kind: cls for cls in (InputLayer, Conv2d, Dense, MaxPool, Activation, Flatten,
                                   LabelSelect, Add, Concat, GlobalAvgPool)}
