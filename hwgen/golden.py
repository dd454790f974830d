"""The golden model: bit-exact integer semantics of every operator, in numpy.

This module is the specification the hardware is checked against. Tensors are NHWC (a batch of
frames first, channels last) or (N, features) and hold true integer values as ``int64``
(BIPOLAR as -1/+1). Each function is one operator; :func:`run_network` chains them.
"""

import numpy as np

from .datatypes import BIPOLAR

__all__ = ["pad", "sliding_window", "depthwise_windows", "matmul", "xnor_popcount", "dense",
           "conv2d", "depthwise_conv2d",
           "multithreshold", "count_value", "maxpool", "add", "concat", "sum_pool",
           "label_select"]


def pad(x, pads, value=0):
    """Pad (N, H, W, C) by ``pads = (top, bottom, left, right)`` pixels of ``value``."""
    top, bottom, left, right = pads
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def sliding_window(x, kernel, stride):
    """All K x K windows of (N, H, W, C): (N, OH, OW, KH*KW*C), each window in (kh, kw, c) order.

    This is the order in which the hardware sliding window emits a window and in which conv
    weights are flattened, so that a convolution is a matrix product per output pixel.
    """
    (kh, kw), (sh, sw) = kernel, stride
    n, h, w, c = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    rows = sh * np.arange(oh)[:, None] + np.arange(kh)[None, :]         # (OH, KH)
    cols = sw * np.arange(ow)[:, None] + np.arange(kw)[None, :]         # (OW, KW)
    windows = x[:, rows[:, None, :, None], cols[None, :, None, :], :]   # (N, OH, OW, KH, KW, C)
    return windows.reshape(n, oh, ow, kh * kw * c)


def depthwise_windows(x, kernel, stride, simd):
    """The windows of :func:`sliding_window` in the order a depthwise unit reads them: per
    window, for each fold of ``simd`` channels, the ``kh x kw`` positions, ``simd`` channels
    each: (N, OH, OW, KH*KW*C) in (c // simd, kh, kw, c % simd) order."""
    (kh, kw), c = kernel, x.shape[-1]
    windows = sliding_window(x, kernel, stride)
    n, oh, ow, _ = windows.shape
    return windows.reshape(n, oh, ow, kh, kw, c // simd, simd).transpose(
        0, 1, 2, 5, 3, 4, 6).reshape(n, oh, ow, kh * kw * c)


def matmul(x, weights):
    """out[..., n] = sum_k W[n, k] * x[..., k] for a weight matrix of shape (MH, MW)."""
    x, weights = np.asarray(x, dtype=np.int64), np.asarray(weights, dtype=np.int64)
    bound = int(np.abs(x).max(initial=0)) * int(np.abs(weights).max(initial=0)) * weights.shape[-1]
    if bound < 2**53:
        # Every partial sum is an integer below 2**53, so float64 (BLAS) is exact and far faster.
        return np.rint(x.astype(np.float64) @ weights.T.astype(np.float64)).astype(np.int64)
    return x @ weights.T


def xnor_popcount(x, weights):
    """Popcount of XNOR of BIPOLAR codes: the count of positions where x and W agree.

    For BIPOLAR values the dot product is ``2 * xnor_popcount(x, W) - MW``; the hardware's XNOR
    lanes compute this count.
    """
    xc = BIPOLAR.encode(x).astype(np.int64)
    wc = BIPOLAR.encode(weights).astype(np.int64)
    agree = xc[..., None, :] == wc
    return agree.sum(axis=-1, dtype=np.int64)


def dense(x, weights):
    """Fully connected layer on (N, MW) or on frames flattened in NHWC order."""
    x = np.asarray(x).reshape(len(x), -1)
    return matmul(x, weights)


