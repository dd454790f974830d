"""Matrix-vector-activation unit (MVAU), bit-parallel: ``out[n] = sum_k W[n, k] * x[k]``.

Folding: ``pe`` output channels (neurons) at a time, ``simd`` inputs (synapses) at a time. A
vector of ``mw`` inputs arrives as ``sf = mw/simd`` words of ``simd`` elements; the engine makes
``nf = mh/pe`` passes over it (neuron folds), each of ``sf`` MAC steps, and emits one word of
``pe`` results per pass: output word ``f`` holds channels ``f*pe .. f*pe+pe-1``. With more than
one pass the input words go through a :class:`~hwgen.engines.vector_buffer.VectorBuffer` of two
vectors, which every pass reads, so the vector is streamed once and the next one can arrive
while it is reused; with one pass each step takes its word from the stream.

Weights live in one memory of ``nf*sf`` words, word ``f*sf + s`` holding the ``pe x simd`` block
``W[f*pe:(f+1)*pe, s*simd:(s+1)*simd]`` (lane p*simd + q = ``W[f*pe + p, s*simd + q]``).

Shared with :mod:`hwgen.engines.bitserial_mvau`: :class:`MatrixParams` (fields, checks, sizes,
the weight-memory block order, the output credits), :func:`vector_input` (the input buffer that
streams a vector once) and :func:`connect_output`
(raw or fused-threshold output into the queue).

Pipeline, free-running (no clock enable anywhere; a valid bit travels with the data). A step is
issued only when its input word is there and, if it completes an output word, when the output
queue has a credit for it (:mod:`hwgen.engines.credits`), so a stall downstream stops issue and
never the pipeline:

=====  =================================================================================
0      issue: step counters; weight memory and input buffer addressed (synchronous reads)
1      weight word and input word available
(2..)  block RAM reads only: weight and input words registered, a deep weight memory's banks
       selected by registered multiplexers (:class:`~hwgen.engines.memories.ReadOnlyMemory`;
       no block RAM output feeds logic directly)
lanes  registered products (``style="parallel"``) or XNOR bits (``style="xnor"``)
(ext)  DSP lanes packed two rows to a multiplier only (:func:`dsp_pack_factor`): the two
       products extracted from the packed one, registered
tree   adder / popcount tree per PE, :func:`sum_tree`, registered every level
acc    accumulator per PE
thr    fused activation (:class:`ThresholdUnit`), when ``out_dtype`` is given
queue  the output queue (:class:`~hwgen.engines.credits.OutputQueue`), two cycles
=====  =================================================================================

XNOR lanes count agreements (a popcount ``pc``); the dot product is ``2*pc - mw``. With no
activation the accumulator starts each vector at ``-mw`` and adds ``2*pc`` (a shift, no extra
adder), so the raw output is the true dot product. With an activation it accumulates ``pc``
alone and the thresholds are moved into the popcount domain at elaboration:
``2*pc - mw >= T  <=>  pc >= ceil((T + mw) / 2)``.
"""

from dataclasses import dataclass, field

import numpy as np
from amaranth import Cat, Const, Module, Mux, Shape, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import DataType, pack, product_range
from .memories import (ReadOnlyMemory, memory_resources, memory_style, rom_latency,
                       rom_resources)
from .resources import Resources
from .credits import (QUEUE_LATENCY, OutputQueue, credit_gate, credits_for, issue_gate,
                      queue_resources)
from .datapath import (DSP_ATTRS, counter, dsp_tree_resources, elements, multiplier_luts,
                       register, require_positive, sum_tree, tree_levels, tree_resources,
                       value_of)
from .requantize import Requantizer
from .thresholds import (ThresholdUnit, check_activation, check_thresholds, threshold_latency,
                         threshold_resources)
from .vector_buffer import VectorBuffer

__all__ = ["MatrixParams", "MVAUParams", "MatrixVectorUnit", "vector_input", "connect_output",
           "RESOURCES", "dsp_capable", "dsp_pack_factor"]

STYLES = ("parallel", "xnor")
RESOURCES = ("lut", "dsp")     # what a parallel unit's multipliers are built of
# DSP48E1's multiplier: 25 x 18 bits, both signed (an unsigned operand takes a bit more).
DSP_MIN_BITS = 4
DSP_WIDTHS = (18, 25)


def _fits_dsp(*signed_bits):
    """Whether two signed operands of these widths fit the DSP48's multiplier, one way round or
    the other."""
    return all(bits <= limit for bits, limit in zip(sorted(signed_bits), DSP_WIDTHS))


