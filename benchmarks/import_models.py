"""How exactly imported models compute: every ONNX fixture (and the QONNX model zoo's files where
``../shared/models`` is beside the repository) through ``hwgen import`` and the golden model,
against qonnx's execution of the original file, printed as one markdown table.

    python benchmarks/import_models.py        # needs the test extra (qonnx, onnxruntime)

Per model: the frames, the largest |y - ref|, the frames with some value beyond the import
issue's tolerance |y - ref| <= 1e-4 max(1, |ref|), whether every label (argmax) agrees, and the
accuracy of hwgen's labels on the digits test set. The hardware computes exactly the golden
model (``hwgen sim`` checks every output against it), so these are the hardware's figures too.
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from onnx_models import reference, violations      # noqa: E402

from hwgen.cli import write_description            # noqa: E402
from hwgen.importers import import_model           # noqa: E402
from hwgen.network import load_network             # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "onnx"
SHARED = ROOT.parent / "shared" / "models"


def outputs(model, x):
    """hwgen's golden outputs of the imported ``model`` for the model's inputs ``x``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "net.yaml"
        doc, arrays = import_model(model).description("net.npz")
        write_description(out, out.with_suffix(".npz"), doc, arrays)
        network = load_network(out)
        frames = network.model_input.frames(x).reshape(len(x), *network.input.out_shape)
        return network.model_output.values(network.run(frames)[-1])


def main():
    digits_x = np.load(FIXTURES / "digits-test-x.npy")
    digits_y = np.load(FIXTURES / "digits-test-y.npy")
    cases = [(path, digits_x, digits_y) for path in sorted(FIXTURES.glob("*.onnx"))]
    rng = np.random.default_rng(0)
    if SHARED.is_dir():
        cases += [(SHARED / "TFC_2W2A.onnx", rng.uniform(0, 1, (256, 1, 28, 28)), None),
                  (SHARED / "unsw_nb15-mlp-w2a2.onnx",
                   2.0 * rng.integers(0, 2, (256, 600)) - 1, None)]
    print("| model | frames | max abs diff | frames beyond tolerance | labels agree | "
          "accuracy | import + golden s |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for path, x, labels in cases:
        x = x.astype(np.float32)
        start = time.monotonic()
        y = outputs(path, x)
        seconds = time.monotonic() - start
        ref = reference(path, x)
        agree = np.array_equal(y.argmax(axis=1), ref.argmax(axis=1))
        accuracy = f"{(y.argmax(axis=1) == labels).mean():.2%}" if labels is not None else ""
        print(f"| {path.stem} | {len(x)} | {np.abs(y - ref).max():.2g} | "
              f"{np.count_nonzero(violations(y, ref))} | {'yes' if agree else 'NO'} | "
              f"{accuracy} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
