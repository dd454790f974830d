"""maxpool: the maximum over K x K windows per channel: a RowMaxPool engine when the windows
tile the input (kernel == stride), a MaxPool (sliding window and running max) otherwise; with
padding, a Pad engine in front (zeros, which pad as the minimum does for unsigned inputs
only)."""

from dataclasses import dataclass
from math import prod

from ... import golden
from ...compiler.lowering import Stream
from ...engines.maxpool import MaxPoolParams
from ...engines.pad import PadParams
from ...engines.pool_rows import RowMaxPoolParams
from .base import ChannelLayer

__all__ = ["MaxPool"]


@dataclass
class MaxPool(ChannelLayer):
    kernel: tuple = (2, 2)
    stride: tuple = (2, 2)
    pads: tuple = (0, 0, 0, 0)      # top, bottom, left, right
    kind = "maxpool"
    FIELDS = frozenset({"kernel", "stride", "padding", "pe"})

    @classmethod
    def read(cls, reader, spec, name, prev):
        h, w, c = reader.feature_map(prev, "maxpool")
        kernel = reader.pair(spec, "kernel")
        stride = reader.pair(spec, "stride", default=list(kernel))
        pads = reader.pads(spec)
        if any(pads) and prev.out_dtype.min != 0:
            reader.error(f"max pooling pads with zeros, which act as the minimum only for "
                         f"unsigned inputs, not {prev.out_dtype}", field="padding")
        if any(pad >= k for pad, k in zip(pads, (kernel[0],) * 2 + (kernel[1],) * 2)):
            reader.error(f"padding {list(pads)} must be smaller than the kernel", field="padding")
        if kernel[0] > h + pads[0] + pads[1] or kernel[1] > w + pads[2] + pads[3]:
            reader.error(f"kernel {kernel[0]}x{kernel[1]} is larger than the input {h}x{w}",
                         field="kernel")
        return cls(name, prev.out_shape, prev.out_dtype, kernel=kernel, stride=stride,
                   pads=pads, pe=cls.read_pe(reader, spec, c, [prev]))

    @property
    def padded_shape(self):
        (h, w, c), (top, bottom, left, right) = self.in_shape, self.pads
        return (h + top + bottom, w + left + right, c)

    @property
    def out_shape(self):
        (h, w, c), (kh, kw), (sh, sw) = self.padded_shape, self.kernel, self.stride
        return ((h - kh) // sh + 1, (w - kw) // sw + 1, c)

    def golden(self, x):
        return golden.maxpool(golden.pad(x, self.pads), self.kernel, self.stride)

    def lower(self, graph):
        h, w, c = self.in_shape
        source = graph.read(self.inputs[0])
        if any(self.pads):
            ph, pw, _ = self.padded_shape
            source = graph.add(f"{self.name}_pad", "pad", self.name,
                               PadParams(h, w, c, tuple(self.pads), self.pe, self.in_dtype),
                               [(source, self.pe)], Stream(self.pe, self.in_dtype, ph * pw * c))
            h, w = ph, pw
        if tuple(self.kernel) == tuple(self.stride):
            kind, params = "row_maxpool", RowMaxPoolParams(h, w, c, tuple(self.kernel),
                                                           self.pe, self.in_dtype)
        else:
            kind, params = "maxpool", MaxPoolParams(h, w, c, tuple(self.kernel),
                                                    tuple(self.stride), self.pe, self.in_dtype)
        graph.produce(self.name, graph.add(
            self.name, kind, self.name, params, [(source, self.pe)],
            Stream(self.pe, self.in_dtype, prod(self.out_shape))))

    def spec(self, arrays):
        spec = {"kernel": list(self.kernel), "stride": list(self.stride), "pe": self.pe}
        if any(self.pads):
            spec["padding"] = list(self.pads)
        return spec
