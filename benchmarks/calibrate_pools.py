"""The sum pools' resource model against Yosys, per engine alone, as one markdown table.

    python benchmarks/calibrate_pools.py [CACHE_DIR]

Each shape (average and global average pools of the networks in networks/, and shapes that
exercise the stage's cases: one fold, block RAM with forwarded results, a sliding window) is
built as a RowPool or WindowPool of sums, synthesized with synth_xilinx -nodsp (cached in
CACHE_DIR, default a temporary directory) and its model (``resources()``) set beside it.
"""

import sys
import tempfile

from amaranth.back import verilog

from hwgen.datatypes import DataType
from hwgen.engines.pool_rows import RowPool, RowPoolParams
from hwgen.engines.pool_windows import WindowPool, WindowPoolParams
from hwgen.synthesis import synthesize

UINT4, INT4, INT8, UINT8 = (DataType.parse(n) for n in ("UINT4", "INT4", "INT8", "UINT8"))
CASES = [
    ("resnet8 global: 8x8x64, PE 4, UINT4", RowPool, RowPoolParams(8, 8, 64, 8, 4, UINT4, "sum")),
    ("dscnn-kws global: 25x5x64, PE 1, UINT4", RowPool,
     RowPoolParams(25, 5, 64, (25, 5), 1, UINT4, "sum")),
    ("mobilenetv1 global: 3x3x256, PE 1, UINT4", RowPool,
     RowPoolParams(3, 3, 256, 3, 1, UINT4, "sum")),
    ("16x16x32, 2x2, PE 4, INT4", RowPool, RowPoolParams(16, 16, 32, 2, 4, INT4, "sum")),
    ("2x512x2, 2x2, PE 2, INT8 (block RAM, results forwarded)", RowPool,
     RowPoolParams(2, 512, 2, 2, 2, INT8, "sum")),
    ("9x9x8, 3x3, PE 8, UINT8 (one fold)", RowPool, RowPoolParams(9, 9, 8, 3, 8, UINT8, "sum")),
    ("WindowPool 12x12x16, 3x3 stride 2, PE 4, UINT4", WindowPool,
     WindowPoolParams(12, 12, 16, 3, 2, 4, UINT4, "sum")),
    ("WindowPool 9x9x4, 2x2 stride 1, PE 2, UINT4", WindowPool,
     WindowPoolParams(9, 9, 4, 2, 1, 2, UINT4, "sum")),
]


def percent(model, synth):
    return f"{(model - synth) / synth:+.0%}" if synth else ""


def main():
    cache = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
    print("| pool (op sum) | LUT synth / model | FF synth / model | BRAM18 synth / model |")
    print("| --- | ---: | ---: | ---: |")
    for name, engine, params in CASES:
        text = verilog.convert(engine(params), name="unit", emit_src=False)
        synth = synthesize(text, "unit", "xc7", cache_dir=cache).totals()
        model = params.resources()
        print(f"| {name} | {synth['lut']:g} / {model.lut:g} ({percent(model.lut, synth['lut'])}) | "
              f"{synth['ff']:g} / {model.ff:g} ({percent(model.ff, synth['ff'])}) | "
              f"{synth['bram18']:g} / {model.bram18:g} |", flush=True)


if __name__ == "__main__":
    main()
