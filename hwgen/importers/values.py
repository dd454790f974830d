"""What the importer knows of each ONNX tensor: a :class:`Const` or a :class:`Feature`.

A :class:`Feature` is a tensor the hardware computes: an elementwise function of the integers of
one hwgen layer's output stream (``source``). The function is an affine *head*, kept exact in
float64 while nothing but affine operators follow the integers (the common case: a MatMul's
scales, its bias, a batch norm), then a *tail* of operators replayed in float32 (Relu, a
quantizer, and whatever follows them). ``index`` gives, for each element of the ONNX tensor
(its shape, batch axis included, with a batch of 1), its position in the layer's frame
flattened in NHWC order; layout operators (Reshape, Transpose, Flatten...) only move it.
"""

from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Const", "Feature", "canonical_index"]


def canonical_index(hw_shape):
    """The ``index`` of a layer's output as ONNX lays it out: (1, C, H, W) for a feature map
    (H, W, C), (1, F) for a vector."""
    index = np.arange(int(np.prod(hw_shape))).reshape(hw_shape)
    if len(hw_shape) == 3:
        index = index.transpose(2, 0, 1)
    return index[None]


@dataclass(frozen=True)
class Const:
    """A constant tensor; ``ints`` and ``scale`` (both of the value's shape) where it is
    ``ints * scale`` with integer ``ints`` (a quantized weight), ``bipolar`` if a bipolar
    quantizer made the integers."""
    value: np.ndarray
    ints: np.ndarray = None
    scale: np.ndarray = None
    bipolar: bool = False
    nodes: tuple = field(default=(), compare=False)     # the ONNX nodes folded into it

    def moved(self, fn):
        """The constant after a layout operator ``fn`` (on arrays), integers kept."""
        if self.ints is None:
            return Const(np.asarray(fn(self.value)), nodes=self.nodes)
        return Const(np.asarray(fn(self.value)), np.asarray(fn(self.ints)),
                     np.asarray(fn(self.scale)), self.bipolar, self.nodes)


@dataclass(frozen=True)
class Feature:
    source: str                 # the hwgen layer; None for the model's float input
    dtype: object               # the layer's output datatype (None for the float input)
    hw_shape: tuple             # the layer's output shape: (H, W, C) or (F,)
    index: np.ndarray           # see the module's docstring
    head: tuple                 # (scale, bias), float64 (C,) each
    tail: tuple = ()            # Elementwise operators after the head, in order
    grid: object = None         # Grid of the values, if they are on one
    # True while every tensor from the source's output to this one has one reader: only then
    # may the importer change the source (negate weights) for this tensor's sake.
    private: bool = True
    nodes: tuple = field(default=(), compare=False)     # the ONNX nodes that made the tail

    @property
    def channels(self):
        return self.hw_shape[-1]

    @property
    def affine(self):
        """(scale, bias) per channel if the values are an affine function of the integers."""
        return self.head if not self.tail else None

    def moved(self, index):
        return replace(self, index=index)

    def then(self, op, node):
        """This tensor after the elementwise operator ``op`` (ONNX node ``node``)."""
        if op.affine is not None and not self.tail and self.source is not None:
            (s, b), (a, c) = self.head, op.affine
            grid = self.grid.then(a, c) if self.grid is not None else None
            return replace(self, head=(s * a, b * a + c), grid=grid,
                           nodes=self.nodes + (node,))
        if op.affine is not None:
            grid = self.grid.then(*op.affine) if self.grid is not None else None
        elif op.grid == "keeps":
            grid = self.grid
        else:
            grid = op.grid
        return replace(self, tail=self.tail + (op,), grid=grid, nodes=self.nodes + (node,))

    def evaluate(self, x):
        """The values for integers (or, for the float input, floats) ``x`` of shape (C, K)."""
        with np.errstate(over="ignore", invalid="ignore"):    # inputs as large as float32's
            if self.source is None:
                y = np.asarray(x, dtype=np.float32)
            else:
                s, b = self.head
                y = (np.asarray(x, np.float64) * s[:, None] + b[:, None]).astype(np.float32)
            for op in self.tail:
                y = op(y).astype(np.float32)
        return y
