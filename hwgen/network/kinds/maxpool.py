"""maxpool: the maximum over K x K windows per channel, a MaxPool engine."""

from dataclasses import dataclass
from math import prod

from ... import golden
from ...compiler.lowering import Stream
from ...engines.maxpool import MaxPoolParams
from .base import ChannelLayer

__all__ = ["MaxPool"]


@dataclass
class MaxPool(ChannelLayer):
    kernel: tuple = (2, 2)
    stride: tuple = (2, 2)
    kind = "maxpool"
    FIELDS = frozenset({"kernel", "stride", "pe"})

    @classmethod
    def read(cls, reader, spec, name, prev):
        h, w, c = reader.feature_map(prev, "maxpool")
        kernel = reader.pair(spec, "kernel")
        stride = reader.pair(spec, "stride", default=list(kernel))
        if kernel[0] > h or kernel[1] > w:
            reader.error(f"kernel {kernel[0]}x{kernel[1]} is larger than the input {h}x{w}",
                         field="kernel")
        return cls(name, prev.out_shape, prev.out_dtype, kernel=kernel, stride=stride,
                   pe=cls.read_pe(reader, spec, c, [prev]))

    @property
    def out_shape(self):
        (h, w, c), (kh, kw), (sh, sw) = self.in_shape, self.kernel, self.stride
        return ((h - kh) // sh + 1, (w - kw) // sw + 1, c)

    def golden(self, x):
        return golden.maxpool(x, self.kernel, self.stride)

    def lower(self, graph):
        h, w, c = self.in_shape
        params = MaxPoolParams(h, w, c, tuple(self.kernel), tuple(self.stride), self.pe,
                               self.in_dtype)
        graph.produce(self.name, graph.add(
            self.name, "maxpool", self.name, params, [(graph.read(self.inputs[0]), self.pe)],
            Stream(self.pe, self.in_dtype, prod(self.out_shape))))

    def spec(self, arrays):
        return {"kernel": list(self.kernel), "stride": list(self.stride), "pe": self.pe}
