"""concat: inputs of the same height, width and datatype joined along the channels, in order;
a ConcatStreams engine."""

from dataclasses import dataclass
from math import gcd, prod

from ... import golden
from ...compiler.lowering import Stream
from ...engines.concat import ConcatParams
from .base import ChannelLayer, pixels

__all__ = ["Concat"]


@dataclass
class Concat(ChannelLayer):
    in_channels: tuple = ()
    kind = "concat"
    JOIN = True

    @classmethod
    def read(cls, reader, spec, name, *inputs):
        reader.same(inputs, lambda layer: layer.out_shape[:-1],
                    "the heights and widths" if len(inputs[0].out_shape) == 3 else "the shapes")
        reader.same(inputs, lambda layer: layer.out_dtype, "the datatypes")
        channels = tuple(layer.out_shape[-1] for layer in inputs)
        return cls(name, inputs[0].out_shape, inputs[0].out_dtype, in_channels=channels,
                   pe=cls.read_pe(reader, spec, gcd(*channels), inputs,
                                  "the inputs' channels' gcd"))

    @property
    def out_shape(self):
        return (*self.in_shape[:-1], sum(self.in_channels))

    @property
    def folding_channels(self):
        return gcd(*self.in_channels)

    def golden(self, *xs):
        return golden.concat(*xs)

    def lower(self, graph):
        params = ConcatParams(tuple(self.in_channels), self.pe, self.in_dtype,
                              pixels(self.in_shape))
        graph.produce(self.name, graph.add(
            self.name, "concat", self.name, params,
            [(graph.read(name), self.pe) for name in self.inputs],
            Stream(self.pe, self.in_dtype, prod(self.out_shape))))
