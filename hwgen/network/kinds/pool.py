"""What the pooling kinds share (:class:`Pool`): K x K windows at a stride, with optional zero
padding, per channel. Windows that tile the input (kernel == stride) lower to a RowPool engine,
others to a WindowPool (sliding window and running reduction); padding puts a Pad engine in
front. A kind sets the reduction (:data:`OP`) and its golden function."""

from dataclasses import dataclass
from math import prod

from ...compiler.lowering import Stream
from ...engines.pad import PadParams
from ...engines.pool_rows import RowPoolParams
from ...engines.pool_windows import WindowPoolParams
from .base import ChannelLayer

__all__ = ["Pool"]


@dataclass
class Pool(ChannelLayer):
    kernel: tuple = (2, 2)
    stride: tuple = (2, 2)
    pads: tuple = (0, 0, 0, 0)      # top, bottom, left, right
    OP = None                       # the engines' op: "max" or "sum"
    FIELDS = frozenset({"kernel", "stride", "padding", "pe"})

    @classmethod
    def read(cls, reader, spec, name, prev):
        h, w, c = reader.feature_map(prev, cls.kind)
        kernel = reader.pair(spec, "kernel")
        stride = reader.pair(spec, "stride", default=list(kernel))
        pads = reader.pads(spec)
        if any(pads):
            cls.check_padding(reader, prev.out_dtype)
        if any(pad >= k for pad, k in zip(pads, (kernel[0],) * 2 + (kernel[1],) * 2)):
            reader.error(f"padding {list(pads)} must be smaller than the kernel", field="padding")
        if kernel[0] > h + pads[0] + pads[1] or kernel[1] > w + pads[2] + pads[3]:
            reader.error(f"kernel {kernel[0]}x{kernel[1]} is larger than the input {h}x{w}",
                         field="kernel")
        return cls(name, prev.out_shape, prev.out_dtype, kernel=kernel, stride=stride,
                   pads=pads, pe=cls.read_pe(reader, spec, c, [prev])).checked(reader)

    @classmethod
    def check_padding(cls, reader, dtype):
        """One-line error (``field="padding"``) if zeros cannot pad an input of ``dtype``."""

    def checked(self, reader):
        """This layer, after the checks of its engine's parameters (as one-line errors)."""
        try:
            self.engine_params()
        except ValueError as e:
            reader.error(str(e), field="kind")
        return self

    @property
    def padded_shape(self):
        (h, w, c), (top, bottom, left, right) = self.in_shape, self.pads
        return (h + top + bottom, w + left + right, c)

    @property
    def out_shape(self):
        (h, w, c), (kh, kw), (sh, sw) = self.padded_shape, self.kernel, self.stride
        return ((h - kh) // sh + 1, (w - kw) // sw + 1, c)

    @property
    def out_dtype(self):
        return self.engine_params()[1].out_dtype

    def engine_params(self):
        """(node kind, parameters) of the pooling engine, on the padded input."""
        h, w, c = self.padded_shape
        if tuple(self.kernel) == tuple(self.stride):
            return "row_pool", RowPoolParams(h, w, c, tuple(self.kernel), self.pe,
                                             self.in_dtype, self.OP)
        return "window_pool", WindowPoolParams(h, w, c, tuple(self.kernel), tuple(self.stride),
                                               self.pe, self.in_dtype, self.OP)

    def lower(self, graph):
        h, w, c = self.in_shape
        source = graph.read(self.inputs[0])
        if any(self.pads):
            ph, pw, _ = self.padded_shape
            source = graph.add(f"{self.name}_pad", "pad", self.name,
                               PadParams(h, w, c, tuple(self.pads), self.pe, self.in_dtype),
                               [(source, self.pe)], Stream(self.pe, self.in_dtype, ph * pw * c))
        kind, params = self.engine_params()
        graph.produce(self.name, graph.add(
            self.name, kind, self.name, params, [(source, self.pe)],
            Stream(self.pe, self.out_dtype, prod(self.out_shape))))

    def spec(self, arrays):
        spec = {"kernel": list(self.kernel), "stride": list(self.stride), "pe": self.pe}
        if any(self.pads):
            spec["padding"] = list(self.pads)
        return spec