def _signed_bits(dtype):
    return dtype.bits + (dtype.kind == "UINT")


def dsp_capable(a, b):
    """Whether an ``a`` x ``b`` product (DataTypes) goes to one DSP multiplier: both INTn or
    UINTn of at least :data:`DSP_MIN_BITS` bits and within the DSP48's 18 x 25 signed
    operands. Narrower products are cheap in LUTs, and a BIPOLAR or BINARY operand needs no
    multiplier at all (a negation, an AND gate)."""
    if {a.kind, b.kind} - {"INT", "UINT"} or min(a.bits, b.bits) < DSP_MIN_BITS:
        return False
    return _fits_dsp(_signed_bits(a), _signed_bits(b))


def dsp_pack_factor(in_dtype, weight_dtype):
    """Products per DSP multiplier when the rows of a unit share their input (FINN's packing):
    2 when ``x * (w0 + w1 * 2**s)`` fits one DSP48E1 multiplier (25 x 18 bits signed), ``s``
    being the width of one product (:func:`packed_weight`), 1 otherwise (and for products not
    :func:`dsp_capable` of). INT8 x UINT8: s = 16 and the packed weight takes 25 bits, so up to
    8-bit weights and inputs pack; UINT8 x INT16 does not."""
    if not dsp_capable(in_dtype, weight_dtype):
        return 1
    lo, hi = product_range(in_dtype, weight_dtype)
    s = Shape.cast(range(lo, hi + 1)).width
    lo, hi = packed_weight_range(weight_dtype, s)
    packed = Shape.cast(range(min(lo, -1), hi + 1)).width     # as a signed operand
    return 2 if _fits_dsp(_signed_bits(in_dtype), packed) else 1


def packed_weight_range(dtype, s):
    """(lo, hi) of a packed weight ``w0 + w1 * 2**s`` of two ``dtype`` weights."""
    return tuple(v + (v << s) for v in (dtype.min, dtype.max))


def packed_weight(w0, w1, dtype, s):
    """The packed weight ``w0 + w1 * 2**s`` (an Amaranth value) of two weight codes of ``dtype``
    (INT or UINT, narrower than ``s`` bits): no adder across it, only wiring and a decrement.

    Why exact: the low ``s`` bits are ``w0`` extended to ``s`` bits, read unsigned ``w0 + 2**s *
    n`` (``n`` = 1 when ``w0 < 0``, else 0); above them goes ``w1 - n``. The sum is ``w0 + 2**s *
    n + 2**s * (w1 - n)``. UINT weights have ``n`` = 0 and stay unsigned.
    """
    pad = s - dtype.bits
    if dtype.kind == "UINT":
        return Cat(w0, Const(0, pad), w1)
    return Cat(w0, w0[-1].replicate(pad), w1.as_signed() - w0[-1]).as_signed()


def packed_products(m, x, w0, w1, in_dtype, weight_dtype, lane_shape):
    """The products ``x * w0`` and ``x * w1`` (codes of ``in_dtype`` and ``weight_dtype``) from
    one DSP multiplication ``P = x * (w0 + w1 * 2**s)`` (:func:`packed_weight`), ``s`` being
    the width of ``lane_shape``, which holds every product: ``P`` in a register marked
    :data:`DSP_ATTRS` (the DSP's MREG), then the two products extracted into registers.

    Why exact, with ``p0 = x * w0`` and ``p1 = x * w1``: ``P = p0 + 2**s * p1``.

    - ``P mod 2**s = p0 mod 2**s``, and ``p0`` fits ``lane_shape``, so the low ``s`` bits of
      ``P`` read in ``lane_shape`` (signed or not) are ``p0``.
    - ``P >> s`` (arithmetic, rounding down) is ``p1 + floor(p0 / 2**s)``, and ``floor(p0 /
      2**s)`` is -1 when ``p0 < 0`` (``-2**(s-1) <= p0``), else 0: so ``p1 = (P >> s) + `` the
      sign bit of the low part (a signed ``lane_shape``; an unsigned one has no negative
      ``p0``, nothing to correct).
    """
    s = lane_shape.width
    corners = [a * b for a in (in_dtype.min, in_dtype.max)
               for b in packed_weight_range(weight_dtype, s)]
    product = register(m, value_of(x, in_dtype) * packed_weight(w0, w1, weight_dtype, s),
                       shape=Shape.cast(range(min(corners), max(corners) + 1)), attrs=DSP_ATTRS)
    low = product[:s].as_signed() if lane_shape.signed else product[:s]
    high = (product >> s) + (product[s - 1] if lane_shape.signed else 0)
    return register(m, low, shape=lane_shape), register(m, high, shape=lane_shape)


