"""activation: batch norm + quantized activation as integer multi-thresholds, fused into the
engine of the layer it reads (an MVAU or an add) when it is that layer's only reader, else a
Thresholds engine."""

from dataclasses import dataclass, replace
from functools import lru_cache
from math import prod

import numpy as np

from ... import golden
from ...compiler.lowering import Stream
from ...datatypes import DataType
from ...engines.requantize import requantizer_for
from ...engines.thresholds import ThresholdsParams, check_activation
from ..batchnorm import fold_batchnorm, threshold_count
from .base import ChannelLayer, pixels
from .matrix import MAX_WEIGHTS, MatrixLayer

__all__ = ["Activation"]

BATCHNORM_FIELDS = ("gamma", "beta", "mean", "var", "eps", "scale")


def quantile_thresholds(acc, n):
    """(C, n) thresholds at the quantiles of the accumulators ``acc`` (frames x C) that seeded
    frames produce: every output level occurs about as often."""
    levels = (np.arange(n) + 1) / (n + 1)
    return np.ceil(np.quantile(acc, levels, axis=0).T)


def uniform_thresholds(acc, n):
    """(C, n) thresholds of a uniform quantizer with one power-of-two step for the tensor and
    an offset per channel, as a fixed-point network with its batch norm folded into the bias
    gives (hls4ml's and QKeras' ResNet-8): level k of channel c from ``low[c] + step * (k -
    1/2)``, ``low`` the accumulators' 1st percentile per channel (``acc``: frames x C) and the
    step the power of two nearest to the widest channel's (99th - 1st percentile) / n. Its
    affine form (:func:`~hwgen.engines.requantize.affine_form`) is one shift and an offset per
    channel: no multiplier."""
    low, high = np.quantile(acc, [0.01, 0.99], axis=0)
    step = 2.0 ** np.round(np.log2(max(float(np.max(high - low)), 1.0) / n))
    return np.ceil(low[:, None] + step * (np.arange(n) + 0.5))


CALIBRATIONS = {"quantiles": quantile_thresholds, "uniform": uniform_thresholds}


