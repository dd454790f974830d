"""Thresholds engine (QONNX MultiThreshold), and the pieces it shares with the MVAU.

Per channel ``c`` the output counts the thresholds the input reaches,
``count = #{i : x >= T[c, i]}`` over ``n = 2**bits - 1`` thresholds (1 for a BIPOLAR output),
and emits the code of ``out_dtype``'s value for that count (see :func:`hwgen.golden.multithreshold`):
``count`` itself for UINTn, BINARY and BIPOLAR (whose code 1 is +1), and ``count`` with its most
significant bit inverted for INTn (the code of ``count + min``). The count does not depend on the
thresholds' order, so the result matches the golden model even for thresholds that are not sorted.
Outputs are at most :data:`MAX_ACTIVATION_BITS` wide.

Three units count: :class:`ParallelThresholdUnit` compares with all n thresholds at once and
popcounts (n comparators per lane), :class:`SearchThresholdUnit` binary-searches the sorted
thresholds in ``bits`` pipelined stages (one comparator each), and, for thresholds that are an
affine function of the input (a uniform quantizer: :mod:`hwgen.engines.requantize`),
:class:`AffineThresholdUnit` multiplies, adds and shifts (a multiplier per lane, none for a
power-of-two step; a word of (M, B) per channel). :func:`ThresholdUnit` builds the one whose
resource model costs less (:func:`threshold_design`); the affine unit is a candidate only when
the caller describes the form (a :class:`~hwgen.engines.requantize.Requantizer`, which the
engines' parameters carry).

The pipeline is free-running, as the MVAU's is: an input word is taken only when the output
queue has a credit for its result (:mod:`hwgen.engines.credits`), so ``o.ready`` never reaches
the comparators, and ``i.ready`` is a register.

Shared with :mod:`hwgen.engines.mvau`, :mod:`hwgen.engines.bitserial_mvau` and
:mod:`hwgen.engines.add` (their fused activation): :func:`ThresholdUnit`,
:func:`threshold_latency` and :func:`threshold_resources`; all build on
:mod:`hwgen.engines.datapath`.
"""

from dataclasses import dataclass, field
from functools import cache

import numpy as np
from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import BINARY, DataType, pack
from .credits import QUEUE_LATENCY, OutputQueue, credits_for, queue_resources
from .datapath import (DSP_ATTRS, counter, delay_resources, elements, multiplier_luts, range_bits,
                       register, require_positive, tree_levels, tree_resources, sum_tree, value_of)
from .memories import ReadOnlyMemory, lut_cost, memory_style, rom_latency, rom_resources
from .requantize import Requantizer, affine_form
from .resources import Resources

__all__ = ["MAX_ACTIVATION_BITS", "ThresholdsParams", "Thresholds", "ThresholdUnit",
           "ParallelThresholdUnit", "SearchThresholdUnit", "AffineThresholdUnit",
           "check_activation", "check_thresholds", "n_thresholds", "threshold_design",
           "threshold_latency", "threshold_resources"]

# --- thresholds -----------------------------------------------------------------------------------

# The widest multi-threshold output hwgen builds. Its 2**bits - 1 thresholds per channel are
# stored whichever unit compares them (UINT16: 65,535 per channel, in block RAM by the
# thousand), so the limit is set by what quantized networks use: 9 bits take any 8-bit
# quantizer, the shift of its levels by a zero point included (UINT8 with zero point 3: INT9
# levels -3..252).
MAX_ACTIVATION_BITS = 9


# LUTs of a threshold memory in logic per LUT that rom_resources counts: its words are read
# only by comparators, and synth_xilinx folds most of it into the comparators' LUTs (measured
# 0.05 to 0.28 on binary-search stages of 2 to 64 words of UINT4 and UINT8 Thresholds engines;
# with it the parallel unit's model of UINT2 and UINT4 engines went from +39% and +66% to -10%
# and +10%).
THRESHOLD_ROM_LUT_SHARE = 0.25


def n_thresholds(out_dtype):
    """Thresholds per channel for ``out_dtype``: 2**bits - 1, or 1 for BIPOLAR."""
    return 1 if out_dtype.kind == "BIPOLAR" else (1 << out_dtype.bits) - 1


