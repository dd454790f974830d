"""add: the elementwise sum of two or more same-shape inputs (a residual join), an AddStreams
engine; an activation reading it is fused into that engine."""

from dataclasses import dataclass
from math import prod

from ... import golden
from ...compiler.lowering import Stream
from ...datatypes import MAX_BITS
from ...engines.add import AddParams, sum_dtype, sum_range
from .base import ChannelLayer, pixels

__all__ = ["Add"]


@dataclass
class Add(ChannelLayer):
    """Each input in its own integer datatype (``in_dtypes``); the output datatype holds every
    possible sum exactly."""
    in_dtypes: tuple = ()
    kind = "add"
    JOIN = True
    fusable = True

    @classmethod
    def read(cls, reader, spec, name, *inputs):
        reader.same(inputs, lambda layer: layer.out_shape, "the shapes")
        dtypes = tuple(layer.out_dtype for layer in inputs)
        try:
            sum_dtype(dtypes)
        except ValueError:
            reader.error(f"the sum of {', '.join(map(str, dtypes))} is wider than {MAX_BITS} "
                         "bits", field="inputs")
        channels = inputs[0].out_shape[-1]
        return cls(name, inputs[0].out_shape, inputs[0].out_dtype, in_dtypes=dtypes,
                   pe=cls.read_pe(reader, spec, channels, inputs))

    @property
    def out_dtype(self):
        return sum_dtype(self.in_dtypes)

    def golden(self, *xs):
        return golden.add(*xs)

    def lower(self, graph):
        params = AddParams(self.in_shape[-1], self.pe, tuple(self.in_dtypes),
                           pixels(self.in_shape), self.fused.out_dtype if self.fused else None,
                           requantizer=self.fused.requantizer(sum_range(self.in_dtypes))
                           if self.fused else None)
        arrays = {"thresholds": self.fused.thresholds} if self.fused else {}
        graph.produce(self.name, graph.add(
            self.name, "add", self.name, params,
            [(graph.read(name), self.pe) for name in self.inputs],
            Stream(self.pe, self.output_dtype, prod(self.in_shape)), **arrays))
