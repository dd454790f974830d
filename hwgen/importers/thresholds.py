"""Thresholds from a monotonic function: for each channel c and target level t, the smallest
input at which ``levels`` reaches t, by binary search over every channel and level at once.

:func:`integer_thresholds` searches integers (accumulators); :func:`float_thresholds` searches
float32 values in their order (the model's input), so that counting ``x >= T`` reproduces the
function for every float32 input, not only for the ones tried.
"""

import numpy as np

__all__ = ["integer_thresholds", "float_thresholds"]


def _search(levels, lo, hi, targets):
    """Smallest x in [lo, hi] (int64 (C, J) arrays) with levels(x) >= targets, else hi, for a
    ``levels`` that does not decrease on [lo, hi) in each row."""
    lo, hi = lo.copy(), hi.copy()
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = lo + (hi - lo) // 2
        reached = levels(mid) >= targets
        hi = np.where(active & reached, mid, hi)
        lo = np.where(active & ~reached, mid + 1, lo)


def integer_thresholds(levels, lo, hi, targets):
    """(C, J) integer thresholds: where ``levels`` (a function of (C, K) integer arrays, row c
    for channel c) first reaches each of ``targets`` (J,) on [lo, hi]; ``hi + 1`` where it never
    does. ``lo``, ``hi``: (C,) arrays."""
    shape = (len(lo), len(targets))
    bounds = [np.broadcast_to(np.asarray(b, np.int64).reshape(-1, 1), shape) for b in (lo, hi)]

    def guarded(x):     # hi + 1 stands for "never": do not evaluate it
        inside = np.minimum(x, bounds[1])
        return np.where(x > bounds[1], np.iinfo(np.int64).max, levels(inside))
    return _search(guarded, bounds[0], bounds[1] + 1, np.asarray(targets)[None, :])


# float32 values in order: the key of a float is its bit pattern, negated for negative floats.
_INF_KEY = int(np.float32(np.inf).view(np.int32))


def _to_float(keys):
    bits = np.where(keys >= 0, keys, -keys | (1 << 31)).astype(np.uint32)
    return bits.view(np.float32)


def float_thresholds(levels, channels, targets):
    """(C, J) float32 thresholds for ``levels``, a function of (C, K) float32 arrays: the
    smallest float32 at which it reaches each target; -inf where every value does, +inf where
    none does (an infinite input is no frame a model takes)."""
    shape = (channels, len(targets))
    lo = np.full(shape, -_INF_KEY, np.int64)
    hi = np.full(shape, _INF_KEY + 1, np.int64)

    def guarded(keys):
        inside = np.minimum(keys, _INF_KEY)
        return np.where(keys > _INF_KEY, np.iinfo(np.int64).max, levels(_to_float(inside)))
    keys = _search(guarded, lo, hi, np.asarray(targets)[None, :])
    return np.where(keys > _INF_KEY, np.inf, _to_float(np.minimum(keys, _INF_KEY)))