def product(a, a_dtype, b, b_dtype):
    """The product of codes ``a`` and ``b``: a conditional negation where one operand is
    BIPOLAR (code 1 = +1), not a multiplier."""
    if b_dtype.kind == "BIPOLAR" and a_dtype.kind != "BIPOLAR":
        a, a_dtype, b, b_dtype = b, b_dtype, a, a_dtype
    if a_dtype.kind == "BIPOLAR" and b_dtype.kind != "BIPOLAR":
        value = value_of(b, b_dtype)
        return Mux(a, value, -value)
    return value_of(a, a_dtype) * value_of(b, b_dtype)


@dataclass(frozen=True)
class MatrixParams:
    """The fields, checks and derived sizes shared by the bit-parallel and bit-serial MVAUs: a
    ``mh x mw`` matrix times ``vectors`` input vectors per frame, folded by ``pe``/``simd``.

    ``out_dtype=None`` emits the raw dot products as :attr:`acc_dtype`; otherwise thresholds are
    fused and the output is ``out_dtype``; ``requantizer`` is their affine form on the values
    they are applied to, if they have one (:func:`~hwgen.engines.thresholds.ThresholdUnit`).
    ``what`` (a class attribute) names the engine in error messages.
    """

    mw: int
    mh: int
    pe: int
    simd: int
    in_dtype: DataType
    weight_dtype: DataType
    vectors: int
    out_dtype: DataType = None
    requantizer: Requantizer = field(default=None, kw_only=True)

    what = "mvau"
    affine_resource = "lut"     # what a fused affine activation's multipliers are built of

    def __post_init__(self):
        what = self.what
        require_positive(what, mw=self.mw, mh=self.mh, pe=self.pe, simd=self.simd,
                         vectors=self.vectors)
        if self.mw % self.simd:
            raise ValueError(f"{what}: mw ({self.mw}) must be a multiple of simd ({self.simd})")
        if self.mh % self.pe:
            raise ValueError(f"{what}: mh ({self.mh}) must be a multiple of pe ({self.pe})")
        for name in ("in_dtype", "weight_dtype", "out_dtype"):
            value = getattr(self, name)
            if not isinstance(value, DataType) and not (name == "out_dtype" and value is None):
                raise ValueError(f"{what}: {name} must be a DataType, not {value!r}")
        if self.pe * self.simd * self.weight_dtype.bits > 1 << 16:
            raise ValueError(f"{what}: a weight word of pe*simd = {self.pe * self.simd} "
                             f"{self.weight_dtype} weights exceeds 65536 bits (Amaranth's "
                             f"limit); lower pe or simd")
        if self.out_dtype is not None and self.acc_dtype.bits > 31:   # also checks <= 32
            raise ValueError(f"{what}: thresholds on accumulators of more than 31 bits are not "
                             "supported")
        if self.out_dtype is not None:
            check_activation(self.out_dtype, what)
        self.acc_dtype    # ValueError if the accumulator would exceed 32 bits

    @property
    def neuron_folds(self):
        """Output words per vector, ``mh / pe``."""
        return self.mh // self.pe

    @property
    def synapse_folds(self):
        """Input words per vector, ``mw / simd``."""
        return self.mw // self.simd

    @property
    def product_range(self):
        """(lo, hi) of one lane's true product W[n, k] * x[k]."""
        return product_range(self.in_dtype, self.weight_dtype)

    @property
    def dot_range(self):
        """(lo, hi) of every possible dot product."""
        lo, hi = self.product_range
        return self.mw * lo, self.mw * hi

    @property
    def acc_dtype(self):
        """The narrowest datatype holding every possible dot product."""
        try:
            return DataType.for_range(*self.dot_range)
        except ValueError:
            raise ValueError(f"{self.what}: dot products of {self.mw} {self.in_dtype} x "
                             f"{self.weight_dtype} need more than 32 bits") from None

    @property
    def output_dtype(self):
        """Datatype of the output elements: ``out_dtype``, or ``acc_dtype`` if not fused."""
        return self.acc_dtype if self.out_dtype is None else self.out_dtype

    @property
    def in_width(self):
        return self.simd * self.in_dtype.bits

    @property
    def out_width(self):
        return self.pe * self.output_dtype.bits

    def check_arrays(self, weights, thresholds):
        """``weights`` checked to be (mh, mw) values of ``weight_dtype`` and ``thresholds`` to
        be given exactly when ``out_dtype`` is, (mh, n_thresholds(out_dtype)) integers (see
        :func:`check_thresholds`). Returns them as arrays (thresholds None when not fused)."""
        weights = np.asarray(weights)
        if weights.shape != (self.mh, self.mw):
            raise ValueError(f"{self.what}: weights must have shape (mh, mw) = "
                             f"({self.mh}, {self.mw}), not {weights.shape}")
        if not self.weight_dtype.allows(weights).all():
            raise ValueError(f"{self.what}: weights outside {self.weight_dtype}")
        if (thresholds is None) != (self.out_dtype is None):
            raise ValueError(f"{self.what}: thresholds are given exactly when out_dtype is")
        if thresholds is not None:
            thresholds = check_thresholds(thresholds, self.mh, self.out_dtype, self.what)
        return weights, thresholds

    @property
    def passes(self):
        """Passes over each input vector: one per neuron fold."""
        return self.neuron_folds

    @property
    def buffer_words(self):
        """Words of the input buffer (:class:`~hwgen.engines.vector_buffer.VectorBuffer`), there
        with more than one pass per vector: two vectors and a word."""
        return 2 * self.synapse_folds + 1 if self.passes > 1 else 0

    @property
    def issue_delay(self):
        """Cycles from an input word's transfer to the earliest issue of its step: one through
        the input buffer (written, then read), none without one."""
        return 1 if self.buffer_words else 0

    def read_latency(self, word_bits):
        """Cycles from a step's issue to its weight word (in words of ``word_bits``) and input
        word, both ready for logic: the weight memory's :func:`rom_latency`, and two or more
        when the input buffer is in block RAM, whose read data is then registered once more
        (as a block RAM ROM's is)."""
        buffered = self.buffer_words and memory_style(self.buffer_words, self.in_width,
                                                      writable=True) == "block"
        return max(rom_latency(self._weight_words(word_bits), word_bits), 1 + buffered)

    def _weight_words(self, word_bits):
        return self.mh * self.mw * self.weight_dtype.bits // word_bits

    def buffer_bits(self):
        """{kind: bits} of the memories holding stream data: the input buffer."""
        return {"vector_buffer": self.buffer_words * self.in_width}

    def storage_resources(self, word_bits):
        """Model of the weight memory (:func:`rom_resources`), in words of ``word_bits``, the
        input buffer (:attr:`buffer_words`) with its two counters and two addresses (four
        flip-flops and eight LUTs per address bit, and a few more: fitted to synth_xilinx on
        buffers of 19 to 129 words, within 10%), and the registers that delay the weight and
        input words to :meth:`read_latency`."""
        words = self._weight_words(word_bits)
        reads = self.read_latency(word_bits)
        cost = rom_resources(words, word_bits) + Resources(
            ff=(reads - 1) * self.in_width + (reads - rom_latency(words, word_bits)) * word_bits)
        if self.buffer_words:
            bits = (self.buffer_words - 1).bit_length()
            cost += (memory_resources(self.buffer_words, self.in_width, writable=True)
                     + Resources(lut=8 * bits + 8, ff=4 * bits + 4))
        return cost

    @property
    def output_interval(self):
        """Cycles between two output words when the engine runs unstalled."""
        return self.cycles() // (self.vectors * self.neuron_folds)

    @property
    def credits(self):
        """Output words the engine may have in flight or queued (see
        :mod:`hwgen.engines.credits`): enough never to wait for a credit when unstalled."""
        return credits_for(self.pipeline_latency, self.output_interval)

    def latency(self):
        """Cycles from the issue of the step that completes an output word (the step that
        takes or re-reads the last input word of its pass) to that word's transfer, with no
        stalls: the pipeline, then the output queue."""
        return self.pipeline_latency + QUEUE_LATENCY

    def output_resources(self, value_range):
        """The output queue, and the fused activation on values in ``value_range`` if there is
        one."""
        total = queue_resources(self.out_width, self.credits)
        if self.out_dtype is not None:
            total += threshold_resources(*self.activation(value_range))
        return total

    def activation(self, value_range):
        """The arguments (after the thresholds) of :func:`ThresholdUnit`,
        :func:`threshold_latency` and :func:`threshold_resources` for the fused activation of
        values in ``value_range``."""
        return (self.mh, self.pe, value_range, self.out_dtype, self.requantizer,
                self.affine_resource)

    def weight_blocks(self, weights):
        """``weights`` (mh, mw) in weight-memory order: (nf, sf, pe*simd), block (f, s) holding
        ``W[f*pe:(f+1)*pe, s*simd:(s+1)*simd]``, lane p*simd + q = ``W[f*pe + p, s*simd + q]``."""
        nf, sf = self.neuron_folds, self.synapse_folds
        return weights.reshape(nf, self.pe, sf, self.simd).transpose(0, 2, 1, 3).reshape(
            nf, sf, self.pe * self.simd)