def check_activation(out_dtype, what=None):
    """ValueError (prefixed ``what: `` when given) if ``out_dtype`` is wider than
    :data:`MAX_ACTIVATION_BITS`."""
    if out_dtype.bits > MAX_ACTIVATION_BITS:
        raise ValueError(f"{what + ': ' if what else ''}{out_dtype} activations are too wide "
                         f"(at most {MAX_ACTIVATION_BITS} bits: 2**bits - 1 thresholds per "
                         f"channel)")


def _threshold_bits(value_range):
    """Bits of a threshold clamped to [lo, hi + 1] (see :func:`ThresholdUnit`)."""
    return range_bits(value_range[0], value_range[1] + 1)


def _table_resources(words, bits):
    """:func:`rom_resources` of a threshold memory, its LUTs in logic at
    :data:`THRESHOLD_ROM_LUT_SHARE`."""
    memory = rom_resources(words, bits)
    if memory_style(words, bits, writable=False) == "block":
        return memory
    return Resources(lut=round(memory.lut * THRESHOLD_ROM_LUT_SHARE), ff=memory.ff)


def _model_args(design, channels, pe, value_range, out_dtype, requantizer, resource):
    """The arguments of ``design``'s constructor (after the thresholds) and models: the affine
    unit's take the form's shape and what its multipliers are built of."""
    args = channels, pe, value_range, out_dtype
    return args + (requantizer, resource) if design is AffineThresholdUnit else args


@cache      # folding asks for the same units' models thousands of times
def threshold_design(channels, pe, value_range, out_dtype, requantizer=None, resource="lut"):
    """The unit :func:`ThresholdUnit` builds for these parameters: the one whose model costs
    least (:func:`lut_cost` of the resources), on a tie the first of
    :class:`ParallelThresholdUnit` (always for one threshold: every unit is one comparator or
    multiplier), :class:`SearchThresholdUnit`, :class:`AffineThresholdUnit` (a candidate when
    ``requantizer``, the thresholds' affine form, is given; ``resource`` "lut" or "dsp": what
    its multipliers are built of)."""
    designs = [ParallelThresholdUnit]
    if n_thresholds(out_dtype) > 1:
        designs.append(SearchThresholdUnit)
        if requantizer is not None:
            designs.append(AffineThresholdUnit)
    args = channels, pe, value_range, out_dtype, requantizer, resource
    return min(designs, key=lambda design: lut_cost(
        design.model_resources(*_model_args(design, *args))))


def threshold_latency(channels, pe, value_range, out_dtype, requantizer=None, resource="lut"):
    """Cycles from values entering a :func:`ThresholdUnit` (``channels`` at ``pe`` per word,
    values in ``value_range``) to their codes: the ``model_latency`` of the unit
    :func:`threshold_design` picks."""
    args = channels, pe, value_range, out_dtype, requantizer, resource
    design = threshold_design(*args)
    return design.model_latency(*_model_args(design, *args))


@cache
def threshold_resources(channels, pe, value_range, out_dtype, requantizer=None, resource="lut"):
    """First-order cost of a :func:`ThresholdUnit`: the ``model_resources`` of the unit
    :func:`threshold_design` picks."""
    args = channels, pe, value_range, out_dtype, requantizer, resource
    design = threshold_design(*args)
    return design.model_resources(*_model_args(design, *args))


def check_thresholds(thresholds, channels, out_dtype, what):
    """``thresholds`` checked to be (channels, n_thresholds(out_dtype)) integers, or floats
    holding integers or +-inf; returned as int64 (or float) array. ValueError (naming ``what``)
    otherwise."""
    table = np.asarray(thresholds)
    n = n_thresholds(out_dtype)
    if table.shape != (channels, n):
        raise ValueError(f"{what}: thresholds must have shape ({channels}, {n}) for "
                         f"{channels} channels of {out_dtype} outputs, not {table.shape}")
    if table.dtype.kind == "f":
        finite = table[np.isfinite(table)]
        if np.isnan(table).any() or (finite != np.round(finite)).any():
            raise ValueError(f"{what}: thresholds must be integers (or +-inf)")
        return table
    if table.dtype.kind not in "iu":
        raise ValueError(f"{what}: thresholds must be integers, not {table.dtype}")
    return np.minimum(table, np.iinfo(np.int64).max).astype(np.int64)   # uint64 saturates



