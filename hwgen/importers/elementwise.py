"""Elementwise operators of ONNX and QONNX models, as the importer replays them.

Every operator here is a per-channel function of one tensor: its constant operands reduced to one
value per channel (arrays of shape (C,)). :class:`Elementwise` applies it to a (C, K) array,
channel c on row c, in float32 as the model's runtime does, so that the thresholds found from it
(:mod:`hwgen.importers.thresholds`) reproduce the model's roundings, ties included.

A quantizer (QONNX Quant, BipolarQuant, Trunc, MultiThreshold; ONNX QuantizeLinear) outputs
values on a *grid*: ``scale[c] * level + bias[c]`` with integer levels. :class:`Grid` records it;
the level ranges follow from the quantizer's clamping (the importer evaluates them).
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["Elementwise", "Grid", "ROUNDING", "quant", "min_int", "max_int"]


def _round_half_up(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _round_half_down(x):
    return np.sign(x) * np.ceil(np.abs(x) - 0.5)


def _round_up(x):
    return np.sign(x) * np.ceil(np.abs(x))


# QONNX's rounding modes (qonnx.custom_op.general.quant.resolve_rounding_mode).
ROUNDING = {"ROUND": np.round, "HALF_EVEN": np.round, "CEIL": np.ceil, "FLOOR": np.floor,
            "UP": _round_up, "DOWN": np.fix, "HALF_UP": _round_half_up,
            "HALF_DOWN": _round_half_down}


def min_int(signed, narrow, bits):
    return -(1 << (bits - 1)) + bool(narrow) if signed else 0


def max_int(signed, narrow, bits):
    return (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1 - bool(narrow)


def quant(x, scale, zeropt, bits, signed, narrow, rounding):
    """QONNX Quant's integers (before the rescaling to ``(q - zeropt) * scale``), float32."""
    y = x / scale + zeropt
    if bits == 1 and signed:
        return np.where(y >= 0, np.float32(1), np.float32(-1))
    lo, hi = min_int(signed, narrow, bits), max_int(signed, narrow, bits)
    return ROUNDING[rounding](np.clip(y, np.float32(lo), np.float32(hi)))


@dataclass(frozen=True)
class Grid:
    """Values ``scale[c] * level + bias[c]`` with integer levels (BIPOLAR: levels -1 and +1)."""
    scale: np.ndarray
    bias: np.ndarray
    bipolar: bool = False

    def then(self, a, c):
        """The grid after ``x * a + c``."""
        return Grid(self.scale * a, self.bias * a + c, self.bipolar)


