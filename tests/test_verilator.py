"""Verilator back end: emitted Verilog against exact expectations and Amaranth's simulator.

Each design is a small core (a StreamFIFO or WidthConverter) behind hwgen's AxiStreamTop, compiled
once per test session into the session's cache; every run checks m_axis_tlast on every output word
and that tlast_error stays low. Widths 8, 64, 72 and 200 bits appear on both ports (ports above
64 bits are VlWide arrays in Verilator). Amaranth's simulator runs the core alone, whose streams
open at cycle 0; AxiStreamTop registers its reset, so in Verilator every transfer comes
AxiStreamTop.RESET_DELAY cycles later.
"""

import math
import random
import subprocess
import sys
import textwrap

import pytest
from amaranth import Module, Signal, unsigned
from amaranth.back import verilog
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen.compiler.pipeline import AxiStreamTop
from hwgen.datatypes import DataType, pack, unpack
from hwgen.engines.stream_fifo import StreamFIFO, StreamFIFOParams
from hwgen.engines.width_converter import WidthConverter, WidthConverterParams
from hwgen.simulation import verilator as verilator_module
from hwgen.simulation.streams import run_stream
from hwgen.simulation.taps import Tap, verilator_name, verilog_with_probes
from hwgen.simulation.verilator import SimulationError, VerilatorSim

UINT8 = DataType("UINT", 8)
DELAY = AxiStreamTop.RESET_DELAY


class Broken(wiring.Component):
    """A one-word register slice (8 bits) that misbehaves on purpose, chosen by the word it
    holds: 0xCC changes to 0xCD while offered and not taken; 0xDD, once taken, is offered again
    as 0xDE (one word too many); 0xEE is never offered, and the slice takes nothing more
    (a deadlock)."""

    def __init__(self):
        super().__init__({"i": In(stream.Signature(unsigned(8))),
                          "o": Out(stream.Signature(unsigned(8)))})

    def elaborate(self, platform):
        m = Module()
        data, full = Signal(8), Signal()
        m.d.comb += [self.o.payload.eq(data), self.o.valid.eq(full & (data != 0xEE)),
                     self.i.ready.eq(~full)]
        with m.If(self.o.valid & self.o.ready):
            with m.If(data == 0xDD):
                m.d.sync += data.eq(0xDE)
            with m.Else():
                m.d.sync += full.eq(0)
        with m.Elif(self.o.valid & (data == 0xCC)):
            m.d.sync += data.eq(0xCD)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [data.eq(self.i.payload), full.eq(1)]
        return m


