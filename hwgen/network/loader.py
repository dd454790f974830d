"""Load and validate a network description (YAML).

Every user mistake becomes one :class:`~hwgen.errors.HwgenError` that names the file, the layer
and the field. The description format is documented in README.md ("Network descriptions").
"""

from pathlib import Path

import numpy as np
import yaml

from ..datatypes import MAX_BITS, DataType
from ..errors import HwgenError
from .kinds import KINDS, LabelSelect, MatrixLayer
from .model_io import ModelInput, ModelOutput
from .network import Network

__all__ = ["load_network", "Reader"]

CALIBRATION_FRAMES = 8
# Bounds far beyond any network an FPGA holds (CNV: 65,536 values in its largest feature map,
# 589,824 weights in its largest layer), so that a typo such as a huge channel count is an error
# rather than gigabytes of generated weights.
MAX_FEATURES = 1 << 22       # values in one layer's output (padded input) per frame
MAX_MACS = 1 << 30           # multiply-accumulates of one layer per frame


def load_network(path):
    """Read, validate and build the network described by the YAML file at ``path``."""
    return Reader(Path(path)).load()


class Reader:
    """Reads a description: the document and its graph here, each layer's fields in its
    kind's :meth:`~hwgen.network.kinds.Layer.read`, with the field readers below."""

    MAX_FEATURES = MAX_FEATURES

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
        unknown = set(doc) - {"name", "seed", "params", "layers", ModelInput.KEY, ModelOutput.KEY}
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
        io = {}
        for cls, layer in ((ModelInput, layers[0]), (ModelOutput, layers[-1])):
            if cls.KEY in doc:
                io[cls.KEY] = cls.read(self, doc[cls.KEY], layer)
        network = Network(name=str(name), path=self.path, seed=self.seed, layers=layers, **io)
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
            if not isinstance(kind, str) or kind not in KINDS:
                self.error(f"unknown layer kind {kind!r} (expected one of: "
                           f"{', '.join(KINDS)})", field="kind")
            cls = KINDS[kind]
            name = spec.get("name", f"{kind}{index}")
            if not isinstance(name, str) or not name.isidentifier():
                self.error("a layer name must be an identifier (letters, digits, _)",
                           field="name")
            self.layer = name
            if name in by_name:
                self.error("another layer has this name", field="name")
            allowed = cls.FIELDS | ({"kind", "name"} if kind == "input"
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
            inputs = [] if kind == "input" else self.inputs(spec, cls, layers, by_name, names)
            layer = cls.read(self, spec, name, *inputs)
            layer.inputs = tuple(i.name for i in inputs)
            self.check_size(layer)
            layer.hints = frozenset(key for key in ("pe", "simd") if key in spec)
            layers.append(layer)
            by_name[name] = layer
            self.calibrate(layer)
        self.check_read(layers)
        self.fuse(layers, specs)
        return layers

    def inputs(self, spec, cls, layers, by_name, names):
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
        if cls.JOIN and len(value) < 2:
            self.error(f"{cls.kind} reads two or more layers, not {len(value)}", field="inputs")
        if not cls.JOIN and len(value) != 1:
            joins = " and ".join(kind for kind, other in KINDS.items() if other.JOIN)
            self.error(f"{cls.kind} reads one layer, not {len(value)} (only {joins} read "
                       "several)", field="inputs")
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
            if layer.kind != "activation":
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
        if isinstance(layer, MatrixLayer):
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
        if not layer.inputs:
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

    # --- what the layer kinds read with ---------------------------------------------------

    def feature_map(self, prev, kind):
        if len(prev.out_shape) != 3:
            self.error(f"a {kind} layer needs a height x width x channels input, but "
                       f"'{prev.name}' gives {prev.out_shape[0]} features", field="kind")
        return prev.out_shape

    def same(self, inputs, shape_of, what):
        """Check that ``shape_of(layer)`` agrees over the ``inputs`` of a join."""
        first = inputs[0]
        for other in inputs[1:]:
            if shape_of(other) != shape_of(first):
                self.error(f"{what} of its inputs differ: '{first.name}' gives "
                           f"{shape_of(first)}, '{other.name}' gives {shape_of(other)}",
                           field="inputs")
