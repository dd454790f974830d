"""The engines' on-chip memories: where each one goes on the FPGA, and what it costs there.

Every engine memory is a :class:`ReadOnlyMemory` (weights, thresholds) or :func:`ram` (vector and line
buffers), which pick the cheaper of two homes at elaboration and write it into the Verilog as a
``rom_style`` / ``ram_style`` attribute, so that synthesis (Yosys' ``memory_libmap``) and the
resource models (:func:`memory_resources`, :func:`rom_resources`) agree on it:

- a ROM is ``"block"`` (RAMB18/RAMB36) or ``"logic"``: a distributed ROM in LUTs;
- a RAM is ``"block"`` or ``"distributed"`` (LUT RAM: RAM32M holds 32 x 6 bits, RAM64M 64 x 3
  bits, in four LUTs each).

Block RAM is taken when the other home would cost more than :data:`LUTS_PER_BRAM18` LUTs per
18-kbit block it needs. Counts follow Xilinx 7-series; the choice carries over to other
families (ECP5's DP16KD is also 18 kbit).

A ROM is read at a fixed latency (:func:`rom_latency`) with no block RAM output feeding logic:
in block RAM its read data is registered once more, and a ROM deeper than one block is banked
one block deep, each bank's read data registered before a tree of registered multiplexers picks
the word (a block RAM's output is slow: 5.8 ns on an ECP5 DP16KD, which Yosys maps without its
output register; behind a multiplexer over dozens of blocks it set CNV's clock at 75 MHz).
"""

from amaranth import Array, Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .datapath import register
from .resources import Resources

__all__ = ["LUTS_PER_BRAM18", "LUTS_PER_DSP", "SELECT_FANIN", "bram18_blocks", "lutram_luts", "lut_cost",
           "memory_style", "memory_resources", "bank_words", "rom_latency", "rom_resources",
           "ReadOnlyMemory", "ram"]

# The LUTs one 18-kbit block RAM is worth. Block RAM is the scarcer resource on a Zynq-7020
# (53,200 LUTs, 280 BRAM18: 190 LUTs each) but the one dataflow designs fill last.
LUTS_PER_BRAM18 = 64

# The LUTs one DSP48 is worth, on the same reasoning: a third of the Zynq-7020's 242 LUTs per
# DSP (53,200 LUTs, 220 DSP48E1), as LUTS_PER_BRAM18 is about a third of its 190 per block.
# A DSP lane then pays off from products of about 6 x 6 bits (a 72-LUT multiplier) up.
LUTS_PER_DSP = 80

# Words per LUT per bit of a ROM in logic, as Yosys' synth_xilinx maps it (ABC builds shallow
# trees of LUTs rather than one LUT6 per 64 words). Measured on ROMs read by a counter: 16 words
# 1 LUT per bit, 64 words 3, 256 words 16; MVAU weights 64 x 784: 4.1, 128 x 128: 9.4.
ROM_WORDS_PER_LUT = 16

# (words, bits) shapes of one RAMB18: simple dual port up to 36 bits wide.
BRAM18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))

# Banks a registered multiplexer stage of a banked ROM chooses between: one LUT6 and two wide
# multiplexers (MUXF7, MUXF8) on 7-series, two LUT4 levels and their multiplexers on ECP5.
SELECT_FANIN = 16


