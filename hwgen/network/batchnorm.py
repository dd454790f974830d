"""Batch-norm + quantized activation folded into integer multi-thresholds.

The activation computes, per channel c, ``y = gamma * (x - mean) / sqrt(var + eps) + beta`` on
the integer accumulator ``x`` and quantizes it:

- BIPOLAR: +1 if y >= 0 else -1;
- INTn, UINTn, BINARY: clip(floor(y / scale + 1/2), min, max) (round half up).

Both are monotonic step functions of ``x`` for gamma > 0, so they are exactly a QONNX
MultiThreshold: output level ``min + i + 1`` is reached when ``x >= T[c, i]`` with ``T[c, i]`` the
smallest integer whose ``y`` reaches the step (``scale * (min + i + 1/2)``, or 0 for BIPOLAR).
"""

import numpy as np

__all__ = ["quantize_batchnorm", "fold_batchnorm", "threshold_count"]


def threshold_count(dtype):
    """Number of thresholds per channel for an activation of ``dtype``."""
    return 1 if dtype.kind == "BIPOLAR" else dtype.max - dtype.min


def _steps(dtype, scale):
    """Per channel, the values of y at which each output level begins: (C, n)."""
    scale = np.asarray(scale, dtype=np.float64).reshape(-1, 1)
    if dtype.kind == "BIPOLAR":
        return np.zeros_like(scale)
    return scale * (dtype.min + np.arange(threshold_count(dtype)) + 0.5)


def quantize_batchnorm(x, gamma, beta, mean, var, eps, scale, dtype):
    """The floating-point reference: activation values for accumulators ``x`` (..., C)."""
    y = gamma * (np.asarray(x, dtype=np.float64) - mean) / np.sqrt(var + eps) + beta
    if dtype.kind == "BIPOLAR":
        return np.where(y >= 0, 1, -1)
    return np.clip(np.floor(y / scale + 0.5), dtype.min, dtype.max).astype(np.int64)


def fold_batchnorm(gamma, beta, mean, var, eps, scale, dtype, acc_lo, acc_hi):
    """Integer thresholds (C, n) equivalent to :func:`quantize_batchnorm` on [acc_lo, acc_hi].

    ``gamma`` must be non-negative (the caller absorbs negative signs into the weights). A
    threshold of ``acc_hi + 1`` is never reached; one of ``acc_lo`` always is.
    """
    gamma, beta, mean, var = (np.asarray(a, dtype=np.float64) for a in (gamma, beta, mean, var))
    steps = _steps(dtype, scale)
    std = np.sqrt(var + eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = mean[:, None] + (steps - beta[:, None]) * std[:, None] / gamma[:, None]
    # gamma == 0: y == beta everywhere, so each step is reached by all or by none.
    flat = np.where(beta[:, None] >= steps, acc_lo, acc_hi + 1)
    thresholds = np.where(gamma[:, None] > 0,
                          np.ceil(np.clip(bound, acc_lo - 1, acc_hi + 1)), flat)
    return np.clip(thresholds, acc_lo, acc_hi + 1).astype(np.int64)
