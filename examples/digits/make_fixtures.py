"""Train the digits models (models.py), export them as ONNX fixtures and check each export.

Run from the repository root::

    python examples/digits/make_fixtures.py                 # every model
    python examples/digits/make_fixtures.py --only digits-cnn-w4a4 --only digits-cnn-w1a1

For each model: train with Adam (lr 1e-2, cosine schedule, batch 32, 20-30 epochs as in
TRAINING; fixed seeds, deterministic algorithms, one thread), print the
PyTorch test accuracy, export to ``tests/fixtures/onnx/<name>.onnx`` (QONNX via
``brevitas.export.export_qonnx``, or QCDQ via ``export_onnx_qcdq``; the committed file is the raw
export), then execute the file with ``qonnx.core.onnx_exec.execute_onnx`` (on a cleaned-up copy
in memory) on the first CHECK_IMAGES test images, one at a time (the export has batch size 1),
and compare with the PyTorch model: the max abs difference of the outputs and whether every
argmax agrees. A QCDQ file is also run in onnxruntime directly. Then print the graph's op
sequence and the attributes of its quantizers.

``<name>.onnx`` comes from the TorchScript exporter (``dynamo=False``): the exporter the
QONNX/FINN tooling was built around, and the only one with which Brevitas exports a quantized
(int32) bias in QCDQ. Each QONNX model is also exported, from the same trained model, with the
torch.export-based exporter (``dynamo=True``, ``export_qonnx``'s default from PyTorch 2.9 on) to
``<name>-dynamo.onnx`` (Reshape, Gemm, ReduceMean where the other has Flatten, Transpose +
MatMul, GlobalAveragePool); ``--no-dynamo`` skips those.

Also writes ``digits-test-x.npy`` (float32 (N, 1, 8, 8)) and ``digits-test-y.npy`` (int64).
"""

import argparse
import logging
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# noise: Brevitas' optional Hadamard kernels, the dynamo exporter's torchvision registrations
warnings.filterwarnings("ignore", message="fast_hadamard_transform")
logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)

from data import load_split  # noqa: E402
from models import MODELS  # noqa: E402

OUT_DIR = HERE.parent.parent / "tests" / "fixtures" / "onnx"
CHECK_IMAGES = 20
SEED = 0

# name -> (epochs, learning rate); batch size 32 throughout
TRAINING = {
    "digits-mlp-w2a2": (30, 1e-2),
    "digits-mlp-w4a4-perchannel": (30, 1e-2),
    "digits-cnn-w4a4": (25, 1e-2),
    "digits-cnn-w1a1": (30, 1e-2),
    "digits-resnet-w4a4": (20, 1e-2),
    "digits-cnn-w8a8-qcdq": (25, 1e-2),
    "digits-cnn-zeropoint-a8": (20, 1e-2),
    "digits-dwsep-w4a4": (25, 1e-2),
}
BATCH = 32


def train(name, model, x_train, y_train):
    epochs, lr = TRAINING[name]
    gen = torch.Generator().manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.from_numpy(x_train)
    y = torch.from_numpy(y_train)
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
    print(f"  final training loss {total / len(x):.4f} after {epochs} epochs")
    model.eval()


def logits(model, x):
    """The model's float output for numpy images ``x``."""
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    # a QuantTensor (return_quant_tensor=True on the last layer) would need .value
    return getattr(out, "value", out).numpy()


def export(model, fmt, path, dynamo):
    """Export with batch size 1. The export goes to a scratch folder first: the dynamo exporter
    also writes ``<file>.data`` (the weights as external data), which Brevitas then folds back
    into the .onnx it saves, leaving the .data file unused; only the .onnx is kept."""
    from brevitas.export import export_onnx_qcdq, export_qonnx
    example = torch.zeros(1, 1, 8, 8)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scratch = Path(tmp) / path.name
        kwargs = dict(dynamo=True, verbose=False) if dynamo else dict(dynamo=False)
        if fmt == "qonnx":
            export_qonnx(model, args=example, export_path=str(scratch), **kwargs)
        else:
            export_onnx_qcdq(model, args=example, export_path=str(scratch), **kwargs)
        onnx.checker.check_model(str(scratch))
        shutil.move(scratch, path)


def run_qonnx(path, x):
    """Each image of ``x`` through ``execute_onnx`` on a cleaned-up copy of the file."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model
    model = cleanup_model(ModelWrapper(str(path)))
    iname = model.graph.input[0].name
    oname = model.graph.output[0].name
    return np.concatenate([execute_onnx(model, {iname: x[i:i + 1]})[oname]
                           for i in range(len(x))])


def run_onnxruntime(path, x, optimize):
    """Each image of ``x`` through onnxruntime. ``optimize=False``: basic graph optimizations
    only, the graph's float semantics; ``True``: onnxruntime's default (all), which fuses the
    QDQ pattern into QLinearConv, whose u8 x s8 kernel on an x86 CPU without VNNI saturates
    pairs of products at int16 (so its outputs can differ a lot from the graph's)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize else
                                   ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    iname = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {iname: x[i:i + 1]})[0] for i in range(len(x))])


