"""The clock each network reaches on ECP5 after place and route, and what limits it.

    python benchmarks/clock.py [NAME ...] [--clock 100] [--json]

Per network (default: mini-mlp, mini-cnv, tfc-w1a1, sfc-w1a1, cnv-w1a1), `hwgen estimate
--target ecp5 --pnr` (cached in $HWGEN_CACHE): the clock nextpnr achieved on the LFE5U-85F,
whether it met --clock, the engines where the critical path starts and ends, the LUT levels of
the design's longest register-to-register path after synthesis, the bottleneck's ideal cycles
per frame and the frames per second that makes at the achieved clock. The networks run one after
the other, and each runs one tool at a time (the machine is shared).
"""

import argparse
import json
import sys
from pathlib import Path

from hwgen.compiler.build import design
from hwgen.compiler.estimate import estimate
from hwgen.network import load_network
from hwgen.synthesis import SynthesisError

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = ["mini-mlp", "mini-cnv", "tfc-w1a1", "sfc-w1a1", "cnv-w1a1"]


def measure(name, clock_mhz):
    """One row: the network's clock, critical path and throughput on ECP5."""
    d = design(load_network(ROOT / "networks" / f"{name}.yaml"))
    cycles = d.bottleneck.cycles()
    row = {"network": name, "fmax_mhz": None, "met": None, "from": None, "to": None,
           "lut_levels": None, "cycles_per_frame": cycles, "frames_per_second": None}
    try:
        report = estimate(d, "ecp5", pnr_clock_mhz=clock_mhz, progress=lambda seconds: None)
    except SynthesisError as exc:
        return {**row, "error": str(exc).splitlines()[0]}
    pnr, path = report["place_and_route"], report["place_and_route"]["critical_path"] or {}
    fmax = pnr["fmax_mhz"]
    return {**row, "fmax_mhz": fmax, "met": pnr["met"], "from": path.get("from"),
            "to": path.get("to"), "lut_levels": report["timing"]["lut_levels"],
            "frames_per_second": round(fmax * 1e6 / cycles) if fmax else None}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"networks (default: {' '.join(NETWORKS)})")
    parser.add_argument("--clock", type=float, default=100.0, metavar="MHZ",
                        help="clock constraint for place and route (default 100)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    rows = []
    for name in args.names or NETWORKS:
        rows.append(measure(name, args.clock))
        print(f"{name} done", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"| network | MHz | met {args.clock:g} MHz? | critical path | LUT levels "
          "| cycles/frame | frames/s |")
    print("|---|---:|---|---|---:|---:|---:|")
    for row in rows:
        met = {True: "yes", False: "MISSED", None: row.get("error", "")}[row["met"]]
        path = f"{row['from'] or '(top level)'} -> {row['to'] or '(top level)'}" \
            if row["fmax_mhz"] else ""
        print(f"| {row['network']} | {row['fmax_mhz'] or ''} | {met} | {path} | "
              f"{'' if row['lut_levels'] is None else row['lut_levels']} | "
              f"{row['cycles_per_frame']} | {row['frames_per_second'] or ''} |")


if __name__ == "__main__":
    main()