def ThresholdUnit(thresholds, channels, pe, value_range, out_dtype, requantizer=None,
                  resource="lut", *, what="thresholds"):
    """Multi-threshold activation of ``pe`` channels at a time, thresholds in memories: the
    unit :func:`threshold_design` picks (so :func:`threshold_latency` and
    :func:`threshold_resources` describe it), built.

    ``thresholds`` is (channels, n) integers (or +-inf), ``n = n_thresholds(out_dtype)``;
    ``value_range`` = (lo, hi) bounds the values compared; ``out_dtype`` is at most
    :data:`MAX_ACTIVATION_BITS` wide. Thresholds below ``lo`` (always reached) or above ``hi``
    (never) are clamped to ``lo`` or ``hi + 1`` at elaboration: same result, narrower
    comparators. ``what`` names the engine in error messages. ``requantizer``: the thresholds'
    affine form on ``value_range`` (:func:`~hwgen.engines.requantize.requantizer_for`), or None
    (then the unit compares thresholds); ``resource``: what an affine unit's multipliers are
    built of ("lut" or "dsp").

    Ports (free-running: no enable): ``fold`` (the channel fold) must select the fold of
    ``values`` one cycle *before* ``values`` are presented (the memories' synchronous read);
    the unit keeps both from then on. ``values[p]`` is the value of channel fold*pe + p;
    ``codes`` (element p = channel fold*pe + p, ``out_dtype`` codes packed as in
    :func:`hwgen.datatypes.pack`) follow ``latency`` cycles later (:func:`threshold_latency`).
    One word of values per cycle.
    """
    check_activation(out_dtype, what)
    args = channels, pe, value_range, out_dtype, requantizer, resource
    design = threshold_design(*args)
    return design(thresholds, *_model_args(design, *args), what=what)


