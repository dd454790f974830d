"""A trained network to verified hardware: train a Brevitas CNN on scikit-learn's digits, export
it as QONNX, and run it through hwgen (import, build, Verilator on the whole test set).

Run from the repository root, with the examples extra (torch, brevitas...) installed::

    python examples/digits/run.py [--model digits-cnn-w4a4] [--out out/digits]

It prints the accuracy of the generated hardware on the 360 test images beside PyTorch's, and
how far the hardware's outputs are from PyTorch's.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from data import load_split                                 # noqa: E402
from make_fixtures import SEED, export, logits, train          # noqa: E402
from models import MODELS                                    # noqa: E402


def hwgen(*args):
    """``hwgen ARGS``, its steps on the terminal; stop on failure."""
    command = [sys.executable, "-m", "hwgen", *map(str, args)]
    print("$ hwgen " + " ".join(map(str, args)), flush=True)
    subprocess.run(command, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="digits-cnn-w4a4", choices=sorted(MODELS))
    parser.add_argument("--out", type=Path, default=Path("out/digits"))
    parser.add_argument("--target-cycles", type=int, default=1000,
                        help="cycles per frame to fold the hardware for (default 1000)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    x_train, y_train, x_test, y_test = load_split()

    start = time.monotonic()
    cls, fmt = MODELS[args.model]
    torch.manual_seed(SEED)
    model = cls()
    train(args.model, model, x_train, y_train)
    torch_scores = logits(model, x_test)
    print(f"trained {args.model} in {time.monotonic() - start:.0f} s")
    onnx_path = args.out / f"{args.model}.onnx"
    export(model, fmt, onnx_path, dynamo=False)
    np.save(args.out / "x_test.npy", x_test)

    description = args.out / "net.yaml"
    hwgen("import", onnx_path, "-o", description)
    hwgen("build", description, "-o", args.out / "build", "--target-cycles", args.target_cycles)
    hwgen("sim", args.out / "build" / "network.yaml", "--input", args.out / "x_test.npy",
          "--output", args.out / "y_hw.npy")
    hw_scores = np.load(args.out / "y_hw.npy")

    torch_accuracy = (torch_scores.argmax(axis=1) == y_test).mean()
    hw_accuracy = (hw_scores.argmax(axis=1) == y_test).mean()
    print(f"\n{args.model} on the {len(y_test)} digits test images:")
    print(f"  PyTorch (Brevitas)         accuracy {torch_accuracy:.2%}")
    print(f"  hwgen hardware (Verilator) accuracy {hw_accuracy:.2%}")
    print(f"  labels that differ: {(hw_scores.argmax(1) != torch_scores.argmax(1)).sum()}; "
          f"largest output difference {np.abs(hw_scores - torch_scores).max():.2e}")
    return 0 if hw_accuracy == torch_accuracy else 1


if __name__ == "__main__":
    sys.exit(main())
