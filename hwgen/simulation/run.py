"""``hwgen sim``: stream frames through a design in a simulator and compare with golden.

Two back ends run the same comparison: ``verilator`` compiles the emitted Verilog (the AXI4-Stream
top) with Verilator; ``amaranth`` runs the pipeline in Amaranth's Python simulator (slow: for
small networks, and to check the two simulators against each other).

Both record the largest fill level of every stream FIFO in the run without stalls
(``SimResult.fifos``). The Verilator back end also taps the output stream of every engine that
computes a description layer (:func:`tapped_nodes`): when the output differs from golden, the
first such engine, in design order, whose stream differs from its layer's golden output is
reported, with frame and element (``first_mismatch``).
"""

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import HwgenError, plural
from ..external import reporter

from .frames import (compare, compare_stream, expected_words, frame_metrics, input_words,
                     output_values)
from .streams import StreamProtocolError, run_stream
from .taps import Tap, resolve, verilog_with_probes

__all__ = ["SimulationFailed", "SimResult", "EngineMismatch", "simulate", "tapped_nodes",
           "engine_taps", "fifo_levels", "first_engine_mismatch"]

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
    burst: float
    mismatches: int
    first_mismatch: object
    cycles_per_frame: float
    latency_cycles: int
    ideal_cycles_per_frame: int
    sim_cycles: int
    sim_seconds: float
    fifos: list            # {"name", "depth", "max_occupancy"} per stream FIFO, design order
    outputs: object = None     # the output values of the run without stalls, golden's shape

    def as_dict(self):
        return {
            "network": self.network,
            "backend": self.backend,
            "frames": self.frames,
            "seed": self.seed,
            "stall_prob": self.stall_prob,
            "burst": self.burst,
            "mismatches": self.mismatches,
            "first_mismatch": str(self.first_mismatch) if self.first_mismatch else None,
            "cycles_per_frame": self.cycles_per_frame,
            "latency_cycles": self.latency_cycles,
            "ideal_cycles_per_frame": self.ideal_cycles_per_frame,
            "efficiency": (self.cycles_per_frame / self.ideal_cycles_per_frame
                           if self.cycles_per_frame else None),
            "sim_cycles_per_second": self.sim_cycles / self.sim_seconds if self.sim_seconds
            else None,
            "fifos": self.fifos,
        }


@dataclass(frozen=True)
class EngineMismatch:
    """The first element of a tapped engine's output stream that differs from its layer's
    golden output."""
    engine: str
    layer: str
    mismatch: object       # a frames.Mismatch

    def __str__(self):
        return f"engine {self.engine} (layer {self.layer}): {self.mismatch}"


def tapped_nodes(design):
    """``[(node, layer name)]`` in design order: the nodes whose output stream carries a
    description layer's golden output (``design.producers``). Where several layers share a
    stream, the layer that computed it: the activation fused into an engine rather than the
    layer of that engine, the layer before a flatten rather than the flatten."""
    carried = {}
    for layer in design.network.layers:
        port = design.producers.get(layer.name)
        if port is not None and (port.node not in carried or getattr(layer, "fused_into", None)):
            carried[port.node] = layer.name
    return [(node, carried[node.name]) for node in design.nodes if node.name in carried]


def engine_taps(design):
    """Taps on the output streams of :func:`tapped_nodes`."""
    return [Tap(node.name, f"pipeline.{node.name}", "o", node.sink.width)
            for node, _ in tapped_nodes(design)]


def fifo_levels(design, below):
    """Taps on the fill level of every stream FIFO (SyncFIFOBuffered's ``level``, which counts
    the word in its output register), submodule paths starting with ``below``."""
    return [Tap(node.name, f"{below}{node.name}.fifo", "level", node.params.depth.bit_length())
            for node in design.nodes if node.kind == "fifo"]


def first_engine_mismatch(design, golden_outputs, taps):
    """The first tapped engine whose stream differs from golden (an :class:`EngineMismatch`),
    or None; ``golden_outputs``: one array per description layer."""
    index = {layer.name: k for k, layer in enumerate(design.network.layers)}
    for node, layer in tapped_nodes(design):
        count, mismatch = compare_stream(node.sink, golden_outputs[index[layer]], taps[node.name])
        if count:
            return EngineMismatch(node.name, layer, mismatch)
    return None


def _engine_latencies(design):
    """The sum of the engines' own latencies: a scale for the limits below, which have kept it
    (the latency estimate adds the time engines wait for their input to arrive)."""
    return sum(node.params.latency() for node in design.nodes)


