"""``hwgen sim``: stream frames through a design in a simulator and compare with golden.

Two back ends run the same comparison: ``verilator`` compiles the emitted Verilog (the AXI4-Stream
top) with Verilator; ``amaranth`` runs the pipeline in Amaranth's Python simulator (slow: for
small networks, and to check the two simulators against each other).
"""

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import HwgenError, plural
from ..external import reporter

from .frames import compare, expected_words, frame_metrics, input_words
from .streams import StreamProtocolError, run_stream

__all__ = ["SimulationFailed", "SimResult", "simulate"]

BACKENDS = ("verilator", "amaranth")
COMPILE_TOOLS = ("c++", "make")      # what Verilator's generated makefile runs


class SimulationFailed(Exception):
    """The design broke a stream rule, deadlocked, or did not compile: no outputs to compare."""


@dataclass
class SimResult:
    network: str
    backend: str
    frames: int
    seed: int
    stall_prob: float
    mismatches: int
    first_mismatch: object
    cycles_per_frame: float
    latency_cycles: int
    ideal_cycles_per_frame: int
    sim_cycles: int
    sim_seconds: float

    def as_dict(self):
        return {
            "network": self.network,
            "backend": self.backend,
            "frames": self.frames,
            "seed": self.seed,
            "stall_prob": self.stall_prob,
            "mismatches": self.mismatches,
            "first_mismatch": str(self.first_mismatch) if self.first_mismatch else None,
            "cycles_per_frame": self.cycles_per_frame,
            "latency_cycles": self.latency_cycles,
            "ideal_cycles_per_frame": self.ideal_cycles_per_frame,
            "efficiency": (self.cycles_per_frame / self.ideal_cycles_per_frame
                           if self.cycles_per_frame else None),
            "sim_cycles_per_second": self.sim_cycles / self.sim_seconds if self.sim_seconds
            else None,
        }


def _engine_latencies(design):
    """The sum of the engines' own latencies: a scale for the limits below, which have kept it
    (the latency estimate adds the time engines wait for their input to arrive)."""
    return sum(node.params.latency() for node in design.nodes)


def _cycle_budget(design, frames):
    """Cycles a run may take before it counts as hung: generous, from the bottleneck."""
    return (frames + 4) * 4 * design.bottleneck.cycles() + 100 * _engine_latencies(design) \
        + 100_000


def _amaranth_runner(design, frames, vcd):
    def run(words, n_outputs, seed, prob):
        start = time.perf_counter()
        try:
            result = run_stream(design.pipeline(), words, n_outputs, gap_prob=prob,
                                stall_prob=prob, seed=seed,
                                max_cycles=_cycle_budget(design, frames), vcd=vcd)
        except StreamProtocolError as exc:
            raise SimulationFailed(str(exc)) from None
        result.seconds = time.perf_counter() - start
        result.total_cycles = result.cycles
        return result
    return run


def _verilator_runner(design, frames, vcd, progress):
    from .verilator import SimulationError, VerilatorSim

    sim = VerilatorSim(design.verilog(), top=design.top_name, progress=progress,
                       frame_words=(design.input_stream.words, design.output_stream.words))
    idle = 4 * design.bottleneck.cycles() + 10 * _engine_latencies(design) + 10_000

    def run(words, n_outputs, seed, prob):
        try:
            return sim.run(words, n_outputs, seed=seed, gap_prob=prob, stall_prob=prob,
                           max_cycles=_cycle_budget(design, frames), idle_limit=idle, vcd=vcd)
        except SimulationError as exc:
            missing = [tool for tool in COMPILE_TOOLS if shutil.which(tool) is None]
            if missing:
                raise HwgenError(f"Verilator compiles the simulation with a C++ compiler and "
                                 f"make, and {' and '.join(missing)} is not on PATH: install "
                                 "g++ and make (Debian/Ubuntu: apt install g++ make)",
                                 field="--backend verilator") from None
            raise SimulationFailed(str(exc)) from None
    return run


def simulate(design, frames, *, backend="verilator", seed=0, stall_prob=0.0, vcd=None,
             progress=None):
    """Simulate ``frames`` (N, *input shape) through ``design`` and compare every output.

    With ``stall_prob`` > 0 the input has random gaps and the output random stalls, each cycle
    with that probability, and a second run without them (also compared) gives the timing
    figures, as ``cycles_per_frame`` is defined with no stalls. ``vcd``: a file to write the
    trace of the runs to, written only if they all complete.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}")
    network = design.network
    with reporter.step(f"golden model of {plural(len(frames), 'frame')}"):
        golden = network.run(frames)[-1]
    words, expected = input_words(design, frames), expected_words(design, golden)
    # The trace is written beside ``vcd`` and renamed to it at the end: whole or not at all.
    trace = None if vcd is None else Path(vcd).with_name(f".{Path(vcd).name}.{os.getpid()}.tmp")
    if backend == "amaranth":
        run = _amaranth_runner(design, len(frames), trace)
    else:
        run = _verilator_runner(design, len(frames), trace, progress)
    mismatches, first, sim_cycles, sim_seconds = 0, None, 0, 0.0
    try:
        for prob in ([stall_prob, 0.0] if stall_prob else [0.0]):
            stalls = f" with stall probability {prob:g}" if prob else ""
            with reporter.step(f"simulating {plural(len(frames), 'frame')} in {backend}{stalls}"):
                result = run(words, len(expected), seed, prob)
            count, mismatch = compare(design, golden, result.outputs)
            mismatches += count
            first = first or mismatch
            sim_cycles += result.total_cycles
            sim_seconds += result.seconds
        if trace is not None and trace.exists():
            os.replace(trace, vcd)
    finally:
        if trace is not None:
            trace.unlink(missing_ok=True)
    cycles_per_frame, latency = frame_metrics(design, result)     # of the run without stalls
    return SimResult(network.name, backend, len(frames), seed, stall_prob, mismatches, first,
                     cycles_per_frame, latency, design.bottleneck.cycles(), sim_cycles,
                     sim_seconds)