def vector_input(m, i, step, queue, completes, pass_end, last_pass, params):
    """The issuing stage of a matrix unit (``params``, a :class:`MatrixParams`) and its input
    word: drive ``step`` and ``queue.take`` (:func:`~hwgen.engines.credits.credit_gate`) and
    return the word of the step issued in the previous cycle.

    ``completes``, ``pass_end`` and ``last_pass`` flag the steps that complete an output word,
    end a pass, and belong to the vector's last pass. With one pass per vector each step takes
    its word from stream ``i``, registered; otherwise the words go through a
    :class:`~hwgen.engines.vector_buffer.VectorBuffer` of :attr:`~MatrixParams.buffer_words`.
    """
    if not params.buffer_words:
        issue_gate(m, step, queue, i, completes)
        return register(m, i.payload)
    m.submodules.buffer = buffer = VectorBuffer(params.in_width, params.synapse_folds,
                                                params.buffer_words)
    wiring.connect(m, wiring.flipped(i), buffer.i)
    credit_gate(m, step, queue, buffer.ready, completes)
    m.d.comb += [buffer.step.eq(step), buffer.pass_end.eq(pass_end),
                 buffer.last_pass.eq(last_pass)]
    return buffer.data


def connect_output(m, queue, accs, done, fold_done, activation, nf):
    """Feed ``queue`` (an :class:`~hwgen.engines.credits.OutputQueue`) from the per-PE
    accumulators ``accs``, raw or through ``activation``.

    ``done`` is high (the cycle after the accumulators' last update) while ``accs`` hold a
    finished output word; ``fold_done`` is high on the cycle of that last update (it advances
    the activation's channel fold). Raw accumulators are written as the ``queue.width / pe``-bit
    two's complement codes (they must hold the exact dot products).
    """
    if activation is None:
        bits = queue.width // len(accs)
        m.d.comb += [queue.w.payload.eq(Cat(acc[:bits] for acc in accs)), queue.w.valid.eq(done)]
        return
    m.submodules.activation = activation
    fold, _, _ = counter(m, fold_done, nf, "fold")   # output fold of the pass entering the accs
    m.d.comb += [activation.fold.eq(fold), queue.w.payload.eq(activation.codes),
                 queue.w.valid.eq(register(m, done, activation.latency, reset=True))]
    for lane, acc in enumerate(accs):
        m.d.comb += activation.values[lane].eq(acc)


