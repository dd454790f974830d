"""Simulated cycles per second of one network in Verilator (without and with probes) and in
Amaranth's simulator.

    python benchmarks/sim_speed.py [NETWORK] [--frames 20000] [--amaranth-frames 20]

All run the same design with no stalls; Verilator's figures are the simulation loop alone (the
compile is cached), once on the Verilog alone and once with the probes of ``hwgen sim`` (a tap on
every layer's engine, every FIFO's fill level); Amaranth's figure is the whole run_stream call,
elaboration included (``--amaranth-frames 0`` skips it).
"""

import argparse
import time
from pathlib import Path

from hwgen.compiler.build import design
from hwgen.network import load_network
from hwgen.simulation.frames import expected_words, input_words
from hwgen.simulation.run import engine_taps, fifo_levels
from hwgen.simulation.streams import run_stream
from hwgen.simulation.taps import verilog_with_probes
from hwgen.simulation.verilator import VerilatorSim

ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("network", nargs="?", default="tfc-w1a1")
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--amaranth-frames", type=int, default=20)
    args = parser.parse_args()
    network = load_network(ROOT / "networks" / f"{args.network}.yaml")
    d = design(network)
    text, taps, levels = verilog_with_probes(d.top(), d.top_name, engine_taps(d),
                                             fifo_levels(d, "pipeline."))
    sims = {"verilator": VerilatorSim(text, top=d.top_name),
            "verilator with probes": VerilatorSim(text, top=d.top_name, taps=taps,
                                                  levels=levels)}
    rates = {}
    for backend, count in (*((name, args.frames) for name in sims),
                           ("amaranth", args.amaranth_frames)):
        if not count:
            continue
        frames = network.random_frames(count, seed=1)
        words = input_words(d, frames)
        expected = expected_words(d, network.run(frames)[-1])
        if backend in sims:
            sims[backend].build()
            run = sims[backend].run(words, len(expected))
            cycles, seconds = run.total_cycles, run.seconds
        else:
            start = time.perf_counter()
            run = run_stream(d.pipeline(), words, len(expected))
            cycles, seconds = run.cycles, time.perf_counter() - start
        assert run.outputs == expected, f"{backend}: outputs differ from golden"
        rates[backend] = cycles / seconds
        print(f"{backend}: {count} frames, {cycles} cycles in {seconds:.2f} s: "
              f"{rates[backend]:,.0f} cycles/s")
    print(f"probes: {rates['verilator with probes'] / rates['verilator']:.2f}x the speed")
    if "amaranth" in rates:
        print(f"ratio: {rates['verilator'] / rates['amaranth']:,.0f}x")


if __name__ == "__main__":
    main()
