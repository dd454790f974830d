"""Simulated cycles per second of one network in Verilator and in Amaranth's simulator.

    python benchmarks/sim_speed.py [NETWORK] [--frames 20000] [--amaranth-frames 20]

Both run the same design with no stalls; Verilator's figure is the simulation loop alone (the
compile is cached), Amaranth's the whole run_stream call, elaboration included.
"""

import argparse
import time
from pathlib import Path

from hwgen.compiler.build import design
from hwgen.network import load_network
from hwgen.simulation.frames import expected_words, input_words
from hwgen.simulation.streams import run_stream
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
    rates = {}
    for backend, count in (("verilator", args.frames), ("amaranth", args.amaranth_frames)):
        frames = network.random_frames(count, seed=1)
        words = input_words(d, frames)
        expected = expected_words(d, network.run(frames)[-1])
        if backend == "verilator":
            sim = VerilatorSim(d.verilog(), top=d.top_name)
            sim.build()
            run = sim.run(words, len(expected))
            cycles, seconds = run.total_cycles, run.seconds
        else:
            start = time.perf_counter()
            run = run_stream(d.pipeline(), words, len(expected))
            cycles, seconds = run.cycles, time.perf_counter() - start
        assert run.outputs == expected, f"{backend}: outputs differ from golden"
        rates[backend] = cycles / seconds
        print(f"{backend}: {count} frames, {cycles} cycles in {seconds:.2f} s: "
              f"{rates[backend]:,.0f} cycles/s")
    print(f"ratio: {rates['verilator'] / rates['amaranth']:,.0f}x")


if __name__ == "__main__":
    main()
