"""flatten: (H, W, C) -> (H*W*C,) in NHWC order, the stream order already: no hardware."""

from dataclasses import dataclass, replace
from math import prod

from .base import Layer

__all__ = ["Flatten"]


@dataclass
class Flatten(Layer):
    out_elems: int = 1       # elements per word of the stream passing through
    kind = "flatten"

    @classmethod
    def read(cls, reader, spec, name, prev):
        return cls(name, prev.out_shape, prev.out_dtype, prev.out_elems)

    @property
    def out_shape(self):
        return (prod(self.in_shape),)

    def golden(self, x):
        return x.reshape(len(x), -1)

    def fold(self, inputs, target, hints):
        return replace(self, out_elems=inputs[0].out_elems)