@dataclass(frozen=True)
class MVAUParams(MatrixParams):
    """Bit-parallel MVAU parameters (see :class:`MatrixParams`). ``style``: "parallel" (a
    multiplier per lane; with a BINARY operand it reduces to AND gates) or "xnor" (XNOR +
    popcount, only for BIPOLAR inputs and weights); ``None`` picks xnor for BIPOLAR x BIPOLAR
    and parallel otherwise. ``resource``: what the parallel lanes' multipliers are built of,
    "lut" or "dsp" (a DSP48 per lane, for products :func:`dsp_capable` of, or per two lanes,
    see :attr:`dsp_pack`); the product registers marked :data:`DSP_ATTRS` for synthesis.
    Unpacked, the RTL is the LUT unit's but for those marks.
    """

    style: str = None
    resource: str = "lut"

    # Whether every PE row multiplies the same inputs (an MVAU's rows do, a depthwise unit's do
    # not): what lets two rows share a DSP multiplier.
    rows_share_input = True

    def __post_init__(self):
        super().__post_init__()
        bipolar = self.in_dtype.kind == self.weight_dtype.kind == "BIPOLAR"
        if self.style is None:
            object.__setattr__(self, "style", "xnor" if bipolar else "parallel")
        if self.style not in STYLES:
            raise ValueError(f"{self.what}: style must be one of {', '.join(STYLES)}, not "
                             f"{self.style!r}")
        if self.style == "xnor" and not bipolar:
            raise ValueError(f"{self.what}: style 'xnor' needs BIPOLAR inputs and weights, not "
                             f"{self.in_dtype} x {self.weight_dtype}")
        if self.resource not in RESOURCES:
            raise ValueError(f"{self.what}: resource must be one of {', '.join(RESOURCES)}, "
                             f"not {self.resource!r}")
        if self.resource == "dsp" and not dsp_capable(self.in_dtype, self.weight_dtype):
            raise ValueError(f"{self.what}: resource 'dsp' needs INT/UINT inputs and weights "
                             f"of at least {DSP_MIN_BITS} bits that fit a DSP48 (18 x 25 "
                             f"bits signed), not {self.in_dtype} x "
                             f"{self.weight_dtype}")

    @property
    def dsp_pack(self):
        """PE rows per DSP multiplier: 2 for DSP lanes whose rows share their inputs, with PE 2
        or more, where the products pack (:func:`dsp_pack_factor`), else 1. Rows 2k and 2k + 1
        then share the DSPs of their SIMD lanes (:func:`packed_products`), an odd PE's last row
        keeping its own. Always on where possible: it halves the DSPs for an extraction register
        per lane, a decrement of the weights and a correction (a carry chain) per pair, and the
        tree adders Yosys would otherwise pack into the DSPs (:meth:`_packing_resources`,
        :meth:`_dsp_packed`), one more pipeline stage (:attr:`lane_stage`)."""
        if self.resource != "dsp" or not self.rows_share_input or self.pe < 2:
            return 1
        return dsp_pack_factor(self.in_dtype, self.weight_dtype)

    @property
    def affine_resource(self):
        """A fused affine activation's multipliers are DSPs when the lanes' are."""
        return self.resource

    @property
    def lane_range(self):
        """(lo, hi) of what one lane feeds its tree: a product, or an XNOR bit."""
        return (0, 1) if self.style == "xnor" else self.product_range

    @property
    def acc_range(self):
        """(lo, hi) the accumulator holds: the dot product, or the popcount for fused XNOR."""
        if self.style == "xnor" and self.out_dtype is not None:
            return 0, self.mw
        return self.dot_range

    def cycles(self):
        """Cycles per frame in steady state: one MAC step per cycle, ``nf * sf`` per vector."""
        return self.vectors * self.neuron_folds * self.synapse_folds

    @property
    def lane_stage(self):
        """Cycles from a step's issue to its lanes' registers: the reads
        (:meth:`read_latency`), then the lane register, and with packed DSP lanes
        (:attr:`dsp_pack`) the extraction register."""
        return (self.read_latency(self.pe * self.simd * self.weight_dtype.bits)
                + 1 + (self.dsp_pack > 1))

    @property
    def pipeline_latency(self):
        """Cycles from a step's issue to the output queue's write of the word it completes:
        lanes, tree levels, accumulator, then the activation."""
        activation = 0 if self.out_dtype is None else threshold_latency(
            *self.activation(self.acc_range))
        return self.lane_stage + tree_levels(self.simd) + 1 + activation

    def resources(self):
        """First-order estimate; all arithmetic in LUTs (dsp = 0).

        - Lanes (pe*simd): a LUT multiplier (:func:`multiplier_luts`) and a product register;
          an XNOR lane is a flip-flop, its XNOR sharing LUTs with the popcount's first level
          (synth_xilinx on XNOR MVAUs of SIMD 8 to 64: within about 10% with the XNOR free,
          40% over with a LUT each).
        - Per PE: the adder/popcount tree (:func:`tree_resources`, one LUT per adder bit) and the
          accumulator (one LUT and one flip-flop per bit: the add and the clear mux share a LUT).
        - Fused activation: :func:`threshold_resources` (comparators, popcount, threshold table).
        - Registers: the input word.
        - Memories (:meth:`storage_resources`, block RAM or LUTs by their shape): the
          weights, ``nf*sf`` words of ``pe*simd`` weights, the input buffer, ``sf`` words of
          ``simd`` inputs, when nf > 1, and the registers of their reads.
        - Control: three step counters (about two LUTs per bit) with their flags, and the
          valid/first/last pipeline.
        - Output: the queue and credit counter (:func:`~hwgen.engines.credits.queue_resources`).

        With ``resource="dsp"`` (xc7, :mod:`hwgen.synthesis`): a DSP48 per lane, holding the
        multiplier and the product register, and the adders Yosys' xilinx_dsp packs into it;
        packed (:attr:`dsp_pack`), a DSP48 per pair of lanes, and the logic of the packing
        (:meth:`_packing_resources`).
        """
        lanes = self.pe * self.simd
        lo, hi = self.lane_range
        product_bits = Shape.cast(range(lo, hi + 1)).width
        if self.style == "xnor":
            lane_lut = 0
        else:
            lane_lut = multiplier_luts(self.in_dtype, self.weight_dtype)
        tree = tree_resources(self.simd, lo, hi)
        acc_bits = Shape.cast(range(self.acc_range[0], self.acc_range[1] + 1)).width
        pe_lut, pe_ff, input_ff = tree.lut + acc_bits, tree.ff + acc_bits, self.in_width
        packing = Resources()
        if self.resource == "dsp":
            packing = self._packing_resources(product_bits)
            lane_lut = product_bits = 0
            packed, input_packed = self._dsp_packed(acc_bits)
            pe_lut, pe_ff = pe_lut - packed.lut, pe_ff - packed.ff
            input_ff -= input_packed
        datapath = packing + Resources(lut=lanes * lane_lut + self.pe * pe_lut,
                                       ff=lanes * product_bits + self.pe * pe_ff + input_ff)
        nf, sf = self.neuron_folds, self.synapse_folds
        memory = self.storage_resources(lanes * self.weight_dtype.bits)
        counters = sum((n - 1).bit_length() for n in (nf, sf, nf * sf))
        control = Resources(lut=2 * counters + 4,
                            ff=counters + 4 + 3 * self.pipeline_latency)
        return datapath + memory + control + self.output_resources(self.acc_range)

    def _packing_resources(self, product_bits):
        """The DSP48s of a DSP unit, and the logic packing two products into one adds
        (:func:`packed_products`; docs/resource-models.md, "DSP lanes"): per pair of products,
        the registers of the two extracted ones (``2 * product_bits`` flip-flops) and the packed
        weight's decrement, a LUT per bit of ``w1 - n`` (INT weights only); the correction of
        the high product, an increment by a carry-in, takes a carry chain and no LUT."""
        pairs = self.pe // 2 * self.simd if self.dsp_pack > 1 else 0
        decrement = self.weight_dtype.bits + 1 if self.weight_dtype.signed else 0
        return Resources(lut=pairs * decrement, ff=pairs * 2 * product_bits,
                         dsp=self.pe * self.simd - pairs)

    def _dsp_packed(self, acc_bits):
        """(logic per PE, input-word flip-flops) that leave the fabric when the lanes are
        DSP48s, besides the multipliers and the product registers (MREG): what Yosys'
        xilinx_dsp packs into the DSPs (synth_xilinx; docs/resource-models.md, "DSP lanes"):

        - the first adders of the tree (:func:`dsp_tree_resources`) or, with SIMD 1 and no
          tree, the accumulator (the P register and its post-adder, accumulating);
        - the input word's register (AREG) when each input element feeds one lane (depthwise,
          or PE 1) and that register is the unit's own (no input buffer, whose read register
          lies in its own module).

        Packed (:attr:`dsp_pack`), nothing: the extraction registers lie between the
        multipliers and the trees.
        """
        if self.dsp_pack > 1:
            return Resources(), 0
        lo, hi = self.lane_range
        if self.simd == 1:
            packed = Resources(lut=acc_bits, ff=acc_bits)
        else:
            packed = dsp_tree_resources(self.simd, lo, hi)
        one_lane_each = not self.rows_share_input or self.pe == 1
        return packed, self.in_width if one_lane_each and not self.buffer_words else 0