def converter(in_elems, out_elems):
    """Bytes regrouped from words of ``in_elems`` into words of ``out_elems``, frames of four
    times their lcm; (factory, input words per frame, output words per frame)."""
    frame = 4 * math.lcm(in_elems, out_elems)
    return (lambda: WidthConverter(WidthConverterParams(in_elems, out_elems, 8, frame)),
            frame // in_elems, frame // out_elems)


# name -> (core factory, input words per frame, output words per frame). Between them, every
# width of 8, 64, 72 and 200 bits is both an input and an output; the converters need one stage
# (8 -> 72, 200 -> 8) or two through the lcm (72 -> 576 -> 64, 64 -> 1600 -> 200).
DESIGNS = {
    "fifo8": (lambda: StreamFIFO(StreamFIFOParams(8, 4)), 4, 4),
    "conv8to72": converter(1, 9),
    "conv72to64": converter(9, 8),
    "conv64to200": converter(8, 25),
    "conv200to8": converter(25, 1),
    "broken": (Broken, 3, 3),
}


def core(name):
    return DESIGNS[name][0]()


def frame_words(name):
    return DESIGNS[name][1:]


def emit(name):
    top = AxiStreamTop(core(name), in_frame_words=DESIGNS[name][1],
                       out_frame_words=DESIGNS[name][2])
    return verilog.convert(top, name=name, emit_src=False)


@pytest.fixture(scope="module")
def cache_dir(hwgen_cache):
    """The session's Verilator cache: the run-time library compiled for an earlier test's build
    serves these too."""
    return hwgen_cache / "verilator"


@pytest.fixture(scope="module")
def sims(cache_dir):
    """Compiles each design on first use and keeps the simulator (and its build) for the
    module; records the progress callbacks of each compilation."""
    built, progress = {}, {}

    def get(name):
        if name not in built:
            progress[name] = []
            sim = VerilatorSim(emit(name), cache_dir=cache_dir, progress=progress[name].append,
                               frame_words=frame_words(name))
            sim.build()
            built[name] = sim
        return built[name]
    get.progress = progress
    return get


def with_frames(sims, name, frame_words):
    """Design ``name``'s simulator (a cache hit) told other frame lengths: the harness then
    raises s_axis_tlast and expects m_axis_tlast at those."""
    built = sims(name)
    sim = VerilatorSim(built.verilog, cache_dir=built.cache_dir, frame_words=frame_words)
    assert sim.build().cached
    return sim


def repacked(words, in_elems, out_elems):
    return pack(unpack(words, UINT8, in_elems), UINT8, out_elems)


def random_words(bits, count, seed):
    rng = random.Random(seed)
    return [rng.getrandbits(bits) for _ in range(count)]


@pytest.mark.parametrize("name, in_elems, out_elems", [
    ("fifo8", 1, 1), ("conv8to72", 1, 9), ("conv72to64", 9, 8), ("conv64to200", 8, 25),
    ("conv200to8", 25, 1)])
def test_matches_amaranth_cycle_for_cycle(sims, name, in_elems, out_elems):
    """Without gaps or stalls, the emitted Verilog in Verilator and the core in Amaranth's
    simulator give the same words at the same cycles but for the top level's reset delay (see
    the module docstring)."""
    sim = sims(name)
    assert (sim.in_bits, sim.out_bits) == (8 * in_elems, 8 * out_elems)
    words = random_words(sim.in_bits, 3 * frame_words(name)[0], seed=1)
    expected = repacked(words, in_elems, out_elems)
    reference = run_stream(core(name), words, len(expected))
    run = sim.run(words, len(expected))
    assert run.outputs == expected == reference.outputs
    assert run.output_cycles == [cycle + DELAY for cycle in reference.output_cycles]
    assert run.input_cycles == [cycle + DELAY for cycle in reference.input_cycles]
    assert run.cycles == reference.cycles + DELAY
    assert run.total_cycles > run.cycles and run.seconds > 0


@pytest.mark.parametrize("name, in_elems, out_elems", [
    ("fifo8", 1, 1), ("conv8to72", 1, 9), ("conv72to64", 9, 8), ("conv64to200", 8, 25),
    ("conv200to8", 25, 1)])
@pytest.mark.parametrize("seed, gap_prob, stall_prob", [(1, 0.5, 0.0), (2, 0.0, 0.5),
                                                        (3, 0.4, 0.6)])
def test_gaps_and_stalls(sims, name, in_elems, out_elems, seed, gap_prob, stall_prob):
    """Random input gaps and output stalls change the timing, not the words; the run is
    reproducible from its seed and its transfers are in order."""
    sim = sims(name)
    words = random_words(sim.in_bits, 2 * frame_words(name)[0], seed)
    expected = repacked(words, in_elems, out_elems)
    run = sim.run(words, len(expected), seed=seed, gap_prob=gap_prob, stall_prob=stall_prob)
    assert run.outputs == expected
    assert len(run.input_cycles) == len(words)
    assert run.input_cycles == sorted(set(run.input_cycles))
    assert run.output_cycles == sorted(set(run.output_cycles))
    assert run.cycles == run.output_cycles[-1] + 1
    again = sim.run(words, len(expected), seed=seed, gap_prob=gap_prob, stall_prob=stall_prob)
    assert again.output_cycles == run.output_cycles and again.input_cycles == run.input_cycles


def test_many_words(sims):
    words = random_words(8, 200_000, seed=4)
    run = sims("fifo8").run(words, len(words), gap_prob=0.1, stall_prob=0.1)
    assert run.outputs == words


def test_second_build_is_a_cache_hit(sims, cache_dir, monkeypatch):
    sims("fifo8")
    assert sims.progress["fifo8"], "no progress reported during a compilation"
    sim = VerilatorSim(emit("fifo8"), cache_dir=cache_dir)

    def no_compiling(*args, **kwargs):
        raise AssertionError("compiled again")
    monkeypatch.setattr(verilator_module.subprocess, "Popen", no_compiling)
    build = sim.build()
    assert build.cached and build.seconds < 1
    assert build.executable == sims("fifo8").build().executable


def test_run_time_library_is_compiled_once(sims, cache_dir):
    """Verilator's run-time library is compiled by the first build of the cache (of each kind:
    tracing builds have their own); later builds take it from the cache."""
    for name in ("fifo8", "conv8to72", "conv72to64"):
        sims(name)
    logs = [path.read_text() for path in cache_dir.glob("*/build.log")]
    compiled = sum("verilated.cpp" in log for log in logs)
    assert len(logs) >= 3 and compiled == len(list((cache_dir / "runtime").iterdir()))


def test_vcd_trace(sims, tmp_path):
    vcd = tmp_path / "fifo8.vcd"
    run = sims("fifo8").run([1, 2, 3], 3, vcd=vcd)
    assert run.outputs == [1, 2, 3]
    text = vcd.read_text()
    assert "$enddefinitions" in text and "m_axis_tdata" in text


def test_changed_output_is_an_error(sims):
    """0xCC changes while offered: the consumer stalls often enough to see it."""
    with pytest.raises(SimulationError, match=r"cycle \d+: output word 1 withdrawn or changed "
                                              r"before it was taken \(was 0xcc"):
        sims("broken").run([1, 0xCC, 2], 3, stall_prob=0.9)


def test_extra_output_is_an_error(sims):
    with pytest.raises(SimulationError, match=r"output word 3 beyond the 3 expected \(0xde\)"):
        sims("broken").run([1, 2, 0xDD], 3)


def test_deadlock_is_an_error_with_partial_results(sims):
    with pytest.raises(SimulationError, match=r"no progress for 500 cycles") as failure:
        sims("broken").run([1, 0xEE, 2], 3, idle_limit=500)
    assert failure.value.run.outputs == [1]
    assert failure.value.run.input_cycles == [DELAY, DELAY + 2]


def test_cycle_limit(sims):
    with pytest.raises(SimulationError, match=r"cycle limit of 50 reached: \d+ of 100 outputs"):
        sims("fifo8").run(list(range(100)), 100, max_cycles=50)


def test_misplaced_m_axis_tlast_is_an_error(sims):
    """conv8to72 ends an output frame every 4 words; expecting frames of 5 fails on word 3."""
    sim = with_frames(sims, "conv8to72", (36, 5))
    with pytest.raises(SimulationError, match=r"cycle \d+: output word 3: m_axis_tlast is 1, "
                                              r"expected 0 \(frames of 5 words\)") as failure:
        sim.run(random_words(8, 72, seed=5), 8)
    assert len(failure.value.run.outputs) == 3


@pytest.mark.parametrize("in_frame", [35, 37, 18])
def test_s_axis_tlast_inside_a_frame_sets_tlast_error(sims, in_frame):
    """conv8to72 takes frames of 36 words: s_axis_tlast on word 34, 36 or 17 (frames of 35, 37
    or 18 words) ends a packet inside a frame, which the design flags (the harness fails as
    soon as it sees tlast_error)."""
    sim = with_frames(sims, "conv8to72", (in_frame, 4))
    with pytest.raises(SimulationError, match=rf"tlast_error is set: the design saw s_axis_tlast "
                                              rf"high on a word that does not end an input frame "
                                              rf"\(\d+ input words taken; the harness raises "
                                              rf"tlast every {in_frame} words\)"):
        sim.run(random_words(8, 72, seed=6), 8)


def test_s_axis_tlast_once_per_packet_of_frames_is_no_error(sims):
    """A DMA transfer of two frames raises s_axis_tlast only at its end: fine."""
    words = random_words(8, 144, seed=7)
    run = with_frames(sims, "conv8to72", (72, 4)).run(words, 16, gap_prob=0.3, stall_prob=0.3)
    assert run.outputs == repacked(words, 1, 9)


def test_bad_arguments(sims):
    sim = sims("fifo8")
    for words in ([256], [-1], [1.5]):
        with pytest.raises(ValueError, match=r"input words must be integers in \[0, 2\*\*8\)"):
            sim.run(words, 1)
    with pytest.raises(ValueError, match=r"input words must be integers in \[0, 2\*\*200\)"):
        sims("conv200to8").run([1 << 200], 25)
    with pytest.raises(ValueError, match="stall_prob must be in"):
        sim.run([1], 1, stall_prob=1.0)
    with pytest.raises(ValueError, match="frame_words must be two positive word counts"):
        VerilatorSim(sim.verilog, frame_words=(4, 0))


def test_design_errors(cache_dir):
    with pytest.raises(SimulationError, match="has no output port 'm_axis_tvalid'"):
        VerilatorSim(emit("fifo8").replace("m_axis_tvalid", "m_axis_valid"))
    with pytest.raises(SimulationError, match="no module is marked"):
        VerilatorSim("module x(); endmodule")
    bad = emit("fifo8").replace("always @(posedge ap_clk)", "always @(posedge ap_clk", 1)
    with pytest.raises(SimulationError, match=r"Verilator failed to build 'fifo8'(.|\n)*%Error"):
        VerilatorSim(bad, cache_dir=cache_dir).build()
    assert not any(path.name.startswith(".") for path in cache_dir.iterdir())


def test_concurrent_builds_share_one_entry(tmp_path):
    """Two processes building the same design at once both succeed and leave one entry (and
    its lock file, and the run-time library's objects)."""
    (tmp_path / "design.v").write_text(emit("fifo8"))
    script = textwrap.dedent(f"""
        from hwgen.simulation.verilator import VerilatorSim
        sim = VerilatorSim(open({str(tmp_path / 'design.v')!r}).read(),
                           cache_dir={str(tmp_path / 'cache')!r})
        assert sim.run([5, 6, 7], 3).outputs == [5, 6, 7]
    """)
    processes = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    assert [process.wait() for process in processes] == [0, 0]
    key = VerilatorSim(emit("fifo8"), cache_dir=tmp_path / "cache").build().key
    assert sorted(path.name for path in (tmp_path / "cache").iterdir()) == \
        [key, f"{key}.lock", "runtime"]


class TwoFifos(wiring.Component):
    """Two StreamFIFOs of 72-bit words in a row (``first`` of depth 4, ``second`` of depth 3):
    a stream wider than 64 bits inside the design, and fill levels to probe."""

    def __init__(self):
        super().__init__({"i": In(stream.Signature(unsigned(72))),
                          "o": Out(stream.Signature(unsigned(72)))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.first = first = StreamFIFO(StreamFIFOParams(72, 4))
        m.submodules.second = second = StreamFIFO(StreamFIFOParams(72, 3))
        wiring.connect(m, wiring.flipped(self.i), first.i)
        wiring.connect(m, first.o, second.i)
        wiring.connect(m, second.o, wiring.flipped(self.o))
        return m


@pytest.fixture(scope="module")
def probed(cache_dir):
    """TwoFifos behind AxiStreamTop, its Verilog with probes: the stream between the FIFOs and
    both fill levels."""
    top = AxiStreamTop(TwoFifos(), in_frame_words=5, out_frame_words=5)
    taps = [Tap("between", "pipeline.first", "o", 72)]
    levels = [Tap(name, f"pipeline.{name}.fifo", "level", 3) for name in ("first", "second")]
    text, streams, level_probes = verilog_with_probes(top, "two_fifos", taps, levels)
    return VerilatorSim(text, cache_dir=cache_dir, taps=streams, levels=level_probes)


def test_the_harness_is_found_in_sim():
    assert verilator_module.HARNESS.parent.name == "sim" and verilator_module.HARNESS.is_file()


def test_verilator_names():
    assert verilator_name(("top", "pipeline", "pool0", "o__payload$12")) == \
        "top__DOT__pipeline__DOT__pool0__DOT__o___05Fpayload__02412"
    assert verilator_name(("t", "a___b", "x_")) == "t__DOT__a___05F_b__DOT__x_"


def test_probes_read_wide_streams_and_fill_levels_from_the_same_verilog(probed):
    """The probed design's Verilog is the text ``verilog.convert`` emits (no extra port);
    every word between the FIFOs is recorded (72 bits: a VlWide), and with the consumer
    stalling in long bursts the first FIFO fills up: its largest level is its depth."""
    top = AxiStreamTop(TwoFifos(), in_frame_words=5, out_frame_words=5)
    assert probed.verilog == verilog.convert(top, name="two_fifos", emit_src=False)
    words = random_words(72, 300, seed=4)
    run = probed.run(words, len(words), seed=3, gap_prob=0.2, stall_prob=0.6, burst=8)
    assert run.outputs == words
    assert run.taps == {"between": words}
    assert run.levels == {"first": 4, "second": 3}
    free = probed.run(words, len(words))       # at full rate, a FIFO holds a word or two
    assert free.taps == {"between": words} and free.levels == {"first": 2, "second": 2}


def test_probes_are_part_of_the_build(probed, sims):
    """Without probes the harness has no probe code and the build is another entry."""
    plain = VerilatorSim(probed.verilog, cache_dir=probed.cache_dir)
    assert plain.build().key != probed.build().key
    run = plain.run([1, 2, 3], 3)
    assert run.taps == {} and run.levels == {}


def test_taps_name_members_of_components_in_the_hierarchy():
    top = AxiStreamTop(TwoFifos(), in_frame_words=5, out_frame_words=5)
    for tap in (Tap("x", "pipeline.third", "o", 72), Tap("x", "pipeline.first", "p", 72),
                Tap("x", "pipeline.first", "o..valid", 1)):
        with pytest.raises(ValueError, match="tap 'x'|cannot read port"):
            verilog_with_probes(top, "two_fifos", [tap])


def test_bursts_are_longer_off_periods_at_the_same_fraction(sims):
    """With burst B the consumer's stalls come in runs B times as long on average (here: the
    gaps between output transfers of a FIFO fed without gaps), off about the same fraction of
    the cycles; the same seed gives the same pattern."""
    sim = sims("fifo8")
    words = random_words(8, 4000, seed=9)

    def gaps(burst, seed=5):
        run = sim.run(words, len(words), seed=seed, stall_prob=0.5, burst=burst)
        assert run.outputs == words
        return [b - a - 1 for a, b in zip(run.output_cycles, run.output_cycles[1:]) if b - a > 1]

    independent, bursty = gaps(1), gaps(8)
    assert bursty == gaps(8) and bursty != gaps(8, seed=6)
    mean = sum(bursty) / len(bursty)
    assert 12 <= mean <= 20                         # B / (1 - p) = 16 cycles
    assert 1.6 <= sum(independent) / len(independent) <= 2.4       # 1 / (1 - p) = 2
    assert abs(sum(bursty) - sum(independent)) <= 0.15 * sum(independent)
    with pytest.raises(ValueError, match="burst"):
        sim.run(words, len(words), burst=0.5)


def test_amaranth_runs_bursts_too():
    words = random_words(8, 400, seed=2)
    runs = [run_stream(StreamFIFO(StreamFIFOParams(8, 4)), words, len(words), seed=1,
                       stall_prob=0.5, gap_prob=0.3, burst=burst) for burst in (1, 6, 6)]
    assert all(run.outputs == words for run in runs)
    assert runs[1].output_cycles == runs[2].output_cycles != runs[0].output_cycles
