"""``hwgen import``: a QONNX or QCDQ ONNX model to an hwgen description of integer layers.

The importer interprets the graph node by node (ONNX keeps nodes in dataflow order), holding
for every tensor what it knows of it (:mod:`hwgen.importers.values`): a constant, folded as ONNX
computes it (Shape, Gather, Reshape, a weight's Quant or DequantizeLinear...), or a *feature*,
an elementwise function of one hwgen layer's integers. This is FINN's streamlining done as an
interpretation rather than as graph rewrites:

- scalar and per-channel Mul, Div, Add, Sub and BatchNormalization after a layer fold into an
  exact affine map of its integers; a MatMul, Gemm or Conv reading such a feature takes the
  scale into its output's map and the offset into its bias (a conv with padding needs integer
  zero to be the value zero; the importer levels each quantizer so that it is); a Conv whose
  ``group`` is its input channels is a depthwise conv2d, each channel's offset into its own
  output channel's bias;
- Relu, Clip and the quantizers (Quant, BipolarQuant, Trunc, MultiThreshold, QuantizeLinear)
  stay a chain, replayed in float32 as the model computes it; a layer that reads the chain's
  output gets a multi-threshold activation in front, whose thresholds are found by binary
  search on that replay (:mod:`hwgen.importers.thresholds`) and then checked against it; a
  channel that falls as its accumulator rises gets its weights negated;
- MaxPool commutes with the increasing chains, GlobalAveragePool and AveragePool are integer
  sums with 1/(HW) or 1/(KH KW) in the map, Add of features with equal scales is an integer add,
  Concat joins channels, ArgMax and TopK become label select;
- the model's input quantizer becomes float32 thresholds (``model_input``) and the output's map
  ``model_output`` (:mod:`hwgen.network.model_io`).

Anything else is an :class:`~hwgen.errors.HwgenError` naming the node and why.
"""

from collections import Counter
from dataclasses import replace
from math import prod
from pathlib import Path

import numpy as np

from ..datatypes import MAX_BITS, BIPOLAR, DataType
from ..engines.thresholds import MAX_ACTIVATION_BITS
from ..errors import HwgenError
from ..golden import count_value
from ..network.kinds import KINDS, MatrixLayer
from ..network.model_io import ModelInput, ModelOutput
from .elementwise import ROUNDING, Elementwise, Grid
from .elementwise import quant as quant_ints
from .thresholds import float_thresholds, integer_thresholds
from .values import Const, Feature, canonical_index

__all__ = ["import_model", "Imported"]

# Quantizers of QONNX (domain onnx.brevitas, qonnx.custom_op.general, finn.custom_op.general).
CUSTOM_DOMAINS = ("onnx.brevitas", "qonnx.custom_op.general", "finn.custom_op.general", "finn")
LAYER_PREFIX = {"input": "input", "dense": "fc", "conv2d": "conv", "activation": "act",
                "maxpool": "pool", "avgpool": "avg", "global_avgpool": "gap", "add": "add",
                "concat": "cat",
                "label_select": "top"}
CHECK_POINTS = 4096      # random inputs on which each threshold set is checked per channel


def layer_layout(shape):
    """(the layer's frame shape, ``index``) for an ONNX tensor of ``shape`` (batch axis
    excluded): (H, W, C) for (C, H, W), else a vector in the tensor's order."""
    if len(shape) == 3:
        hw = (shape[1], shape[2], shape[0])
        return hw, canonical_index(hw)
    return (prod(shape),), np.arange(prod(shape)).reshape(1, *shape)


def counted_levels(points, thresholds, dtype):
    """The multi-threshold's levels at ``points`` (C, K) for ``thresholds`` (C, J)."""
    return count_value(np.stack([np.searchsorted(row, p, side="right")
                                 for row, p in zip(thresholds, points)]), dtype)


class Imported:
    """The result: the description (``document``, ``arrays``) and, per ONNX node, what it
    became (``rows``: name, op type, what)."""

    def __init__(self, name, layers, model_input, model_output, rows):
        self.name, self.layers, self.rows = name, layers, rows
        self.model_input, self.model_output = model_input, model_output

    def description(self, params):
        """(document, arrays) of the description, its arrays in the file ``params``."""
        arrays, specs = {}, []
        for index, layer in enumerate(self.layers):
            spec = {"name": layer.name, "kind": layer.kind}
            if index and list(layer.inputs) != [self.layers[index - 1].name]:
                spec["inputs"] = list(layer.inputs)
            spec.update((k, v) for k, v in layer.spec(arrays).items()
                        if k not in ("pe", "simd", "engine"))     # hwgen folds and chooses
            specs.append(spec)
        doc = {"name": self.name, "params": params}
        for io in (self.model_input, self.model_output):
            doc[io.KEY] = io.spec(arrays)
        doc["layers"] = specs
        return doc, arrays


def import_model(path, name=None):
    """Read the ONNX model at ``path``: an :class:`Imported`, or HwgenError."""
    import onnx

    path = Path(path)
    try:
        model = onnx.load(str(path))
    except OSError as exc:
        raise HwgenError(f"cannot read the model: {exc.strerror or exc}", file=path) from None
    except Exception as exc:    # protobuf's, onnx's checker's, external data's own errors
        raise HwgenError(f"not an ONNX model ({exc})", file=path) from None
    return Importer(path, model, name or path.stem).run()


