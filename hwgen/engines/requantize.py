"""Multi-thresholds that are an affine function of the input, found exactly.

A uniform quantizer after a batch norm (what Brevitas/QONNX models and ``batchnorm:``
activations give) counts its reached thresholds as an affine function of the input, floored
and clamped: per channel ``c``,

    count(x) = clamp(floor((x * M[c] + B[c]) / 2**S), 0, n)

with integers ``M[c] > 0``, ``B[c]`` and one shift ``S`` for all channels. A unit computing that
(:class:`hwgen.engines.thresholds.AffineThresholdUnit`) needs a multiplier per lane and a word
of (M, B) per channel, instead of n thresholds per channel (255 at 8 bits).

:func:`affine_form` finds such a form for a threshold table, exactly (or says there is none);
:class:`Requantizer` is its shape (the widths the resource models need), small and hashable so
that engine parameters can carry it.
"""

from dataclasses import dataclass

import numpy as np

from .datapath import range_bits

__all__ = ["MAX_MULTIPLIER_BITS", "MAX_SHIFT", "Requantizer", "AffineForm", "affine_form",
           "requantizer_for"]

# M < 2**24. Up to 17 bits the multiplier, signed, fits the DSP48's 18-bit port (the value on
# its 25-bit one). An exact form of a batch-norm quantizer whose scale is not a power of two
# needs M / 2**S to pin the slope to about (level spacing) / (input range * n), so wide inputs
# with wide level spacing need wider M; the resource models weigh that multiplier against the
# tables it replaces.
MAX_MULTIPLIER_BITS = 24
# Shifts tried, from 0: the first that works for every channel is taken.
MAX_SHIFT = 40


@dataclass(frozen=True)
class Requantizer:
    """The shape of an :class:`AffineForm`: bits of the largest M (unsigned), bits of B (two's
    complement, whatever their signs) and the shift. What the affine unit's resource and
    latency models need; the unit itself takes (M, B) from the thresholds (:func:`affine_form`)
    and checks they have this shape."""

    m_bits: int
    b_bits: int
    shift: int

    def product_range(self, value_range):
        """(lo, hi) bounding ``x * M + B`` for x in ``value_range`` and any M, B of this shape:
        the width of the unit's product register, the same in the model and the hardware."""
        lo, hi = value_range
        m_max, b_lo, b_hi = (1 << self.m_bits) - 1, -(1 << (self.b_bits - 1)), \
            (1 << (self.b_bits - 1)) - 1
        ends = [x * m for x in (lo, hi) for m in (0, m_max)]
        return min(ends) + b_lo, max(ends) + b_hi


@dataclass(frozen=True)
class AffineForm:
    """Per channel ``count = clamp(floor((x * multipliers[c] + offsets[c]) / 2**shift), 0, n)``
    (int64 arrays of C)."""

    multipliers: np.ndarray
    offsets: np.ndarray
    shift: int

    @property
    def requantizer(self):
        return Requantizer(int(self.multipliers.max()).bit_length(),
                           range_bits(min(int(self.offsets.min()), -1),
                                      int(self.offsets.max())),
                           self.shift)

    def counts(self, x):
        """The counts for values ``x`` (..., C), int64."""
        n = np.asarray(x, dtype=np.int64) * self.multipliers + self.offsets
        return n >> self.shift


def _may_be_affine(t, lo, hi):
    """False if no ``clamp(floor(a x + b), 0, n)`` with a > 0 counts as the sorted, clamped
    table ``t`` does on [lo, hi]; True says only "perhaps". Cheap, exact as far as it goes, and
    it spares :func:`affine_form` its search on the tables of quantiles that most activations
    have (the search tries every shift before it gives up).

    Per channel, take the distinct thresholds in (lo, hi], u_1 < ... < u_m, the points where
    the count steps up, u_j by mu_j thresholds. Between u_1 and u_m the count is in [1, n - 1],
    so it is floor(a x + b) itself, unclamped: its steps are f's steps, spaced floor(1/a) or
    ceil(1/a) apart (every point, a >= 1), and f rises by floor(a) or floor(a) + 1 at each.
    So the gaps u_{j+1} - u_j take at most two consecutive values, and so do mu_2 ... mu_{m-1}
    (at u_1 and u_m the clamp may cut the rise)."""
    for row in t:
        steps, rises = np.unique(row[(row > lo) & (row <= hi)], return_counts=True)
        gaps, inner = np.diff(steps), rises[1:-1]
        if gaps.size and gaps.max() - gaps.min() > 1:
            return False
        if inner.size and inner.max() - inner.min() > 1:
            return False
    return True


def _bounds(t, k, lo, hi, shift, m):
    """(L, U) per channel for multipliers ``m`` (C,): the B with ``M t_k + B >= k 2**S`` for
    every threshold reached in range (t_k <= hi) and ``M (t_k - 1) + B < k 2**S`` for every one
    not reached at ``lo`` (t_k > lo). Empty sides give -+2**61."""
    big = np.int64(1) << 61
    step = k << shift
    lower = np.where(t <= hi, step - m[:, None] * t, -big).max(axis=1)
    upper = np.where(t > lo, step - 1 - m[:, None] * (t - 1), big).min(axis=1)
    return lower, upper