def _initializer(graph, name):
    for init in graph.initializer:
        if init.name == name:
            return onnx.numpy_helper.to_array(init)
    for node in graph.node:  # the dynamo exporter may emit Constant nodes
        if node.op_type == "Constant" and node.output[0] == name:
            return onnx.numpy_helper.to_array(node.attribute[0].t)
    return None


def describe(path):
    """Print the op sequence and every quantizer's attributes."""
    model = onnx.load(str(path))
    g = model.graph
    ops = []
    for node in g.node:
        ops.append(node.op_type + (f" ({node.domain})" if node.domain else ""))
    print("  opsets:", {o.domain or "ai.onnx": o.version for o in model.opset_import})
    print("  ops:", ", ".join(ops))
    for node in g.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
        if node.op_type in ("Quant", "BipolarQuant", "Trunc"):
            vals = [_initializer(g, n) for n in node.input[1:]]
            fields = ["scale", "zeropoint", "bitwidth"] if node.op_type != "BipolarQuant" \
                else ["scale"]
            desc = []
            for f, v in zip(fields, vals):
                if v is None:
                    desc.append(f"{f}=<computed>")
                elif v.size == 1:
                    desc.append(f"{f}={float(v.reshape(-1)[0]):.6g}")
                else:
                    desc.append(f"{f} shape {list(v.shape)} "
                                f"[{v.min():.4g}..{v.max():.4g}]")
            src = "weight" if _initializer(g, node.input[0]) is not None else "act"
            print(f"    {node.op_type} {src} {node.input[0]!r}: {', '.join(desc)}, {attrs}")
        elif node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            s = _initializer(g, node.input[1])
            zp = _initializer(g, node.input[2]) if len(node.input) > 2 else None
            x0 = _initializer(g, node.input[0])
            src = f"initializer {x0.dtype} {list(x0.shape)}" if x0 is not None else "act"
            sdesc = f"scale shape {list(s.shape)}" if s is not None else "scale <computed>"
            zdesc = ("zero_point " + (f"{zp.dtype} nonzero={bool(np.any(zp != 0))}"
                                      if zp is not None else "absent"))
            print(f"    {node.op_type} {src}: {sdesc}, {zdesc}, {attrs}")
        elif node.op_type == "Clip":
            lo = _initializer(g, node.input[1]) if len(node.input) > 1 else None
            hi = _initializer(g, node.input[2]) if len(node.input) > 2 else None
            print(f"    Clip: [{lo}, {hi}]")


def check(path, fmt, x, ref):
    """Run the exported file on images ``x`` and compare with the PyTorch outputs ``ref``;
    True when they agree (max abs difference < 1e-3 and every argmax the same)."""
    # (what, outputs, whether it must agree)
    results = [("qonnx execute_onnx", run_qonnx(path, x), True)]
    if fmt == "qcdq":
        results.append(("onnxruntime (basic optimizations)", run_onnxruntime(path, x, False),
                        True))
        results.append(("onnxruntime (all optimizations, informative only)",
                        run_onnxruntime(path, x, True), False))
    ok = True
    for what, got, checked in results:
        diff = float(np.max(np.abs(got - ref)))
        same = bool(np.all(got.argmax(1) == ref.argmax(1)))
        print(f"  {what} vs PyTorch on {len(x)} test images: max abs difference {diff:.3g}, "
              f"argmax {'agrees' if same else 'differs'}")
        if checked:
            ok = ok and same and diff < 1e-3
    return ok


def make(name, data, dynamo):
    """Train model ``name``, export it (and, for a QONNX model with ``dynamo``, also with the
    dynamo exporter) and check each file; True when every check passed."""
    cls, fmt = MODELS[name]
    x_train, y_train, x_test, y_test = data
    print(f"{name} ({fmt})")
    torch.manual_seed(SEED)
    model = cls()
    start = time.time()
    train(name, model, x_train, y_train)
    out = logits(model, x_test)
    acc = float(np.mean(out.argmax(1) == y_test))
    print(f"  PyTorch test accuracy {acc:.4f} ({len(y_test)} images), "
          f"trained in {time.time() - start:.1f} s")

    ok = True
    for use_dynamo in [False, True] if dynamo and fmt == "qonnx" else [False]:
        path = OUT_DIR / (f"{name}-dynamo.onnx" if use_dynamo else f"{name}.onnx")
        export(model, fmt, path, use_dynamo)
        print(f"  wrote {path.relative_to(OUT_DIR.parent.parent.parent)} "
              f"({path.stat().st_size} bytes, {'dynamo' if use_dynamo else 'TorchScript'} "
              f"exporter)")
        ok = check(path, fmt, x_test[:CHECK_IMAGES], out[:CHECK_IMAGES]) and ok
        describe(path)
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(MODELS), metavar="NAME",
                        help="make only this model (repeatable); one of: "
                        + ", ".join(MODELS))
    parser.add_argument("--no-dynamo", action="store_true",
                        help="skip the <name>-dynamo.onnx exports")
    args = parser.parse_args()

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    data = load_split()
    np.save(OUT_DIR / "digits-test-x.npy", data[2])
    np.save(OUT_DIR / "digits-test-y.npy", data[3])

    failed = [n for n in args.only or list(MODELS) if not make(n, data, not args.no_dynamo)]
    if failed:
        print("export check FAILED:", ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
