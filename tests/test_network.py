"""Network descriptions: loading, generated parameters, batch-norm folding, validation errors."""

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from hwgen import golden
from hwgen.datatypes import DataType
from hwgen.errors import HwgenError
from hwgen.network import load_network
from hwgen.network.batchnorm import fold_batchnorm, quantize_batchnorm
from hwgen.golden import multithreshold

NETWORKS = Path(__file__).parent.parent / "networks"

BASE = {
    "name": "t",
    "seed": 5,
    "layers": [
        {"name": "input", "kind": "input", "shape": [6, 6, 2], "datatype": "UINT3"},
        {"name": "conv", "kind": "conv2d", "channels": 4, "kernel": 3, "padding": 1,
         "weight_datatype": "INT2", "pe": 2, "simd": 2},
        {"name": "act", "kind": "activation", "datatype": "UINT2"},
        {"name": "pool", "kind": "maxpool", "kernel": 2},
        {"name": "fc", "kind": "dense", "outputs": 5, "weight_datatype": "INT2"},
        {"name": "top", "kind": "label_select", "k": 2},
    ],
}


def write(tmp_path, doc, name="net.yaml"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def mutated(change):
    doc = copy.deepcopy(BASE)
    change(doc)
    return doc


def test_base_loads_and_runs(tmp_path):
    net = load_network(write(tmp_path, BASE))
    assert [layer.out_shape for layer in net.layers] == \
        [(6, 6, 2), (6, 6, 4), (6, 6, 4), (3, 3, 4), (5,), (2,)]
    frames = net.random_frames(3, seed=1)
    outputs = net.run(frames)
    assert len(outputs) == len(net.layers)
    for layer, out in zip(net.layers, outputs):
        assert out.shape == (3, *layer.out_shape)
        assert layer.out_dtype.allows(out).all(), layer.name


def test_generated_parameters_are_valid_and_deterministic(tmp_path):
    a = load_network(write(tmp_path, BASE, "a.yaml"))
    b = load_network(write(tmp_path, BASE, "b.yaml"))
    c = load_network(write(tmp_path, dict(BASE, seed=6), "c.yaml"))
    assert np.array_equal(a.layer("conv").weights, b.layer("conv").weights)
    assert not np.array_equal(a.layer("conv").weights, c.layer("conv").weights)
    act = a.layer("act")
    lo, hi = act.in_dtype.min, act.in_dtype.max
    assert act.thresholds.shape == (4, 3)
    assert (np.diff(act.thresholds, axis=1) >= 0).all()
    assert ((act.thresholds >= lo) & (act.thresholds <= hi + 1)).all()
    # Calibrated thresholds make every output level occur on random frames.
    out = a.run(a.random_frames(8, seed=3))[2]
    assert set(np.unique(out)) == {0, 1, 2, 3}


def test_inline_and_npz_parameters(tmp_path):
    rng = np.random.default_rng(0)
    weights = rng.integers(-2, 2, size=(5, 36))
    thresholds = np.sort(rng.integers(-30, 30, size=(4, 3)), axis=1)
    np.savez(tmp_path / "p.npz", fc=weights)
    doc = mutated(lambda d: (d.update(params="p.npz"),
                             d["layers"][4].update(weights={"key": "fc"}),
                             d["layers"][2].update(thresholds=thresholds.tolist())))
    net = load_network(write(tmp_path, doc))
    assert np.array_equal(net.layer("fc").weights, weights)
    assert np.array_equal(net.layer("act").thresholds, thresholds)


@pytest.mark.parametrize("name", ["BIPOLAR", "BINARY", "UINT2", "INT2", "INT3"])
def test_batchnorm_folding_matches_float_reference(name):
    dtype = DataType.parse(name)
    rng = np.random.default_rng(len(name))
    c, lo, hi = 16, -60, 60
    gamma = rng.uniform(0.05, 3, size=c)
    gamma[0] = 0.0
    beta, mean = rng.normal(0, 2, size=c), rng.normal(0, 10, size=c)
    var, scale = rng.uniform(0.5, 40, size=c), rng.uniform(0.2, 2, size=c)
    thresholds = fold_batchnorm(gamma, beta, mean, var, 1e-5, scale, dtype, lo, hi)
    acc = np.broadcast_to(np.arange(lo, hi + 1)[:, None], (hi - lo + 1, c))
    assert np.array_equal(multithreshold(acc, thresholds, dtype),
                          quantize_batchnorm(acc, gamma, beta, mean, var, 1e-5, scale, dtype))


def test_negative_gamma_is_absorbed_into_weights():
    net = load_network(NETWORKS / "mini-mlp.yaml")
    doc = yaml.safe_load((NETWORKS / "mini-mlp.yaml").read_text())
    bn = {k: np.broadcast_to(np.asarray(v, dtype=float), (8,))
          for k, v in doc["layers"][2]["batchnorm"].items()}
    frames = net.random_frames(50, seed=2)
    outputs = net.run(frames)
    flipped = bn["gamma"] < 0
    assert flipped.any()
    acc = outputs[1] * np.where(flipped, -1, 1)       # the accumulators of the unflipped weights
    expected = quantize_batchnorm(acc, bn["gamma"], bn["beta"], bn["mean"], bn["var"], 1e-5,
                                  bn["scale"], DataType.parse("INT2"))
    assert np.array_equal(outputs[2], expected)


def test_canonical_networks_bottlenecks():
    expected = {"cnv-w1a1": 32768, "tfc-w1a1": 64, "tfc-w1a2": 64, "tfc-w2a2": 64,
                "lfc-w1a1": 512, "kws-mlp-w3a3": 392, "ad-fcae-w8a8": 2048,
                "dscnn-kws-w4a4": 16000, "mobilenetv1-025-vww-w4a4": 20736}
    for name, cycles in expected.items():
        assert load_network(NETWORKS / f"{name}.yaml").bottleneck().ideal_cycles() == cycles


def test_bitserial_engine_serializes_the_ideal_cycles(tmp_path):
    """engine: bitserial multiplies a layer's ideal cycles by its bit-planes: the activation
    bits (UINT3 input: 3), or activation x weight bits in "both" mode (UINT2 x INT2: 4)."""
    parallel = load_network(write(tmp_path, BASE, "a.yaml"))
    serial = load_network(write(tmp_path, mutated(lambda d: (
        d["layers"][1].update(engine="bitserial"),
        d["layers"][4].update(engine="bitserial", bitserial_mode="both"))), "b.yaml"))
    conv, fc = serial.layer("conv"), serial.layer("fc")
    assert (conv.bitserial_mode, fc.bitserial_mode) == ("activations", "both")
    assert conv.ideal_cycles() == 3 * parallel.layer("conv").ideal_cycles()
    assert fc.ideal_cycles() == 4 * parallel.layer("fc").ideal_cycles()
    assert parallel.layer("conv").bitserial_mode is None


@pytest.mark.parametrize("path", sorted(NETWORKS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_network_runs(path):
    net = load_network(path)
    out = net.run(net.random_frames(2))
    assert out[-1].shape == (2, *net.output.out_shape)


def test_depthwise_conv_layer(tmp_path):
    """groups = channels: the golden model is each channel convolved alone (the full
    convolution with weights zero off the diagonal); the description round-trips through
    spec(); it lowers to a window in the depthwise order, a width converter to SIMD positions x
    PE channels, and a VVAU."""
    doc = copy.deepcopy(BASE)
    doc["layers"][1].update(groups=2, channels=2, pe=2, simd=3)
    network = load_network(write(tmp_path, doc))
    conv = network.layers[1]
    x = network.random_frames(2)
    full = conv.weights * np.eye(2, dtype=np.int64)[:, None, None, :]
    assert np.array_equal(conv.golden(x), golden.conv2d(x, full, conv.stride, conv.pads))
    assert conv.spec({})["groups"] == 2 and conv.summary()["groups"] == 2
    assert (conv.mw, conv.mh, conv.macs) == (9, 2, 36 * 9 * 2)
    kinds = [node.kind for node in conv.engine_nodes()]
    assert kinds == ["pad", "sliding_window", "vvau"]
    window = conv.engine_nodes()[1].params
    assert window.depthwise and window.simd == 2


# Each malformed description, and the (layer, field) its error must name.
MALFORMED = {
    "unknown_kind": (lambda d: d["layers"][3].update(kind="minpool"), "pool", "kind"),
    "typo_field": (lambda d: d["layers"][1].update(kernal=3), "conv", "kernal"),
    "kernel_too_large": (lambda d: d["layers"][3].update(kernel=7), "pool", "kernel"),
    "conv_kernel_too_large": (lambda d: d["layers"][1].update(kernel=9), "conv", "kernel"),
    "pe_not_dividing": (lambda d: d["layers"][1].update(pe=3), "conv", "pe"),
    "simd_not_dividing": (lambda d: d["layers"][4].update(simd=7), "fc", "simd"),
    "bad_datatype": (lambda d: d["layers"][2].update(datatype="FLOAT8"), "act", "datatype"),
    "activation_too_wide": (lambda d: d["layers"][2].update(datatype="UINT10"), "act",
                            "datatype"),
    "unknown_calibration": (lambda d: d["layers"][2].update(calibration="minmax"), "act",
                            "calibration"),
    "calibration_of_given_thresholds": (
        lambda d: d["layers"][2].update(calibration="uniform", thresholds=[[0]] * 4), "act",
        "calibration"),
    "weights_outside": (lambda d: d["layers"][4].update(weights=[[2] * 36] * 5), "fc",
                        "weights"),
    "weights_shape": (lambda d: d["layers"][4].update(weights=[[1] * 35] * 5), "fc", "weights"),
    "threshold_count": (lambda d: d["layers"][2].update(thresholds=[[1, 2]] * 4), "act",
                        "thresholds"),
    "thresholds_unsorted": (lambda d: d["layers"][2].update(thresholds=[[3, 2, 1]] * 4), "act",
                            "thresholds"),
    "shape_mismatch": (lambda d: d["layers"].insert(4, {"name": "c2", "kind": "conv2d",
                                                        "channels": 2, "kernel": 1,
                                                        "weight_datatype": "INT2"})
                       or d["layers"].insert(4, {"name": "f", "kind": "flatten"}), "c2", "kind"),
    "k_too_large": (lambda d: d["layers"][5].update(k=6), "top", "k"),
    "xnor_not_bipolar": (lambda d: d["layers"][4].update(engine="xnor"), "fc", "engine"),
    "unknown_engine": (lambda d: d["layers"][1].update(engine="serial"), "conv", "engine"),
    "bad_bitserial_mode": (lambda d: d["layers"][1].update(engine="bitserial",
                                                           bitserial_mode="weights"),
                           "conv", "bitserial_mode"),
    "bitserial_mode_not_bitserial": (lambda d: d["layers"][4].update(bitserial_mode="both"),
                                     "fc", "bitserial_mode"),
    "unknown_resource": (lambda d: d["layers"][1].update(resource="bram"), "conv", "resource"),
    "dsp_narrow_products": (lambda d: d["layers"][1].update(resource="dsp"), "conv",
                            "resource"),      # UINT3 x INT2: under the DSP's 4 x 4 bits
    "negative_stride": (lambda d: d["layers"][1].update(stride=-1), "conv", "stride"),
    "duplicate_name": (lambda d: d["layers"][4].update(name="conv"), "conv", "name"),
    "missing_npz": (lambda d: d["layers"][4].update(weights={"file": "no.npz", "key": "w"}),
                    "fc", "weights"),
    "pe_on_fused_activation": (lambda d: d["layers"][2].update(pe=2), "act", "pe"),
    "bipolar_padding": (lambda d: d["layers"][0].update(datatype="BIPOLAR"), "conv", "padding"),
    "negative_gamma_int_weights": (lambda d: d["layers"][2].update(
        batchnorm={"gamma": -1.0, "mean": 0, "var": 1}), "act", "batchnorm.gamma"),
    "input_not_first": (lambda d: d["layers"].reverse(), "top", "kind"),
    "missing_required": (lambda d: d["layers"][4].pop("outputs"), "fc", "outputs"),
    # conv reads 2 channels: groups 1 or 2 (depthwise, with channels 2) only.
    "groups_unsupported": (lambda d: d["layers"][1].update(groups=3), "conv", "groups"),
    "groups_not_positive": (lambda d: d["layers"][1].update(groups=0), "conv", "groups"),
    "depthwise_channels": (lambda d: d["layers"][1].update(groups=2), "conv", "channels"),
    "depthwise_simd": (lambda d: d["layers"][1].update(groups=2, channels=2, pe=1, simd=2),
                       "conv", "simd"),
    "depthwise_bitserial": (lambda d: d["layers"][1].update(groups=2, channels=2, pe=1,
                                                            engine="bitserial"),
                            "conv", "engine"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_descriptions(tmp_path, case):
    change, layer, field = MALFORMED[case]
    path = write(tmp_path, mutated(change))
    with pytest.raises(HwgenError) as info:
        load_network(path)
    assert (info.value.layer, info.value.field) == (layer, field)
    text = str(info.value)
    assert str(path) in text and f"layer '{layer}'" in text and f"field '{field}'" in text


@pytest.mark.parametrize("text,field", [("layers: [\n  {kind: input", None),
                                        ("- just a list", None),
                                        ("layers: []", "layers"),
                                        ("seed: -1\nlayers: [{kind: input}]", "seed")])
def test_malformed_documents(tmp_path, text, field):
    with pytest.raises(HwgenError) as info:
        load_network(write(tmp_path, text))
    assert info.value.field == field and str(tmp_path) in str(info.value)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "hwgen", *map(str, args)],
                          capture_output=True, text=True)


@pytest.mark.parametrize("case", ["weights_outside", "unknown_kind", "pe_not_dividing",
                                  "activation_too_wide", "groups_unsupported"])
def test_cli_error_is_one_line_and_status_2(tmp_path, case):
    change, layer, field = MALFORMED[case]
    result = run_cli("check", write(tmp_path, mutated(change)))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert f"layer '{layer}'" in lines[0] and f"field '{field}'" in lines[0]


def test_cli_unreadable_and_bad_yaml(tmp_path):
    result = run_cli("check", tmp_path / "missing.yaml")
    assert result.returncode == 2 and "missing.yaml" in result.stderr
    result = run_cli("check", write(tmp_path, "layers: [\n  {kind: input"))
    assert result.returncode == 2 and "invalid YAML at line" in result.stderr


# Values a mutation puts where the description had something else: wrong types, lists and
# mappings where scalars go, negative, zero, huge and non-finite numbers, stray names.
FUZZ_VALUES = [{}, {"a": 1}, [], [1, 2, 3], [[1]], [-1, 2], None, "", "x", "random", "UINT32",
               "INT32", "BIPOLAR", "UINT1", True, -1, 0, 1, 3, -2.5, 0.5, 1e300, float("nan"),
               2**31, 2**40, 10**18, 2**70]


def fuzz_places(node):
    """Every (container, key) of a parsed description."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        yield node, key
        if isinstance(value, (dict, list)):
            yield from fuzz_places(value)


def fuzzed(doc, rng):
    """``doc`` with one to three seeded mutations: a value replaced, a key or item removed, a
    stray key added, two layers swapped, a layer repeated, a layer's inputs renamed."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        container, key = rng.choice(list(fuzz_places(doc)))
        action = rng.random()
        if action < 0.15:
            del container[key]
        elif action < 0.2 and isinstance(container, dict):
            container[rng.choice(["extra", "pe", "simd", "padding", "stride"])] = \
                rng.choice(FUZZ_VALUES)
        elif action < 0.25 and len(doc.get("layers", [])) > 2:
            i, j = rng.sample(range(len(doc["layers"])), 2)
            doc["layers"][i], doc["layers"][j] = doc["layers"][j], doc["layers"][i]
        elif action < 0.3 and doc.get("layers"):
            doc["layers"].insert(rng.randrange(len(doc["layers"])),
                                 copy.deepcopy(rng.choice(doc["layers"])))
        elif action < 0.4 and doc.get("layers") and isinstance(rng.choice(doc["layers"]), dict):
            # Inputs renamed: to other layers (earlier, later, itself) or to nothing known.
            names = [spec.get("name") for spec in doc["layers"] if isinstance(spec, dict)]
            layer = rng.choice([spec for spec in doc["layers"] if isinstance(spec, dict)])
            layer["inputs"] = rng.sample(names + ["nope"], rng.randint(1, min(3, len(names))))
        else:
            container[key] = copy.deepcopy(rng.choice(FUZZ_VALUES))
        if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list):
            break
    return doc


# Seeded mutations per shipped network: fewer of the large ones, whose check takes seconds.
LARGE_NETWORKS = ("cnv", "resnet", "dscnn", "mobilenet", "ad-fcae")
FUZZ_RUNS = {path.stem: (4 if path.stem.startswith(LARGE_NETWORKS) else 30)
             for path in sorted(NETWORKS.glob("*.yaml"))}


@pytest.mark.parametrize("name", sorted(FUZZ_RUNS))
def test_mutated_descriptions_never_give_a_traceback(tmp_path, capsys, name):
    """`hwgen check` on mutated shipped descriptions: exit 0, or exit 2 with one line."""
    from hwgen.cli import main

    original = yaml.safe_load((NETWORKS / f"{name}.yaml").read_text())
    rng = __import__("random").Random(name)
    for run in range(FUZZ_RUNS[name]):
        doc = fuzzed(original, rng)
        path = write(tmp_path, doc)
        status = main(["check", str(path)])
        out, err = capsys.readouterr()
        assert status in (0, 2), (run, doc, err)
        assert status == 2 or err == "", err
        if status == 2:
            assert err.startswith("hwgen: error: ") and len(err.strip().splitlines()) == 1, err
            assert out == ""