class _Unit(wiring.Component):
    """What the designs of :func:`ThresholdUnit` share: the ports, the clamped thresholds, and
    the output code of a count. ``model_args``: what the design's models take besides
    (channels, pe, value_range, out_dtype)."""

    def __init__(self, thresholds, channels, pe, value_range, out_dtype, *model_args,
                 what="thresholds"):
        lo, hi = value_range
        table = check_thresholds(thresholds, channels, out_dtype, what)
        self.pe, self.out_dtype, self.n = pe, out_dtype, n_thresholds(out_dtype)
        self.latency = self.model_latency(channels, pe, value_range, out_dtype, *model_args)
        self.tdtype = DataType.for_range(lo, hi + 1)
        # lanes[f, p]: the thresholds of channel f*pe + p, clamped.
        self.lanes = np.clip(table, lo, hi + 1).astype(np.int64).reshape(-1, pe, self.n)
        super().__init__({
            "fold": In(range(channels // pe)),
            "values": In(data.ArrayLayout(range(lo, hi + 1), pe)),
            "codes": Out(unsigned(pe * out_dtype.bits)),
        })

    def code(self, count):
        """The ``out_dtype`` code of ``count`` reached thresholds: ``count`` itself, with its
        most significant bit inverted for INTn (the code of ``count + min``)."""
        if self.out_dtype.kind == "INT":
            count = count ^ (1 << (self.out_dtype.bits - 1))
        return count[:self.out_dtype.bits]


class ParallelThresholdUnit(_Unit):
    """:func:`ThresholdUnit` comparing a value with all n thresholds at once: lane p has its own
    memory (one wide memory would exceed Amaranth's 65536-bit limit at 8-bit outputs), whose
    word f holds the n thresholds of channel f*pe + p; the comparisons' results are
    popcounted, so the thresholds need not be sorted."""

    @staticmethod
    def model_latency(channels, pe, value_range, out_dtype):
        """The table's read (:func:`rom_latency`, the values delayed beside it), the
        comparison register, then the popcount tree."""
        n = n_thresholds(out_dtype)
        return rom_latency(channels // pe, n * _threshold_bits(value_range)) + tree_levels(n)

    @staticmethod
    def model_resources(channels, pe, value_range, out_dtype):
        """Per lane: a comparator per threshold, on a carry chain, one LUT per threshold bit,
        and a flip-flop for its result; a popcount tree of the n results
        (:func:`tree_resources`); a table of ``channels/pe`` words of n thresholds
        (:func:`_table_resources`), and the values delayed beside its read
        (:func:`delay_resources`)."""
        n, tbits = n_thresholds(out_dtype), _threshold_bits(value_range)
        words, bits = channels // pe, n * tbits
        popcount, table = tree_resources(n, 0, 1), _table_resources(words, bits)
        delayed = delay_resources(range_bits(*value_range), rom_latency(words, bits) - 1)
        return Resources(lut=pe * (n * tbits + popcount.lut + table.lut + delayed.lut),
                         ff=pe * (n + popcount.ff + table.ff + delayed.ff),
                         bram18=pe * table.bram18)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.memories = [ReadOnlyMemory(self.n * self.tdtype.bits,
                                        pack(self.lanes[:, p], self.tdtype, self.n))
                         for p in range(self.pe)]

    def elaborate(self, platform):
        m = Module()
        codes = []
        for p, memory in enumerate(self.memories):
            m.submodules[f"thresholds{p}"] = memory
            m.d.comb += memory.addr.eq(self.fold)
            row = elements(memory.data, self.tdtype, self.n)
            value = register(m, self.values[p], memory.latency - 1)
            reached = register(m, Cat(value >= value_of(t, self.tdtype) for t in row))
            codes.append(self.code(sum_tree(m, list(reached), 0, 1)))
        m.d.comb += self.codes.eq(Cat(codes))
        return m


class SearchThresholdUnit(_Unit):
    """:func:`ThresholdUnit` finding the count by binary search, one bit per stage (as
    finn-rtllib's thresholding does): ``bits`` stages of one comparator per lane.

    The count ``#{i : x >= T[c, i]}`` is the same for any order of a channel's thresholds, so
    each channel's are sorted at elaboration; then the count's bits are found most significant
    first: stage s compares the value with sorted threshold ``prefix * 2**(bits - s) +
    2**(bits - s - 1) - 1``, ``prefix`` being the s bits found so far, and appends the result.
    Stage s of lane p has a memory (:class:`ReadOnlyMemory`, placed by its cost) of the
    thresholds it can need, ``channels/pe * 2**s``, at word ``fold * 2**s + prefix``: its
    address is a register's, and its read, the comparison and its register are the stage.
    """

    @staticmethod
    def _stage_latencies(channels, pe, value_range, out_dtype):
        """Per stage, its memory's read latency (:func:`rom_latency`)."""
        return [rom_latency((channels // pe) << s, _threshold_bits(value_range))
                for s in range(out_dtype.bits)]

    @staticmethod
    def model_latency(channels, pe, value_range, out_dtype):
        """Per stage, its memory's read and the comparison register; less a cycle, since the
        values enter a cycle after the first stage's address (the fold)."""
        latencies = SearchThresholdUnit._stage_latencies(channels, pe, value_range, out_dtype)
        return sum(latency + 1 for latency in latencies) - 1

    @staticmethod
    def model_resources(channels, pe, value_range, out_dtype):
        """Per lane and stage: a comparator on a carry chain (a LUT per threshold bit) and its
        result's flip-flop; the stage's memory (:func:`_table_resources`); the delays (:func:`delay_resources`) that carry the
        value to the stage's comparison and the count's bits found so far beside the stage's
        read and comparison. Once for all lanes: the fold's delays, up to the last stage."""
        tbits, vbits = _threshold_bits(value_range), range_bits(*value_range)
        folds = channels // pe
        latencies = SearchThresholdUnit._stage_latencies(channels, pe, value_range, out_dtype)
        lane = Resources()
        for s, latency in enumerate(latencies):
            lane += (Resources(lut=tbits, ff=1) + _table_resources(folds << s, tbits)
                     + delay_resources(vbits, latency - 1 if s == 0 else latency + 1)
                     + delay_resources(s, latency + 1))
        fold = Resources()
        for latency in latencies[:-1]:
            fold += delay_resources((folds - 1).bit_length(), latency + 1)
        return Resources(lut=pe * lane.lut + fold.lut, ff=pe * lane.ff + fold.ff,
                         bram18=pe * lane.bram18)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bits = self.out_dtype.bits
        ordered = np.sort(self.lanes, axis=-1)
        self.stages = []        # stages[p][s]: lane p's memory of stage s
        for p in range(self.pe):
            lane = []
            for s in range(bits):
                index = (np.arange(1 << s) << (bits - s)) + (1 << (bits - s - 1)) - 1
                lane.append(ReadOnlyMemory(self.tdtype.bits,
                                           pack(ordered[:, p][:, index], self.tdtype, 1)))
            self.stages.append(lane)

    def elaborate(self, platform):
        m = Module()
        # Each stage's fold, the same in every lane: carried once, a stage at a time.
        latencies = [memory.latency for memory in self.stages[0]]
        folds = [self.fold]
        for latency in latencies[:-1]:
            folds.append(register(m, folds[-1], latency + 1))
        codes = []
        for p, stages in enumerate(self.stages):
            value, prefix = self.values[p], Cat()
            for s, (memory, fold) in enumerate(zip(stages, folds)):
                m.submodules[f"lane{p}_stage{s}"] = memory
                m.d.comb += memory.addr.eq(Cat(prefix, fold))
                # The value meets its threshold: it enters a cycle after the first address,
                # then each stage is a read and a comparison register after the one before.
                value = register(m, value, memory.latency - 1 if s == 0 else memory.latency + 1)
                reached = register(m, value >= value_of(memory.data, self.tdtype))
                prefix = Cat(reached, register(m, prefix, memory.latency + 1))
            codes.append(self.code(prefix))
        m.d.comb += self.codes.eq(Cat(codes))
        return m


class AffineThresholdUnit(_Unit):
    """:func:`ThresholdUnit` for thresholds with an exact affine form
    (:func:`~hwgen.engines.requantize.affine_form`): per lane, ``count = clamp((x * M + B) >>
    S, 0, n)``, (M, B) of channel fold*pe + p at word ``fold`` of lane p's memory (a constant
    for one fold). Not for one threshold, where a comparator is cheaper than any multiplier.

    Its models and hardware take the form's shape (``requantizer``); the unit finds (M, B) from
    the thresholds again and refuses them (ValueError) unless they have that shape. Stages: the
    memory's read (the value delayed beside it), the product ``x * M + B`` into a register
    marked :data:`~hwgen.engines.datapath.DSP_ATTRS` when its multiplier is a DSP48's
    (:meth:`uses_dsp`: the multiply, its register and the add of B are one DSP), then the shift,
    clamp and code, registered. The product's width is the form shape's
    (:meth:`Requantizer.product_range`), not the actual (M, B)'s, so that the model counts it.
    """

    @staticmethod
    def uses_dsp(value_range, requantizer, resource):
        """Whether the multipliers are DSP48s: asked for, there is one (M is not 1 for every
        channel) and the product fits one (the value on the 25-bit port, M, signed, on the
        18-bit one)."""
        m_bits = AffineThresholdUnit.multiplier_bits(requantizer)
        return resource == "dsp" and 0 < m_bits <= 17 and range_bits(*value_range) <= 25

    @staticmethod
    def multiplier_bits(requantizer):
        """Bits of the M stored per channel: none when M is 1 for every channel (a power-of-two
        step, as fixed-point networks have: an add and a shift, no multiplier)."""
        return requantizer.m_bits if requantizer.m_bits > 1 else 0

    @staticmethod
    def word_bits(requantizer):
        """Bits of a word of the (M, B) memory."""
        return AffineThresholdUnit.multiplier_bits(requantizer) + requantizer.b_bits

    @staticmethod
    def model_latency(channels, pe, value_range, out_dtype, requantizer, resource="lut"):
        """The (M, B) memory's read (:func:`rom_latency`, the values delayed beside it), the
        product register, then the code register."""
        return rom_latency(channels // pe, AffineThresholdUnit.word_bits(requantizer)) + 1

    @staticmethod
    def model_resources(channels, pe, value_range, out_dtype, requantizer, resource="lut"):
        """Per lane: in LUTs, a multiplier of the value by M (:func:`multiplier_luts`, the
        MVAU's fit: a constant M for one fold is counted alike), the add of B (a LUT per
        product bit) and the product register's bits above the shift; or a DSP48 holding all three
        (:meth:`uses_dsp`). Then the clamp (a LUT per bit above the shift, to find under- and
        overflow, and per code bit, to select) and the code register; the (M, B) memory
        (:func:`rom_resources`) and the values delayed beside its read
        (:func:`delay_resources`). Against Yosys synth_xilinx (docs/resource-models.md) the LUTs
        are over by about 40-60% (the multiplier fit is for 1-8-bit operands): the affine unit
        is picked only where it wins by that much."""
        r = requantizer
        vbits, bits = range_bits(*value_range), out_dtype.bits
        product_bits = range_bits(*r.product_range(value_range))
        words, width = channels // pe, AffineThresholdUnit.word_bits(r)
        if AffineThresholdUnit.uses_dsp(value_range, r, resource):
            product = Resources(dsp=1)
        elif not AffineThresholdUnit.multiplier_bits(r):
            product = Resources(lut=product_bits, ff=product_bits - r.shift)
        else:
            # A one-bit value (0/1 or -1/0) selects M or nothing: AND gates, as BINARY's.
            value = DataType.parse(f"INT{vbits}") if vbits > 1 else BINARY
            multiplier = multiplier_luts(value, DataType.parse(f"UINT{r.m_bits}"))
            # The product register's bits below the shift feed nothing: synthesis drops them.
            product = Resources(lut=multiplier + product_bits, ff=product_bits - r.shift)
        clamp = Resources(lut=product_bits - r.shift + bits, ff=bits)
        lane = (product + clamp + rom_resources(words, width)
                + delay_resources(vbits, rom_latency(words, width) - 1))
        return lane * pe

    def __init__(self, thresholds, channels, pe, value_range, out_dtype, requantizer,
                 resource="lut", what="thresholds"):
        super().__init__(thresholds, channels, pe, value_range, out_dtype, requantizer, resource,
                         what=what)
        form = affine_form(self.lanes.reshape(channels, self.n), value_range)
        if form is None or form.requantizer != requantizer:
            raise ValueError(f"{what}: the thresholds do not have the affine form {requantizer}")
        self.requantizer, self.value_range = requantizer, value_range
        self.dsp = self.uses_dsp(value_range, requantizer, resource)
        # Word f of lane p: M of channel f*pe + p in the low m_bits (none when M is 1 for all),
        # B (two's complement) above.
        self.m_bits = self.multiplier_bits(requantizer)
        b_mask = (1 << requantizer.b_bits) - 1
        words = ((form.multipliers if self.m_bits else 0)
                 | ((form.offsets & b_mask) << self.m_bits)).reshape(-1, pe)
        self.memories = [ReadOnlyMemory(self.word_bits(requantizer),
                                        [int(w) for w in words[:, p]]) for p in range(pe)]

    def elaborate(self, platform):
        m = Module()
        r = self.requantizer
        lo, hi = r.product_range(self.value_range)
        product_shape = range(lo, hi + 1)
        codes = []
        for p, memory in enumerate(self.memories):
            m.submodules[f"requantizer{p}"] = memory
            m.d.comb += memory.addr.eq(self.fold)
            value = register(m, self.values[p], memory.latency - 1)
            multiplier = memory.data[:self.m_bits].as_unsigned() if self.m_bits else 1
            offset = memory.data[self.m_bits:].as_signed()
            product = register(m, value * multiplier + offset, shape=product_shape,
                               attrs=DSP_ATTRS if self.dsp else None)
            level = product >> r.shift       # arithmetic: floor((x * M + B) / 2**S)
            count = Mux(level < 0, 0, Mux(level > self.n, self.n, level))
            codes.append(register(m, self.code(count)))
        m.d.comb += self.codes.eq(Cat(codes))
        return m


# --- the standalone engine ------------------------------------------------------------------------

@dataclass(frozen=True)
class ThresholdsParams:
    """Multi-threshold activation of ``pixels`` vectors of ``channels`` per frame, ``pe`` at a
    time: input words of ``pe`` ``in_dtype`` elements, output words of ``pe`` ``out_dtype``
    elements, channels fastest. ``requantizer``: the thresholds' affine form on the input range
    (:func:`~hwgen.engines.requantize.requantizer_for`), or None (see :func:`ThresholdUnit`)."""

    channels: int
    pe: int
    in_dtype: DataType
    out_dtype: DataType
    pixels: int
    requantizer: Requantizer = field(default=None, kw_only=True)

    def __post_init__(self):
        require_positive("thresholds", channels=self.channels, pe=self.pe, pixels=self.pixels)
        if self.channels % self.pe:
            raise ValueError(f"thresholds: channels ({self.channels}) must be a multiple of "
                             f"pe ({self.pe})")
        for name in ("in_dtype", "out_dtype"):
            if not isinstance(getattr(self, name), DataType):
                raise ValueError(f"thresholds: {name} must be a DataType, "
                                 f"not {getattr(self, name)!r}")
        if self.in_dtype.bits > 31:
            raise ValueError(f"thresholds: in_dtype {self.in_dtype} is too wide (at most 31 bits)")
        check_activation(self.out_dtype, "thresholds")

    @property
    def folds(self):
        """Words per pixel (channel folds)."""
        return self.channels // self.pe

    @property
    def in_width(self):
        return self.pe * self.in_dtype.bits

    @property
    def out_width(self):
        return self.pe * self.out_dtype.bits

    @property
    def value_range(self):
        """(lo, hi) of the input values."""
        return self.in_dtype.min, self.in_dtype.max

    @property
    def activation(self):
        """The arguments of :func:`threshold_latency`, :func:`threshold_resources` and
        :func:`ThresholdUnit` (after the thresholds) for this engine's unit."""
        return self.channels, self.pe, self.value_range, self.out_dtype, self.requantizer

    def cycles(self):
        """Cycles per frame in steady state: one word per cycle."""
        return self.pixels * self.folds

    @property
    def pipeline_latency(self):
        """Cycles from an input word's transfer to its result's write into the output queue:
        the input register (while the thresholds are read), then :func:`threshold_latency`."""
        return 1 + threshold_latency(*self.activation)

    @property
    def credits(self):
        """Words in flight or queued (:mod:`hwgen.engines.credits`), for one word per cycle."""
        return credits_for(self.pipeline_latency, 1)

    def latency(self):
        """Cycles from an input word's transfer to its output word's (no stalls): the pipeline,
        then the output queue."""
        return self.pipeline_latency + QUEUE_LATENCY

    def resources(self):
        """First-order estimate.

        The unit: :func:`threshold_resources` (thresholds are ``in_dtype`` widened by one bit
        to hold ``max + 1``). Registers: the input word.
        Control: the fold counter and the valid pipeline, a few LUTs and flip-flops.
        Output: the queue and credit counter (:func:`~hwgen.engines.credits.queue_resources`).
        """
        counter_bits = (self.folds - 1).bit_length()
        control = Resources(lut=2 * counter_bits + 2,
                            ff=counter_bits + 2 + self.pipeline_latency)
        return (threshold_resources(*self.activation)
                + Resources(ff=self.in_width) + control
                + queue_resources(self.out_width, self.credits))


class Thresholds(wiring.Component):
    """Standalone multi-threshold engine for :class:`ThresholdsParams`.

    ``thresholds``: (channels, n_thresholds(out_dtype)) integers, see :func:`ThresholdUnit`.
    Streams one word per cycle, each output word ``latency()`` cycles after its input word when
    not stalled; frames follow each other with no gap.
    """

    def __init__(self, params, thresholds):
        self.params = params
        self._unit = ThresholdUnit(thresholds, *params.activation)
        super().__init__({"i": In(stream.Signature(unsigned(params.in_width))),
                          "o": Out(stream.Signature(unsigned(params.out_width)))})

    def elaborate(self, platform):
        p = self.params
        m = Module()
        m.submodules.unit = unit = self._unit
        m.submodules.queue = queue = OutputQueue(p.out_width, p.credits)
        wiring.connect(m, queue.o, wiring.flipped(self.o))

        take = Signal()
        m.d.comb += [self.i.ready.eq(queue.available), take.eq(self.i.valid & self.i.ready),
                     queue.take.eq(take)]
        fold, _, _ = counter(m, take, p.folds, "fold")     # channel fold of the word on the input
        m.d.comb += unit.fold.eq(fold)

        # Input register: the word waits one cycle for its thresholds to be read.
        word = register(m, self.i.payload)
        for lane, code in enumerate(elements(word, p.in_dtype, p.pe)):
            m.d.comb += unit.values[lane].eq(value_of(code, p.in_dtype))
        m.d.comb += [queue.w.payload.eq(unit.codes),
                     queue.w.valid.eq(register(m, take, p.pipeline_latency, reset=True))]
        return m
