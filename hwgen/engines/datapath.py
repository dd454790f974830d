"""Datapath building blocks shared by the engines: element access, pipeline registers,
counters with registered flags, registered adder/popcount trees and their cost, and parameter
checks.

Pipelines built from these are free-running, as finn-rtllib's MVU is: no register has a clock
enable, data moves one stage every cycle, and a valid bit travels beside it (the only pipeline
register with a reset). What would otherwise stall them is kept out by issuing work only when
there will be room for its result (:mod:`hwgen.engines.credits`). So no high fan-out enable
exists, and the wide data registers carry no reset.
"""

from amaranth import Cat, Const, Mux, Shape, Signal

from .resources import Resources

__all__ = ["FANIN", "require_positive", "positive_pair", "elements", "value_of", "register", "delay_resources",
           "Counter", "counter", "tree_levels", "sum_tree", "range_bits", "tree_resources",
           "dsp_tree_resources", "DSP_ATTRS", "multiplier_luts"]

# LUTs of a popcount tree per LUT of an adder tree of the same plan: synth_xilinx packs a
# bit-sliced full adder's sum and carry into one LUT6 more often than not. Fitted on the
# popcounts of TFC, SFC, LFC and CNV w1a1 (0.67 to 0.79 for the large ones;
# benchmarks/calibrate.py).
POPCOUNT_LUT_SHARE = 0.72

# Terms added per registered level of an adder tree: two levels of two-input adders (or one
# LUT level of a popcount) between registers.
FANIN = 4


def require_positive(what, **fields):
    """ValueError unless every field is a positive int (``what`` names the engine)."""
    for name, value in fields.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{what}: {name} must be a positive integer, not {value!r}")