@dataclass
class Activation(ChannelLayer):
    """Multi-thresholds (C, 2**bits - 1) to ``activation_dtype``."""
    thresholds: np.ndarray = None
    activation_dtype: DataType = None
    fused_into: str = None   # the layer whose engine applies these thresholds
    kind = "activation"
    FIELDS = frozenset({"datatype", "thresholds", "batchnorm", "calibration", "pe"})

    @classmethod
    def read(cls, reader, spec, name, prev):
        dtype = reader.datatype(spec, "datatype")
        try:
            check_activation(dtype)
        except ValueError as exc:
            reader.error(str(exc), field="datatype")
        channels = prev.out_shape[-1]
        n = threshold_count(dtype)
        if n * channels > MAX_WEIGHTS:
            reader.error(f"{dtype} outputs need {n:,} thresholds per channel, {n * channels:,} "
                         f"in all: more than hwgen supports ({MAX_WEIGHTS:,})", field="datatype")
        if "batchnorm" in spec and "thresholds" in spec:
            reader.error("give either thresholds or batchnorm, not both", field="batchnorm")
        if "batchnorm" in spec:
            thresholds = cls.read_batchnorm(reader, spec["batchnorm"], prev, dtype, channels)
        else:
            calibration = spec.get("calibration", "quantiles")
            if calibration not in CALIBRATIONS:
                reader.error(f"unknown calibration {calibration!r} (expected one of: "
                             f"{', '.join(CALIBRATIONS)})", field="calibration")
            if calibration != "quantiles" and "thresholds" in spec:
                reader.error("applies to generated thresholds only: give it or thresholds, "
                             "not both", field="calibration")
            thresholds = cls.read_thresholds(reader, spec.get("thresholds"), prev, n,
                                             CALIBRATIONS[calibration])
        return cls(name, prev.out_shape, prev.out_dtype, thresholds=thresholds,
                   activation_dtype=dtype, pe=cls.read_pe(reader, spec, channels, [prev]))

    @staticmethod
    def read_thresholds(reader, value, prev, n, calibrate):
        channels = prev.out_shape[-1]

        def generate():
            acc = reader.calibration[prev.name].reshape(-1, channels)
            return calibrate(acc, n)
        thresholds = reader.integers(reader.array(value, "thresholds", None, generate),
                                     "thresholds")
        if thresholds.ndim == 1:
            thresholds = thresholds[None, :]
        if thresholds.ndim != 2 or thresholds.shape[1] != n or \
                thresholds.shape[0] not in (1, channels):
            reader.error(f"expected {n} thresholds per channel as shape ({channels}, {n}) or "
                         f"(1, {n}), got shape {thresholds.shape}", field="thresholds")
        unsorted = np.argwhere(np.diff(thresholds, axis=1) < 0)
        if len(unsorted):
            reader.error(f"thresholds of channel {unsorted[0][0]} are not ascending",
                         field="thresholds")
        # Values beyond the input's range act exactly like its bounds.
        lo, hi = prev.out_dtype.min, prev.out_dtype.max
        return np.clip(np.broadcast_to(thresholds, (channels, n)), lo, hi + 1)

    @classmethod
    def read_batchnorm(cls, reader, value, prev, dtype, channels):
        if not isinstance(value, dict):
            reader.error("must be a mapping of gamma, beta, mean, var (and eps, scale)",
                         field="batchnorm")
        unknown = set(value) - set(BATCHNORM_FIELDS)
        if unknown:
            reader.error(f"unknown batchnorm field {sorted(unknown)[0]!r}", field="batchnorm")
        defaults = {"gamma": 1.0, "beta": 0.0, "eps": 1e-5, "scale": 1.0}
        stats = {}
        for key in BATCHNORM_FIELDS:
            field = f"batchnorm.{key}"
            if key not in value and key not in defaults:
                reader.error("is required", field=field)
            raw = value.get(key, defaults.get(key))
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                array = np.array(float(raw))
            else:
                array = reader.array(raw, field, None, lambda: reader.error(
                    "must be given, not generated", field=field))
            if array.ndim > 1 or (array.ndim == 1 and array.size not in (1, channels)):
                reader.error(f"expected one value or {channels} (one per channel), "
                             f"got shape {array.shape}", field=field)
            if not np.all(np.isfinite(array)):
                reader.error("values must be finite", field=field)
            stats[key] = np.broadcast_to(array.astype(np.float64), (channels,)).copy()
        if np.any(stats["var"] + stats["eps"] <= 0):
            reader.error("var + eps must be positive", field="batchnorm.var")
        if np.any(stats["scale"] <= 0):
            reader.error("scale must be positive", field="batchnorm.scale")
        negative = stats["gamma"] < 0
        if negative.any():
            cls.absorb_negative_gamma(reader, prev, negative)
            stats["gamma"][negative] *= -1
            stats["mean"][negative] *= -1
        acc_lo, acc_hi = prev.out_dtype.min, prev.out_dtype.max
        return fold_batchnorm(stats["gamma"], stats["beta"], stats["mean"], stats["var"],
                              stats["eps"], stats["scale"], dtype, acc_lo, acc_hi)

    @staticmethod
    def absorb_negative_gamma(reader, prev, negative):
        """y = g (x - m)/s + b equals (-g)(-x - (-m))/s + b: negate the weights feeding x. The
        reader checks, once every layer is read, that no other layer reads ``prev``."""
        channel = int(np.argmax(negative))
        if not isinstance(prev, MatrixLayer) or prev.name in reader.negated:
            reader.error(f"gamma of channel {channel} is negative; that needs the activation "
                         f"to be the only reader of a conv2d or dense layer",
                         field="batchnorm.gamma")
        reader.negated[prev.name] = reader.layer
        flipped = prev.weights.copy()
        flipped[negative] *= -1
        if not prev.weight_dtype.allows(flipped).all():
            reader.error(f"gamma of channel {channel} is negative and the negated weights of "
                         f"'{prev.name}' do not fit {prev.weight_dtype}", field="batchnorm.gamma")
        prev.weights = flipped
        reader.calibration[prev.name][..., negative] *= -1

    @property
    def out_dtype(self):
        return self.activation_dtype

    def requantizer(self, value_range):
        """The thresholds' affine form on ``value_range`` (the values of the engine applying
        them), or None (:func:`~hwgen.engines.requantize.requantizer_for`): found once per
        table and range, however often folding builds engine parameters."""
        table = np.ascontiguousarray(self.thresholds, dtype=np.int64)
        return _requantizer(table.tobytes(), table.shape, tuple(value_range))

    @property
    def channels(self):
        return self.in_shape[-1]

    def golden(self, x):
        return golden.multithreshold(x, self.thresholds, self.activation_dtype)

    def lower(self, graph):
        if self.fused_into:
            graph.alias(self.name, self.fused_into)
            return
        params = ThresholdsParams(self.channels, self.pe, self.in_dtype, self.out_dtype,
                                  pixels(self.in_shape), requantizer=self.requantizer(
                                      (self.in_dtype.min, self.in_dtype.max)))
        graph.produce(self.name, graph.add(
            self.name, "thresholds", self.name, params, [(graph.read(self.inputs[0]), self.pe)],
            Stream(self.pe, self.out_dtype, prod(self.in_shape)), thresholds=self.thresholds))

    def fold(self, inputs, target, hints):
        if not self.fused_into:
            return super().fold(inputs, target, hints)
        # Applied by the engine it is fused into, at that engine's PE.
        new = inputs[0].fused = replace(self, pe=inputs[0].pe)
        return new

    def spec(self, arrays):
        arrays[f"{self.name}.thresholds"] = self.thresholds
        spec = {"datatype": str(self.out_dtype), "thresholds": {"key": f"{self.name}.thresholds"}}
        if not self.fused_into:
            spec["pe"] = self.pe
        return spec

    def summary(self):
        return {"fused_into": self.fused_into} if self.fused_into else {}


@lru_cache(maxsize=None)
def _requantizer(table, shape, value_range):
    return requantizer_for(np.frombuffer(table, dtype=np.int64).reshape(shape), value_range)
