"""Compiler: lowering, automatic folding, FIFO sizing, the top level, `hwgen build`."""

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hwgen.compiler import build as build_module
from hwgen.compiler.build import build, design
from hwgen.compiler.fifo_sizing import MIN_DEPTH
from hwgen.engines.memories import lut_cost
from hwgen.network import load_network
from hwgen.simulation.frames import (expected_words, first_mismatch, frame_metrics,
                                     input_words)
from hwgen.simulation.streams import run_stream

NETWORKS = Path(__file__).parent.parent / "networks"


def net(name):
    return load_network(NETWORKS / f"{name}.yaml")


def test_lowering_of_a_conv_network():
    d = design(net("mini-cnv"))
    engines = [(node.name, node.kind) for node in d.nodes if node.kind != "fifo"]
    assert engines == [
        ("conv0_pad", "pad"), ("conv0_swg", "sliding_window"), ("conv0_mvau", "mvau"),
        ("pool0", "row_pool"), ("conv1_dwc", "width_converter"),
        ("conv1_swg", "sliding_window"), ("conv1_mvau", "mvau"),
        ("fc0_dwc", "width_converter"), ("fc0_mvau", "mvau"), ("top", "label_select")]
    # A FIFO in front of every engine and behind the last, but where an engine's own output
    # queue serves (all but the width converters have one), unless the next engine needs a
    # deeper one; neighbouring streams agree.
    fifos = {node.name for node in d.nodes if node.kind == "fifo"}
    assert fifos == {"conv0_pad_fifo", "conv1_swg_fifo", "fc0_mvau_fifo"}
    for upstream, downstream in zip(d.nodes, d.nodes[1:]):
        assert upstream.sink == downstream.source
    # The activation is fused: conv0's MVAU has thresholds and emits UINT2.
    mvau = next(node for node in d.nodes if node.name == "conv0_mvau")
    assert "thresholds" in mvau.arrays and str(mvau.sink.dtype) == "UINT2"


def test_bitserial_layers_lower_to_the_bitserial_engine():
    from hwgen.engines.bitserial_mvau import BitSerialMVAUParams
    from hwgen.engines.mvau import MVAUParams
    d = design(net("cnv-w2a2-bitserial"))
    units = {node.layer: node for node in d.nodes if node.kind == "mvau"}
    for layer in d.network.layers:
        if layer.kind in ("conv2d", "dense"):
            node = units[layer.name]
            serial = layer.engine == "bitserial"
            assert type(node.params) is (BitSerialMVAUParams if serial else MVAUParams)
            assert node.cycles() == layer.ideal_cycles()
            if serial:
                assert node.params.mode == layer.bitserial_mode
    assert d.bottleneck.cycles() == 115200         # conv3: the bit-serial layers keep up


def test_an_mvau_keeps_the_next_input_vector_in_its_own_buffer():
    """The room for the next vector while the current one is reused is in the MVAU's input
    buffer: behind another MVAU's queue there is no FIFO, elsewhere the smallest one."""
    d = design(net("tfc-w1a1"))
    nodes = {node.name: node for node in d.nodes}
    assert nodes["fc1_mvau"].params.buffer_words == 2 * 64 // 8 + 1   # two vectors of fc1
    assert nodes["fc1_mvau"].buffer_bits() == {"vector_buffer": 2 * 64 + 8}
    assert nodes["fc3_mvau"].params.buffer_words == 0     # MH == PE: it streams its input
    assert "fc2_mvau_fifo" not in nodes and "fc3_mvau_fifo" not in nodes
    assert {node.params.depth for node in d.nodes if node.kind == "fifo"} == {MIN_DEPTH}


@pytest.mark.parametrize("name,target", [("tfc-w1a1", 1000), ("tfc-w1a1", 100),
                                         ("tfc-w2a2", 20), ("cnv-w1a1", 200000),
                                         ("cnv-w2a2", 40000), ("cnv-w2a2-bitserial", 150000),
                                         ("mini-dwsep", 1200), ("mini-dwsep", 600)])
