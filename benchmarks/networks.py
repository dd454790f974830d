"""Build and simulate every network in networks/ and print one table of measured figures.

    python benchmarks/networks.py [NAME ...] [--frames-mlp 100] [--frames-cnv 8] [--stall-prob 0.1]

(``--frames-cnv`` for networks with image inputs, ``--frames-mlp`` for the others.)

Per network: build time (lower, emit Verilog), Verilator compile time (0 on a cache hit: set
HWGEN_CACHE to an empty directory to measure it), whether every output of every frame matched
the golden model with random stalls and without, cycles per frame against the ideal bottleneck,
latency, and Verilator's simulated cycles per second.
"""

import argparse
import sys
import time
from pathlib import Path

from hwgen.compiler.build import design
from hwgen.network import load_network
from hwgen.simulation.run import simulate
from hwgen.simulation.verilator import VerilatorSim

ROOT = Path(__file__).resolve().parent.parent


def measure(path, frames, stall_prob):
    network = load_network(path)
    start = time.perf_counter()
    d = design(network)
    text = d.verilog()
    build_seconds = time.perf_counter() - start
    compile_seconds = VerilatorSim(text, top=d.top_name, progress=lambda s: None).build().seconds
    result = simulate(d, network.random_frames(frames, seed=1), seed=2, stall_prob=stall_prob,
                      progress=lambda s: None)
    summary = result.as_dict()
    return {
        "network": network.name,
        "frames": frames,
        "bit-exact": "yes" if result.mismatches == 0 else f"NO ({result.first_mismatch})",
        "cycles/frame": f"{result.cycles_per_frame:.0f}",
        "ideal": result.ideal_cycles_per_frame,
        "ratio": f"{summary['efficiency']:.3f}",
        "latency": result.latency_cycles,
        "build s": f"{build_seconds:.1f}",
        "verilator compile s": f"{compile_seconds:.0f}",
        "sim cycles/s": f"{summary['sim_cycles_per_second']:,.0f}",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="networks (default: all in networks/)")
    parser.add_argument("--frames-mlp", type=int, default=100)
    parser.add_argument("--frames-cnv", type=int, default=8)
    parser.add_argument("--stall-prob", type=float, default=0.1)
    args = parser.parse_args()
    paths = [ROOT / "networks" / f"{name}.yaml" for name in args.names] or \
        sorted((ROOT / "networks").glob("*.yaml"))
    rows = []
    for path in paths:
        image = len(load_network(path).input.out_shape) == 3
        frames = args.frames_cnv if image else args.frames_mlp
        rows.append(measure(path, frames, args.stall_prob))
        print(f"{path.stem} done", file=sys.stderr, flush=True)
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")


if __name__ == "__main__":
    main()