class Importer:
    def __init__(self, path, model, name):
        self.path, self.model, self.graph = path, model, model.graph
        self.name = "".join(c if c.isalnum() else "_" for c in name)
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                          13)
        self.values = {}            # tensor name -> Const | Feature
        self.layers = []            # hwgen layer objects, in dataflow order
        self.by_name = {}
        self.rows = {}              # node index -> what it became
        self.names = Counter()
        self.node = None            # the node being interpreted, for errors
        self.node_index = None
        self.input_quantized = None
        self.input_rebased = False

    # --- errors and bookkeeping ---------------------------------------------------------------

    def error(self, message, node=None):
        node = node if node is not None else self.node
        if node is not None:
            message = f"node '{node.name or '(unnamed)'}' ({node.op_type}): {message}"
        raise HwgenError(message, file=self.path)

    def note(self, nodes, what):
        for index in nodes:
            self.rows[index] = what

    def new_name(self, kind):
        prefix = LAYER_PREFIX[kind]
        name = f"{prefix}{self.names[prefix]}" if kind != "input" else "input"
        self.names[prefix] += 1
        return name

    def add_layer(self, layer, inputs):
        layer.inputs = tuple(inputs)
        self.layers.append(layer)
        self.by_name[layer.name] = layer
        return layer

    def feature_of(self, layer, index, head=None):
        """The integers of ``layer`` as a feature laid out by ``index``, valued
        ``head = (scale, bias)`` per channel (default: the integers themselves)."""
        if head is None:
            ones = np.ones(layer.out_shape[-1])
            head = (ones, 0 * ones)
        return Feature(layer.name, layer.output_dtype, layer.out_shape, index, head,
                       grid=Grid(*head, layer.output_dtype == BIPOLAR))

    # --- the run ------------------------------------------------------------------------------

    def run(self):
        graph = self.graph
        initializers = {t.name for t in graph.initializer}
        inputs = [i for i in graph.input if i.name not in initializers]
        if len(inputs) != 1:
            raise HwgenError(f"the model has {len(inputs)} inputs; hwgen imports models of "
                             "one input", file=self.path)
        from onnx import numpy_helper
        for tensor in graph.initializer:
            self.values[tensor.name] = Const(numpy_helper.to_array(tensor))
        self.consumers = Counter(name for node in graph.node for name in node.input)
        self.consumers.update(o.name for o in graph.output)
        self.read_input(inputs[0])
        for index, node in enumerate(graph.node):
            self.node, self.node_index = node, index
            self.interpret(node)
        self.node = None
        # Brevitas exports a QuantTensor output as its value and its constant scale, zero
        # point and bit width: the one output that depends on the input is the model's.
        outputs = [o.name for o in graph.output if isinstance(self.values.get(o.name), Feature)]
        if len(outputs) != 1:
            raise HwgenError(f"the model has {len(outputs)} outputs that depend on its input "
                             f"({', '.join(outputs) or 'none'}); hwgen imports models of one",
                             file=self.path)
        output = self.values[outputs[0]]
        model_output = self.read_output(output)
        self.prune(self.output_layer)
        return Imported(self.name, self.layers, self.model_input, model_output,
                        [(node.name, node.op_type, self.rows.get(i, "removed (no effect)"))
                         for i, node in enumerate(graph.node)])

    def read_input(self, tensor):
        dims = [d.dim_value if d.HasField("dim_value") else None
                for d in tensor.type.tensor_type.shape.dim]
        if len(dims) < 2 or any(d is None or d < 1 for d in dims[1:]):
            raise HwgenError(f"the input '{tensor.name}' has shape {dims}: hwgen needs a batch "
                             "axis and fixed sizes after it", file=self.path)
        shape = tuple(dims[1:])
        self.input_shape = shape
        dtype = self.annotated_dtype(tensor.name)
        if dtype is None:
            # Float: an input quantizer makes the integers. Until the first operator that is
            # not layout, the frame is the model's, in its order (see rebase_input).
            self.input_index = np.arange(prod(shape)).reshape(1, *shape)
            self.values[tensor.name] = Feature(None, None, (prod(shape),), self.input_index,
                                               (np.ones(1), np.zeros(1)))
            return
        hw, index = layer_layout(shape)
        self.input_index = index
        layer = self.add_layer(KINDS["input"](self.new_name("input"), hw, dtype), [])
        self.model_input = ModelInput(shape, index[0], None, dtype, hw[-1])
        self.values[tensor.name] = self.feature_of(layer, index)

    def rebase_input(self, feature):
        """The float input as the first operator that computes on it sees it (after the
        model's Reshape or Transpose, if any): the input layer's frame is laid out like that
        tensor, (H, W, C) for NCHW, so that a conv reads it as it is."""
        if self.input_rebased:
            return feature
        self.input_rebased = True
        hw, index = layer_layout(feature.index.shape[1:])
        position = np.empty(index.size, np.int64)
        position[feature.index.reshape(-1)] = index.reshape(-1)
        self.input_index = position[self.input_index]
        ones = np.ones(hw[-1])
        return Feature(None, None, hw, index, (ones, 0 * ones))

    def annotated_dtype(self, name):
        """The QONNX datatype annotation of tensor ``name``, if it is an integer datatype."""
        for annotation in self.graph.quantization_annotation:
            if annotation.tensor_name == name:
                for entry in annotation.quant_parameter_tensor_names:
                    if entry.key == "finn_datatype":
                        try:
                            return DataType.parse(entry.value)
                        except ValueError:
                            return None
        return None

    def interpret(self, node):
        values = []
        for name in node.input:
            if name == "":
                values.append(None)
                continue
            if name not in self.values:
                self.error(f"reads '{name}', which no earlier node computes")
            value = self.values[name]
            if isinstance(value, Feature) and self.consumers[name] > 1 and value.private:
                value = replace(value, private=False)
            if isinstance(value, Feature) and value.source is None and \
                    node.op_type not in LAYOUT_OPS | {"Shape"}:
                value = self.rebase_input(value)
            values.append(value)
        features = [v for v in values if isinstance(v, Feature)]
        custom = node.domain not in ("", "ai.onnx")
        handler = HANDLERS.get(node.op_type)
        if features and (handler is None or (custom and node.op_type not in CUSTOM_OPS)):
            self.error("operator not supported by hwgen import"
                       + (f" (domain '{node.domain}')" if custom else ""))
        try:
            if features:
                outputs = handler(self, node, values)
            else:
                folded = tuple(i for v in values if v is not None for i in v.nodes)
                outputs = [replace(c, nodes=folded + (self.node_index,))
                           for c in self.fold(node, values, custom)]
                self.note([self.node_index], "constant (folded)")
        except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError) as exc:
            # A shape or attribute this importer does not expect: say where, not how.
            self.error(f"cannot import this node ({type(exc).__name__}: {exc})")
        for name, value in zip(node.output, outputs):
            if isinstance(value, Feature) and value.tail and value.grid is not None and \
                    value.source is not None and self.consumers[name] > 1:
                # Quantized values that several nodes read: one activation for all of them,
                # fused into the layer before, rather than a wide accumulator forked to each.
                value = self.integers(value, "its output")
            self.values[name] = value

    # --- constants ----------------------------------------------------------------------------

    def fold(self, node, values, custom):
        arrays = [None if v is None else v.value for v in values]
        if custom:
            if node.op_type == "Quant":
                return [self.quantized_const(node, arrays)]
            if node.op_type == "BipolarQuant":
                scale = np.asarray(arrays[1], np.float32)
                ints = np.where(arrays[0] >= 0, 1, -1)
                return [Const((ints * scale).astype(np.float32), ints,
                              np.broadcast_to(scale, ints.shape).astype(np.float64), True)]
            self.error("cannot fold this operator on constants")
        if node.op_type == "DequantizeLinear" and np.issubdtype(arrays[0].dtype, np.integer):
            return [self.dequantized_const(node, arrays)]
        if node.op_type in LAYOUT_OPS and values[0].ints is not None:
            return [values[0].moved(lambda a: self.evaluate(node, [a] + arrays[1:])[0])]
        return [Const(np.asarray(a)) for a in self.evaluate(node, arrays)]

    def evaluate(self, node, arrays):
        """ONNX's own semantics for a standard node on constants (onnx's reference runtime)."""
        from onnx import TypeProto, helper
        from onnx.reference import ReferenceEvaluator

        names = [f"in{i}" if name else "" for i, name in enumerate(node.input)]
        single = helper.make_node(node.op_type, names, [f"out{i}" for i in range(len(node.output))])
        single.attribute.extend(node.attribute)
        graph = helper.make_graph(
            [single], "fold", [helper.make_value_info(n, TypeProto()) for n in names if n],
            [helper.make_value_info(n, TypeProto()) for n in single.output])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        try:
            return ReferenceEvaluator(model).run(
                None, {n: a for n, a in zip(names, arrays) if n})
        except Exception as exc:        # the reference runtime's own message says why
            self.error(f"cannot evaluate on constants: {exc}")

    def quantized_const(self, node, arrays):
        x, scale, zeropt, bits = (np.asarray(a, np.float32) for a in arrays[:4])
        signed, narrow, rounding = self.quant_attributes(node)
        ints = quant_ints(x, scale, zeropt, int(bits), signed, narrow, rounding) - zeropt
        full_scale = np.broadcast_to(scale, ints.shape).astype(np.float64)
        value = (ints * scale).astype(np.float32)
        return Const(value, np.rint(ints).astype(np.int64), full_scale,
                     bool(int(bits) == 1 and signed))

    def dequantized_const(self, node, arrays):
        q, scale = arrays[0], np.asarray(arrays[1], np.float32)
        zeropt = arrays[2] if len(arrays) > 2 and arrays[2] is not None else 0
        axis = self.attribute(node, "axis", 1)
        if np.ndim(scale) == 1 and q.ndim > 1:
            shape = [1] * q.ndim
            shape[axis] = -1
            scale = scale.reshape(shape)
            zeropt = np.asarray(zeropt).reshape(shape)
        ints = q.astype(np.int64) - np.asarray(zeropt, np.int64)
        return Const((ints * scale).astype(np.float32), ints,
                     np.broadcast_to(scale, ints.shape).astype(np.float64))

    def attribute(self, node, name, default=None):
        from onnx import helper
        for attribute in node.attribute:
            if attribute.name == name:
                value = helper.get_attribute_value(attribute)
                return value.decode() if isinstance(value, bytes) else value
        return default

    def quant_attributes(self, node):
        rounding = str(self.attribute(node, "rounding_mode", "ROUND")).upper()
        if rounding not in ROUNDING:
            self.error(f"unknown rounding_mode {rounding!r}")
        return bool(self.attribute(node, "signed", 1)), bool(self.attribute(node, "narrow", 0)), \
            rounding

    def const(self, value, what):
        if not isinstance(value, Const):
            self.error(f"{what} must be a constant")
        return value.value

    # --- features: per-channel constants and layout -------------------------------------------

    def per_channel(self, feature, value, what):
        """The constant ``value`` as one float64 per channel of ``feature``'s layer."""
        value = np.asarray(value, np.float64)
        try:
            full = np.broadcast_to(value, feature.index.shape)
        except ValueError:
            self.error(f"{what} of shape {value.shape} does not broadcast to the input's "
                       f"{feature.index.shape}")
        channel = feature.index.reshape(-1) % feature.channels
        out = np.zeros(feature.channels)
        out[channel] = full.reshape(-1)
        if not np.array_equal(out[channel], full.reshape(-1)):
            self.error(f"{what} differs within a channel: hwgen applies one value per channel")
        return out

    def channel_axis_values(self, feature, value, axis, what):
        """Per-channel values of a 1-D constant laid along ``axis`` of the feature."""
        value = np.asarray(value, np.float64)
        if value.ndim == 1 and value.size > 1:
            shape = [1] * feature.index.ndim
            shape[axis] = value.size
            value = value.reshape(shape)
        return self.per_channel(feature, value, what)

    # --- features to integers -----------------------------------------------------------------

    def integers(self, feature, what):
        """``feature`` as a layer's integers (an affine head, no tail): itself, or through a new
        activation (or the input layer) that quantizes it."""
        if feature.source is not None and not feature.tail:
            return feature
        if feature.grid is None:
            hint = (" (the model's input needs a quantizer, e.g. a QuantIdentity, before it)"
                    if feature.source is None else " (no quantizer after the layer before)")
            self.error(f"{what} reads values that are not quantized{hint}")
        if feature.source is None:
            return self.quantize_input(feature, what)
        return self.threshold(feature, what)

    def levels(self, feature):
        """(levels, off_grid, (scale, bias)) for the quantized ``feature``: ``levels`` maps its
        inputs (C, K) to integer levels that grow with the value, ``off_grid`` flags inputs
        whose value is no level, and the value is ``scale * level + bias`` (scale > 0)."""
        grid = feature.grid
        s, b = grid.scale, grid.bias
        sign = np.where(s < 0, -1, 1)
        step = np.abs(s)
        # Levels shifted so that the value zero is level zero, where it is a level: a conv's
        # padding then pads the value zero.
        ratio = b / step
        integral = ~np.bool_(grid.bipolar) & (np.abs(ratio - np.rint(ratio)) < 1e-6)
        shift = np.where(integral, np.rint(ratio), 0).astype(np.int64)
        bias = np.where(integral, 0.0, b)

        def levels(x):
            v = feature.evaluate(x).astype(np.float64)
            return sign[:, None] * np.rint((v - b[:, None]) / s[:, None]).astype(np.int64) \
                + shift[:, None]

        def off_grid(x):
            v = feature.evaluate(x).astype(np.float64)
            r = (v - b[:, None]) / s[:, None]
            return np.abs(r - np.rint(r)) > 1e-3
        return levels, off_grid, (step, bias)

    def threshold(self, feature, what):
        source = self.by_name[feature.source]
        feature = self.rising(feature, what)
        lo_, hi_ = self.source_range(feature)     # after any negation
        levels, off_grid, (scale, bias) = self.levels(feature)
        ends = levels(np.stack([lo_, hi_], axis=1))
        dtype, targets = self.level_targets(feature, ends)
        thresholds = integer_thresholds(levels, lo_, hi_, targets)
        self.check(feature, levels, off_grid, thresholds, dtype, lo_, hi_, what)
        identity = (dtype == source.output_dtype and dtype != BIPOLAR
                    and np.array_equal(thresholds, np.broadcast_to(targets, thresholds.shape)))
        if identity:        # the chain requantizes to the integers it reads
            result = replace(feature, head=(scale, bias), tail=(), nodes=())
            self.note(feature.nodes, f"absorbed: {source.name}'s integers as they are")
            return replace(result, grid=Grid(scale, bias))
        name = self.new_name("activation")
        layer = self.add_layer(KINDS["activation"](
            name, source.out_shape, source.output_dtype, thresholds=thresholds,
            activation_dtype=dtype), [source.name])
        self.note(feature.nodes, f"absorbed into the thresholds of {name}")
        return replace(self.feature_of(layer, feature.index, (scale, bias)),
                       private=feature.private)

    def level_targets(self, feature, ends):
        """(the datatype of the levels ``ends`` (C, 2) span, the level each of its thresholds
        starts) for the quantized ``feature``."""
        if feature.grid.bipolar:
            return BIPOLAR, np.array([1])
        lo, hi = ends.min(), ends.max()
        wide = hi - lo >= 1 << MAX_ACTIVATION_BITS      # also keeps for_range within 32 bits
        dtype = None if wide else DataType.for_range(lo, max(hi, lo + 1))
        if wide or dtype.bits > MAX_ACTIVATION_BITS:
            self.error(f"quantizes to levels {lo:,} to {hi:,}; hwgen's thresholds support "
                       f"{MAX_ACTIVATION_BITS} bits at most")
        return dtype, np.arange(dtype.min + 1, dtype.max + 1)

    def check(self, feature, levels, off_grid, thresholds, dtype, lo, hi, what):
        """Count the thresholds on the ends, on each threshold and the integer below it, and on
        random integers; compare with the replayed model."""
        rng = np.random.default_rng(0)
        points = np.concatenate([
            np.stack([lo, hi], axis=1), np.clip(thresholds, lo[:, None], hi[:, None]),
            np.clip(thresholds - 1, lo[:, None], hi[:, None]),
            rng.integers(lo[:, None], hi[:, None] + 1, (len(lo), CHECK_POINTS))], axis=1)
        bad = levels(points) != counted_levels(points, thresholds, dtype)
        if bad.any():
            channel = int(np.argwhere(bad)[0][0])
            self.error(f"{what}: the quantized values are not a monotonic function of "
                       f"'{feature.source}' in channel {channel}; hwgen cannot threshold them")
        if off_grid(points).any():
            self.error(f"{what}: values off the quantizer's grid reach it (a Clip or Relu "
                       "bound that is not a quantization level?)")

    def source_range(self, feature):
        """(lo, hi) per channel (int64 (C,) arrays) of the integers of the feature's layer: a
        matrix layer's from its weights (each channel's own reachable dot products, which
        negating its row mirrors), else its datatype's."""
        source = self.by_name[feature.source]
        if isinstance(source, MatrixLayer):
            ends = np.array([source.in_dtype.min, source.in_dtype.max])
            products = source.weights.reshape(source.mh, -1, 1).astype(np.int64) * ends
            return products.min(axis=2).sum(axis=1), products.max(axis=2).sum(axis=1)
        dtype = source.output_dtype
        return np.full(feature.channels, dtype.min), np.full(feature.channels, dtype.max)

    def rising(self, feature, what):
        """``feature`` with weights negated where needed so that no channel's values fall as
        its integers rise."""
        lo, hi = self.source_range(feature)
        ends = feature.evaluate(np.stack([lo, hi], axis=1))
        falling = ends[:, 1] < ends[:, 0]
        return self.negate(feature, falling, what) if falling.any() else feature

    def negate(self, feature, falling, what):
        """Negate the weights of ``falling`` channels of the feature's matrix layer, so that its
        values rise with every accumulator."""
        source = self.by_name[feature.source]
        channel = int(np.argmax(falling))
        if not isinstance(source, MatrixLayer) or not feature.private:
            self.error(f"{what}: channel {channel} falls as '{source.name}' rises (a negative "
                       "scale or gamma), which hwgen can absorb only into the weights of a "
                       "Conv, MatMul or Gemm read by nothing else")
        weights = source.weights.copy()
        weights[falling] *= -1
        source.weights = weights
        source.weight_dtype = self.weight_dtype(weights, source.weight_dtype == BIPOLAR)
        s, b = feature.head
        return replace(feature, head=(np.where(falling, -s, s), b))

    def quantize_input(self, feature, what):
        if self.input_quantized is not None:
            self.error(f"{what} quantizes the model's input a second time; hwgen's input "
                       "has one quantizer")
        levels, off_grid, (scale, bias) = self.levels(feature)
        channels = feature.channels
        ends = levels(np.tile(np.array([-np.inf, np.inf], np.float32), (channels, 1)))
        dtype, targets = self.level_targets(feature, ends)
        thresholds = float_thresholds(levels, channels, targets).astype(np.float32)
        rng = np.random.default_rng(0)
        spread = np.abs(thresholds[np.isfinite(thresholds)]).max(initial=1.0) * 2
        points = np.concatenate([
            thresholds, np.nextafter(thresholds, np.float32(-np.inf)),
            rng.uniform(-spread, spread, (channels, CHECK_POINTS)).astype(np.float32)], axis=1)
        points = np.where(np.isfinite(points), points, 0).astype(np.float32)
        if (levels(points) != counted_levels(points, thresholds, dtype)).any():
            self.error(f"{what}: the input quantizer is not a monotonic function of the input")
        name = self.new_name("input")
        layer = KINDS["input"](name, feature.hw_shape, dtype)
        layer.inputs = ()
        self.layers.insert(0, layer)
        self.by_name[name] = layer
        self.input_quantized = what
        self.model_input = ModelInput(self.input_shape, self.input_index[0], thresholds, dtype,
                                      channels)
        self.note(feature.nodes, "absorbed into the input quantizer (model_input)")
        return self.feature_of(layer, feature.index, (scale, bias))

    def weight_dtype(self, ints, bipolar):
        if bipolar and np.all(np.abs(ints) == 1):
            return BIPOLAR
        lo, hi = int(ints.min(initial=0)), int(ints.max(initial=0))
        if max(abs(lo), abs(hi)) >= 1 << (MAX_BITS - 1):
            self.error(f"weights reach {max(abs(lo), abs(hi)):,}: beyond {MAX_BITS} bits")
        return DataType.for_range(lo, max(hi, lo + 1))

    # --- the output ---------------------------------------------------------------------------

    def read_output(self, feature):
        self.node = None
        feature = self.integers(feature, "the model's output")
        layer = self.by_name[feature.source]
        self.output_layer = layer.name
        scale, bias = feature.head
        index = feature.index[0]
        if layer.kind == "label_select":
            self.note(feature.nodes, "absorbed into the output (model_output)")
            return ModelOutput(index.shape, index, None, None)
        self.note(feature.nodes, "absorbed into the output dequantizer (model_output)")
        return ModelOutput(index.shape, index, scale, bias)

    def prune(self, output):
        """Drop layers the output does not read (a quantizer's unused branch)."""
        needed, stack = set(), [output]
        while stack:
            name = stack.pop()
            if name not in needed:
                needed.add(name)
                stack.extend(self.by_name[name].inputs)
        self.layers = [layer for layer in self.layers if layer.name in needed]

    # --- operator handlers ----------------------------------------------------------------------

    def layout(self, node, values):
        feature = values[0]
        if node.op_type in ("Identity", "Dropout"):
            index = feature.index
        else:
            index = self.evaluate(node, [feature.index] + [
                None if v is None else self.const(v, "the shape") for v in values[1:]])[0]
        index = np.asarray(index)
        if index.ndim == 0 or index.shape[0] != 1 or index.size != feature.index.size:
            self.error(f"moves the batch axis (shape {list(feature.index.shape)} to "
                       f"{list(index.shape)}); hwgen keeps it first")
        self.note([self.node_index], "layout (no hardware)")
        return [feature.moved(index)] + [None] * (len(node.output) - 1)

    def elementwise(self, node, values):
        features = [v for v in values if isinstance(v, Feature)]
        if node.op_type == "Add" and len(features) == 2:
            return [self.add(node, features)]
        if len(features) != 1:
            self.error("reads two computed tensors; hwgen supports this for Add only")
        feature = values[0] if isinstance(values[0], Feature) else values[1]
        first = isinstance(values[0], Feature)
        op_type = node.op_type
        if op_type in ("Relu",):
            op = Elementwise.relu()
        elif op_type == "Clip":
            lo = self.clip_bound(node, values, 1, "min", -np.inf)
            hi = self.clip_bound(node, values, 2, "max", np.inf)
            op = Elementwise.clip(np.full(feature.channels, lo), np.full(feature.channels, hi))
        elif op_type == "BatchNormalization":
            stats = [self.channel_axis_values(feature, self.const(v, "a batch-norm input"), 1,
                                              "a batch-norm input") for v in values[1:5]]
            op = Elementwise.batchnorm(*stats, self.attribute(node, "epsilon", 1e-5))
        else:
            other = values[1] if first else values[0]
            c = self.per_channel(feature, self.const(other, "the other operand"), "the constant")
            if op_type == "Mul":
                op = Elementwise.mul(c)
            elif op_type == "Add":
                op = Elementwise.add(c)
            elif op_type == "Sub":
                op = Elementwise.sub(c) if first else Elementwise.rsub(c)
            elif op_type == "Div" and first:
                if np.any(c == 0):
                    self.error("divides by zero")
                op = Elementwise.div(c)
            else:
                self.error("divides a constant by computed values, which hwgen cannot do")
        return [feature.then(op, self.node_index)]

    def clip_bound(self, node, values, position, name, default):
        if len(values) > position and values[position] is not None:
            return float(self.const(values[position], f"Clip's {name}"))
        return float(self.attribute(node, name, default))

    def quantizer(self, node, values):
        feature = values[0]
        consts = [None if v is None else np.asarray(self.const(v, "a quantizer parameter"),
                                                    np.float64) for v in values[1:]]
        op_type = node.op_type
        per_channel = [] if op_type == "MultiThreshold" else [
            None if c is None else self.per_channel(feature, c, "a quantizer parameter")
            for c in consts]
        if op_type == "Quant":
            signed, narrow, rounding = self.quant_attributes(node)
            bits = consts[2]
            if bits.size != 1 or bits != np.round(bits) or not 1 <= bits <= 16:
                self.error(f"bit width {bits.ravel().tolist()} is not an integer of 1 to 16")
            op = Elementwise.quant(per_channel[0], per_channel[1], int(bits), signed, narrow,
                                   rounding)
        elif op_type == "BipolarQuant":
            op = Elementwise.bipolar_quant(per_channel[0])
        elif op_type == "Trunc":
            rounding = str(self.attribute(node, "rounding_mode", "FLOOR")).upper()
            if len(consts) >= 5:
                signed, narrow, _ = self.quant_attributes(node)
                op = Elementwise.trunc(per_channel[0], per_channel[1], int(consts[2]),
                                       int(consts[4]), rounding, per_channel[3], signed, narrow)
            else:
                op = Elementwise.trunc(per_channel[0], per_channel[1], int(consts[2]),
                                       int(consts[3]), rounding)
        elif op_type == "MultiThreshold":
            thresholds = np.asarray(consts[0], np.float64)
            layout = self.attribute(node, "data_layout", "NCHW")
            axis = feature.index.ndim - 1 if layout.endswith("C") else 1
            rows = np.stack([self.channel_axis_values(feature, thresholds[:, j], axis,
                                                      "the thresholds")
                             for j in range(thresholds.shape[1])], axis=1)
            op = Elementwise.multithreshold(rows, self.attribute(node, "out_scale", 1.0),
                                            self.attribute(node, "out_bias", 0.0))
        else:       # QuantizeLinear
            op = self.quantize_linear(node, feature, values)
        return [feature.then(op, self.node_index)]

    def quantize_linear(self, node, feature, values):
        axis = self.attribute(node, "axis", 1)
        scale = self.channel_axis_values(feature, self.const(values[1], "the scale"), axis,
                                         "the scale")
        zero = values[2].value if len(values) > 2 and values[2] is not None else np.uint8(0)
        info = np.iinfo(np.asarray(zero).dtype)
        zeropt = self.channel_axis_values(feature, zero, axis, "the zero point")
        return Elementwise.quantize_linear(scale, zeropt, info.min, info.max)

    def dequantize_linear(self, node, values):
        feature = values[0]
        axis = self.attribute(node, "axis", 1)
        scale = self.channel_axis_values(feature, self.const(values[1], "the scale"), axis,
                                         "the scale")
        zero = values[2].value if len(values) > 2 and values[2] is not None else 0
        zeropt = self.channel_axis_values(feature, zero, axis, "the zero point")
        return [feature.then(Elementwise.sub(zeropt), self.node_index)
                .then(Elementwise.mul(scale), self.node_index)]

    # --- layers -----------------------------------------------------------------------------

    def matrix_input(self, feature, what, padded=False):
        """(integer feature, its scale (one value), its bias per channel) for a MatMul or
        Conv."""
        feature = self.integers(feature, what)
        scale, bias = feature.head
        if not np.allclose(scale, scale[0], rtol=1e-6, atol=0):
            self.error("its input's scale differs between channels, so its weights cannot be "
                       "integers (per-channel activation scales before a MatMul or Conv)")
        if padded:
            self.require_integer_zero(bias)
        return feature, float(scale[0]), bias

    def require_integer_zero(self, bias):
        """Padding pads integer zeros: refuse an input (of per-channel offset ``bias``) whose
        value zero is no integer of its quantizer."""
        if np.any(bias != 0):
            self.error("pads an input whose zero is no integer of its quantizer (an offset "
                       "after the quantizer); hwgen pads with integer zeros")

    def weights(self, value, what):
        if not isinstance(value, Const) or value.ints is None:
            self.error(f"{what} must be a quantized constant (a Quant, BipolarQuant or "
                       "DequantizeLinear of an initializer)")
        return value

    def output_scale(self, const):
        """The weights' scale per output channel (axis 0), checking that it is constant over
        the other axes."""
        scale = const.scale.reshape(len(const.scale), -1)
        if not np.all(scale == scale[:, :1]):
            self.error("its weights' scale varies along an input axis (per-input-channel "
                       "weight scales), so the weights cannot be integers")
        return scale[:, 0]

    def matmul(self, node, values):
        if not isinstance(values[0], Feature):
            self.error("multiplies a constant by computed values (the constant first); hwgen "
                       "needs the computed input first")
        feature = values[0]
        if feature.index.ndim != 2:
            self.error(f"reads a tensor of shape {list(feature.index.shape)}; hwgen's "
                       "MatMul reads (batch, features)")
        const = self.weights(values[1], "the weight matrix")
        alpha, beta = 1.0, 1.0
        if node.op_type == "Gemm":
            if self.attribute(node, "transA", 0):
                self.error("transA is not supported")
            alpha, beta = self.attribute(node, "alpha", 1.0), self.attribute(node, "beta", 1.0)
            if self.attribute(node, "transB", 0):
                const = const.moved(np.transpose)
        # MatMul x (1, I) @ W (I, O): weights (O, I) for hwgen.
        ints, scale = const.ints.T, self.output_scale(const.moved(np.transpose))
        inputs = feature.index.shape[1]
        if ints.shape[1] != inputs:
            self.error(f"weights of shape {list(const.value.shape)} do not match the "
                       f"{inputs} inputs")
        feature, in_scale, in_bias = self.matrix_input(feature, "its input")
        # Columns in the order of the layer's flattened (NHWC) frame.
        order = feature.index.reshape(-1)
        weights = np.zeros_like(ints)
        weights[:, order] = ints
        channel_bias = in_bias[order % feature.channels]
        bias = scale * (ints.astype(np.float64) @ channel_bias) * alpha
        if len(values) > 2 and values[2] is not None:
            c = np.broadcast_to(np.asarray(self.const(values[2], "the bias"), np.float64),
                                (1, len(scale)))
            bias = bias + beta * c.reshape(-1)
        name = self.new_name("dense")
        layer = self.dense_layer(name, feature, weights, const.bipolar)
        self.note(values[1].nodes, f"absorbed into the weights of {name}")
        if len(values) > 2 and values[2] is not None:
            self.note(values[2].nodes, f"absorbed into {name}'s output bias")
        self.note([self.node_index], f"layer {name} (dense {weights.shape[1]} -> "
                                     f"{weights.shape[0]})")
        self.note(feature.nodes, f"absorbed into {name}'s output scale and bias")
        return [self.feature_of(layer, canonical_index(layer.out_shape),
                                (in_scale * scale * alpha, bias))]

    def dense_layer(self, name, feature, weights, bipolar):
        source = self.by_name[feature.source]
        layer = KINDS["dense"](name, source.out_shape, source.output_dtype,
                               weight_dtype=self.weight_dtype(weights, bipolar), weights=weights)
        return self.add_layer(layer, [source.name])

    def conv(self, node, values):
        feature = values[0]
        const = self.weights(values[1], "the weights")
        if any(d != 1 for d in self.attribute(node, "dilations", [1, 1])):
            self.error("dilated convolutions are not supported")
        if const.ints.ndim != 4:
            self.error("hwgen imports 2-D convolutions only")
        self.require_feature_map(feature)
        group = self.conv_group(node, feature.channels, len(const.ints))
        strides = tuple(self.attribute(node, "strides", [1, 1]))
        top, left, bottom, right = self.conv_pads(node, feature.hw_shape, const.ints.shape[2:],
                                                  strides)
        feature, in_scale, in_bias = self.matrix_input(
            feature, "its input", padded=any((top, left, bottom, right)))
        self.require_feature_map(feature)
        scale = self.output_scale(const)
        # (O, I / group, KH, KW) -> (O, KH, KW, I / group): hwgen's order, depthwise or not.
        ints = const.ints.transpose(0, 2, 3, 1)
        if ints.shape[3] * group != feature.channels:
            self.error(f"weights for {ints.shape[3] * group} input channels, input has "
                       f"{feature.channels}")
        sums = ints.reshape(len(ints), -1, ints.shape[3]).sum(axis=1)    # (O, I / group)
        # The input's offsets through the weights: every input channel's into every output
        # channel, or (depthwise) each channel's own into its output channel only.
        bias = scale * (sums @ in_bias if group == 1 else sums[:, 0] * in_bias)
        if len(values) > 2 and values[2] is not None:
            bias = bias + np.asarray(self.const(values[2], "the bias"), np.float64).reshape(-1)
        source = self.by_name[feature.source]
        name = self.new_name("conv2d")
        layer = self.add_layer(KINDS["conv2d"](
            name, source.out_shape, source.output_dtype, stride=strides,
            pads=(top, bottom, left, right), groups=group, weights=ints,
            weight_dtype=self.weight_dtype(ints, const.bipolar)), [source.name])
        self.note(values[1].nodes, f"absorbed into the weights of {name}")
        if len(values) > 2 and values[2] is not None:
            self.note(values[2].nodes, f"absorbed into {name}'s output bias")
        (kh, kw), (oh, ow, oc) = layer.kernel, layer.out_shape
        what = "depthwise conv2d" if group > 1 else "conv2d"
        self.note([self.node_index], f"layer {name} ({what} {kh}x{kw}, {oc} channels, "
                                     f"{oh}x{ow})")
        self.note(feature.nodes, f"absorbed into {name}'s output scale and bias")
        return [self.feature_of(layer, canonical_index(layer.out_shape), (in_scale * scale, bias))]

    def conv_group(self, node, channels, outputs):
        """The Conv's ``group``: 1 (a full convolution), or its input ``channels`` with as many
        ``outputs`` (depthwise: hwgen's conv2d with ``groups``, a VVAU)."""
        group = self.attribute(node, "group", 1)
        if group == 1:
            return 1
        if group != channels:
            self.error(f"group={group} is not supported: 1 (a full convolution) or the input "
                       f"channels, {channels} (depthwise)")
        if outputs != channels:
            # A channel multiplier: hwgen's depthwise conv2d has one output per input channel.
            self.error(f"a depthwise convolution with {outputs} outputs from {channels} "
                       f"channels is not supported: one output per input channel")
        return group

    def conv_pads(self, node, hw_shape, kernel, strides):
        """(top, left, bottom, right) from ``pads`` or ``auto_pad`` (as Keras converters give
        'same' padding: SAME_UPPER puts the odd pixel at the end)."""
        auto = self.attribute(node, "auto_pad", "NOTSET")
        if auto in ("NOTSET", "VALID"):
            return self.attribute(node, "pads", [0, 0, 0, 0]) if auto == "NOTSET" else [0] * 4
        if auto not in ("SAME_UPPER", "SAME_LOWER"):
            self.error(f"unknown auto_pad {auto!r}")
        pads = []
        for size, k, stride in zip(hw_shape[:2], kernel, strides):
            total = max((-(-size // stride) - 1) * stride + k - size, 0)
            small, large = total // 2, total - total // 2
            pads.append((small, large) if auto == "SAME_UPPER" else (large, small))
        (top, bottom), (left, right) = pads
        return top, left, bottom, right

    def require_feature_map(self, feature):
        if len(feature.hw_shape) != 3 or \
                not np.array_equal(feature.index, canonical_index(feature.hw_shape)):
            self.error(f"reads a tensor of shape {list(feature.index.shape)} that is not a "
                       "feature map in NCHW order")

    def pool_window(self, node, what):
        """(kernel, stride, pads (top, left, bottom, right)) of a MaxPool or AveragePool
        ``node`` (``what`` pooling), refusing what hwgen's pools do not do: ceil mode, auto_pad
        and dilation."""
        if self.attribute(node, "ceil_mode", 0):
            self.error(f"ceil-mode {what} pooling is not supported")
        if self.attribute(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            self.error(f"auto_pad is not supported for {what} pooling")
        if any(d != 1 for d in self.attribute(node, "dilations", [1, 1])):
            self.error(f"dilated {what} pooling is not supported")
        kernel = tuple(self.attribute(node, "kernel_shape"))
        return (kernel, tuple(self.attribute(node, "strides", list(kernel))),
                tuple(self.attribute(node, "pads", [0, 0, 0, 0])))

    def maxpool(self, node, values):
        feature = values[0]
        self.require_feature_map(feature)
        kernel, stride, (top, left, bottom, right) = self.pool_window(node, "max")
        # The maximum commutes with every rising function: quantize first where there is a
        # quantizer (narrower integers to pool), else pool the integers and keep the chain.
        if feature.source is None or feature.grid is not None:
            feature = self.integers(feature, "its input")
        feature = self.rising(feature, "its input")
        source = self.by_name[feature.source]
        if any((top, left, bottom, right)) and (source.output_dtype.min != 0
                                                or np.any(feature.head[1] != 0)):
            # ONNX pads with -inf; hwgen pads zeros, the minimum of unsigned integers.
            self.error("pads values that can be below zero (hwgen's max pooling pads with "
                       "zeros, the minimum of unsigned levels only)")
        name = self.new_name("maxpool")
        layer = self.add_layer(KINDS["maxpool"](
            name, source.out_shape, source.output_dtype, kernel=kernel, stride=stride,
            pads=(top, bottom, left, right)), [source.name])
        self.note([self.node_index], f"layer {name} (maxpool {kernel[0]}x{kernel[1]})")
        return [replace(feature, source=name, hw_shape=layer.out_shape,
                        index=canonical_index(layer.out_shape), private=True, nodes=())]

    def global_pool(self, node, values):
        feature = values[0]
        self.require_feature_map(feature)
        h, w, _ = feature.hw_shape
        keep = True
        if node.op_type == "ReduceMean":
            axes = (self.attribute(node, "axes") if len(values) < 2 or values[1] is None
                    else np.asarray(self.const(values[1], "the axes")).tolist())
            if axes is None or sorted(a % 4 for a in axes) != [2, 3]:
                self.error(f"averages over axes {axes}; hwgen averages over height and width")
            keep = bool(self.attribute(node, "keepdims", 1))
        if node.op_type == "AveragePool":
            kernel = tuple(self.attribute(node, "kernel_shape"))
            if kernel != (h, w) or any(self.attribute(node, "pads", [0, 0, 0, 0])):
                return self.average_pool(node, feature)
        feature = self.integers(feature, "its input")
        source = self.by_name[feature.source]
        name = self.new_name("global_avgpool")
        layer = self.add_layer(KINDS["global_avgpool"](name, source.out_shape,
                                                        source.output_dtype), [source.name])
        self.note([self.node_index], f"layer {name} (global average pool: the sum, 1/{h * w} "
                                     "in the scale)")
        scale, bias = feature.head
        index = canonical_index(layer.out_shape)
        return [self.feature_of(layer, index if keep else index.reshape(1, -1),
                                (scale / (h * w), bias))]

    def average_pool(self, node, feature):
        """AveragePool over windows smaller than the map: an avgpool layer (the window sums),
        1/(KH KW) in the map."""
        kernel, stride, pads = self.pool_window(node, "average")
        top, left, bottom, right = pads
        if any(pads) and not self.attribute(node, "count_include_pad", 0):
            self.error("divides each padded window by its pixels inside the map "
                       "(count_include_pad=0); hwgen divides every window by the kernel size "
                       "(count_include_pad=1, PyTorch's default)")
        feature = self.integers(feature, "its input")
        scale, bias = feature.head
        if any(pads):
            self.require_integer_zero(bias)
        source = self.by_name[feature.source]
        name = self.new_name("avgpool")
        layer = self.add_layer(KINDS["avgpool"](
            name, source.out_shape, source.output_dtype, kernel=kernel, stride=stride,
            pads=(top, bottom, left, right)), [source.name])
        self.note([self.node_index], f"layer {name} (average pool {kernel[0]}x{kernel[1]}: the "
                                     f"sum, 1/{kernel[0] * kernel[1]} in the scale)")
        return [self.feature_of(layer, canonical_index(layer.out_shape),
                                (scale / (kernel[0] * kernel[1]), bias))]

    def add(self, node, features):
        features = [self.integers(f, "its input") for f in features]
        (s0, b0), (s1, b1) = features[0].head, features[1].head
        if not np.allclose(s0, s1, rtol=1e-6, atol=0):
            self.error("adds tensors of different scales; hwgen adds integers, so both "
                       "inputs need the same quantizer scale (share the quantizer)")
        if not np.array_equal(features[0].index, features[1].index):
            self.error("adds tensors laid out differently")
        sources = [self.by_name[f.source] for f in features]
        name = self.new_name("add")
        layer = self.add_layer(KINDS["add"](name, sources[0].out_shape,
                                            sources[0].output_dtype,
                                            in_dtypes=tuple(s.output_dtype for s in sources)),
                               [s.name for s in sources])
        self.note([self.node_index], f"layer {name} (add)")
        return self.feature_of(layer, features[0].index, (s0, b0 + b1))

    def concat(self, node, values):
        if not all(isinstance(v, Feature) for v in values):
            self.error("joins computed tensors with constants")
        features = [self.integers(f, "its input") for f in values]
        axis = self.attribute(node, "axis")
        if axis is None or axis % features[0].index.ndim != 1:
            self.error("joins along an axis other than the channels")
        for feature in features:
            if len(feature.hw_shape) == 3:
                self.require_feature_map(feature)
        sources = [self.by_name[f.source] for f in features]
        if len({s.output_dtype for s in sources}) > 1:
            self.error("joins tensors of different integer datatypes ("
                       + ", ".join(str(s.output_dtype) for s in sources) + ")")
        name = self.new_name("concat")
        layer = self.add_layer(KINDS["concat"](
            name, sources[0].out_shape, sources[0].output_dtype,
            in_channels=tuple(s.out_shape[-1] for s in sources)), [s.name for s in sources])
        self.note([self.node_index], f"layer {name} (concat)")
        head = tuple(np.concatenate([f.head[i] for f in features]) for i in range(2))
        return [self.feature_of(layer, canonical_index(layer.out_shape), head)]

    def label_select(self, node, values):
        feature = self.rising(self.integers(values[0], "its input"), "its input")
        if feature.index.ndim != 2:
            self.error("selects over a tensor that is not (batch, classes)")
        axis = self.attribute(node, "axis", -1 if node.op_type == "TopK" else 0)
        if axis % 2 != 1:
            self.error("selects along an axis other than the classes")
        if not np.array_equal(feature.index[0], np.arange(feature.index.size)):
            self.error("selects over classes in another order than the layer's")
        scale, bias = feature.head
        if np.any(scale <= 0) or not np.all(scale == scale[0]) or not np.all(bias == bias[0]):
            self.error("ranks scores whose scale or bias differs between classes, so the "
                       "integers do not rank as the model's values do")
        if node.op_type == "ArgMax":
            if self.attribute(node, "select_last_index", 0):
                self.error("select_last_index is not supported")
            k, keep = 1, self.attribute(node, "keepdims", 1)
        else:
            k = int(np.asarray(self.const(values[1], "K")).reshape(-1)[0])
            keep = 1
            if self.attribute(node, "largest", 1) != 1:
                self.error("TopK of the smallest is not supported")
        source = self.by_name[feature.source]
        name = self.new_name("label_select")
        layer = self.add_layer(KINDS["label_select"](name, source.out_shape,
                                                      source.output_dtype, k=k), [source.name])
        self.note([self.node_index], f"layer {name} (label select, k={k})")
        self.note(feature.nodes, f"absorbed: {name} ranks the integers")
        index = np.arange(k).reshape((1, k) if keep else (1,) if k == 1 else (1, k))
        result = self.feature_of(layer, index)
        if node.op_type == "TopK":
            return [None, result]       # the values output is not computed
        return [result]

    def shape(self, node, values):
        self.note([self.node_index], "constant (the shape)")
        return [Const(np.array(values[0].index.shape, np.int64))]


CUSTOM_OPS = {"Quant", "BipolarQuant", "Trunc", "MultiThreshold"}
LAYOUT_OPS = {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Dropout"}
HANDLERS = {
    **{op: Importer.layout for op in LAYOUT_OPS},
    **{op: Importer.elementwise for op in ("Add", "Sub", "Mul", "Div", "Relu", "Clip",
                                           "BatchNormalization")},
    **{op: Importer.quantizer for op in CUSTOM_OPS | {"QuantizeLinear"}},
    "DequantizeLinear": Importer.dequantize_linear,
    "MatMul": Importer.matmul,
    "Gemm": Importer.matmul,
    "Conv": Importer.conv,
    "MaxPool": Importer.maxpool,
    "GlobalAveragePool": Importer.global_pool,
    "AveragePool": Importer.global_pool,
    "ReduceMean": Importer.global_pool,
    "Concat": Importer.concat,
    "ArgMax": Importer.label_select,
    "TopK": Importer.label_select,
    "Shape": Importer.shape,
}