def _cycle_budget(design, frames):
    """Cycles a run may take before it counts as hung: generous, from the bottleneck."""
    return (frames + 4) * 4 * design.bottleneck.cycles() + 100 * _engine_latencies(design) \
        + 100_000


def _amaranth_runner(design, frames, vcd):
    levels = fifo_levels(design, "")

    def watch(fragment):
        return {tap.name: resolve(fragment, tap) for tap in levels}

    def run(words, n_outputs, seed, prob, burst):
        start = time.perf_counter()
        try:
            result = run_stream(design.pipeline(), words, n_outputs, gap_prob=prob,
                                stall_prob=prob, seed=seed, burst=burst,
                                max_cycles=_cycle_budget(design, frames), vcd=vcd, watch=watch)
        except StreamProtocolError as exc:
            raise SimulationFailed(str(exc)) from None
        result.seconds = time.perf_counter() - start
        result.total_cycles = result.cycles
        result.taps, result.levels = None, result.maxima     # no stream taps here
        return result
    return run


def _verilator_runner(design, frames, vcd, progress):
    from .verilator import SimulationError, VerilatorSim

    with reporter.step(f"emitting Verilog for {plural(len(design.nodes), 'engine')}"):
        verilog, taps, levels = verilog_with_probes(design.top(), design.top_name,
                                                    engine_taps(design),
                                                    fifo_levels(design, "pipeline."))
    sim = VerilatorSim(verilog, top=design.top_name, progress=progress,
                       frame_words=(design.input_stream.words, design.output_stream.words),
                       taps=taps, levels=levels)
    idle = 4 * design.bottleneck.cycles() + 10 * _engine_latencies(design) + 10_000

    def run(words, n_outputs, seed, prob, burst):
        try:
            return sim.run(words, n_outputs, seed=seed, gap_prob=prob, stall_prob=prob,
                           burst=burst, max_cycles=_cycle_budget(design, frames),
                           idle_limit=idle, vcd=vcd)
        except SimulationError as exc:
            missing = [tool for tool in COMPILE_TOOLS if shutil.which(tool) is None]
            if missing:
                raise HwgenError(f"Verilator compiles the simulation with a C++ compiler and "
                                 f"make, and {' and '.join(missing)} is not on PATH: install "
                                 "g++ and make (Debian/Ubuntu: apt install g++ make)",
                                 field="--backend verilator") from None
            raise SimulationFailed(str(exc)) from None
    return run


def simulate(design, frames, *, backend="verilator", seed=0, stall_prob=0.0, burst=1,
             vcd=None, progress=None):
    """Simulate ``frames`` (N, *input shape) through ``design`` and compare every output.

    With ``stall_prob`` > 0 the input has random gaps and the output random stalls, each cycle
    with that probability, and a second run without them (also compared) gives the timing
    figures, as ``cycles_per_frame`` is defined with no stalls (and the FIFO levels). ``burst``
    (at least 1) makes the gaps and stalls come in on/off periods that many times longer than
    independent draws give (:meth:`~hwgen.simulation.verilator.VerilatorSim.run`). ``vcd``: a
    file to write the trace of the runs to, written only if they all complete.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}")
    network = design.network
    with reporter.step(f"golden model of {plural(len(frames), 'frame')}"):
        golden_outputs = network.run(frames)
    golden = golden_outputs[-1]
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
            stalls += f" in bursts of {burst:g}" if prob and burst != 1 else ""
            with reporter.step(f"simulating {plural(len(frames), 'frame')} in {backend}{stalls}"):
                result = run(words, len(expected), seed, prob, burst if prob else 1)
            count, mismatch = compare(design, golden, result.outputs)
            mismatches += count
            if count and first is None:
                first = mismatch
                if result.taps is not None:
                    first = first_engine_mismatch(design, golden_outputs, result.taps) or first
            sim_cycles += result.total_cycles
            sim_seconds += result.seconds
        if trace is not None and trace.exists():
            os.replace(trace, vcd)
    finally:
        if trace is not None:
            trace.unlink(missing_ok=True)
    # The timing figures and the FIFO levels are those of the run without stalls.
    cycles_per_frame, latency = frame_metrics(design, result)
    fifos = [{"name": node.name, "depth": node.params.depth,
              "max_occupancy": result.levels[node.name]}
             for node in design.nodes if node.kind == "fifo"]
    return SimResult(network.name, backend, len(frames), seed, stall_prob, burst, mismatches,
                     first, cycles_per_frame, latency, design.bottleneck.cycles(), sim_cycles,
                     sim_seconds, fifos, output_values(design, golden, result.outputs))