def _slack(t, k, lo, hi, shift, m):
    lower, upper = _bounds(t, k, lo, hi, shift, m)
    return upper - lower


def _search(t, k, lo, hi, shift):
    """Per channel the smallest M in [1, 2**MAX_MULTIPLIER_BITS) with a feasible B, or 0.

    The slack U(M) - L(M) is concave in M (a minimum of affine functions less a maximum of
    affine functions), so its differences do not increase: a binary search on their sign finds
    a maximizer, and where the maximum is feasible, a binary search below it finds the first
    feasible M (the slack does not decrease up to the maximizer). All channels at once."""
    channels = len(t)
    first, last = np.ones(channels, np.int64), np.full(channels, (1 << MAX_MULTIPLIER_BITS) - 1)
    a, b = first.copy(), last.copy()          # a maximizer of the slack lies in [a, b]
    while (a < b).any():
        mid = (a + b) // 2
        rising = _slack(t, k, lo, hi, shift, mid + 1) > _slack(t, k, lo, hi, shift, mid)
        a, b = np.where(rising, mid + 1, a), np.where(rising, b, mid)
    feasible = _slack(t, k, lo, hi, shift, a) >= 0
    low, high = first, a                        # the first feasible M lies in [low, high]
    while (low < high).any():
        mid = (low + high) // 2
        ok = _slack(t, k, lo, hi, shift, mid) >= 0
        low, high = np.where(ok, low, mid + 1), np.where(ok, mid, high)
    return np.where(feasible, low, 0)


def affine_form(thresholds, value_range):
    """An exact :class:`AffineForm` of the multi-threshold ``thresholds`` (C, n) on integer
    inputs in ``value_range`` = (lo, hi), or None if none has M < 2**MAX_MULTIPLIER_BITS and a
    shift up to :data:`MAX_SHIFT`.

    Thresholds are integers or +-inf, in any order (the count does not depend on it), clamped to
    [lo, hi + 1] as :func:`~hwgen.engines.thresholds.ThresholdUnit` clamps them. The form found
    has the smallest shift that works for every channel and, at that shift, each channel's
    smallest M, and the B in its feasible interval nearest 0.

    Why the constraints suffice: with the sorted thresholds t_1 <= ... <= t_n, the count is k
    exactly on [t_k, t_{k+1} - 1]. With g(x) = floor((x M + B) / 2**S), nondecreasing for M > 0,
    ``g(t_k - 1) < k <= g(t_k)`` for every k (the sides that fall in range) pins g to k on that
    interval; a threshold at lo leaves only ``g(lo) >= k`` and one at hi + 1 only ``g(hi) < k``,
    which the clamp turns into the count at the ends. Each side is linear in (M, B).

    The result is checked by evaluation (a ValueError if it failed, which would be a bug): at
    every input when that is at most 2**22 comparisons, else at lo, hi and both sides of every
    threshold in range. The latter is a proof: both sides are nondecreasing step functions, the
    count constant between consecutive thresholds, so agreeing at the ends of each such interval
    they agree inside it.
    """
    lo, hi = value_range
    table = np.sort(np.clip(np.asarray(thresholds, dtype=np.float64), lo, hi + 1), axis=1)
    if table.size == 0 or abs(lo) >= 1 << 32 or abs(hi) >= 1 << 32:
        return None
    t = table.astype(np.int64)
    if not _may_be_affine(t, lo, hi):
        return None
    k = np.arange(1, t.shape[1] + 1, dtype=np.int64)[None, :]
    for shift in range(MAX_SHIFT + 1):
        m = _search(t, k, lo, hi, shift)
        if (m == 0).any():
            continue
        lower, upper = _bounds(t, k, lo, hi, shift, m)
        form = AffineForm(m, np.clip(0, lower, upper), shift)
        _verify(form, t, lo, hi)
        return form
    return None


def _verify(form, t, lo, hi):
    """ValueError unless ``form`` counts as the sorted, clamped table ``t`` on [lo, hi] (see
    :func:`affine_form`)."""
    if (hi - lo + 1) * t.size <= 1 << 22:
        x = np.arange(lo, hi + 1, dtype=np.int64)[:, None, None]
    else:
        x = np.clip(np.concatenate([t - 1, t], axis=1), lo, hi)
        x = np.concatenate([x, np.full((len(t), 2), (lo, hi))], axis=1).T[:, :, None]
    # x[i, c or 0, 0]: values to check (per channel, or for every channel).
    expected = (x >= t[None]).sum(axis=2)
    got = np.clip(form.counts(x[:, :, 0]), 0, t.shape[1])
    if not (got == expected).all():
        raise ValueError("affine_form: the form found does not match the thresholds")


def requantizer_for(thresholds, value_range):
    """The :class:`Requantizer` of :func:`affine_form`, or None: what a layer's lowering puts in
    its engine's parameters."""
    form = affine_form(thresholds, value_range)
    return None if form is None else form.requantizer