def _ceil(a, b):
    return -(-a // b)


def bram18_blocks(depth, width):
    """18-kbit block RAMs holding ``depth`` words of ``width`` bits, in their best shape."""
    return min(_ceil(depth, words) * _ceil(width, bits) for words, bits in BRAM18_SHAPES)


def _rom_luts(depth, width):
    """LUTs of a ROM in logic: a LUT per bit per :data:`ROM_WORDS_PER_LUT` words."""
    return width * _ceil(depth, ROM_WORDS_PER_LUT)


def lutram_luts(depth, width):
    """LUTs of a LUT RAM: RAM32M (32 x 6 bits) or RAM64M banks (64 x 3 bits), four LUTs each,
    and a LUT per bit per extra bank to select the read word."""
    if depth <= 32:
        return 4 * _ceil(width, 6)
    banks = _ceil(depth, 64)
    return 4 * _ceil(width, 3) * banks + width * (banks - 1)


def _placement(depth, width, writable):
    """(style, LUTs if not in block RAM, block RAMs if in block RAM): the cheaper home."""
    luts = lutram_luts(depth, width) if writable else _rom_luts(depth, width)
    blocks = bram18_blocks(depth, width)
    if luts > LUTS_PER_BRAM18 * blocks:
        return "block", 0, blocks
    return "distributed" if writable else "logic", luts, 0


def memory_style(depth, width, writable):
    """``"block"``, or ``"distributed"`` (RAM) / ``"logic"`` (ROM), whichever costs less."""
    return _placement(depth, width, writable)[0]


def memory_resources(depth, width, writable):
    """Cost of a memory with one synchronous read port where :func:`memory_style` puts it: the
    block RAMs, or the LUTs plus the read register (inside a block RAM, in flip-flops else).
    A one-word ROM is a constant and costs nothing."""
    if depth == 1 and not writable:
        return Resources()
    _, luts, blocks = _placement(depth, width, writable)
    return Resources(bram18=blocks) if blocks else Resources(lut=luts, ff=width)


def bank_words(width):
    """Words of a ROM bank for ``width``-bit words: one block deep, the deepest block shape at
    least ``width`` wide (wider words take several blocks side by side)."""
    return max((words for words, bits in BRAM18_SHAPES if bits >= width), default=512)


def _select_levels(banks):
    """Registered :data:`SELECT_FANIN`-way multiplexer levels that pick one of ``banks``."""
    levels = 0
    while banks > 1:
        banks, levels = _ceil(banks, SELECT_FANIN), levels + 1
    return levels


def _banks(depth, width):
    """Banks of a ROM in block RAM (one bank when it fits one block deep)."""
    return _ceil(depth, bank_words(width))


def rom_latency(depth, width):
    """Cycles from a :class:`ReadOnlyMemory`'s address to its data: 1 in logic (the read
    register); in block RAM 2 (the read data registered once more, a register that synthesis
    can move into the block: OUTREG, DOA_REG), plus a level per registered multiplexer stage
    when it is banked."""
    if memory_style(depth, width, writable=False) != "block":
        return 1
    return 2 + _select_levels(_banks(depth, width))


def rom_resources(depth, width):
    """Cost of a :class:`ReadOnlyMemory`: its memories (:func:`memory_resources`, per bank) and
    the registers of its read data and multiplexer tree."""
    if memory_style(depth, width, writable=False) != "block":
        return memory_resources(depth, width, writable=False)
    size = bank_words(width)
    total = Resources()
    for start in range(0, depth, size):
        total += memory_resources(min(size, depth - start), width, writable=False)
    words = _banks(depth, width)      # registered: each bank's read data, then each level's
    total += Resources(ff=words * width)
    while words > 1:
        groups = [min(SELECT_FANIN, words - g) for g in range(0, words, SELECT_FANIN)]
        # A 4:1 multiplexer per LUT6 (the wide multiplexers that join them are free).
        total += Resources(lut=width * sum(_ceil(g, 4) for g in groups if g > 1),
                           ff=len(groups) * width)
        words = len(groups)
    return total


def lut_cost(resources):
    """One figure for comparing designs: LUTs, plus block RAMs at :data:`LUTS_PER_BRAM18` and
    DSPs at :data:`LUTS_PER_DSP`."""
    return resources.lut + LUTS_PER_BRAM18 * resources.bram18 + LUTS_PER_DSP * resources.dsp


def _memory(width, depth, init, writable, attrs=()):
    style = memory_style(depth, width, writable)
    return Memory(shape=unsigned(width), depth=depth, init=init,
                  attrs={"ram_style" if writable else "rom_style": style, **dict(attrs)})


class ReadOnlyMemory(wiring.Component):
    """The words ``init`` of ``width`` bits, read free-running (no enable) at a fixed latency.

    ``data`` is the word at the ``addr`` of :attr:`latency` cycles before (:func:`rom_latency`).
    In logic, one memory and its read register. In block RAM, banks of :func:`bank_words` words
    (one block deep, each placed by :func:`memory_style`), each bank's read data registered,
    then :data:`SELECT_FANIN`-way multiplexers, registered, pick the word by the address' high
    bits (delayed beside the data).
    """

    def __init__(self, width, init):
        self.width, self.init = width, list(init)
        self.latency = rom_latency(len(self.init), width)
        super().__init__({"addr": In(range(len(self.init))), "data": Out(width)})

    def elaborate(self, platform):
        m = Module()
        depth = len(self.init)
        size = depth if self.latency == 1 else min(depth, bank_words(self.width))
        reads = []
        for bank, start in enumerate(range(0, depth, size)):
            memory = m.submodules[f"bank{bank}"] = _memory(
                self.width, min(size, depth - start), self.init[start:start + size], False)
            read = memory.read_port()
            m.d.comb += read.addr.eq(self.addr[:(size - 1).bit_length()])
            reads.append(read.data)
        if self.latency == 1:
            m.d.comb += self.data.eq(reads[0])
            return m
        words = [register(m, data) for data in reads]
        bank = register(m, self.addr[(size - 1).bit_length():], 2)
        step = (SELECT_FANIN - 1).bit_length()
        while len(words) > 1:
            select, bank = bank[:step], bank[step:]
            words = [register(m, self._pick(words[g:g + SELECT_FANIN], select))
                     for g in range(0, len(words), SELECT_FANIN)]
            bank = register(m, bank)
        m.d.comb += self.data.eq(words[0])
        return m

    @staticmethod
    def _pick(group, select):
        """The word of ``group`` that ``select`` names, by a multiplexer defined for every
        value of ``select`` (the last word repeated): none is left to a simulator's choice."""
        if len(group) == 1:
            return group[0]
        return Array(group + group[-1:] * ((1 << len(select)) - len(group)))[select]


def ram(width, depth, *, collision_free=False):
    """A Memory of ``depth`` words of ``width`` bits (zero at reset), placed by
    :func:`memory_style`. ``collision_free``: the caller never uses a read of the address being
    written in the same cycle, so synthesis need not build the read-old-data bypass that block
    RAMs lack (Yosys' ``no_rw_check``; the bypass puts logic after the slow block RAM output)."""
    return _memory(width, depth, [], writable=True,
                   attrs={"no_rw_check": 1} if collision_free else {})
