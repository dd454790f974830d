"""Bit-serial matrix-vector-activation unit: ``out[n] = sum_k W[n, k] * x[k]``, one bit-plane
at a time, interchangeable with the bit-parallel :class:`~hwgen.engines.mvau.MatrixVectorUnit`
(same parameters but ``style``, same streams, weight-memory fold order and fused thresholds).

Modes (Stripes / Loom-BISMO):

- ``"activations"``: the weights stay parallel; the activations enter one bit-plane per step, so
  a lane is ``W[n, k] * bit_j(x[k])``, an AND of the weight with one activation bit.
- ``"both"``: weights too: a lane is ``bit_i(W[n, k]) AND bit_j(x[k])`` and the adder tree per PE
  is a popcount over the SIMD lanes. The weight memory holds each ``pe x simd`` block once per
  weight plane (word ``(f*wp + i)*sf + s`` = plane i of block (f, s), one bit per lane), so no
  lane selects bits.

A serialized operand contributes one plane per bit, plane ``b`` worth ``2**b``, the most
significant plane of an INTn operand worth ``-2**(n-1)`` (two's complement). An operand of one
bit (BINARY, UINT1, BIPOLAR, and the weights in "activations" mode) is a single plane holding
its true value: a BIPOLAR plane is +-1, so its lane is a conditional negation instead of an AND
and the popcount becomes a signed sum (one bit wider per lane). This handles BIPOLAR inputs and
weights exactly in both modes with no correction constants and no restriction.

Schedule per vector: neuron fold f (outer), plane t, synapse fold s (inner); ``planes = wp * ap``
(weight planes x activation planes) passes over the vector per neuron fold. The planes run in
descending significance ``i + j``, so one accumulator per PE does Horner's rule: at the first
step of a plane whose significance is one lower than the previous plane's it doubles, then adds
(or, for a negative-weighted plane, subtracts) the tree's sum. The first pass (f = 0, t = 0)
takes the vector's ``sf`` words from the stream and buffers them; every other pass re-reads the
buffer, so the vector is streamed once.

Pipeline: as in the bit-parallel MVAU (stage 0 counters and reads, stage 1 data, stage 2 lanes
registered, tree levels, accumulator, fused activation), all under
``en = ~o.valid | o.ready``.
"""

from dataclasses import dataclass

import numpy as np
from amaranth import Array, Module, Mux, Shape, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import BINARY, pack
from .datapath import (elements, range_bits, register, step_counter, sum_tree, tree_levels,
                       tree_resources, value_of)
from .memories import rom
from .mvau import MatrixParams, connect_output, vector_input
from .resources import Resources
from .thresholds import ThresholdUnit, threshold_latency, threshold_resources

__all__ = ["MODES", "BitSerialMVAUParams", "BitSerialMatrixVectorUnit", "bit_planes"]

MODES = ("activations", "both")


def bit_planes(in_dtype, weight_dtype, mode):
    """(weight planes, activation planes) of a bit-serial MVAU: an operand is serialized one
    bit per plane, except in one plane when it is 1 bit wide or, in "activations" mode, when it
    is the weights."""
    weight_planes = 1 if mode == "activations" else weight_dtype.bits
    return weight_planes, in_dtype.bits


def _plane_range(dtype, planes):
    """(lo, hi) of one plane of an operand: its true value if it is one plane, else a bit."""
    return (dtype.min, dtype.max) if planes == 1 else (0, 1)


def _plane_values(dtype, planes):
    """(values, planes) array: every value of ``dtype`` split into its plane values."""
    values = dtype.values()
    if planes == 1:
        return values[:, None]
    codes = dtype.encode(values).astype(np.int64)
    return (codes[:, None] >> np.arange(planes)) & 1


