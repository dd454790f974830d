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
(or, for a negative-weighted plane, subtracts) the tree's sum. With more than one pass, the
vector's ``sf`` words go through the MVAU's two-vector input buffer
(:class:`~hwgen.engines.vector_buffer.VectorBuffer`), which every pass reads, so the vector is
streamed once.

Pipeline: free-running with credit-based issue, as in the bit-parallel MVAU: stage 0 issue
(counters, the buffer's read address), stage 1 the input word (and the weight memory's
address, registered once more so that the weights arrive with the selected activation bits),
stage 2 the activation plane's bits registered and the weight word read, stage 3 the lanes
registered (all one stage later when a memory is block RAM: its read data is registered before
any logic), then the tree levels, the accumulator (one add or subtract per cycle), the fused
activation and the output queue. The weight address is a counter, so no adder sits in front of
the memory.
"""

from dataclasses import dataclass

import numpy as np
from amaranth import Array, Cat, Module, Mux, Shape, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import BINARY, pack
from .credits import OutputQueue
from .datapath import (counter, elements, range_bits, register, sum_tree, tree_levels,
                       tree_resources, value_of)
from .memories import ReadOnlyMemory
from .mvau import MatrixParams, connect_output, vector_input
from .resources import Resources
from .thresholds import ThresholdUnit, threshold_latency

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
    def passes(self):
        """Passes over each input vector: one per neuron fold and plane."""
        return self.neuron_folds * self.planes

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

    @property
    def pipeline_latency(self):
        """Cycles from a step's issue to the output queue's write of the word it completes:
        the lanes (:attr:`lane_stage`), tree levels, accumulator (1), then the activation.

        Output word f of a vector is completed by the last step of its last plane, so a
        vector's first output word leaves ``(planes - 1) * sf + latency()`` cycles after its
        last input word was taken.
        """
        activation = 0 if self.out_dtype is None else threshold_latency(
            *self.activation(self.dot_range))
        return self.lane_stage + tree_levels(self.simd) + 1 + activation

    @property
    def lane_stage(self):
        """Cycles from a step's issue to its lanes' registers: the weight address register, the
        reads (:meth:`~hwgen.engines.mvau.MatrixParams.read_latency`; the input word one cycle
        earlier), the activation plane's bits (with the weights), the lanes."""
        return 2 + self.read_latency(self.weight_word_bits)

    def resources(self):
        """First-order estimate, in the terms of :meth:`MVAUParams.resources`.

        - Lanes (pe*simd): one LUT per lane bit (an AND of a weight or weight bit with an
          activation bit, or a conditional negation for BIPOLAR) and its register.
        - Activation plane select: an ``ap``:1 multiplexer per SIMD lane and bit of the input
          element (about one LUT per 4 inputs), shared by the PEs.
        - Per PE: the adder/popcount tree and the accumulator (about two LUTs per bit: the
          doubling/clear multiplexer and the add/subtract; three with negated planes, where
          both the sum and the difference are formed).
        - Memories (:meth:`~hwgen.engines.mvau.MatrixParams.storage_resources`): the weights
          (plane-major in "both" mode), the input buffer when a vector takes more than one
          pass, and the registers of their reads.
        - Control: the step counters and the weight address (counted, with the next plane's
          start beside it), the plane tables and the valid/first/last pipeline.
        - Output: the queue and credit counter (:func:`~hwgen.engines.credits.queue_resources`).
        """
        lanes, (lo, hi) = self.pe * self.simd, self.lane_range
        lane_bits = range_bits(lo, hi)
        select = self.simd * -(-(self.act_planes - 1) // 3) if self.act_planes > 1 else 0
        tree = tree_resources(self.simd, lo, hi)
        acc_bits = range_bits(*self.acc_range)
        negates = any(negated for _, _, negated, _ in self.schedule)
        acc_luts = (3 if negates else 2) * acc_bits
        datapath = Resources(lut=lanes * lane_bits + select + self.pe * (tree.lut + acc_luts),
                             ff=lanes * lane_bits + self.pe * (tree.ff + acc_bits)
                             + self.in_width + self.simd)
        nf, sf = self.neuron_folds, self.synapse_folds
        memory = self.storage_resources(self.weight_word_bits)
        addr_bits = (nf * self.weight_planes * sf - 1).bit_length()
        counters = sum((n - 1).bit_length() for n in (nf, sf, self.planes)) + 4 * addr_bits
        control = Resources(lut=3 * counters + 4, ff=counters + 5 * self.pipeline_latency)
        return datapath + memory + control + self.output_resources(self.dot_range)


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
            table, *p.activation(p.dot_range), what=p.what)
        blocks = p.weight_blocks(weights)              # (nf, sf, pe*simd)
        if p.weight_planes == 1:
            init = pack(blocks, p.weight_dtype, p.pe * p.simd)
        else:                                          # (nf, wp, sf, pe*simd) bits
            codes = p.weight_dtype.encode(blocks).astype(np.int64)
            bits = (codes[:, None] >> np.arange(p.weight_planes)[None, :, None, None]) & 1
            init = pack(bits, BINARY, p.pe * p.simd)
        self._weights = ReadOnlyMemory(p.weight_word_bits, init)
        super().__init__({"i": In(stream.Signature(unsigned(p.in_width))),
                          "o": Out(stream.Signature(unsigned(p.out_width)))})

    def elaborate(self, platform):
        p = self.params
        nf, sf, planes, wp = p.neuron_folds, p.synapse_folds, p.planes, p.weight_planes
        schedule = p.schedule
        m = Module()
        m.submodules.queue = queue = OutputQueue(p.out_width, p.credits)
        wiring.connect(m, queue.o, wiring.flipped(self.o))

        # Stage 0: issue; synapse fold inside plane inside neuron fold. The first pass takes
        # the input, the last step of the last plane completes an output word.
        step = Signal()
        s, s_first, s_last = counter(m, step, sf, "s")
        t, t_first, t_last = counter(m, step & s_last, planes, "t")
        f, _, f_last = counter(m, step & s_last & t_last, nf, "f")
        x = vector_input(m, self.i, step, queue, s_last & t_last, s_last, t_last & f_last, p)

        # The weight address (f * wp + i_t) * sf + s, counted: within a plane it steps by one;
        # at a plane's end it jumps to the next plane's start, formed from registers while the
        # plane runs (plane starts within a fold are table offsets from the fold's base).
        size = nf * wp * sf
        offsets = Array(i * sf for i, _, _, _ in schedule)
        addr = Signal(range(size), init=schedule[0][0] * sf)
        fold_base = Signal(range(size))                          # f * wp * sf
        next_fold_base = Signal(range(size), init=wp * sf % size)  # of fold f + 1 (mod nf)
        t_next = Signal(range(planes), init=1 % planes)            # t + 1 (mod planes)
        next_start = Mux(t_last, next_fold_base, fold_base) + offsets[t_next]
        with m.If(step):
            m.d.sync += addr.eq(Mux(s_last, next_start, addr + 1))
            with m.If(s_last):
                m.d.sync += t_next.eq(Mux(t_next == planes - 1, 0, t_next + 1))
            if nf > 1:
                with m.If(s_last & t_last):
                    # Fold f + 2 (mod nf): 0 after the second-to-last fold, 1 after the last.
                    after_next = Mux(f_last, wp * sf,
                                     Mux(f == nf - 2, 0, next_fold_base + wp * sf))
                    m.d.sync += [fold_base.eq(next_fold_base), next_fold_base.eq(after_next)]

        # Both words ready for logic (see MatrixParams.read_latency) a cycle apart: the
        # weight address is registered once more.
        reads = p.lane_stage - 2
        m.submodules.weights = weight_memory = self._weights
        m.d.comb += weight_memory.addr.eq(register(m, addr))
        weights = register(m, weight_memory.data, reads - weight_memory.latency)
        x = register(m, x, reads - 1)
        j = register(m, Array(j for _, j, _, _ in schedule)[t], reads, shape=range(p.act_planes))

        # The activation plane's bits registered, beside the weight word.
        xs = elements(x, p.in_dtype, p.simd)
        bits = register(m, Cat(xq.bit_select(j, 1) if p.act_planes > 1 else xq for xq in xs))
        one_weight_plane = p.weight_planes == 1
        ws = elements(weights, p.weight_dtype if one_weight_plane else BINARY, p.pe * p.simd)

        # Lane (row, q) = weight plane x activation plane, registered.
        lo, hi = p.lane_range
        lane_shape = Shape.cast(range(lo, hi + 1))
        sums = []
        for row in range(p.pe):
            lanes = []
            for q in range(p.simd):
                w = ws[row * p.simd + q]
                w = value_of(w, p.weight_dtype) if one_weight_plane else w
                lane = Mux(bits[q], w, -w if p.in_dtype.kind == "BIPOLAR" else 0)
                lanes.append(register(m, lane, shape=lane_shape))
            sums.append(sum_tree(m, lanes, lo, hi))

        # Control follows the data to the accumulators.
        delay = p.lane_stage + tree_levels(p.simd)
        negated = Array(int(n) for _, _, n, _ in schedule)[t]
        doubled = Array(int(d) for _, _, _, d in schedule)[t]
        valid = register(m, step, delay, reset=True)
        first = register(m, s_first & t_first, delay)
        double = register(m, s_first & doubled, delay)
        negate = register(m, negated, delay)
        last = register(m, s_last & t_last, delay)

        # Accumulators: Horner's rule over the planes (see the module docstring), one add or
        # subtract per cycle (both formed, one chosen: a single carry chain deep).
        acc_shape = Shape.cast(range(p.acc_range[0], p.acc_range[1] + 1))
        accs = [Signal(acc_shape, name=f"acc{row}", reset_less=True) for row in range(p.pe)]
        negates = any(n for _, _, n, _ in schedule)
        with m.If(valid):
            for acc, total in zip(accs, sums):
                base = Mux(first, 0, Mux(double, acc << 1, acc))
                m.d.sync += acc.eq(Mux(negate, base - total, base + total) if negates
                                   else base + total)
        done = register(m, valid & last, reset=True)
        connect_output(m, queue, accs, done, valid & last, self._activation, nf)
        return m