def positive_pair(value, name):
    """``k`` or ``(k0, k1)`` -> a tuple of two positive ints; ValueError naming the field."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                                 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, not {value!r}")
    return pair


def elements(word, dtype, count):
    """The ``count`` element codes packed in ``word`` (element i at bits [i*b, (i+1)*b))."""
    b = dtype.bits
    return [word[i * b:(i + 1) * b] for i in range(count)]


def value_of(code, dtype):
    """An Amaranth value holding the true value of a ``dtype`` code (BIPOLAR: 2*code - 1)."""
    if dtype.kind == "BIPOLAR":
        return Cat(Const(1, 1), ~code).as_signed()     # 0b01 = +1, 0b11 = -1
    return code.as_signed() if dtype.kind == "INT" else code.as_unsigned()


def register(m, value, stages=1, shape=None, *, reset=False, attrs=None):
    """``value`` delayed by ``stages`` free-running registers (no enable). Data registers have
    no reset; ``reset=True`` gives them one (valid bits: the pipeline must come out of reset
    empty). ``attrs``: synthesis attributes of the registers."""
    for _ in range(stages):
        reg = Signal(shape if shape is not None else value.shape(), reset_less=not reset,
                     attrs=attrs)
        m.d.sync += reg.eq(value)
        value = reg
    return value


def delay_resources(bits, stages):
    """Cost of :func:`register` delaying ``bits`` bits by ``stages``: flip-flops, or from 3
    stages on a shift-register LUT per bit (SRL16E, SRLC32E: up to 32 stages), as synth_xilinx
    maps chains of reset-less registers (Yosys' shregmap; counted exactly on binary-search
    threshold units)."""
    if stages < 3:
        return Resources(ff=bits * stages)
    return Resources(lut=bits * -(-stages // 32))


class Counter:
    """A counter through ``0 .. modulus - 1`` that wraps to 0, with the flags ``first`` (value
    is 0) and ``last`` (value is ``modulus - 1``) kept in registers beside it, so that the logic
    they gate (a stream's ready, a memory's enable) starts from flip-flops rather than from a
    comparator. ``next_last`` is what ``last`` becomes after a step; :meth:`step` gives the
    statements of one step."""

    def __init__(self, modulus, name):
        self.modulus = modulus
        self.value = Signal(range(modulus), name=name)
        self.first = Signal(init=1, name=f"{name}_first")
        self.last = Signal(init=modulus == 1, name=f"{name}_last")
        self.next_last = Mux(self.last, modulus == 1, self.value == modulus - 2)

    def step(self):
        """Statements that advance the counter by one (for ``m.d.sync``)."""
        return [self.value.eq(Mux(self.last, 0, self.value + 1)), self.first.eq(self.last),
                self.last.eq(self.next_last)]


def counter(m, advance, modulus, name):
    """A :class:`Counter` that steps on the cycles ``advance`` is high; returns its ``(value,
    first, last)``."""
    count = Counter(modulus, name)
    with m.If(advance):
        m.d.sync += count.step()
    return count.value, count.first, count.last


def _tree_plan(terms):
    """The structure of :func:`sum_tree` over ``terms`` terms: per registered level, the groups
    of nodes added into one register, as (first node, nodes in the group, original terms it
    covers)."""
    plan, nodes = [], [1] * terms
    while len(nodes) > 1:
        level = [(k, len(nodes[k:k + FANIN]), sum(nodes[k:k + FANIN]))
                 for k in range(0, len(nodes), FANIN)]
        plan.append(level)
        nodes = [covered for _, _, covered in level]
    return plan


def dsp_tree_resources(terms, lo, hi):
    """The part of :func:`tree_resources` that Yosys' xilinx_dsp packs into DSP48s when the
    terms are DSP48 products: a first-level group added as a chain (``a + b``, ``(a + b) + c``)
    goes whole into the DSPs' post-adders, linked by their cascade (PCIN), its register into
    the last one's P register; of a group of four, ``(a + b) + (c + d)``, only the two pairs
    do, the last adder and the register staying in logic."""
    plan = _tree_plan(terms)
    lut = ff = 0
    for _, size, covered in plan[0] if plan else ():
        if size <= 3:
            width = range_bits(covered * lo, covered * hi)
            lut, ff = lut + width * (size - 1), ff + width
        else:
            lut += size // 2 * range_bits(2 * lo, 2 * hi)
    return Resources(lut=lut, ff=ff)


def tree_levels(terms):
    """Registered levels of :func:`sum_tree` over ``terms`` terms (0 for a single term)."""
    return len(_tree_plan(terms))


def sum_tree(m, terms, lo, hi):
    """Sum of ``terms`` (each in [lo, hi]) by a tree of adders, registered every level.

    Each level adds groups of up to :data:`FANIN` nodes (balanced, so two adders deep) into a
    register sized exactly for the range it can hold. Returns the sum; it lags the terms by
    :func:`tree_levels` cycles. With 1-bit terms (``lo, hi = 0, 1``) this is a
    popcount, computed on bit planes (:func:`_popcount_tree`).
    """
    if (lo, hi) == (0, 1):
        return _popcount_tree(m, Cat(*terms))
    return _adder_tree(m, terms, lo, hi)


def _adder_tree(m, terms, lo, hi):
    """:func:`sum_tree` by adders of whole numbers."""
    nodes = list(terms)
    for level in _tree_plan(len(nodes)):
        sums = []
        for first, size, covered in level:
            group = nodes[first:first + size]
            while len(group) > 1:    # balanced: (a + b) + (c + d)
                group = [a + b for a, b in zip(group[::2], group[1::2])] + group[len(group) & ~1:]
            shape = Shape.cast(range(covered * lo, covered * hi + 1))
            sums.append(register(m, group[0], shape=shape))
        nodes = sums
    return nodes[0]


def _popcount_tree(m, bits):
    """:func:`sum_tree` of the bits of ``bits``, computed on bit planes.

    The levels, and the groups of up to :data:`FANIN` nodes in each, number as in
    :func:`_tree_plan`, but a group takes every g-th node (g: the nodes of the next level)
    rather than neighbouring ones, so the group sizes can differ (10 terms: 4 + 3 + 3 rather
    than 4 + 4 + 2); and every node of a level gets the bits of the largest (the ones that are
    always zero are constants to the synthesizer). Same sum, same latency.

    Why: a level is held as bit planes, plane i holding bit i of every node, so slice j of every
    plane holds the j-th addend of every group, and one bit-sliced adder (:func:`_add_planes`)
    serves all the groups of a level with a few logic operations on whole words. Verilator
    would otherwise count the ones of every pair of terms with a call (most of the time of a
    binarized network's simulation). The last level, of at most :data:`FANIN` nodes, adds
    whole numbers, cheaper than planes of one bit each.
    """
    planes, nodes, most = [bits], len(bits), 1     # most: the largest count a node can hold
    while nodes > FANIN:
        groups = -(-nodes // FANIN)
        addends = [[plane[j * groups:(j + 1) * groups] for plane in planes]
                   for j in range(-(-nodes // groups))]
        while len(addends) > 1:    # balanced: (a + b) + (c + d)
            addends = ([_add_planes(m, a, b) for a, b in zip(addends[::2], addends[1::2])]
                       + addends[len(addends) & ~1:])
        most = min(most * FANIN, len(bits))
        planes = addends[0][:most.bit_length()]
        # The first addend is a whole slice and the bitwise operations take the width of their
        # widest operand, so every plane is `groups` bits wide and the level packs them evenly.
        assert all(len(plane) == groups for plane in planes)
        level = register(m, Cat(*planes))
        planes = [level[i * groups:(i + 1) * groups] for i in range(len(planes))]
        nodes = groups
    values = [Cat(*(plane[k] for plane in planes)) for k in range(nodes)]
    return _adder_tree(m, values, 0, most)


def _add_planes(m, a, b):
    """Bit-sliced sum of two numbers given as bit planes (least significant first): a
    ripple-carry adder in every bit position of the planes at once.

    Every carry is a signal of its own: it feeds two expressions of the next bit, and Amaranth
    writes an expression out again at every use, so inline carries would double the Verilog at
    every bit. Only the carries: Verilator keeps each such signal as a variable, which costs
    where it splits a large model into several functions (measured on CNV-w1a1)."""
    def carry_signal(value):
        signal = Signal(len(value), name="carry")
        m.d.comb += signal.eq(value)
        return signal

    total, carry = [], None
    for i in range(max(len(a), len(b))):
        bits = [x for x in (a[i] if i < len(a) else None, b[i] if i < len(b) else None, carry)
                if x is not None]
        if len(bits) == 1:
            total.append(bits[0])
            carry = None
        elif len(bits) == 2:
            total.append(bits[0] ^ bits[1])
            carry = carry_signal(bits[0] & bits[1])
        else:
            x, y, z = bits
            total.append(x ^ y ^ z)
            carry = carry_signal((x & y) | (z & (x ^ y)))
    return total if carry is None else total + [carry]


def range_bits(lo, hi):
    """Bits of the narrowest shape holding [lo, hi]."""
    return Shape.cast(range(lo, hi + 1)).width


def tree_resources(terms, lo, hi):
    """First-order cost of one :func:`sum_tree`: one LUT per adder output bit (carry chain),
    one flip-flop per register bit; a popcount's bit-sliced adders take
    :data:`POPCOUNT_LUT_SHARE` of those LUTs."""
    lut = ff = 0
    for level in _tree_plan(terms):
        for _, size, covered in level:
            width = range_bits(covered * lo, covered * hi)
            lut += width * (size - 1)
            ff += width
    if (lo, hi) == (0, 1):
        lut = round(lut * POPCOUNT_LUT_SHARE)
    return Resources(lut=lut, ff=ff)


# On a DSP unit's product registers. Vivado's own attribute (a multiply into a signal marked
# so goes to a DSP); hwgen's Yosys scripts map the multipliers of modules holding such a
# signal to DSPs and keep every other module's in LUTs (:mod:`hwgen.synthesis`).
DSP_ATTRS = {"use_dsp": "yes"}


def multiplier_luts(a, b):
    """LUTs of one a x b LUT multiplier (DataTypes), fitted to Yosys synth_xilinx -nodsp on
    registered products of 1 to 8 bits (within about 20%): ``a*b*(min + 2)/4``, i.e. one LUT
    per partial-product bit plus adders that grow with the narrower operand; AND
    gates (one LUT per bit) when an operand is 1 bit; a conditional negation
    (:func:`hwgen.engines.mvau.product`:
    one LUT per bit of the negated value, within 2% of Yosys on a UINT8 x BIPOLAR unit, 7% at
    INT4) when an operand is BIPOLAR.
    """
    if a.kind == "BIPOLAR" or b.kind == "BIPOLAR":
        return (b.bits if a.kind == "BIPOLAR" else a.bits) + 1
    narrow, wide = sorted((a.bits, b.bits))
    return wide if narrow == 1 else -(-narrow * wide * (narrow + 2) // 4)
