"""AxiStreamTop's frame signals in Amaranth's simulator: m_axis_tlast on the last word of every
output frame, and the sticky tlast_error for an s_axis_tlast that ends a packet inside a frame.

tests/test_verilator.py checks the same ports on the emitted Verilog through the harness.
"""

import random
from dataclasses import dataclass, field

import pytest
from amaranth.sim import Simulator

from hwgen.compiler.pipeline import AxiStreamTop
from hwgen.engines.width_converter import WidthConverter, WidthConverterParams

IN_FRAME, OUT_FRAME = 4, 2     # words per frame: 4 bytes in, 2 words of 2 bytes out
HALF_PERIOD = 5e-9


def make_top():
    core = WidthConverter(WidthConverterParams(1, 2, 8, IN_FRAME))
    return AxiStreamTop(core, in_frame_words=IN_FRAME, out_frame_words=OUT_FRAME)


@dataclass
class Run:
    outputs: list = field(default_factory=list)     # (tdata, tlast) of each output transfer
    errors: list = field(default_factory=list)      # tlast_error in each cycle after reset
    error_after_reset: int = None                   # tlast_error once ap_rst_n was pulsed low


def drive(tlast_at, n_frames, *, gap_prob=0.0, stall_prob=0.0, seed=0):
    """Streams ``n_frames`` input frames of bytes 0, 1, 2... into :func:`make_top`, raising
    s_axis_tlast on word n when ``tlast_at(n)``, with random gaps and stalls; then pulses
    ap_rst_n low. Fails if m_axis breaks the stream rules (tdata or tlast changed while
    stalled)."""
    dut = make_top()
    n_inputs, n_outputs = n_frames * IN_FRAME, n_frames * OUT_FRAME
    rng = random.Random(seed)
    run = Run()

    async def cycle(ctx):
        """One clock cycle: inputs already set; returns the outputs sampled before the edge."""
        ctx.set(dut.ap_clk, 0)
        await ctx.delay(HALF_PERIOD)
        sampled = {name: ctx.get(getattr(dut, name)) for name in (
            "s_axis_tready", "m_axis_tvalid", "m_axis_tdata", "m_axis_tlast", "tlast_error")}
        ctx.set(dut.ap_clk, 1)
        await ctx.delay(HALF_PERIOD)
        return sampled

    async def bench(ctx):
        ctx.set(dut.ap_rst_n, 0)
        for _ in range(2):
            await cycle(ctx)
        ctx.set(dut.ap_rst_n, 1)
        n_in, offering, pending = 0, False, None
        for _ in range(50 * n_inputs):
            if not offering and n_in < n_inputs and rng.random() >= gap_prob:
                ctx.set(dut.s_axis_tdata, n_in & 0xff)
                ctx.set(dut.s_axis_tlast, tlast_at(n_in))
                offering = True
            ctx.set(dut.s_axis_tvalid, offering)
            ready = rng.random() >= stall_prob
            ctx.set(dut.m_axis_tready, ready)
            out = await cycle(ctx)
            run.errors.append(out["tlast_error"])
            word = (out["m_axis_tdata"], out["m_axis_tlast"])
            assert pending is None or (out["m_axis_tvalid"] and word == pending), \
                f"m_axis changed while stalled: {pending} became {word}"
            pending = None
            if offering and out["s_axis_tready"]:
                n_in, offering = n_in + 1, False
            if out["m_axis_tvalid"] and ready:
                run.outputs.append(word)
            elif out["m_axis_tvalid"]:
                pending = word
            if len(run.outputs) == n_outputs:
                break
        ctx.set(dut.s_axis_tvalid, 0)
        ctx.set(dut.ap_rst_n, 0)
        await cycle(ctx)
        ctx.set(dut.ap_rst_n, 1)
        for _ in range(AxiStreamTop.RESET_DELAY + 1):
            out = await cycle(ctx)
        run.error_after_reset = out["tlast_error"]

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert len(run.outputs) == n_outputs
    return run


def every_frame(n):
    return n % IN_FRAME == IN_FRAME - 1


@pytest.mark.parametrize("seed, gap_prob, stall_prob", [(0, 0.0, 0.0), (1, 0.3, 0.6),
                                                        (2, 0.6, 0.3)])
def test_m_axis_tlast_on_the_last_word_of_every_output_frame(seed, gap_prob, stall_prob):
    run = drive(every_frame, 6, gap_prob=gap_prob, stall_prob=stall_prob, seed=seed)
    expected = [((2 * n + 1) << 8 | 2 * n, n % OUT_FRAME == OUT_FRAME - 1) for n in range(12)]
    assert run.outputs == expected
    assert not any(run.errors)


@pytest.mark.parametrize("name, tlast_at", [
    ("every frame", every_frame),
    ("packets of three frames", lambda n: n % (3 * IN_FRAME) == 3 * IN_FRAME - 1),
    ("held low (no TLAST)", lambda n: False),
    ("held high (no TLAST, tied high)", lambda n: True),
])
def test_tlast_on_frame_ends_is_no_error(name, tlast_at):
    run = drive(tlast_at, 6, gap_prob=0.3, stall_prob=0.3, seed=3)
    assert not any(run.errors), name


@pytest.mark.parametrize("name, tlast_at, first_bad_word", [
    ("packets of 3 words", lambda n: n % 3 == 2, 2),
    ("one packet of 5 words, then frames", lambda n: n == 4 or (n > 4 and every_frame(n)), 4),
    ("high from the second frame on", lambda n: n >= IN_FRAME, IN_FRAME),
])
def test_tlast_inside_a_frame_sets_a_sticky_error_until_reset(name, tlast_at, first_bad_word):
    """Without gaps, input word n is taken in cycle n + RESET_DELAY, and tlast_error rises
    TLAST_ERROR_DELAY cycles after the bad word's; it stays set (the stream goes on, every
    output word right) until ap_rst_n is pulsed low."""
    run = drive(tlast_at, 6)
    rise = run.errors.index(1)
    assert rise == first_bad_word + AxiStreamTop.RESET_DELAY + AxiStreamTop.TLAST_ERROR_DELAY, name
    assert all(run.errors[rise:])
    assert [word for word, _ in run.outputs] == [(2 * n + 1) << 8 | 2 * n for n in range(12)]
    assert run.error_after_reset == 0

