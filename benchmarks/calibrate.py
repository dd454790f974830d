"""The engines' resource models against Yosys synthesis, per engine, as one markdown table.

    python benchmarks/calibrate.py [NAME ...] [--target xc7]

Every node of every network (default: all in networks/) is synthesized as part of its network
(`hwgen estimate`, cached in $HWGEN_CACHE) and its model (`resources()`) set beside the result.
Per engine (the MVAU by style) and figure (LUT, FF, BRAM18): the totals over its nodes, the
error of the total ((model - synthesis) / synthesis) and the median of the per-node absolute
errors (nodes where both are zero left out).
"""

import argparse
import statistics
import sys
from pathlib import Path

from hwgen.compiler.build import design
from hwgen.compiler.estimate import estimate
from hwgen.network import load_network

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("lut", "ff", "bram18")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="networks (default: all in networks/)")
    parser.add_argument("--target", default="xc7")
    args = parser.parse_args()
    paths = [ROOT / "networks" / f"{name}.yaml" for name in args.names] or \
        sorted((ROOT / "networks").glob("*.yaml"))
    pairs = {}                       # engine -> [(synthesis, model)] per node
    for path in paths:
        report = estimate(design(load_network(path)), args.target)
        for node in report["nodes"]:
            pairs.setdefault(node["engine"], []).append((node["synthesis"], node["model"]))
        print(f"{path.stem}: {report['synthesis_seconds']} s"
              + (" (cached)" if report["cached"] else ""), file=sys.stderr, flush=True)
    header = ["engine", "nodes"]
    for figure in FIGURES:
        header += [f"{figure} synth", f"{figure} model", "error", "median node error"]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * 2 + " ---: |" * (len(header) - 2))
    for engine, rows in sorted(pairs.items()):
        cells = [engine, str(len(rows))]
        for figure in FIGURES:
            synth = sum(s[figure] for s, _ in rows)
            model = sum(m[figure] for _, m in rows)
            errors = [abs(m[figure] - s[figure]) / s[figure] for s, m in rows if s[figure]]
            cells += [f"{synth:g}", f"{model:g}", _percent(model, synth),
                      f"{100 * statistics.median(errors):.0f}%" if errors else ""]
        print("| " + " | ".join(cells) + " |")


def _percent(model, synth):
    if synth == 0:
        return "" if model == 0 else "n/a"
    return f"{100 * (model - synth) / synth:+.0f}%"


if __name__ == "__main__":
    main()