def test_automatic_folding_meets_the_target(name, target):
    network = net(name)
    for layer in network.layers:          # forget the description's hints
        layer.hints = frozenset()
    d = design(network, target)
    assert d.choices and all(choice.meets_target for choice in d.choices)
    assert all(node.cycles() <= target for node in d.nodes), \
        [(node.name, node.cycles()) for node in d.nodes if node.cycles() > target]
    # Least hardware: no other folding that meets the target has a cheaper MVAU (VVAU)
    # estimate (LUTs, and block RAMs at their LUT price).
    for layer in d.network.layers:
        if layer.kind in ("dense", "conv2d"):
            mvau = next(node for node in d.nodes
                        if node.layer == layer.name and node.kind in ("mvau", "vvau")).params
            channels = layer.simd_channels
            for pe in range(1, layer.mh + 1):
                for simd in range(1, channels + 1):
                    if layer.mh % pe or channels % simd:
                        continue
                    try:
                        other = replace(mvau, pe=pe, simd=simd)
                    except ValueError:
                        continue
                    if other.cycles() <= target:
                        assert lut_cost(other.resources()) >= lut_cost(mvau.resources())


def test_folding_hints_win():
    d = design(net("tfc-w1a1"), 10_000)
    fc0 = d.network.layer("fc0")
    assert (fc0.pe, fc0.simd) == (16, 49)
    assert all(choice.hinted for choice in d.choices if choice.layer.startswith("fc"))


def test_ignore_hints_refolds_a_shipped_network(tmp_path, capsys):
    """tfc-w1a1's hints (fc0 PE 16, SIMD 49...) give 64 cycles per frame; --ignore-hints folds
    it from scratch for 512: the cheapest folding of each layer that meets the target."""
    from hwgen.cli import main

    assert main(["build", str(NETWORKS / "tfc-w1a1.yaml"), "-o", str(tmp_path / "b"), "-q",
                 "--target-cycles", "512", "--ignore-hints", "--json"]) == 0
    folding = json.loads(capsys.readouterr().out)["folding"]
    assert [(c["layer"], c["pe"], c["simd"], c["ideal_cycles"], c["hinted"]) for c in folding] \
        == [("fc0", 1, 98, 512, False), ("fc1", 1, 8, 512, False), ("fc2", 1, 8, 512, False),
            ("fc3", 10, 1, 64, False), ("top", 1, None, 10, False)]
    fc0 = design(net("tfc-w1a1"), 512).network.layer("fc0")       # the hints win otherwise
    assert (fc0.pe, fc0.simd) == (16, 49)
    assert main(["build", str(NETWORKS / "tfc-w1a1.yaml"), "-o", str(tmp_path / "c"),
                 "--ignore-hints"]) == 2
    assert "--target-cycles or --fps" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("name,frames", [("mini-mlp", 12), ("mini-cnv", 3)])
def test_pipeline_matches_golden_under_backpressure(name, frames):
    network = net(name)
    d = design(network)
    inputs = network.random_frames(frames, seed=4)
    golden = network.run(inputs)[-1]
    expected = expected_words(d, golden)
    for stall in (0.0, 0.4):
        run = run_stream(d.pipeline(), input_words(d, inputs), len(expected), seed=5,
                         gap_prob=stall, stall_prob=stall, max_cycles=100_000)
        assert run.outputs == expected
        assert first_mismatch(d, golden, run.outputs) is None
        if not stall:
            cycles, _ = frame_metrics(d, run)
            assert cycles == d.bottleneck.cycles()


def test_first_mismatch_names_frame_and_element():
    network = net("mini-mlp")
    d = design(network)
    golden = network.run(network.random_frames(3))[-1]
    words = expected_words(d, golden)
    bad = list(words)
    bad[2] ^= 1
    mismatch = first_mismatch(d, golden, bad)
    assert (mismatch.frame, mismatch.element) == (2, 0)
    assert first_mismatch(d, golden, words[:-1]).actual is None


