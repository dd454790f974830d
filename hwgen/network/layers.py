"""The layers of a network description, after loading and validation.

Each layer knows its input and output shapes and datatypes, its parameters, its golden
execution (via :mod:`hwgen.golden`) and its ideal cycles per frame at its folding (FINN's
formulas). Shapes exclude the batch axis: (H, W, C) for feature maps, (N,) for vectors.
"""

from dataclasses import dataclass
from math import prod

import numpy as np

from .. import golden
from ..datatypes import DataType, product_range
from ..engines.bitserial_mvau import bit_planes

__all__ = ["Layer", "InputLayer", "Conv2d", "Dense", "MaxPool", "Activation", "Flatten",
           "LabelSelect"]


@dataclass
class Layer:
    name: str
    in_shape: tuple
    in_dtype: DataType

    kind = "layer"
    hints = frozenset()      # the folding fields ("pe", "simd") the description set explicitly

    @property
    def out_shape(self):
        return self.in_shape

    @property
    def out_dtype(self):
        return self.in_dtype

    def golden(self, x):
        """This layer's output for a batch ``x`` of shape (N, *in_shape)."""
        return x

    def ideal_cycles(self):
        """Ideal cycles per frame of this layer's engines at its folding (0: no hardware)."""
        return 0

    def folding(self):
        """{'pe': .., 'simd': ..} where the layer has them."""
        return {}

    @property
    def out_elems(self):
        """Elements per word of this layer's output stream at its folding."""
        return self.folding().get("pe", 1)


@dataclass
class InputLayer(Layer):
    kind = "input"


@dataclass
class _MatrixLayer(Layer):
    """A layer computed by a matrix-vector unit: dense, or conv2d as windows x weight matrix."""
    weight_dtype: DataType = None
    weights: np.ndarray = None
    pe: int = 1
    simd: int = 1
    engine: str = "parallel"
    bitserial_mode: str = None     # "activations" or "both" for engine "bitserial"

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

    def ideal_cycles(self):
        return self.vectors * (self.mh // self.pe) * (self.mw // self.simd) * self.planes

    @property
    def macs(self):
        return self.vectors * self.mw * self.mh


@dataclass
class Dense(_MatrixLayer):
    """out[n] = sum_k W[n, k] x[k]; weights (MH, MW); the input is flattened in NHWC order."""
    kind = "dense"

    @property
    def out_shape(self):
        return (self.mh,)

    def golden(self, x):
        return golden.dense(x, self.weights)


@dataclass
class Conv2d(_MatrixLayer):
    """Convolution; weights (OFM, KH, KW, IFM); pads (top, bottom, left, right)."""
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

    def ideal_cycles(self):
        # Input-bound for non-overlapping windows, output-bound (the window stream) otherwise.
        (h, w, c), (oh, ow, _) = self.in_shape, self.out_shape
        kh, kw = self.kernel
        return max(h * w, oh * ow * kh * kw) * c // self.pe


@dataclass
class Activation(Layer):
    """Batch-norm + quantized activation as integer multi-thresholds (C, 2**bits - 1)."""
    thresholds: np.ndarray = None
    activation_dtype: DataType = None
    pe: int = 1
    fused_into: str = None   # the conv2d/dense layer whose MVAU applies these thresholds
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

    def ideal_cycles(self):
        return 0 if self.fused_into else prod(self.in_shape) // self.pe


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

    def ideal_cycles(self):
        # k = 1: a word per cycle; k > 1: a class per cycle. The k indices leave while the
        # next frame's scores stream in.
        return self.classes // self.pe if self.k == 1 else self.classes

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
