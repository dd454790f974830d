"""Load and validate a network description (YAML).

Every user mistake becomes one :class:`~hwgen.errors.HwgenError` that names the file, the layer
and the field. The description format is documented in README.md ("Network descriptions").
"""

from math import gcd
from pathlib import Path

import numpy as np
import yaml

from ..datatypes import MAX_BITS, DataType
from ..engines.add import sum_dtype
from ..engines.bitserial_mvau import MODES as BITSERIAL_MODES
from ..errors import HwgenError
from .batchnorm import fold_batchnorm, threshold_count
from .layers import (Activation, Add, Concat, Conv2d, Dense, Flatten, GlobalAvgPool, InputLayer,
                     LabelSelect, MaxPool, natural_pe)
from .network import Network

__all__ = ["load_network"]

ENGINES = ("parallel", "xnor", "bitserial")
CALIBRATION_FRAMES = 8
# Bounds far beyond any network an FPGA holds (CNV: 65,536 values in its largest feature map,
# 589,824 weights in its largest layer), so that a typo such as a huge channel count is an error
# rather than gigabytes of generated weights.
MAX_FEATURES = 1 << 22       # values in one layer's output (padded input) per frame
MAX_WEIGHTS = 1 << 24        # weights of one layer
MAX_MACS = 1 << 30           # multiply-accumulates of one layer per frame

_FIELDS = {
    "input": {"shape", "datatype"},
    "conv2d": {"channels", "kernel", "stride", "padding", "weight_datatype", "weights",
               "pe", "simd", "engine", "bitserial_mode"},
    "dense": {"outputs", "weight_datatype", "weights", "pe", "simd", "engine", "bitserial_mode"},
    "maxpool": {"kernel", "stride", "pe"},
    "activation": {"datatype", "thresholds", "batchnorm", "pe"},
    "flatten": set(),
    "label_select": {"k", "pe"},
    "add": {"pe"},
    "concat": {"pe"},
    "global_avgpool": {"pe"},
}
# Kinds that read two or more inputs; every other kind but the input reads exactly one.
_JOINS = ("add", "concat")
_BATCHNORM_FIELDS = ("gamma", "beta", "mean", "var", "eps", "scale")


def load_network(path):
    """Read, validate and build the network described by the YAML file at ``path``."""
    return _Loader(Path(path)).load()


