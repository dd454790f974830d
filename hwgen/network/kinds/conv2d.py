"""conv2d: a convolution, lowered as in FINN to [Pad] + SlidingWindow + MVAU; a 1x1 kernel
needs no window: [Pad] + Subsample (at a stride) + MVAU. ``groups`` equal to the input channels
(and to ``channels``) makes it depthwise: each output channel convolves its own input channel,
lowered to [Pad] + SlidingWindow (depthwise order, ``pe`` channels of as many of the ``simd``
kernel positions per word as divide the kernel's width) + [WidthConverter to ``simd`` positions
x ``pe`` channels] + VVAU; SIMD then folds the kernel positions."""

from dataclasses import dataclass
from math import gcd

from ... import golden
from ...compiler.lowering import Stream
from ...engines.pad import PadParams
from ...engines.sliding_window import SlidingWindowParams
from ...engines.subsample import SubsampleParams
from .matrix import MatrixLayer

__all__ = ["Conv2d"]


@dataclass
class Conv2d(MatrixLayer):
    """Convolution; weights (OFM, KH, KW, IFM / groups); pads (top, bottom, left, right);
    groups 1, or the input channels (depthwise)."""
    stride: tuple = (1, 1)
    pads: tuple = (0, 0, 0, 0)
    groups: int = 1
    kind = "conv2d"
    FIELDS = MatrixLayer.FIELDS | {"channels", "kernel", "stride", "padding", "groups"}

    @classmethod
    def read(cls, reader, spec, name, prev):
        h, w, c = reader.feature_map(prev, "conv2d")
        ofm = reader.integer(spec, "channels")
        kernel = reader.pair(spec, "kernel")
        stride = reader.pair(spec, "stride", default=1)
        pads = reader.pads(spec)
        ph, pw = h + pads[0] + pads[1], w + pads[2] + pads[3]
        if ph * pw * c > reader.MAX_FEATURES:
            reader.error(f"the padded input {ph}x{pw}x{c} holds more values than hwgen "
                         f"supports ({reader.MAX_FEATURES:,})", field="padding")
        if kernel[0] > ph or kernel[1] > pw:
            reader.error(f"kernel {kernel[0]}x{kernel[1]} is larger than the "
                         f"{'padded ' if any(pads) else ''}input {ph}x{pw}", field="kernel")
        if any(pads) and not prev.out_dtype.allows(0):
            reader.error(f"zero padding is not representable in {prev.out_dtype} inputs",
                         field="padding")
        groups = reader.integer(spec, "groups", default=1)
        if groups not in (1, c):
            reader.error(f"groups={groups} is not supported: 1 (a full convolution) or the "
                         f"input channels, {c} (depthwise)", field="groups")
        if groups > 1 and ofm != c:
            reader.error(f"a depthwise convolution (groups={groups}) has as many channels as "
                         f"its input, {c}, not {ofm}", field="channels")
        if groups > 1 and spec.get("engine") == "bitserial":
            reader.error("a depthwise convolution has no bit-serial engine", field="engine")
        simd_total, simd_what = ((kernel[0] * kernel[1], "kernel positions") if groups > 1
                                 else (c, "input channels"))
        matrix = cls.read_matrix(reader, spec, prev, (ofm, *kernel, c // groups), simd_total,
                                 simd_what)
        return cls(name, prev.out_shape, prev.out_dtype, stride=stride, pads=pads,
                   groups=groups, **matrix)

    @property
    def depthwise(self):
        return self.groups > 1

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

    @property
    def simd_channels(self):
        return self.mw if self.depthwise else self.in_shape[-1]

    def golden(self, x):
        if self.depthwise:
            return golden.depthwise_conv2d(x, self.weights, self.stride, self.pads)
        return golden.conv2d(x, self.weights, self.stride, self.pads)

    def lower(self, graph):
        # Channels per word up to the window: SIMD of them, or PE for a depthwise unit.
        dtype, simd = self.in_dtype, self.pe if self.depthwise else self.simd
        (h, w, c), source = self.in_shape, graph.read(self.inputs[0])
        if any(self.pads):
            ph, pw, _ = self.padded_shape
            source = graph.add(f"{self.name}_pad", "pad", self.name,
                               PadParams(h, w, c, tuple(self.pads), simd, dtype), [(source, simd)],
                               Stream(simd, dtype, ph * pw * c))
            h, w = ph, pw
        kernel, stride = tuple(self.kernel), tuple(self.stride)
        # A depthwise window reads as many kernel positions of a row at once as the VVAU's
        # SIMD takes (or the largest part of them that divides the row).
        positions = gcd(self.simd, kernel[1]) if self.depthwise else 1
        windows = Stream(positions * simd, dtype, self.vectors * kernel[0] * kernel[1] * c)
        if kernel != (1, 1):
            source = graph.add(f"{self.name}_swg", "sliding_window", self.name,
                               SlidingWindowParams(h, w, c, kernel, stride, simd, dtype,
                                                   depthwise=self.depthwise,
                                                   positions=positions),
                               [(source, simd)], windows)
        elif stride != (1, 1):
            # A 1x1 window is a pixel: keep the pixels that the stride does not skip.
            source = graph.add(f"{self.name}_subsample", "subsample", self.name,
                               SubsampleParams(h, w, c, stride, simd, dtype), [(source, simd)],
                               windows)
        # A 1x1 kernel at stride 1: the MVAU reads the pixels as they come.
        self.lower_matrix(graph, source)

    def spec(self, arrays):
        groups = {"groups": self.groups} if self.depthwise else {}
        return {**super().spec(arrays), "channels": self.mh, "kernel": list(self.kernel),
                "stride": list(self.stride), "padding": list(self.pads), **groups}

    def summary(self):
        return {**super().summary(), **({"groups": self.groups} if self.depthwise else {})}
