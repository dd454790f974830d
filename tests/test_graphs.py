"""Networks as graphs: `inputs:`, forks and joins (add, concat), global average pooling, their
validation, golden model, lowering and FIFO sizing on reconvergent paths."""

import copy

import numpy as np
import pytest
import yaml

from hwgen import golden
from hwgen.compiler.build import built_description, design
from hwgen.errors import HwgenError
from hwgen.network import load_network

# A residual block and a concat: input -> conv -> act -> (conv -> act) + act -> act; a concat
# of the block's output with a 1x1 conv of it; global pool; dense.
BASE = {
    "name": "g",
    "seed": 3,
    "layers": [
        {"name": "input", "kind": "input", "shape": [6, 6, 4], "datatype": "UINT3"},
        {"name": "conv", "kind": "conv2d", "channels": 4, "kernel": 3, "padding": 1,
         "weight_datatype": "INT2", "pe": 2, "simd": 2},
        {"name": "act", "kind": "activation", "datatype": "UINT2"},
        {"name": "conv2", "kind": "conv2d", "channels": 4, "kernel": 3, "padding": 1,
         "weight_datatype": "INT2", "pe": 4, "simd": 4},
        {"name": "act2", "kind": "activation", "datatype": "INT2"},
        {"name": "add", "kind": "add", "inputs": ["act2", "act"]},
        {"name": "act3", "kind": "activation", "datatype": "UINT2"},
        {"name": "side", "kind": "conv2d", "channels": 2, "kernel": 1,
         "weight_datatype": "INT2"},
        {"name": "side_act", "kind": "activation", "datatype": "UINT2"},
        {"name": "cat", "kind": "concat", "inputs": ["act3", "side_act"]},
        {"name": "pool", "kind": "global_avgpool"},
        {"name": "fc", "kind": "dense", "outputs": 3, "weight_datatype": "INT2"},
    ],
}


def write(tmp_path, doc):
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def mutated(change):
    doc = copy.deepcopy(BASE)
    change(doc)
    return doc


def test_golden_model_of_a_graph(tmp_path):
    net = load_network(write(tmp_path, BASE))
    frames = net.random_frames(3, seed=2)
    out = dict(zip((layer.name for layer in net.layers), net.run(frames)))
    layer = net.layer
    x = golden.multithreshold(golden.conv2d(frames, layer("conv").weights, pads=(1, 1, 1, 1)),
                              layer("act").thresholds, layer("act").out_dtype)
    y = golden.multithreshold(golden.conv2d(x, layer("conv2").weights, pads=(1, 1, 1, 1)),
                              layer("act2").thresholds, layer("act2").out_dtype)
    block = golden.multithreshold(x + y, layer("act3").thresholds, layer("act3").out_dtype)
    side = golden.multithreshold(golden.conv2d(block, layer("side").weights),
                                 layer("side_act").thresholds, layer("side_act").out_dtype)
    cat = np.concatenate([block, side], axis=-1)
    np.testing.assert_array_equal(out["cat"], cat)
    np.testing.assert_array_equal(out["pool"], cat.sum(axis=(1, 2), keepdims=True))
    np.testing.assert_array_equal(out["fc"], golden.dense(out["pool"], layer("fc").weights))
    # Datatypes: the add's sum is exact (INT2 + UINT2: -2..4), the pool's sum over 36 pixels.
    assert str(layer("add").out_dtype) == "INT4" and str(layer("pool").out_dtype) == "UINT7"
    assert layer("act3").fused_into == "add" and layer("act").fused_into == "conv"
    for name, value in out.items():
        assert layer(name).out_dtype.allows(value).all(), name


def test_lowering_forks_and_sizes_the_shortcut_fifo(tmp_path):
    d = design(load_network(write(tmp_path, BASE)))
    nodes = {node.name: node for node in d.nodes}
    assert nodes["act_fork"].kind == "fork" and nodes["act3_fork"].kind == "fork"
    assert nodes["add"].kind == "add" and nodes["cat"].kind == "concat"
    assert "thresholds" in nodes["add"].arrays        # act3 fused into the add
    shortcut = nodes["add_fifo1"]
    assert shortcut.inputs[0].node == "act_fork" and shortcut.params.depth > 6 * 2
    assert "input 1 of add holds up to" in shortcut.reason and "waits for input 0" in shortcut.reason
    # Topological order: every node after the nodes it reads.
    seen = {None}
    for node in d.nodes:
        assert all(port.node in seen for port in node.inputs), node.name
        seen.add(node.name)


def test_built_description_keeps_the_graph(tmp_path):
    net = load_network(write(tmp_path, BASE))
    doc, arrays = built_description(net)
    specs = {spec["name"]: spec for spec in doc["layers"]}
    assert specs["add"]["inputs"] == ["act2", "act"] and "inputs" not in specs["conv2"]
    assert specs["cat"]["inputs"] == ["act3", "side_act"] and "inputs" not in specs["side"]
    np.savez(tmp_path / "params.npz", **arrays)
    (tmp_path / "rebuilt.yaml").write_text(yaml.safe_dump(doc))
    again = load_network(tmp_path / "rebuilt.yaml")
    frames = net.random_frames(2)
    for a, b in zip(net.run(frames), again.run(frames)):
        np.testing.assert_array_equal(a, b)


def _swap(doc, i, j):
    doc["layers"][i], doc["layers"][j] = doc["layers"][j], doc["layers"][i]