class _Loader:
    def __init__(self, path):
        self.path = path
        self.npz = {}
        self.negated = {}       # matrix layer -> the activation that negated its weights
        self.layer = None       # name of the layer being read, for error messages

    def error(self, message, field=None):
        raise HwgenError(message, file=self.path, layer=self.layer, field=field)

    @staticmethod
    def build_hint(directory):
        """"; give DIR/network.yaml" if ``directory`` holds an hwgen build, else ""."""
        described = directory / "network.yaml"
        if described.is_file() and (directory / "report.json").is_file():
            return f"; give {described}, the description it was built from"
        return ""

    # --- the document -------------------------------------------------------------------------

    def load(self):
        if self.path.is_dir():
            self.error("is a directory, not a network description (.yaml)"
                       + self.build_hint(self.path))
        if self.path.suffix.lower() not in (".yaml", ".yml") and self.build_hint(self.path.parent):
            self.error("is a file of an hwgen build, not its network description"
                       + self.build_hint(self.path.parent))
        try:
            text = self.path.read_text()
        except OSError as exc:
            self.error(f"cannot read the description: {exc.strerror or exc}")
        except UnicodeDecodeError:
            self.error("cannot read the description: not a text file (a description is YAML)")
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or "syntax error"
            self.error(f"invalid YAML{where}: {problem}")
        if not isinstance(doc, dict):
            self.error("the description must be a mapping with a 'layers' list")
        unknown = set(doc) - {"name", "seed", "params", "layers"}
        if unknown:
            self.error("unknown top-level field", field=sorted(unknown)[0])
        self.seed = doc.get("seed", 0)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            self.error("must be a non-negative integer", field="seed")
        self.default_params = doc.get("params")
        if self.default_params is not None and not isinstance(self.default_params, str):
            self.error("must be the name of an .npz file", field="params")
        specs = doc.get("layers")
        if not isinstance(specs, list) or not specs:
            self.error("must be a non-empty list of layers", field="layers")
        name = doc.get("name", self.path.stem)
        layers = self.read_layers(specs)
        self.layer = None
        network = Network(name=str(name), path=self.path, seed=self.seed, layers=layers)
        # A label select without a PE hint runs only as fast as the network's bottleneck.
        bottleneck = network.bottleneck().ideal_cycles()
        for layer in layers:
            if isinstance(layer, LabelSelect) and "pe" not in layer.hints:
                layer.pe = layer.default_pe(layer.pe, bottleneck)
        return network

    def read_layers(self, specs):
        layers, by_name = [], {}
        self.calibration = {}    # golden outputs of seeded frames per layer, for thresholds
        names = [spec.get("name") for spec in specs if isinstance(spec, dict)]
        for index, spec in enumerate(specs):
            self.layer = f"#{index}"
            if not isinstance(spec, dict):
                self.error("a layer must be a mapping with a 'kind'")
            if isinstance(spec.get("name"), str):
                self.layer = spec["name"]
            kind = spec.get("kind")
            if not isinstance(kind, str) or kind not in _FIELDS:
                self.error(f"unknown layer kind {kind!r} (expected one of: "
                           f"{', '.join(_FIELDS)})", field="kind")
            name = spec.get("name", f"{kind}{index}")
            if not isinstance(name, str) or not name.isidentifier():
                self.error("a layer name must be an identifier (letters, digits, _)",
                           field="name")
            self.layer = name
            if name in by_name:
                self.error("another layer has this name", field="name")
            allowed = _FIELDS[kind] | ({"kind", "name"} if kind == "input"
                                       else {"kind", "name", "inputs"})
            unknown = set(spec) - allowed
            if unknown:
                self.error(f"unknown field for a {kind} layer (expected: "
                           f"{', '.join(sorted(allowed - {'kind', 'name'})) or 'none'})",
                           field=sorted(unknown)[0])
            if (kind == "input") != (index == 0):
                self.error("the first layer, and only the first, must be the input",
                           field="kind")
            self.index = index
            inputs = [] if kind == "input" else self.inputs(spec, kind, layers, by_name, names)
            layer = getattr(self, f"read_{kind}")(spec, name, *inputs)
            layer.inputs = tuple(i.name for i in inputs)
            self.check_size(layer)
            layer.hints = frozenset(key for key in ("pe", "simd") if key in spec)
            layers.append(layer)
            by_name[name] = layer
            self.calibrate(layer)
        self.check_read(layers)
        self.fuse(layers, specs)
        return layers

    def inputs(self, spec, kind, layers, by_name, names):
        """The layers a layer reads: those its ``inputs`` names (default: the layer before)."""
        value = spec.get("inputs", [layers[-1].name])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or \
                not all(isinstance(v, str) for v in value):
            self.error(f"must be a list of layer names, not {value!r}", field="inputs")
        for name in value:
            if name == self.layer:
                self.error("a layer cannot read its own output", field="inputs")
            if name not in by_name:
                later = name in names
                self.error(f"names {name!r}, " + (
                    "a layer listed after this one: list every layer after the layers it "
                    "reads (that also rules out cycles)" if later else "which is no layer"),
                    field="inputs")
        repeated = next((name for name in value if value.count(name) > 1), None)
        if repeated:
            self.error(f"names {repeated!r} twice", field="inputs")
        if kind in _JOINS and len(value) < 2:
            self.error(f"a {kind} layer reads two or more layers, not {len(value)}",
                       field="inputs")
        if kind not in _JOINS and len(value) != 1:
            self.error(f"a {kind} layer reads one layer, not {len(value)} (only "
                       f"{' and '.join(_JOINS)} read several)", field="inputs")
        return [by_name[name] for name in value]

    def check_read(self, layers):
        """Every layer but the last (the network's output) is read by some layer."""
        read = {name for layer in layers for name in layer.inputs}
        for layer in layers[:-1]:
            if layer.name not in read:
                self.layer = layer.name
                self.error(f"no layer reads its output (only the last layer, "
                           f"'{layers[-1].name}', is the network's output)", field="name")
        for source, activation in self.negated.items():
            others = [layer.name for layer in layers
                      if source in layer.inputs and layer.name != activation]
            if others:
                self.layer = activation
                self.error(f"a gamma is negative, which negates weights of '{source}', but "
                           f"'{others[0]}' reads '{source}' too", field="batchnorm.gamma")

    def fuse(self, layers, specs):
        """Fuse each activation into the engine of the layer it reads, where that layer's
        engine can apply it and the activation is its only reader."""
        by_name = {layer.name: layer for layer in layers}
        for layer, spec in zip(layers, specs):
            if not isinstance(layer, Activation):
                continue
            source = by_name[layer.inputs[0]]
            readers = [other for other in layers if source.name in other.inputs]
            if not source.fusable or readers != [layer]:
                continue
            if "pe" in spec:
                self.layer = layer.name
                self.error(f"this activation is fused into '{source.name}' and runs at its PE",
                           field="pe")
            layer.pe, layer.fused_into, source.fused = source.pe, source.name, layer

    def check_size(self, layer):
        features = int(np.prod(layer.out_shape, dtype=object))
        if features > MAX_FEATURES:
            self.error(f"its output of shape {layer.out_shape} holds {features:,} values per "
                       f"frame, more than hwgen supports ({MAX_FEATURES:,})", field="kind")
        if isinstance(layer, (Conv2d, Dense)):
            if layer.vectors * layer.mw > MAX_FEATURES or layer.macs > MAX_MACS:
                self.error(f"{layer.macs:,} multiply-accumulates on {layer.vectors:,} windows of "
                           f"{layer.mw:,} values per frame, more than hwgen supports",
                           field="kernel")
            try:
                layer.out_dtype
            except ValueError:
                lo, hi = layer.acc_range
                self.error(f"dot products from {lo} to {hi} need more than {MAX_BITS}-bit "
                           "accumulators: narrower datatypes or fewer inputs per output",
                           field="weight_datatype")

    def calibrate(self, layer):
        """Propagate seeded random frames, so that generated thresholds see real accumulators."""
        if isinstance(layer, InputLayer):
            rng = np.random.default_rng([self.seed, 0, 2])
            output = layer.out_dtype.random_values(rng, (CALIBRATION_FRAMES, *layer.out_shape))
        else:
            output = layer.golden(*(self.calibration[name] for name in layer.inputs))
        self.calibration[layer.name] = output

    # --- fields -------------------------------------------------------------------------------

    def rng(self, purpose):
        return np.random.default_rng([self.seed, self.index, purpose])

    def integer(self, spec, key, default=None, minimum=1):
        value = spec.get(key, default)
        if value is None:
            self.error("is required", field=key)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.error(f"must be an integer >= {minimum}, not {value!r}", field=key)
        return value

    def pair(self, spec, key, default=None, minimum=1):
        value = spec.get(key, default)
        if value is None:
            self.error("is required", field=key)
        items = [value, value] if isinstance(value, int) and not isinstance(value, bool) else value
        if (not isinstance(items, list) or len(items) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum
                           for v in items)):
            self.error(f"must be an integer >= {minimum} or a pair [h, w] of them, "
                       f"not {value!r}", field=key)
        return tuple(items)

    def pads(self, spec):
        value = spec.get("padding", 0)
        if isinstance(value, list) and len(value) == 4:
            if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
                return tuple(value)
            self.error(f"padding values must be integers >= 0, not {value!r}", field="padding")
        ph, pw = self.pair({"padding": value}, "padding", minimum=0)
        return (ph, ph, pw, pw)

    def datatype(self, spec, key):
        if key not in spec:
            self.error("is required", field=key)
        try:
            return DataType.parse(spec[key])
        except ValueError as exc:
            self.error(str(exc), field=key)

    def folding(self, spec, key, total, what, default=1):
        value = self.integer(spec, key, default=default)
        if total % value:
            self.error(f"{key}={value} does not divide {what}={total}", field=key)
        return value

    def array(self, value, key, shape, generate):
        """An integer array from inline values, an .npz file, or ``generate()`` ('random')."""
        if value is None or value == "random":
            return generate()
        if isinstance(value, dict):
            array = self.from_npz(value, key)
        else:
            try:
                array = np.array(value, dtype=np.float64)
            except (TypeError, ValueError):
                self.error("must be 'random', a nested list of numbers, or "
                           "{file: F.npz, key: K}", field=key)
        if shape is not None and array.shape != tuple(shape):
            self.error(f"shape {array.shape} does not match the expected {tuple(shape)}",
                       field=key)
        return array

    def from_npz(self, value, key):
        unknown = set(value) - {"file", "key"}
        if unknown or "key" not in value:
            self.error("a file reference is {file: F.npz, key: K} ('file' defaults to the "
                       "top-level 'params')", field=key)
        file = value.get("file", self.default_params)
        if not isinstance(file, str):
            self.error("no .npz file named (give 'file' here or 'params' at the top)", field=key)
        path = self.path.parent / file
        if path not in self.npz:
            try:
                with np.load(path, allow_pickle=False) as npz:
                    self.npz[path] = dict(npz)
            except (OSError, ValueError) as exc:
                self.error(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}",
                           field=key)
        if value["key"] not in self.npz[path]:
            self.error(f"{path} has no array {value['key']!r} (it has: "
                       f"{', '.join(sorted(self.npz[path])) or 'none'})", field=key)
        return np.asarray(self.npz[path][value["key"]])

    def integers(self, array, key):
        if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)) \
                or not np.all(array == np.round(array)):
            self.error("values must be integers", field=key)
        if np.any(np.abs(array) >= 2**MAX_BITS):
            self.error(f"values must be below 2**{MAX_BITS} in magnitude", field=key)
        return array.astype(np.int64)

    # --- layer kinds --------------------------------------------------------------------------

    def read_input(self, spec, name):
        shape = spec.get("shape")
        if isinstance(shape, int) and not isinstance(shape, bool):
            shape = [shape]
        if (not isinstance(shape, list) or len(shape) not in (1, 3)
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                           for v in shape)):
            self.error(f"must be [features] or [height, width, channels] of positive "
                       f"integers, not {spec.get('shape')!r}", field="shape")
        return InputLayer(name, tuple(shape), self.datatype(spec, "datatype"))

    def feature_map(self, prev, kind):
        if len(prev.out_shape) != 3:
            self.error(f"a {kind} layer needs a height x width x channels input, but "
                       f"'{prev.name}' gives {prev.out_shape[0]} features", field="kind")
        return prev.out_shape

    def engine(self, spec, prev, weight_dtype):
        """(engine, bitserial_mode) of a matrix layer; the mode is None unless bit-serial."""
        bipolar = prev.out_dtype.kind == weight_dtype.kind == "BIPOLAR"
        engine = spec.get("engine", "xnor" if bipolar else "parallel")
        if engine not in ENGINES:
            self.error(f"unknown engine {engine!r} (expected one of: {', '.join(ENGINES)})",
                       field="engine")
        if engine == "xnor" and not bipolar:
            self.error("the xnor engine needs BIPOLAR inputs and weights (inputs are "
                       f"{prev.out_dtype}, weights {weight_dtype})", field="engine")
        if engine != "bitserial":
            if "bitserial_mode" in spec:
                self.error(f"only for engine: bitserial (the engine is {engine})",
                           field="bitserial_mode")
            return engine, None
        mode = spec.get("bitserial_mode", BITSERIAL_MODES[0])
        if mode not in BITSERIAL_MODES:
            self.error(f"unknown bit-serial mode {mode!r} (expected one of: "
                       f"{', '.join(BITSERIAL_MODES)})", field="bitserial_mode")
        return engine, mode

    def weights(self, spec, shape, dtype):
        count = int(np.prod(shape, dtype=object))
        if count > MAX_WEIGHTS:
            self.error(f"{count:,} weights of shape {shape}, more than hwgen supports "
                       f"({MAX_WEIGHTS:,} per layer)", field="weights")

        def generate():
            return dtype.random_values(self.rng(1), shape)
        weights = self.integers(self.array(spec.get("weights"), "weights", shape, generate),
                                "weights")
        bad = ~dtype.allows(weights)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            self.error(f"value {weights[where]} at index {where} is outside {dtype}",
                       field="weights")
        return weights

    def read_conv2d(self, spec, name, prev):
        h, w, c = self.feature_map(prev, "conv2d")
        ofm = self.integer(spec, "channels")
        kernel = self.pair(spec, "kernel")
        stride = self.pair(spec, "stride", default=1)
        pads = self.pads(spec)
        ph, pw = h + pads[0] + pads[1], w + pads[2] + pads[3]
        if ph * pw * c > MAX_FEATURES:
            self.error(f"the padded input {ph}x{pw}x{c} holds more values than hwgen supports "
                       f"({MAX_FEATURES:,})", field="padding")
        if kernel[0] > ph or kernel[1] > pw:
            self.error(f"kernel {kernel[0]}x{kernel[1]} is larger than the "
                       f"{'padded ' if any(pads) else ''}input {ph}x{pw}", field="kernel")
        if any(pads) and not prev.out_dtype.allows(0):
            self.error(f"zero padding is not representable in {prev.out_dtype} inputs",
                       field="padding")
        weight_dtype = self.datatype(spec, "weight_datatype")
        engine, mode = self.engine(spec, prev, weight_dtype)
        weights = self.weights(spec, (ofm, *kernel, c), weight_dtype)
        pe = self.folding(spec, "pe", ofm, "output channels")
        simd = self.folding(spec, "simd", c, "input channels")
        return Conv2d(name, prev.out_shape, prev.out_dtype, weight_dtype, weights, pe, simd,
                      engine, mode, stride, pads)

    def read_dense(self, spec, name, prev):
        mw = int(np.prod(prev.out_shape))
        mh = self.integer(spec, "outputs")
        weight_dtype = self.datatype(spec, "weight_datatype")
        engine, mode = self.engine(spec, prev, weight_dtype)
        weights = self.weights(spec, (mh, mw), weight_dtype)
        pe = self.folding(spec, "pe", mh, "outputs (MH)")
        simd = self.folding(spec, "simd", mw, "inputs (MW)")
        return Dense(name, prev.out_shape, prev.out_dtype, weight_dtype, weights, pe, simd,
                     engine, mode)

    def read_maxpool(self, spec, name, prev):
        h, w, c = self.feature_map(prev, "maxpool")
        kernel = self.pair(spec, "kernel")
        stride = self.pair(spec, "stride", default=list(kernel))
        if kernel[0] > h or kernel[1] > w:
            self.error(f"kernel {kernel[0]}x{kernel[1]} is larger than the input {h}x{w}",
                       field="kernel")
        pe = self.folding(spec, "pe", c, "channels", default=natural_pe(c, prev.out_elems))
        return MaxPool(name, prev.out_shape, prev.out_dtype, kernel, stride, pe)

    def read_activation(self, spec, name, prev):
        self.source = prev.name
        dtype = self.datatype(spec, "datatype")
        channels = prev.out_shape[-1]
        lo, hi = prev.out_dtype.min, prev.out_dtype.max
        n = threshold_count(dtype)
        if n * channels > MAX_WEIGHTS:
            self.error(f"{dtype} outputs need {n:,} thresholds per channel, {n * channels:,} in "
                       f"all: more than hwgen supports ({MAX_WEIGHTS:,})", field="datatype")
        if "batchnorm" in spec and "thresholds" in spec:
            self.error("give either thresholds or batchnorm, not both", field="batchnorm")
        if "batchnorm" in spec:
            thresholds = self.batchnorm(spec["batchnorm"], prev, dtype, channels)
        else:
            thresholds = self.thresholds(spec.get("thresholds"), channels, n, lo, hi)
        pe = self.folding(spec, "pe", channels, "channels",
                          default=natural_pe(channels, prev.out_elems))
        return Activation(name, prev.out_shape, prev.out_dtype, thresholds, dtype, pe)

    def thresholds(self, value, channels, n, lo, hi):
        def generate():
            # Quantiles of the accumulators that seeded frames produce: every output level occurs.
            acc = self.calibration[self.source].reshape(-1, channels)
            levels = (np.arange(n) + 1) / (n + 1)
            return np.ceil(np.quantile(acc, levels, axis=0).T)
        thresholds = self.integers(self.array(value, "thresholds", None, generate), "thresholds")
        if thresholds.ndim == 1:
            thresholds = thresholds[None, :]
        if thresholds.ndim != 2 or thresholds.shape[1] != n or \
                thresholds.shape[0] not in (1, channels):
            self.error(f"expected {n} thresholds per channel as shape ({channels}, {n}) or "
                       f"(1, {n}), got shape {thresholds.shape}", field="thresholds")
        unsorted = np.argwhere(np.diff(thresholds, axis=1) < 0)
        if len(unsorted):
            self.error(f"thresholds of channel {unsorted[0][0]} are not ascending",
                       field="thresholds")
        # Values beyond the input's range act exactly like its bounds.
        return np.clip(np.broadcast_to(thresholds, (channels, n)), lo, hi + 1)

    def batchnorm(self, value, prev, dtype, channels):
        if not isinstance(value, dict):
            self.error("must be a mapping of gamma, beta, mean, var (and eps, scale)",
                       field="batchnorm")
        unknown = set(value) - set(_BATCHNORM_FIELDS)
        if unknown:
            self.error(f"unknown batchnorm field {sorted(unknown)[0]!r}", field="batchnorm")
        defaults = {"gamma": 1.0, "beta": 0.0, "eps": 1e-5, "scale": 1.0}
        stats = {}
        for key in _BATCHNORM_FIELDS:
            field = f"batchnorm.{key}"
            if key not in value and key not in defaults:
                self.error("is required", field=field)
            raw = value.get(key, defaults.get(key))
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                array = np.array(float(raw))
            else:
                array = self.array(raw, field, None,
                                   lambda: self.error("must be given, not generated", field=field))
            if array.ndim > 1 or (array.ndim == 1 and array.size not in (1, channels)):
                self.error(f"expected one value or {channels} (one per channel), "
                           f"got shape {array.shape}", field=field)
            if not np.all(np.isfinite(array)):
                self.error("values must be finite", field=field)
            stats[key] = np.broadcast_to(array.astype(np.float64), (channels,)).copy()
        if np.any(stats["var"] + stats["eps"] <= 0):
            self.error("var + eps must be positive", field="batchnorm.var")
        if np.any(stats["scale"] <= 0):
            self.error("scale must be positive", field="batchnorm.scale")
        negative = stats["gamma"] < 0
        if negative.any():
            self.absorb_negative_gamma(prev, negative)
            stats["gamma"][negative] *= -1
            stats["mean"][negative] *= -1
        acc_lo, acc_hi = prev.out_dtype.min, prev.out_dtype.max
        return fold_batchnorm(stats["gamma"], stats["beta"], stats["mean"], stats["var"],
                              stats["eps"], stats["scale"], dtype, acc_lo, acc_hi)

    def absorb_negative_gamma(self, prev, negative):
        """y = g (x - m)/s + b equals (-g)(-x - (-m))/s + b: negate the weights feeding x."""
        channel = int(np.argmax(negative))
        if not isinstance(prev, (Conv2d, Dense)) or self.negated.get(prev.name, self.layer) \
                != self.layer:
            self.error(f"gamma of channel {channel} is negative; that needs the activation "
                       f"to be the only reader of a conv2d or dense layer",
                       field="batchnorm.gamma")
        self.negated[prev.name] = self.layer
        flipped = prev.weights.copy()
        flipped[negative] *= -1
        if not prev.weight_dtype.allows(flipped).all():
            self.error(f"gamma of channel {channel} is negative and the negated weights of "
                       f"'{prev.name}' do not fit {prev.weight_dtype}", field="batchnorm.gamma")
        prev.weights = flipped
        self.calibration[prev.name][..., negative] *= -1

    def read_flatten(self, spec, name, prev):
        return Flatten(name, prev.out_shape, prev.out_dtype, prev.out_elems)

    def read_label_select(self, spec, name, prev):
        classes = int(np.prod(prev.out_shape))
        k = self.integer(spec, "k", default=1)
        if k > classes:
            self.error(f"k={k} exceeds the {classes} classes", field="k")
        pe = self.folding(spec, "pe", classes, "classes",
                          default=natural_pe(classes, prev.out_elems))
        return LabelSelect(name, prev.out_shape, prev.out_dtype, k, pe)

    def same_shapes(self, inputs, shape_of, what):
        """Check that ``shape_of(layer)`` agrees over the ``inputs`` of a join."""
        first = inputs[0]
        for other in inputs[1:]:
            if shape_of(other) != shape_of(first):
                self.error(f"{what} of its inputs differ: '{first.name}' gives "
                           f"{shape_of(first)}, '{other.name}' gives {shape_of(other)}",
                           field="inputs")

    def read_add(self, spec, name, *inputs):
        self.same_shapes(inputs, lambda layer: layer.out_shape, "the shapes")
        dtypes = tuple(layer.out_dtype for layer in inputs)
        try:
            sum_dtype(dtypes)
        except ValueError:
            self.error(f"the sum of {', '.join(map(str, dtypes))} is wider than {MAX_BITS} bits",
                       field="inputs")
        channels = inputs[0].out_shape[-1]
        pe = self.folding(spec, "pe", channels, "channels",
                          default=natural_pe(channels, *(i.out_elems for i in inputs)))
        return Add(name, inputs[0].out_shape, inputs[0].out_dtype, dtypes, pe)

    def read_concat(self, spec, name, *inputs):
        self.same_shapes(inputs, lambda layer: layer.out_shape[:-1],
                         "the heights and widths" if len(inputs[0].out_shape) == 3
                         else "the shapes")
        self.same_shapes(inputs, lambda layer: layer.out_dtype, "the datatypes")
        channels = tuple(layer.out_shape[-1] for layer in inputs)
        pe = self.folding(spec, "pe", gcd(*channels), "the inputs' channels' gcd",
                          default=natural_pe(gcd(*channels), *(i.out_elems for i in inputs)))
        return Concat(name, inputs[0].out_shape, inputs[0].out_dtype, channels, pe)

    def read_global_avgpool(self, spec, name, prev):
        h, w, c = self.feature_map(prev, "global_avgpool")
        pooled = prev.out_dtype.min * h * w, prev.out_dtype.max * h * w
        if max(abs(v) for v in pooled) >= 2**(MAX_BITS - 1):
            self.error(f"the sum of {h * w} {prev.out_dtype} values is wider than {MAX_BITS} bits",
                       field="kind")
        pe = self.folding(spec, "pe", c, "channels", default=natural_pe(c, prev.out_elems))
        return GlobalAvgPool(name, prev.out_shape, prev.out_dtype, pe)
