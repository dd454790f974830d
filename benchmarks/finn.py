"""hwgen beside FINN: the canonical networks at FINN's foldings, one markdown table.

    python benchmarks/finn.py [NAME ...] [--frames-mlp 100] [--frames-cnv 8]

Per network (default: TFC, SFC, LFC and CNV, w1a1 and w2a2): LUT, FF, BRAM36 and DSP from Yosys
synth_xilinx (`hwgen estimate`, cached in $HWGEN_CACHE), cycles per frame measured in Verilator
(bit-exact against the golden model, no stalls), frames/s at 100 MHz, build time (lower and emit
Verilog), synthesis time (of the run that filled the cache) and Verilator's simulated cycles per
second; FINN's published BNN-PYNQ figures (xc7z020, Vivado, 100 MHz) where there are some.
"""

import argparse
import sys
import time
from pathlib import Path

from hwgen.compiler.build import design
from hwgen.compiler.estimate import estimate
from hwgen.network import load_network
from hwgen.simulation.run import simulate

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = ["tfc-w1a1", "tfc-w2a2", "sfc-w1a1", "lfc-w1a1", "cnv-w1a1", "cnv-w2a2"]
# FINN's BNN-PYNQ builds: LUT, BRAM36, DSP.
FINN = {"cnv-w1a1": (26072, 124, 24), "lfc-w1a1": (28360, 110, 4)}


def measure(name, frames):
    network = load_network(ROOT / "networks" / f"{name}.yaml")
    start = time.perf_counter()
    d = design(network)
    d.verilog()
    build_seconds = time.perf_counter() - start
    synth = estimate(d, "xc7", progress=lambda s: None)
    result = simulate(d, network.random_frames(frames, seed=1), seed=2,
                      progress=lambda s: None)
    if result.mismatches:
        raise SystemExit(f"{name}: MISMATCH at {result.first_mismatch}")
    totals, cycles = synth["totals"], result.cycles_per_frame
    finn = FINN.get(name, ("", "", ""))
    return {
        "network": name,
        "LUT": totals["lut"], "FF": totals["ff"], "BRAM36": f"{totals['bram36']:g}",
        "DSP": totals["dsp"],
        "cycles/frame": f"{cycles:.0f}", "frames/s @100 MHz": f"{100e6 / cycles:,.0f}",
        "build s": f"{build_seconds:.1f}", "synthesis s": f"{synth['synthesis_seconds']:.0f}",
        "sim cycles/s": f"{result.sim_cycles / result.sim_seconds:,.0f}",
        "FINN LUT": finn[0], "FINN BRAM36": finn[1], "FINN DSP": finn[2],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=NETWORKS)
    parser.add_argument("--frames-mlp", type=int, default=100)
    parser.add_argument("--frames-cnv", type=int, default=8)
    args = parser.parse_args()
    rows = []
    for name in args.names:
        rows.append(measure(name, args.frames_cnv if "cnv" in name else args.frames_mlp))
        print(f"{name} done", file=sys.stderr, flush=True)
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * (len(columns) - 1))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")


if __name__ == "__main__":
    main()