MALFORMED = {
    "unknown_input": (lambda d: d["layers"][5].update(inputs=["act2", "nope"]), "add",
                      "inputs"),
    "repeated_input": (lambda d: d["layers"][5].update(inputs=["act2", "act2"]), "add",
                       "inputs"),
    "own_input": (lambda d: d["layers"][5].update(inputs=["add", "act"]), "add", "inputs"),
    "later_input": (lambda d: d["layers"][3].update(inputs=["act3"]), "conv2", "inputs"),
    "cycle": (lambda d: d["layers"][1].update(inputs=["act2"]), "conv", "inputs"),
    "join_of_one": (lambda d: d["layers"][5].update(inputs=["act2"]), "add", "inputs"),
    "two_inputs_to_a_conv": (lambda d: d["layers"][3].update(inputs=["act", "input"]),
                             "conv2", "inputs"),
    "not_a_list": (lambda d: d["layers"][5].update(inputs={"a": 1}), "add", "inputs"),
    "inputs_on_the_input": (lambda d: d["layers"][0].update(inputs=["conv"]), "input",
                            "inputs"),
    "dangling": (lambda d: d["layers"].insert(7, {"name": "extra", "kind": "maxpool",
                                                  "kernel": 2, "inputs": ["act3"]})
                 or d["layers"][8].update(inputs=["act3"]), "extra", "name"),
    "add_shapes": (lambda d: d["layers"][3].update(stride=2), "add", "inputs"),
    "concat_datatypes": (lambda d: d["layers"][9].update(inputs=["act3", "side"]), "cat",
                         "inputs"),
    "concat_sizes": (lambda d: d["layers"][7].update(stride=2), "cat", "inputs"),
    "pool_of_vector": (lambda d: d["layers"].append({"name": "p2", "kind": "global_avgpool"}),
                       "p2", "kind"),
    "join_pe": (lambda d: d["layers"][9].update(pe=4), "cat", "pe"),
    "negated_weights_read_twice": (lambda d: d["layers"][2].update(
        batchnorm={"gamma": [1, -1, 1, 1], "mean": 0, "var": 1}) or
        d["layers"].insert(3, {"name": "x", "kind": "maxpool", "kernel": 1,
                               "inputs": ["conv"]}) or
        d["layers"][6].update(inputs=["act2", "act", "x"]) or
        d["layers"][3].update(), "act", "batchnorm.gamma"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_graphs(tmp_path, case):
    change, layer, field = MALFORMED[case]
    path = write(tmp_path, mutated(change))
    with pytest.raises(HwgenError) as info:
        load_network(path)
    assert (info.value.layer, info.value.field) == (layer, field), str(info.value)
    assert str(path) in str(info.value)


def test_check_lists_joins_and_pooling(tmp_path, capsys):
    from hwgen.cli import main
    import json

    assert main(["check", "--json", str(write(tmp_path, BASE))]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {row["name"]: row for row in report["layers"]}
    assert rows["add"]["kind"] == "add" and rows["add"]["inputs"] == ["act2", "act"]
    assert rows["pool"]["kind"] == "global_avgpool" and rows["pool"]["ideal_cycles"] == 36 * 6
    net = load_network(write(tmp_path, BASE))
    d = design(net)
    assert report["bottleneck_cycles"] == d.bottleneck.cycles()


def test_strided_1x1_conv_costs_its_input_and_runs_at_it(tmp_path):
    """A 1x1 stride-2 conv reads every input pixel: its cost is the Subsample's input words
    (324), not the MVAU's 81 windows, in `hwgen check` and in simulation alike."""
    from hwgen.simulation.run import simulate

    doc = {"name": "s", "layers": [
        {"name": "input", "kind": "input", "shape": [18, 18, 1], "datatype": "UINT2"},
        {"name": "conv", "kind": "conv2d", "channels": 2, "kernel": 1, "stride": 2,
         "weight_datatype": "INT2", "pe": 2},
        {"name": "act", "kind": "activation", "datatype": "UINT2"}]}
    net = load_network(write(tmp_path, doc))
    assert net.layer("conv").ideal_cycles() == 18 * 18
    d = design(net)
    assert [node.kind for node in d.nodes if node.layer == "conv"][-2:] == ["subsample", "mvau"]
    result = simulate(d, net.random_frames(3, seed=1), backend="amaranth", stall_prob=0.2)
    assert result.mismatches == 0 and result.cycles_per_frame == 18 * 18


def test_mini_resnet_in_verilator_with_bursts(tmp_path):
    """`hwgen sim --json` on the residual network: bit-exact under bursty backpressure, at its
    ideal cycles per frame without it; every FIFO sized for a join reported, never more than
    its computed depth held. (Its 1x1 shortcut's FIFO, 80 words, holds at most 49; see the
    README's residual table.)"""
    import json
    import subprocess
    import sys
    from pathlib import Path

    path = Path(__file__).parent.parent / "networks" / "mini-resnet.yaml"
    result = subprocess.run([sys.executable, "-m", "hwgen", "sim", str(path), "--frames", "3",
                             "--stall-prob", "0.3", "--burst", "8", "--json", "-q"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["mismatches"] == 0
    assert report["cycles_per_frame"] == report["ideal_cycles_per_frame"]
    d = design(load_network(path))
    joins = {node.name: node.params.depth for node in d.nodes if node.reason}
    fifos = {fifo["name"]: fifo for fifo in report["fifos"]}
    assert set(joins) <= set(fifos) and any(depth > 8 for depth in joins.values())
    for name, depth in joins.items():
        assert fifos[name]["depth"] == depth
        assert 0 < fifos[name]["max_occupancy"] <= depth