def top_ports(verilog_text, top):
    header = re.search(rf"module {top}\((.*?)\);", verilog_text, re.S).group(1)
    return sorted(port.strip() for port in header.split(","))


def test_build_writes_a_complete_directory(tmp_path):
    out = tmp_path / "out"
    d, rep = build(net("mini-cnv"), out)
    files = sorted(path.name for path in out.iterdir())
    assert files == ["mini_cnv.v", "network.yaml", "params.npz", "report.html", "report.json",
                     "report.md"]
    text = (out / "mini_cnv.v").read_text()
    assert top_ports(text, "mini_cnv") == sorted([
        "ap_clk", "ap_rst_n", "s_axis_tdata", "s_axis_tvalid", "s_axis_tready", "s_axis_tlast",
        "m_axis_tdata", "m_axis_tvalid", "m_axis_tready", "m_axis_tlast", "tlast_error"])
    assert re.search(r"input \[7:0\] s_axis_tdata;", text)     # 2 x UINT4, byte-padded
    saved = json.loads((out / "report.json").read_text())
    assert saved["totals"]["bottleneck_cycles"] == 1152
    assert len(saved["nodes"]) == len(d.nodes)
    # Buffer bits: each FIFO's depth x width, and totals per kind of buffer over the nodes.
    kinds = {}
    for row in saved["nodes"]:
        if row["kind"] == "fifo":
            assert row["buffer_bits"] == {"fifo": row["fifo_depth"] * row["in_width"]}
        for kind, bits in row["buffer_bits"].items():
            kinds[kind] = kinds.get(kind, 0) + bits
    assert set(kinds) == {"fifo", "line_buffer", "vector_buffer", "partial_results"}
    assert saved["totals"]["buffer_bits"] == {"total": sum(kinds.values()), **kinds}
    assert "| conv0_mvau | mvau |" in (out / "report.md").read_text()
    assert 'id="n_conv0_mvau"' in (out / "report.html").read_text()
    # The saved description rebuilds the same network.
    rebuilt = load_network(out / "network.yaml")
    frames = rebuilt.random_frames(2, seed=9)
    original = net("mini-cnv")
    for a, b in zip(rebuilt.run(frames), original.run(frames)):
        assert np.array_equal(a, b)
    assert design(rebuilt).verilog() == text


def test_build_is_atomic(tmp_path, monkeypatch):
    out = tmp_path / "out"
    build(net("mini-mlp"), out)
    before = {path.name: path.read_bytes() for path in out.iterdir()}

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(build_module, "report_markdown", explode)
    with pytest.raises(RuntimeError):
        build(net("mini-cnv"), out)
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


def hwgen(*args, env=None):
    return subprocess.run([sys.executable, "-m", "hwgen", *map(str, args)],
                          capture_output=True, text=True, env=env)


def test_verilog_is_byte_identical_across_processes(tmp_path):
    outputs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        result = hwgen("build", NETWORKS / "mini-cnv.yaml", "-o", tmp_path / seed, env=env)
        assert result.returncode == 0, result.stderr
        outputs.append((tmp_path / seed / "mini_cnv.v").read_bytes())
    assert outputs[0] == outputs[1]


def test_build_cli_with_target_and_errors(tmp_path):
    result = hwgen("build", NETWORKS / "tfc-w1a1.yaml", "-o", tmp_path / "t",
                   "--target-cycles", "128", "--json")
    assert result.returncode == 0, result.stderr
    rep = json.loads(result.stdout)
    assert rep["target_cycles"] == 128
    assert all(choice["meets_target"] for choice in rep["folding"])
    result = hwgen("build", NETWORKS / "tfc-w1a1.yaml", "-o", tmp_path / "u",
                   "--target-cycles", "0")
    assert result.returncode == 2 and "--target-cycles" in result.stderr
    assert not (tmp_path / "u").exists()