@dataclass(frozen=True)
class Elementwise:
    """``fn(x, *params)`` per channel; ``affine``: (a, c) with fn(x) = a x + c (float64 (C,)
    arrays) if the operator is affine, else None; ``grid``: the :class:`Grid` of a quantizer's
    output, ``"keeps"`` for an operator that keeps values on the grid they are on (Relu, Clip to
    grid points: the importer checks the points), else None."""
    op_type: str
    fn: object
    params: tuple = ()
    affine: tuple = None
    grid: object = None

    def __call__(self, x):
        return self.fn(x, *(np.asarray(p, dtype=np.float32)[:, None] for p in self.params))

    @classmethod
    def affine_op(cls, op_type, fn, params, a, c):
        return cls(op_type, fn, params, (np.asarray(a, np.float64), np.asarray(c, np.float64)))

    # --- the operators ----------------------------------------------------------------------

    @classmethod
    def mul(cls, a):
        return cls.affine_op("Mul", lambda x, a: x * a, (a,), a, 0.0 * a)

    @classmethod
    def div(cls, d):
        return cls.affine_op("Div", lambda x, d: x / d, (d,), 1 / d, 0.0 * d)

    @classmethod
    def add(cls, c):
        return cls.affine_op("Add", lambda x, c: x + c, (c,), 1.0 + 0.0 * c, c)

    @classmethod
    def sub(cls, c):
        return cls.affine_op("Sub", lambda x, c: x - c, (c,), 1.0 + 0.0 * c, -c)

    @classmethod
    def rsub(cls, c):
        """c - x"""
        return cls.affine_op("Sub", lambda x, c: c - x, (c,), -1.0 + 0.0 * c, c)

    @classmethod
    def batchnorm(cls, gamma, beta, mean, var, eps):
        a = gamma / np.sqrt(var + eps)

        def fn(x, gamma, beta, mean, var):
            return (x - mean) / np.sqrt(var + np.float32(eps)) * gamma + beta
        return cls.affine_op("BatchNormalization", fn, (gamma, beta, mean, var), a,
                             beta - mean * a)

    @classmethod
    def relu(cls):
        return cls("Relu", lambda x: np.maximum(x, np.float32(0)), grid="keeps")

    @classmethod
    def clip(cls, lo, hi):
        return cls("Clip", lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), (lo, hi),
                   grid="keeps")

    @classmethod
    def quant(cls, scale, zeropt, bits, signed, narrow, rounding):
        def fn(x, scale, zeropt):
            return (quant(x, scale, zeropt, bits, signed, narrow, rounding) - zeropt) * scale
        return cls("Quant", fn, (scale, zeropt),
                   grid=Grid(scale, -zeropt * scale, bipolar=bits == 1 and signed))

    @classmethod
    def bipolar_quant(cls, scale):
        return cls("BipolarQuant",
                   lambda x, s: np.where(x >= 0, np.float32(1), np.float32(-1)) * s, (scale,),
                   grid=Grid(scale, 0.0 * scale, bipolar=True))

    @classmethod
    def trunc(cls, scale, zeropt, in_bits, out_bits, rounding, out_scale=None, signed=None,
              narrow=None):
        """QONNX Trunc: version 1 (``out_scale`` None) or 2 (qonnx's trunc_v1/trunc_v2)."""
        mode = ROUNDING[rounding]
        if out_scale is None:
            step = np.float32(2.0 ** (in_bits - out_bits))

            def fn(x, scale, zeropt):
                return (mode(np.round(x / scale + zeropt) / step) - zeropt) * scale
            return cls("Trunc", fn, (scale, zeropt), grid=Grid(scale, -zeropt * scale))
        lo, hi = min_int(signed, narrow, out_bits), max_int(signed, narrow, out_bits)

        def fn2(x, scale, zeropt, out_scale):
            step = np.float32(2) ** np.round(np.log2(out_scale / scale))
            y = np.clip(np.round(x / scale + zeropt) / step, np.float32(lo), np.float32(hi))
            return (mode(y) - zeropt / step) * out_scale
        step = 2.0 ** np.round(np.log2(out_scale / scale))
        return cls("Trunc", fn2, (scale, zeropt, out_scale),
                   grid=Grid(out_scale, -zeropt / step * out_scale))

    @classmethod
    def multithreshold(cls, thresholds, out_scale, out_bias):
        """FINN's MultiThreshold: thresholds (C, n) per channel (the importer broadcasts them)."""
        def fn(x, *rows):
            count = np.zeros(x.shape, np.float32)
            for row in rows:
                count += x >= row
            return count * np.float32(out_scale) + np.float32(out_bias)
        ones = np.ones(len(thresholds))
        return cls("MultiThreshold", fn, tuple(thresholds.T),
                   grid=Grid(out_scale * ones, out_bias * ones))

    @classmethod
    def quantize_linear(cls, scale, zeropt, lo, hi):
        """ONNX QuantizeLinear to integers in [lo, hi] (its output type's range)."""
        def fn(x, scale, zeropt):
            return np.clip(np.round(x / scale) + zeropt, np.float32(lo), np.float32(hi))
        return cls("QuantizeLinear", fn, (scale, zeropt),
                   grid=Grid(np.ones(len(scale)), np.zeros(len(scale))))
