"""What the importer's tests share: qonnx's execution of a model (the reference), the output
tolerance of the import issue, and small QONNX and QCDQ graphs written with onnx.helper for the
cases the trained fixtures do not reach (falling channels, ties, MultiThreshold, Trunc, TopK,
per-channel zero points, offsets before a depthwise conv)."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QONNX = "qonnx.custom_op.general"


def reference(path, x):
    """The model's outputs for the batch ``x``, as qonnx executes it (float32)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(ModelWrapper(str(path)))
    model = model.transform(ChangeBatchSize(len(x))).transform(InferShapes())
    name = model.graph.input[0].name
    return execute_onnx(model, {name: np.asarray(x, np.float32)})[model.graph.output[0].name]


def violations(y, ref):
    """Per frame, how many values miss |y - ref| <= 1e-4 max(1, |ref|)."""
    y, ref = np.asarray(y, np.float64), np.asarray(ref, np.float64)
    bad = np.abs(y - ref) > 1e-4 * np.maximum(1, np.abs(ref))
    return bad.reshape(len(bad), -1).sum(axis=1)


class Graph:
    """A graph under construction: ``add`` a node, ``const`` an initializer."""

    def __init__(self, rng):
        self.rng, self.nodes, self.inits, self.count = rng, [], [], 0

    def name(self, stem):
        self.count += 1
        return f"{stem}{self.count}"

    def const(self, value, dtype=np.float32):
        name = self.name("c")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def add(self, op, inputs, domain="", outputs=1, **attributes):
        names = [self.name(op.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, names, name=self.name(op), domain=domain,
                                           **attributes))
        return names[0] if outputs == 1 else names

    def quant(self, x, scale, zeropt, bits, signed=1, narrow=0, rounding="ROUND"):
        return self.add("Quant", [x, self.const(scale), self.const(zeropt), self.const(bits)],
                        QONNX, signed=signed, narrow=narrow, rounding_mode=rounding)

    def weights(self, shape, bits, per_channel=True, narrow=1):
        """A quantized weight tensor: Quant of a float initializer."""
        w = self.rng.normal(0, 1, shape)
        scale = (self.rng.uniform(0.02, 0.2, (shape[0],) + (1,) * (len(shape) - 1))
                 if per_channel else 0.1)
        return self.quant(self.const(w), scale, 0.0, bits, signed=1, narrow=narrow)

    def model(self, x, y, in_shape, opset=13, qonnx_opset=1):
        graph = helper.make_graph(
            self.nodes, "test", [helper.make_tensor_value_info(x, TensorProto.FLOAT, in_shape)],
            [helper.make_tensor_value_info(y, TensorProto.UNDEFINED, None)], self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                       helper.make_opsetid(QONNX, qonnx_opset)])


def save(model, path):
    onnx.save(model, str(path))
    return path


