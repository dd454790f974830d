"""The engines' on-chip memories: where each one goes on the FPGA, and what it costs there.

Every engine memory is made by :func:`rom` (weights, thresholds) or :func:`ram` (vector and line
buffers), which pick the cheaper of two homes at elaboration and write it into the Verilog as a
``rom_style`` / ``ram_style`` attribute, so that synthesis (Yosys' ``memory_libmap``) and the
resource models (:func:`memory_resources`) agree on it:

- a ROM is ``"block"`` (RAMB18/RAMB36) or ``"logic"``: a distributed ROM in LUTs;
- a RAM is ``"block"`` or ``"distributed"`` (LUT RAM: RAM32M holds 32 x 6 bits, RAM64M 64 x 3
  bits, in four LUTs each).

Block RAM is taken when the other home would cost more than :data:`LUTS_PER_BRAM18` LUTs per
18-kbit block it needs. Counts follow Xilinx 7-series; the choice carries over to other
families (ECP5's DP16KD is also 18 kbit).
"""

from amaranth import unsigned
from amaranth.lib.memory import Memory

from .resources import Resources

__all__ = ["LUTS_PER_BRAM18", "bram18_blocks", "lutram_luts", "lut_cost", "memory_style",
           "memory_resources", "rom", "ram"]

# The LUTs one 18-kbit block RAM is worth. Block RAM is the scarcer resource on a Zynq-7020
# (53,200 LUTs, 280 BRAM18: 190 LUTs each) but the one dataflow designs fill last.
LUTS_PER_BRAM18 = 64

# Words per LUT per bit of a ROM in logic, as Yosys' synth_xilinx maps it (ABC builds shallow
# trees of LUTs rather than one LUT6 per 64 words). Measured on ROMs read by a counter: 16 words
# 1 LUT per bit, 64 words 3, 256 words 16; MVAU weights 64 x 784: 4.1, 128 x 128: 9.4.
ROM_WORDS_PER_LUT = 16

# (words, bits) shapes of one RAMB18: simple dual port up to 36 bits wide.
BRAM18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))


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


def lut_cost(resources):
    """One figure for comparing designs: LUTs, plus block RAMs at :data:`LUTS_PER_BRAM18`."""
    return resources.lut + LUTS_PER_BRAM18 * resources.bram18


def _memory(width, depth, init, writable, attrs=()):
    style = memory_style(depth, width, writable)
    return Memory(shape=unsigned(width), depth=depth, init=init,
                  attrs={"ram_style" if writable else "rom_style": style, **dict(attrs)})


def rom(width, init):
    """A read-only Memory of ``width``-bit words holding ``init``, placed by
    :func:`memory_style`."""
    return _memory(width, len(init), init, writable=False)


def ram(width, depth, *, collision_free=False):
    """A Memory of ``depth`` words of ``width`` bits (zero at reset), placed by
    :func:`memory_style`. ``collision_free``: the caller never uses a read of the address being
    written in the same cycle, so synthesis need not build the read-old-data bypass that block
    RAMs lack (Yosys' ``no_rw_check``; the bypass puts logic after the slow block RAM output)."""
    return _memory(width, depth, [], writable=True,
                   attrs={"no_rw_check": 1} if collision_free else {})
