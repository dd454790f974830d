"""Buffer bits per network: the memories that hold stream data (line buffers, matrix units'
input buffers, FIFOs, rows of partial results), as ``hwgen build`` reports them in report.json
(``totals.buffer_bits``), printed as one markdown table.

    python benchmarks/buffers.py [NAME ...]      # default: every network in networks/

The figures are the generated memories' words times their widths (``buffer_bits()`` of each
engine's parameters; the engine tests check the line buffer's and the input buffer's against
the emitted Verilog), not estimates; whether block RAM or LUT RAM holds them is up to the
resource models and synthesis.
"""

import sys
from pathlib import Path

from hwgen.compiler.build import design, report
from hwgen.network import load_network

NETWORKS = Path(__file__).resolve().parent.parent / "networks"
KINDS = {"line_buffer": "line buffers", "vector_buffer": "input buffers", "fifo": "FIFOs",
         "partial_results": "partial results"}


def main(names):
    paths = [NETWORKS / f"{name}.yaml" for name in names] or sorted(NETWORKS.glob("*.yaml"))
    print("| network | cycles/frame | total | " + " | ".join(KINDS.values()) + " |")
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in KINDS) + " |")
    for path in paths:
        totals = report(design(load_network(path)), 100.0)["totals"]
        bits = totals["buffer_bits"]
        print(f"| {path.stem} | {totals['bottleneck_cycles']} | {bits['total']:,} | "
              + " | ".join(f"{bits.get(kind, 0):,}" for kind in KINDS) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
