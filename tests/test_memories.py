"""Memory placement: block RAM counts in the primitives' shapes, the block/LUT choice, the
placement reaching the Verilog as an attribute, and ROMs read at their stated latency however
they are banked."""

import numpy as np
import pytest
from amaranth import Module
from amaranth.back import verilog
from amaranth.sim import Simulator
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwgen.engines.memories import (LUTS_PER_BRAM18, ReadOnlyMemory, bank_words, bram18_blocks,
                                    memory_resources, memory_style, ram, rom_latency,
                                    rom_resources)
from hwgen.engines.resources import Resources
from hwgen.simulation.verilator import lint


def test_bram18_blocks_in_best_shape():
    assert bram18_blocks(512, 36) == 1           # 512 x 36
    assert bram18_blocks(513, 36) == 2
    assert bram18_blocks(1024, 18) == 1          # 1024 x 18
    assert bram18_blocks(16384, 1) == 1          # 16384 x 1
    assert bram18_blocks(64, 784) == 22          # shallow and wide: 22 x 36 bits
    assert bram18_blocks(2048, 10) == 2          # 1024 x 18 or 2048 x 9: two either way


def test_rom_placement():
    """A 16-word ROM is a LUT per bit: logic. A 64-word one wide enough to fill block RAMs'
    width goes there; so do deep ones."""
    assert memory_style(16, 784, writable=False) == "logic"
    assert memory_resources(16, 784, writable=False) == Resources(lut=784, ff=784)
    assert memory_style(64, 784, writable=False) == "block"
    assert memory_resources(64, 784, writable=False) == Resources(bram18=22)
    assert memory_style(512, 1568, writable=False) == "block"
    assert memory_resources(512, 1568, writable=False) == Resources(bram18=44)
    assert memory_resources(1, 32, writable=False) == Resources()     # a constant


def test_ram_placement():
    """RAM32M holds 32 x 6 bits in four LUTs; a deep buffer goes to block RAM."""
    assert memory_style(32, 32, writable=True) == "distributed"
    assert memory_resources(32, 32, writable=True) == Resources(lut=4 * 6, ff=32)
    assert memory_style(1024, 32, writable=True) == "block"


def test_choice_is_the_cheaper():
    for depth in (16, 64, 128, 256, 512, 2048):
        for width in (1, 8, 64, 512):
            for writable in (False, True):
                style = memory_style(depth, width, writable)
                cost = memory_resources(depth, width, writable)
                blocks = bram18_blocks(depth, width)
                if style == "block":
                    assert cost.lut == 0 and cost.bram18 == blocks
                else:
                    assert cost.bram18 == 0 and cost.lut <= LUTS_PER_BRAM18 * blocks


class _Reader(wiring.Component):
    addr: In(range(4096))
    data: Out(16)

    def __init__(self, memory):
        self.memory = memory
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.memory = self.memory
        read = self.memory.read_port()
        m.d.comb += [read.addr.eq(self.addr), self.data.eq(read.data)]
        return m


def test_placement_reaches_the_verilog():
    text = verilog.convert(ReadOnlyMemory(16, list(range(8))), name="rom", emit_src=False)
    assert '(* rom_style = "logic" *)' in text
    text = verilog.convert(_Reader(ram(16, 4096)), name="reader", emit_src=False)
    assert '(* ram_style = "block" *)' in text


# (depth, width): in logic; one block; banks under one multiplexer level; under two levels
# (18 banks of 512 x 36 and a last one of 5 words, which goes to logic).
ROM_SHAPES = [(16, 8), (512, 36), (4 * 1024 + 7, 18), (17 * 512 + 5, 32)]


def test_rom_latency_and_cost_by_shape():
    assert [rom_latency(d, w) for d, w in ROM_SHAPES] == [1, 2, 3, 4]
    assert [bank_words(w) for _, w in ROM_SHAPES] == [2048, 512, 1024, 512]
    # Banked, the blocks are those of one deep memory; each bank's read data is registered,
    # then each multiplexer's output.
    assert rom_resources(4 * 1024 + 7, 18).bram18 == 4      # the 7 words: in logic
    assert rom_resources(17 * 512, 32) == Resources(lut=32 * (4 + 1), ff=32 * (17 + 2 + 1),
                                                    bram18=17)
    assert rom_resources(512, 36) == Resources(ff=36, bram18=1)


def test_banked_rom_verilog_has_a_memory_per_bank():
    text = verilog.convert(ReadOnlyMemory(32, list(range(17 * 512 + 5))), name="rom",
                           emit_src=False)
    assert text.count('(* rom_style = "block" *)') == 17
    assert text.count('(* rom_style = "logic" *)') == 1


@pytest.mark.parametrize("depth, width", ROM_SHAPES)
def test_rom_reads_every_address_at_its_latency(depth, width):
    """A new random address every cycle; the data follows exactly ``latency`` cycles later."""
    rng = np.random.default_rng(depth)
    init = [int(v) for v in rng.integers(0, 1 << width, depth, dtype=np.uint64)]
    rom = ReadOnlyMemory(width, init)
    addresses = [int(a) for a in rng.integers(0, depth, 400)] + [0, depth - 1]

    async def bench(ctx):
        for cycle, addr in enumerate(addresses + [0] * rom.latency):
            ctx.set(rom.addr, addr)
            if cycle >= rom.latency:
                assert ctx.get(rom.data) == init[addresses[cycle - rom.latency]], cycle
            await ctx.tick()

    sim = Simulator(rom)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("depth, width", ROM_SHAPES)
def test_rom_verilog_lints_clean(depth, width, tmp_path):
    """Every multiplexer of a banked ROM is defined for every select value (Verilator, which
    `hwgen sim` runs, refuses an incomplete case)."""
    path = tmp_path / "rom.v"
    path.write_text(verilog.convert(ReadOnlyMemory(width, list(range(depth))), name="rom",
                                    emit_src=False))
    assert lint(path, "rom") == ""