class MatrixVectorUnit(wiring.Component):
    """Bit-parallel MVAU for :class:`MVAUParams` (see the module docstring).

    ``weights``: (mh, mw) true values of ``weight_dtype`` (BIPOLAR as -1/+1). ``thresholds``:
    with ``out_dtype``, (mh, n_thresholds(out_dtype)) integers applied to the dot products as
    in :func:`hwgen.golden.multithreshold`; must be None without ``out_dtype``.

    Input: ``sf`` words of ``simd`` ``in_dtype`` elements per vector. Output: ``nf`` words of
    ``pe`` ``output_dtype`` elements per vector, channels in order. Not stalled, it performs one
    MAC step per cycle, ``nf * sf`` per vector, vectors back to back.
    """

    def __init__(self, params, weights, thresholds=None):
        p = self.params = params
        weights, table = p.check_arrays(weights, thresholds)
        self._activation = None
        if table is not None:
            if p.style == "xnor":   # into the popcount domain: ceil((T + mw) / 2)
                table = -((-(np.clip(table, -p.mw, p.mw + 1) + p.mw)) // 2)
            self._activation = ThresholdUnit(table, *p.activation(p.acc_range), what=p.what)
        self._weights = ReadOnlyMemory(p.pe * p.simd * p.weight_dtype.bits,
                                       pack(p.weight_blocks(weights), p.weight_dtype,
                                            p.pe * p.simd))

        super().__init__({"i": In(stream.Signature(unsigned(p.in_width))),
                          "o": Out(stream.Signature(unsigned(p.out_width)))})

    def row_inputs(self, x):
        """The ``simd`` input elements of each PE row, as ``pe`` words, from input word ``x``:
        every row multiplies the same ``simd`` inputs."""
        return [x] * self.params.pe

    def elaborate(self, platform):
        p = self.params
        nf, sf = p.neuron_folds, p.synapse_folds
        m = Module()
        m.submodules.queue = queue = OutputQueue(p.out_width, p.credits)
        wiring.connect(m, queue.o, wiring.flipped(self.o))

        # Stage 0: issue a MAC step; synapse fold inside neuron fold, the weight address
        # counted beside them (f * sf + s, without a multiplier).
        step = Signal()
        s, s_first, s_last = counter(m, step, sf, "s")
        _, _, f_last = counter(m, step & s_last, nf, "f")
        addr, _, _ = counter(m, step, nf * sf, "addr")
        x = vector_input(m, self.i, step, queue, s_last, s_last, f_last, p)

        m.submodules.weights = weights = self._weights
        m.d.comb += weights.addr.eq(addr)
        reads = p.read_latency(p.pe * p.simd * p.weight_dtype.bits)    # both words ready
        w = register(m, weights.data, reads - weights.latency)
        x = register(m, x, reads - 1)

        # The lanes of each PE row, registered; then the trees.
        lo, hi = p.lane_range
        sums = [sum_tree(m, lanes, lo, hi) for lanes in self._lane_rows(m, x, w)]

        # Control follows the data to the accumulators.
        delay = p.lane_stage + tree_levels(p.simd)
        valid = register(m, step, delay, reset=True)
        first = register(m, s_first, delay)
        last = register(m, s_last, delay)

        # Accumulators. XNOR raw output: start at -mw and add 2*pc (see the module docstring).
        acc_shape = Shape.cast(range(p.acc_range[0], p.acc_range[1] + 1))
        raw_xnor = p.style == "xnor" and p.out_dtype is None
        start, shift = (-p.mw, 1) if raw_xnor else (0, 0)
        accs = [Signal(acc_shape, name=f"acc{row}", reset_less=True) for row in range(p.pe)]
        with m.If(valid):
            for acc, total in zip(accs, sums):
                m.d.sync += acc.eq(Mux(first, start, acc) + (total << shift))
        done = register(m, valid & last, reset=True)
        connect_output(m, queue, accs, done, valid & last, self._activation, nf)
        return m

    def _lane_rows(self, m, x, w):
        """The lanes of each PE row in turn, registered :attr:`~MVAUParams.lane_stage` cycles
        after issue, from input word ``x`` and weight word ``w``: lane ``q`` of row ``r`` the
        product (or XNOR bit) of SIMD lane ``q``. A generator, so that each row's lanes are
        built just before its tree (the order of the signals in the Verilog).

        With packed DSP lanes (:attr:`~MVAUParams.dsp_pack`) rows 2k and 2k + 1 come from
        the same multipliers (:func:`packed_products`), and an odd PE's last row, multiplied
        alone, is delayed a cycle to stay in step with the extracted products.
        """
        p = self.params
        x_rows = self.row_inputs(x)
        if p.style == "xnor":
            for row, x_row in enumerate(x_rows):
                # One wide XNOR register per PE row rather than a register per lane: the same
                # hardware, and far faster to simulate (Verilator works on whole words).
                agree = register(m, ~(x_row ^ w[row * p.simd:(row + 1) * p.simd]))
                yield [agree[q] for q in range(p.simd)]
            return
        ws = elements(w, p.weight_dtype, p.pe * p.simd)
        w_rows = [ws[row * p.simd:(row + 1) * p.simd] for row in range(p.pe)]
        xs = [elements(x_row, p.in_dtype, p.simd) for x_row in x_rows]
        lo, hi = p.lane_range
        lane_shape = Shape.cast(range(lo, hi + 1))
        paired = p.pe // 2 * 2 if p.dsp_pack > 1 else 0
        for row in range(0, paired, 2):
            pairs = [packed_products(m, xq, w0, w1, p.in_dtype, p.weight_dtype, lane_shape)
                     for xq, w0, w1 in zip(xs[row], w_rows[row], w_rows[row + 1])]
            yield [low for low, _ in pairs]
            yield [high for _, high in pairs]
        for row in range(paired, p.pe):
            lanes = [register(m, product(xq, p.in_dtype, wq, p.weight_dtype), shape=lane_shape,
                              attrs=DSP_ATTRS if p.resource == "dsp" else None)
                     for xq, wq in zip(xs[row], w_rows[row])]
            yield [register(m, lane) for lane in lanes] if paired else lanes