def falling_cnn(rng, labels=True):
    """Quant input with a zero point, a padded conv, batch norm with negative gammas (falling
    channels), Relu, a 4-bit quantizer at power-of-two scales (ties), a padded 3x3 stride-2 max
    pool (ONNX pads with -inf, hwgen with zeros: the same on unsigned levels), a strided 1x1
    conv, a per-channel Mul, a MultiThreshold, global average pool, Trunc, MatMul, and TopK
    (``labels``) or the scores."""
    g = Graph(rng)
    x = g.quant("x", 1 / 16, 3.0, 8, signed=0)
    # Full-range weights: negating a falling channel's -4 widens them to INT4.
    h = g.add("Conv", [x, g.weights((6, 2, 3, 3), 3, narrow=0)], pads=[1, 1, 1, 1])
    gamma = rng.uniform(0.5, 2, 6) * np.array([1, -1, 1, -1, 1, 1])
    h = g.add("BatchNormalization", [h, g.const(gamma), g.const(rng.normal(0, 0.5, 6)),
                                     g.const(rng.normal(0, 0.5, 6)),
                                     g.const(rng.uniform(0.5, 2, 6))])
    h = g.add("Relu", [h])
    h = g.quant(h, 0.25, 0.0, 4, signed=0)
    h = g.add("MaxPool", [h], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    h = g.add("Conv", [h, g.weights((5, 6, 1, 1), 4)], strides=[2, 2])
    h = g.add("Mul", [h, g.const(rng.uniform(0.5, 2, (1, 5, 1, 1)))])
    thresholds = np.sort(rng.normal(0, 1, (5, 7)), axis=1)
    h = g.add("MultiThreshold", [h, g.const(thresholds)], QONNX, out_dtype="UINT3",
              out_scale=0.5, out_bias=0.0)
    h = g.add("GlobalAveragePool", [h])
    h = g.add("Trunc", [h, g.const(0.5 / 4), g.const(0.0), g.const(8.0), g.const(6.0)], QONNX,
              rounding_mode="FLOOR")
    h = g.add("Flatten", [h], axis=1)
    # One weight scale for all classes, so that the integers rank as the scores do.
    h = g.add("MatMul", [h, g.add("Transpose", [g.weights((4, 5), 4, per_channel=False)],
                                  perm=[1, 0])])
    if labels:
        _, h = g.add("TopK", [h, g.const([2], np.int64)], outputs=2, axis=1)
    return g.model("x", h, [1, 2, 6, 6])


def qcdq_mlp(rng, labels=True):
    """QuantizeLinear/DequantizeLinear: uint8 input with a zero point, int8 weights per
    channel, a uint8 activation with a per-tensor zero point, int32 bias, Gemm, and ArgMax
    (``labels``) or the scores."""
    g = Graph(rng)
    x = g.add("QuantizeLinear", ["x", g.const(1 / 64), g.const(128, np.uint8)])
    x = g.add("DequantizeLinear", [x, g.const(1 / 64), g.const(128, np.uint8)])
    scale = rng.uniform(0.005, 0.02, 12).astype(np.float32)
    w = g.add("DequantizeLinear", [g.const(rng.integers(-127, 128, (12, 10)), np.int8),
                                   g.const(scale), g.const(np.zeros(12), np.int8)], axis=0)
    b = g.add("DequantizeLinear", [g.const(rng.integers(-500, 500, 12), np.int32),
                                   g.const(scale / 64), g.const(np.zeros(12), np.int32)], axis=0)
    h = g.add("Gemm", [x, w, b], transB=1)
    h = g.add("QuantizeLinear", [h, g.const(0.05), g.const(100, np.uint8)])
    h = g.add("DequantizeLinear", [h, g.const(0.05), g.const(100, np.uint8)])
    w2 = g.add("DequantizeLinear", [g.const(rng.integers(-127, 128, (10, 12)), np.int8),
                                    g.const(0.01)])
    h = g.add("MatMul", [h, g.add("Transpose", [w2], perm=[1, 0])])
    if labels:
        h = g.add("ArgMax", [h], axis=1, keepdims=1)
    return g.model("x", h, [1, 10])


def unsupported(rng):
    """A Softmax after a quantized MatMul: no hwgen layer computes it."""
    g = Graph(rng)
    x = g.quant("x", 1 / 16, 0.0, 8)
    h = g.add("MatMul", [x, g.add("Transpose", [g.weights((4, 6), 4)], perm=[1, 0])])
    y = g.add("Softmax", [h], axis=1)
    return g.model("x", y, [1, 6])


def grouped_conv(rng, group=2, outputs=4):
    """A Conv of ``group`` groups from 4 channels to ``outputs``: 2 groups are neither a full
    nor a depthwise convolution; 4 groups to 8 outputs are a depthwise one with two outputs per
    channel (a channel multiplier)."""
    g = Graph(rng)
    x = g.quant("x", 1 / 16, 0.0, 8, signed=0)
    h = g.add("Conv", [x, g.weights((outputs, 4 // group, 3, 3), 4)], group=group)
    return g.model("x", h, [1, 4, 6, 6])


def dwsep_cnn(rng, labels=False):
    """Depthwise-separable convolutions: a per-channel offset after the input quantizer (off
    its grid, so that each channel's offset is in the depthwise conv's bias, its own channel's
    only), an unpadded depthwise 3x3 conv with per-channel weights and a bias, batch norm with a
    negative gamma (negated depthwise weights), a pointwise 1x1 conv, a signed quantizer, a
    padded stride-2 depthwise conv, and a Gemm."""
    g = Graph(rng)
    x = g.quant("x", 1 / 16, 0.0, 8, signed=0)
    x = g.add("Add", [x, g.const(rng.uniform(-0.5, 0.5, (1, 4, 1, 1)))])
    h = g.add("Conv", [x, g.weights((4, 1, 3, 3), 4), g.const(rng.normal(0, 1, 4))], group=4)
    gamma = rng.uniform(0.5, 2, 4) * np.array([1, -1, 1, 1])
    h = g.add("BatchNormalization", [h, g.const(gamma), g.const(rng.normal(0, 0.5, 4)),
                                     g.const(rng.normal(0, 0.5, 4)),
                                     g.const(rng.uniform(0.5, 2, 4))])
    h = g.add("Relu", [h])
    h = g.quant(h, 0.3, 0.0, 4, signed=0)
    h = g.add("Conv", [h, g.weights((6, 4, 1, 1), 3)])
    h = g.add("Mul", [h, g.const(rng.uniform(0.5, 2, (1, 6, 1, 1)))])
    h = g.quant(h, 0.4, 0.0, 3)
    h = g.add("Conv", [h, g.weights((6, 1, 3, 3), 3)], group=6, pads=[1, 1, 1, 1],
              strides=[2, 2])
    h = g.add("Relu", [h])
    h = g.quant(h, 0.25, 0.0, 4, signed=0)
    h = g.add("Flatten", [h], axis=1)
    h = g.add("Gemm", [h, g.weights((5, 24), 4), g.const(rng.normal(0, 1, 5))], transB=1)
    return g.model("x", h, [1, 4, 6, 6])


def nhwc_cnn(rng, labels=False):
    """A channels-last model as Keras converters give it: an NHWC input transposed to NCHW,
    a conv with 'same' padding (auto_pad, odd: one row and column at the end), and the result
    transposed back and flattened in NHWC order before a MatMul."""
    g = Graph(rng)
    x = g.add("Transpose", ["x"], perm=[0, 3, 1, 2])
    x = g.quant(x, 1 / 8, 0.0, 6)
    h = g.add("Conv", [x, g.weights((4, 3, 3, 3), 4)], auto_pad="SAME_UPPER", strides=[2, 2])
    h = g.add("Relu", [h])
    h = g.quant(h, 0.5, 0.0, 3, signed=0)
    h = g.add("Transpose", [h], perm=[0, 2, 3, 1])
    h = g.add("Reshape", [h, g.const([1, -1], np.int64)])
    h = g.add("MatMul", [h, g.add("Transpose", [g.weights((5, 36), 4)], perm=[1, 0])])
    h = g.add("Add", [h, g.const(rng.normal(0, 1, 5))])
    return g.model("x", h, [1, 6, 6, 3])


def trunc_pool(rng, labels=False):
    """Average pooling then QONNX Trunc version 2 (as Brevitas' TruncAvgPool2d exports it:
    the sum's scale, a power-of-two output scale, clamping to 4 unsigned bits, FLOOR)."""
    g = Graph(rng)
    x = g.quant("x", 1 / 16, 0.0, 8, signed=0)
    # Power-of-two scales throughout: float32 computes every value exactly, ties included.
    w = g.quant(g.const(rng.normal(0, 4, (6, 1, 3, 3))), 1 / 8, 0.0, 4, narrow=1)
    h = g.add("Conv", [x, w], pads=[1, 1, 1, 1])
    h = g.add("Relu", [h])
    h = g.quant(h, 0.25, 0.0, 4, signed=0)
    h = g.add("GlobalAveragePool", [h])
    h = g.add("Trunc", [h, g.const(1 / 64), g.const(0.0), g.const(10.0), g.const(0.125),
                        g.const(4.0)], QONNX, signed=0, narrow=0, rounding_mode="FLOOR")
    h = g.add("Flatten", [h], axis=1)
    h = g.add("MatMul", [h, g.add("Transpose", [g.weights((3, 6), 4)], perm=[1, 0])])
    return g.model("x", h, [1, 1, 4, 4], qonnx_opset=2)


def avg_pool(rng, labels=False):
    """Average pools of windows smaller than the map: 2x2 at stride 1 with a padding of 1
    (count_include_pad=1, PyTorch's default: zeros counted), then 2x2 at stride 2; power-of-two
    scales and kernels of four pixels, so that float32 computes every value exactly."""
    g = Graph(rng)
    x = g.quant("x", 1 / 16, 0.0, 8, signed=0)
    h = g.add("Conv", [x, g.quant(g.const(rng.normal(0, 4, (4, 2, 3, 3))), 1 / 8, 0.0, 4,
                                  narrow=1)])
    h = g.quant(g.add("Relu", [h]), 0.25, 0.0, 4, signed=0)
    h = g.add("AveragePool", [h], kernel_shape=[2, 2], strides=[1, 1], pads=[1, 1, 1, 1],
              count_include_pad=1)
    h = g.quant(h, 0.125, 0.0, 3, signed=0, rounding="FLOOR")
    h = g.add("AveragePool", [h], kernel_shape=[2, 2], strides=[2, 2])
    h = g.add("Flatten", [h], axis=1)
    h = g.add("MatMul", [h, g.add("Transpose", [g.weights((3, 64), 4)], perm=[1, 0])])
    return g.model("x", h, [1, 2, 9, 9])


# Rounding modes that float32 noise cannot flip at the ties that arbitrary scales leave: the value
# zero (a dot product that cancels) is a tie of CEIL, FLOOR and UP, not of these.
ROBUST_ROUNDINGS = ["ROUND", "HALF_UP", "HALF_DOWN", "DOWN"]
ROUNDINGS = ROBUST_ROUNDINGS + ["FLOOR", "CEIL", "UP"]


def random_model(seed):
    """A random quantized MLP or CNN (seeded) and its input shape: quantizers of 1 to 8 bits,
    signed or not, narrow or not, zero points, power-of-two or arbitrary scales, per-tensor or
    per-channel weights, biases, batch norms with negative gammas (or per-channel Mul), Relu,
    padded and strided convs, depthwise convs (some after a per-channel offset), max pools,
    residual adds, global average pooling. With power-of-two scales and Mul constants float32
    computes every value exactly, ties included, and every rounding mode is drawn; with
    arbitrary scales (and batch norm) only those whose ties float32 cannot hit."""
    rng = np.random.default_rng([seed, 77])
    # The depthwise convs draw from a stream of their own: a seed's model without one is the
    # model that seed gave before they were added.
    dw_rng = np.random.default_rng([seed, 78])
    g = Graph(rng)
    exact = rng.random() < 0.5

    def scale(size=None, r=rng):
        return 2.0 ** r.integers(-5, 0, size) if exact else r.uniform(0.01, 0.3, size)

    def quantize(x, r=rng):
        bits = int(r.integers(1, 9))
        if bits == 1:
            return g.add("BipolarQuant", [x, g.const(scale(r=r))], QONNX), True
        zero = float(r.integers(-3, 4)) if r.random() < 0.3 and bits > 2 else 0.0
        return g.quant(x, scale(r=r), zero, bits, signed=int(r.integers(0, 2)),
                       narrow=int(r.random() < 0.3),
                       rounding=str(r.choice(ROUNDINGS if exact else ROBUST_ROUNDINGS))), False

    def weights(shape, bits, per_channel, r=rng):
        w = g.const(r.normal(0, 1, shape) / scale(r=r))
        size = (shape[0],) + (1,) * (len(shape) - 1) if per_channel else None
        return g.quant(w, scale(size, r), 0.0, bits, narrow=int(r.random() < 0.5))

    def affine(h, channels, shape, r=rng):
        if not exact and r.random() < 0.5:
            gamma = r.uniform(0.3, 2, channels) * r.choice([-1, 1], channels)
            return g.add("BatchNormalization", [h, g.const(gamma),
                                                g.const(r.normal(0, 0.5, channels)),
                                                g.const(r.normal(0, 1, channels)),
                                                g.const(r.uniform(0.5, 2, channels))])
        factor = (2.0 ** r.integers(-1, 2, shape) * r.choice([-1, 1], shape) if exact
                  else r.uniform(0.5, 2, shape))
        return g.add("Mul", [h, g.const(factor)])

    def bias(count, r=rng):
        return g.const(scale(count, r) * r.integers(-8, 9, count))

    def depthwise(h, bipolar, channels, size):
        """A depthwise conv (group = channels, weights (C, 1, k, k)) on the quantized ``h``,
        its affine map, Relu and quantizer: (h, bipolar, size) after them."""
        r = dw_rng
        pad = int(r.integers(0, 2)) if not bipolar else 0
        k = min(int(r.integers(1, 4)), size + 2 * pad)
        stride = int(r.integers(1, 3))
        if not pad and r.random() < 0.5:
            # An offset after the quantizer, half a step off its grid (in exact mode too): each
            # channel's into its own output channel's bias.
            shape = (1, channels, 1, 1)
            h = g.add("Add", [h, g.const(scale(shape, r) * (r.integers(-4, 4, shape) + 0.5))])
        w = weights((channels, 1, k, k), int(r.integers(2, 6)), r.random() < 0.5, r)
        inputs = [h, w] + ([bias(channels, r)] if r.random() < 0.5 else [])
        h = g.add("Conv", inputs, group=channels, pads=[pad] * 4, strides=[stride] * 2)
        size = (size + 2 * pad - k) // stride + 1
        h = affine(h, channels, (1, channels, 1, 1), r)
        if r.random() < 0.5:
            h = g.add("Relu", [h])
        return *quantize(h, r), size

    conv = rng.random() < 0.5
    channels = int(rng.integers(1, 4))
    size = int(rng.integers(4, 8))
    in_shape = [1, channels, size, size] if conv else [1, int(rng.integers(4, 17))]
    h, bipolar = quantize("x")
    features = in_shape[1]
    for _ in range(int(rng.integers(1, 4))):
        if conv and dw_rng.random() < 0.4:
            h, bipolar, size = depthwise(h, bipolar, channels, size)
        if conv:
            out = int(rng.integers(1, 6))
            pad = int(rng.integers(0, 2)) if not bipolar else 0
            k = min(int(rng.integers(1, 4)), size + 2 * pad)
            stride = int(rng.integers(1, 3))
            w = weights((out, channels, k, k), int(rng.integers(2, 6)), rng.random() < 0.5)
            inputs = [h, w] + ([bias(out)] if rng.random() < 0.5 else [])
            h = g.add("Conv", inputs, pads=[pad] * 4, strides=[stride] * 2)
            size = (size + 2 * pad - k) // stride + 1
            channels = out
            h = affine(h, channels, (1, channels, 1, 1))
        else:
            out = int(rng.integers(2, 12))
            w = weights((out, features), int(rng.integers(2, 6)), rng.random() < 0.5)
            h = g.add("Gemm", [h, w, bias(out)], transB=1)
            features = out
            h = affine(h, features, (features,))
        if rng.random() < 0.5:
            h = g.add("Relu", [h])
        h, bipolar = quantize(h)
        if conv and size >= 2 and rng.random() < 0.4 and not bipolar:
            h = g.add("MaxPool", [h], kernel_shape=[2, 2], strides=[2, 2])
            size //= 2
        if conv and rng.random() < 0.3 and not bipolar:
            # A residual block: both inputs of the Add quantized at one (shared) scale.
            shared = g.const(scale())
            bits = int(rng.integers(2, 6))
            w = weights((channels, channels, 3, 3), int(rng.integers(2, 5)), True)
            branch = affine(g.add("Conv", [h, w], pads=[1, 1, 1, 1]), channels,
                            (1, channels, 1, 1))
            branch, shortcut = (g.add("Quant", [x, shared, g.const(0.0), g.const(bits)], QONNX,
                                      signed=1, narrow=0, rounding_mode="ROUND")
                                for x in (branch, h))
            h, bipolar = quantize(g.add("Relu", [g.add("Add", [branch, shortcut])]))
    if conv and rng.random() < 0.3:
        h = g.add("GlobalAveragePool", [h])     # the MatMul reads the sums' affine map
        size = 1
    if conv:
        h = g.add("Flatten", [h], axis=1)
        features = channels * size * size
    out = int(rng.integers(2, 6))
    h = g.add("Gemm", [h, weights((out, features), 4, rng.random() < 0.5), bias(out)], transB=1)
    return g.model("x", h, in_shape), in_shape