def conv2d(x, weights, stride=(1, 1), pads=(0, 0, 0, 0)):
    """Convolution of (N, H, W, C) with weights (OFM, KH, KW, IFM): (N, OH, OW, OFM)."""
    ofm, kh, kw, ifm = weights.shape
    windows = sliding_window(pad(x, pads), (kh, kw), stride)
    return matmul(windows, weights.reshape(ofm, kh * kw * ifm))


def depthwise_conv2d(x, weights, stride=(1, 1), pads=(0, 0, 0, 0)):
    """Depthwise convolution (groups = channels) of (N, H, W, C) with weights (C, KH, KW, 1)
    (a conv's (OFM, KH, KW, IFM / groups)): output channel c is input channel c convolved with
    ``weights[c]``. (N, OH, OW, C), exact (int64)."""
    weights = np.asarray(weights, np.int64)
    if weights.ndim != 4 or weights.shape[::3] != (x.shape[-1], 1):
        raise ValueError(f"depthwise weights must have shape ({x.shape[-1]}, KH, KW, 1), not "
                         f"{weights.shape}")
    c, kh, kw, _ = weights.shape
    windows = sliding_window(pad(x, pads), (kh, kw), stride)
    n, oh, ow, _ = windows.shape
    windows = windows.reshape(n, oh, ow, kh * kw, c).astype(np.int64)
    return np.einsum("...kc,ck->...c", windows, weights.reshape(c, -1))


def threshold_count(acc, thresholds):
    """How many of each channel's thresholds the accumulator reaches: #{i : acc >= T[c, i]}."""
    acc = np.asarray(acc, dtype=np.int64)
    return (acc[..., None] >= np.asarray(thresholds, dtype=np.int64)).sum(axis=-1)


def multithreshold(acc, thresholds, out_dtype):
    """QONNX MultiThreshold on the last axis (channels), giving values of ``out_dtype``.

    ``thresholds`` has shape (C, 2**bits - 1). The count of reached thresholds maps to the
    output value as count (UINTn, BINARY), count + min (INTn) or 2*count - 1 (BIPOLAR).
    """
    return count_value(threshold_count(acc, thresholds), out_dtype)


def count_value(count, out_dtype):
    """The value of ``out_dtype`` that a multi-threshold emits for ``count`` reached thresholds:
    count (UINTn, BINARY), count + min (INTn), 2*count - 1 (BIPOLAR)."""
    return 2 * count - 1 if out_dtype.kind == "BIPOLAR" else count + out_dtype.min


def maxpool(x, kernel, stride):
    """Max over K x K windows of (N, H, W, C), per channel: (N, OH, OW, C)."""
    (kh, kw), c = kernel, x.shape[-1]
    windows = sliding_window(x, kernel, stride)
    n, oh, ow, _ = windows.shape
    return windows.reshape(n, oh, ow, kh * kw, c).max(axis=3)


def add(*xs):
    """Elementwise sum of same-shape tensors (a residual join), exact (int64)."""
    return np.sum([np.asarray(x, dtype=np.int64) for x in xs], axis=0)


def concat(*xs):
    """Tensors joined along the channels (last axis), in order."""
    return np.concatenate(xs, axis=-1)


def sum_pool(x, kernel, stride):
    """Sum over K x K windows of (N, H, W, C), per channel, exact: (N, OH, OW, C). Average
    pooling without its scaling by 1/(KH*KW), which a description folds into what follows;
    with the whole H x W as the kernel, global average pooling."""
    (kh, kw), c = kernel, x.shape[-1]
    windows = sliding_window(np.asarray(x, dtype=np.int64), kernel, stride)
    n, oh, ow, _ = windows.shape
    return windows.reshape(n, oh, ow, kh * kw, c).sum(axis=3)


def label_select(scores, k=1):
    """Indices of the ``k`` largest of (N, classes) scores, largest first; ties: lower index first."""
    scores = np.asarray(scores, dtype=np.int64).reshape(len(scores), -1)
    order = np.argsort(-scores, axis=-1, kind="stable")
    return order[:, :k]
