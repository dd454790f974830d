"""global_avgpool: global average pooling as its integer part, the sum over H x W per channel,
a GlobalAccPool engine. The 1 / (H x W) belongs to what reads it: the thresholds of an
activation, which the loader calibrates on these sums (or which a description states scaled)."""

from dataclasses import dataclass

from ... import golden
from ...compiler.lowering import Stream
from ...datatypes import MAX_BITS
from ...engines.global_avgpool import GlobalAccPoolParams, pooled_dtype
from .base import ChannelLayer, pixels

__all__ = ["GlobalAvgPool"]


@dataclass
class GlobalAvgPool(ChannelLayer):
    """Output (1, 1, C) in the exact datatype of the sums."""
    kind = "global_avgpool"

    @classmethod
    def read(cls, reader, spec, name, prev):
        h, w, c = reader.feature_map(prev, "global_avgpool")
        try:
            pooled_dtype(prev.out_dtype, h * w)
        except ValueError:
            reader.error(f"the sum of {h * w} {prev.out_dtype} values is wider than "
                         f"{MAX_BITS} bits", field="kind")
        return cls(name, prev.out_shape, prev.out_dtype,
                   pe=cls.read_pe(reader, spec, c, [prev]))

    @property
    def out_shape(self):
        return (1, 1, self.in_shape[-1])

    @property
    def out_dtype(self):
        return pooled_dtype(self.in_dtype, pixels(self.in_shape))

    def golden(self, x):
        return golden.global_sum(x)

    def lower(self, graph):
        params = GlobalAccPoolParams(self.in_shape[-1], self.pe, self.in_dtype,
                                     pixels(self.in_shape))
        graph.produce(self.name, graph.add(
            self.name, "global_avgpool", self.name, params,
            [(graph.read(self.inputs[0]), self.pe)],
            Stream(self.pe, self.out_dtype, self.in_shape[-1])))