@dataclass(frozen=True)
class BitSerialMVAUParams(MatrixParams):
    """Bit-serial MVAU parameters (see :class:`~hwgen.engines.mvau.MatrixParams` and the module
    docstring); ``mode`` is "activations" or "both"."""

    mode: str = "activations"

    what = "bitserial_mvau"

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"bitserial_mvau: mode must be one of {', '.join(MODES)}, "
                             f"not {self.mode!r}")
        super().__post_init__()

    @property
    def weight_planes(self):
        return bit_planes(self.in_dtype, self.weight_dtype, self.mode)[0]

    @property
    def act_planes(self):
        return bit_planes(self.in_dtype, self.weight_dtype, self.mode)[1]

    @property
    def planes(self):
        """Passes over the input vector per neuron fold."""
        return self.weight_planes * self.act_planes

    @property
    def schedule(self):
        """The planes in issue order, as (weight plane i, activation plane j, negated,
        doubled): descending significance i + j; ``negated`` if exactly one of the two is the
        most significant plane of a serialized INTn operand; ``doubled`` if the accumulator
        doubles before this plane (its significance is one below the previous plane's)."""
        wp, ap = self.weight_planes, self.act_planes
        pairs = sorted(((i, j) for i in range(wp) for j in range(ap)), key=lambda ij: -sum(ij))

        def sign_plane(dtype, planes, b):
            return planes > 1 and dtype.kind == "INT" and b == planes - 1
        return tuple((i, j,
                      sign_plane(self.weight_dtype, wp, i) != sign_plane(self.in_dtype, ap, j),
                      t > 0 and i + j < sum(pairs[t - 1]))
                     for t, (i, j) in enumerate(pairs))

    @property
    def lane_range(self):
        """(lo, hi) of one lane's term: weight plane value times activation plane value."""
        corners = [a * b for a in _plane_range(self.in_dtype, self.act_planes)
                   for b in _plane_range(self.weight_dtype, self.weight_planes)]
        return min(corners), max(corners)

    @property
    def acc_range(self):
        """(lo, hi) the accumulator can hold at any step of Horner's rule: the extremes over
        every weight/input value pair of one lane's partial sums (before and after each
        doubling, and 0), times mw."""
        ws = _plane_values(self.weight_dtype, self.weight_planes)
        xs = _plane_values(self.in_dtype, self.act_planes)
        partial, lo, hi = np.zeros((len(ws), len(xs)), dtype=np.int64), 0, 0
        for i, j, negated, doubled in self.schedule:
            term = ws[:, i, None] * xs[None, :, j]
            partial = partial * (2 if doubled else 1)
            lo, hi = min(lo, partial.min()), max(hi, partial.max())
            partial = partial + (-term if negated else term)
            lo, hi = min(lo, partial.min()), max(hi, partial.max())
        return self.mw * int(lo), self.mw * int(hi)

    @property
    def weight_word_bits(self):
        """Bits per weight-memory word: ``pe*simd`` weights, or one plane of them."""
        bits = self.weight_dtype.bits if self.weight_planes == 1 else 1
        return self.pe * self.simd * bits

    def cycles(self):
        """Cycles per frame in steady state: one step per cycle, ``nf * planes * sf`` per
        vector."""
        return self.vectors * self.neuron_folds * self.planes * self.synapse_folds

    def latency(self):
        """Cycles from a step's issue to the transfer of the output word it completes (no
        stalls): read (1), lanes (1), tree levels, accumulator (1), then the activation.

        Output word f of a vector is completed by the last step of its last plane, so a
        vector's first output word leaves ``(planes - 1) * sf + latency()`` cycles after its
        last input word was taken.
        """
        activation = 0 if self.out_dtype is None else threshold_latency(self.out_dtype)
        return 3 + tree_levels(self.simd) + activation

    def resources(self):
        """First-order estimate, in the terms of :meth:`MVAUParams.resources`.

        - Lanes (pe*simd): one LUT per lane bit (an AND of a weight or weight bit with an
          activation bit, or a conditional negation for BIPOLAR) and its register.
        - Activation plane select: an ``ap``:1 multiplexer per SIMD lane and bit of the input
          element (about one LUT per 4 inputs), shared by the PEs.
        - Per PE: the adder/popcount tree and the accumulator (about two LUTs per bit: the
          doubling/clear multiplexer and the add/subtract).
        - Memories (:func:`~hwgen.engines.memories.memory_resources`): the weights (plane-major
          in "both" mode), and the input buffer when a vector takes more than one pass.
        - Control: the step counters, the plane tables and the valid/first/last pipeline.
        """
        lanes, (lo, hi) = self.pe * self.simd, self.lane_range
        lane_bits = range_bits(lo, hi)
        select = self.simd * -(-(self.act_planes - 1) // 3) if self.act_planes > 1 else 0
        tree = tree_resources(self.simd, lo, hi)
        acc_bits = range_bits(*self.acc_range)
        datapath = Resources(lut=lanes * lane_bits + select + self.pe * (tree.lut + 2 * acc_bits),
                             ff=lanes * lane_bits + self.pe * (tree.ff + acc_bits)
                             + self.in_width)
        nf, sf = self.neuron_folds, self.synapse_folds
        memory = self.storage_resources(self.weight_word_bits, passes=nf * self.planes)
        counters = sum((n - 1).bit_length() for n in (nf, sf, self.planes, nf * sf))
        control = Resources(lut=3 * counters + 4, ff=counters + 5 * self.latency())
        total = datapath + memory + control
        if self.out_dtype is not None:
            total += threshold_resources(self.mh, self.pe, self.dot_range, self.out_dtype)
        return total


class BitSerialMatrixVectorUnit(wiring.Component):
    """Bit-serial MVAU for :class:`BitSerialMVAUParams` (see the module docstring).

    ``weights`` and ``thresholds`` as for :class:`~hwgen.engines.mvau.MatrixVectorUnit`.
    Input: ``sf`` words of ``simd`` ``in_dtype`` elements per vector. Output: ``nf`` words of
    ``pe`` ``output_dtype`` elements per vector, channels in order. Not stalled, it performs one
    step per cycle, ``nf * planes * sf`` per vector, vectors back to back.
    """

    def __init__(self, params, weights, thresholds=None):
        p = self.params = params
        weights, table = p.check_arrays(weights, thresholds)
        self._activation = None if table is None else ThresholdUnit(
            table, p.mh, p.pe, p.dot_range, p.out_dtype, what=p.what)
        blocks = p.weight_blocks(weights)              # (nf, sf, pe*simd)
        if p.weight_planes == 1:
            init = pack(blocks, p.weight_dtype, p.pe * p.simd)
        else:                                          # (nf, wp, sf, pe*simd) bits
            codes = p.weight_dtype.encode(blocks).astype(np.int64)
            bits = (codes[:, None] >> np.arange(p.weight_planes)[None, :, None, None]) & 1
            init = pack(bits, BINARY, p.pe * p.simd)
        self._weights = rom(p.weight_word_bits, init)
        super().__init__({"i": In(stream.Signature(unsigned(p.in_width))),
                          "o": Out(stream.Signature(unsigned(p.out_width)))})

    def elaborate(self, platform):
        p = self.params
        nf, sf, planes = p.neuron_folds, p.synapse_folds, p.planes
        schedule = p.schedule
        m = Module()
        en = Signal()
        m.d.comb += en.eq(~self.o.valid | self.o.ready)

        # Stage 0: synapse fold inside plane inside neuron fold. The first pass takes input.
        s = Signal(range(sf))
        t = Signal(range(planes))
        f = Signal(range(nf))
        base = Signal(range(nf * p.weight_planes * sf))    # f * wp * sf, counted
        fresh = (f == 0) & (t == 0)
        step = Signal()
        m.d.comb += [self.i.ready.eq(en & fresh), step.eq(en & (self.i.valid | ~fresh))]
        with m.If(step):
            with m.If(step_counter(m, s, sf)):
                with m.If(step_counter(m, t, planes)):
                    step_counter(m, f, nf)
                    m.d.sync += base.eq(Mux(f == nf - 1, 0, base + p.weight_planes * sf))

        m.submodules.weights = self._weights
        weight_read = self._weights.read_port()
        offset = Array(i * sf for i, _, _, _ in schedule)[t]
        m.d.comb += [weight_read.addr.eq(base + offset + s), weight_read.en.eq(en)]
        x = vector_input(m, en, self.i, s, fresh, step, sf, reused=nf * planes > 1)
        j = register(m, en, Array(j for _, j, _, _ in schedule)[t], shape=range(p.act_planes))

        # Stage 1 -> 2: lane (row, q) = weight plane x activation plane, registered.
        xs = elements(x, p.in_dtype, p.simd)
        one_weight_plane = p.weight_planes == 1
        ws = elements(weight_read.data, p.weight_dtype if one_weight_plane else BINARY,
                      p.pe * p.simd)
        lo, hi = p.lane_range
        lane_shape = Shape.cast(range(lo, hi + 1))
        bits = [xq.bit_select(j, 1) if p.act_planes > 1 else xq for xq in xs]
        sums = []
        for row in range(p.pe):
            lanes = []
            for q, bit in enumerate(bits):
                w = ws[row * p.simd + q]
                w = value_of(w, p.weight_dtype) if one_weight_plane else w
                lane = Mux(bit, w, -w if p.in_dtype.kind == "BIPOLAR" else 0)
                lanes.append(register(m, en, lane, shape=lane_shape))
            sums.append(sum_tree(m, en, lanes, lo, hi))

        # Control follows the data: stage 1, lanes, tree levels.
        delay = 2 + tree_levels(p.simd)
        negated = Array(int(n) for _, _, n, _ in schedule)[t]
        doubled = Array(int(d) for _, _, _, d in schedule)[t]
        valid = register(m, en, step, delay)
        first = register(m, en, (s == 0) & (t == 0), delay)
        double = register(m, en, (s == 0) & doubled, delay)
        negate = register(m, en, negated, delay)
        last = register(m, en, (s == sf - 1) & (t == planes - 1), delay)

        # Accumulators: Horner's rule over the planes (see the module docstring).
        acc_shape = Shape.cast(range(p.acc_range[0], p.acc_range[1] + 1))
        accs = [Signal(acc_shape, name=f"acc{row}") for row in range(p.pe)]
        with m.If(en & valid):
            for acc, total in zip(accs, sums):
                term = Mux(negate, -total, total) if any(n for _, _, n, _ in schedule) else total
                m.d.sync += acc.eq(Mux(first, 0, Mux(double, acc << 1, acc)) + term)
        done = register(m, en, valid & last)
        connect_output(m, en, self.o, accs, done, valid & last, self._activation, nf)
        return m
