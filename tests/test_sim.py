"""Whole networks through `hwgen sim`: Verilator and Amaranth against golden and each other."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from hwgen.compiler.build import build, design
from hwgen.network import load_network
from hwgen.simulation.frames import expected_words, input_words
from hwgen.simulation.run import (EngineMismatch, engine_taps, first_engine_mismatch, simulate,
                                  tapped_nodes)
from hwgen.simulation.taps import verilog_with_probes
from hwgen.simulation.verilator import LINT_WAIVERS, VerilatorSim, lint

NETWORKS = Path(__file__).parent.parent / "networks"


def net(name):
    return load_network(NETWORKS / f"{name}.yaml")


@pytest.mark.parametrize("name", ["mini-mlp", "mini-cnv",
                                  pytest.param("mini-dwsep", marks=pytest.mark.slow),
                                  pytest.param("mini-resnet", marks=pytest.mark.slow)])
def test_both_simulators_agree_with_golden_and_each_other(name):
    network = net(name)
    d = design(network)
    frames = network.random_frames(4, seed=11)
    results = {backend: simulate(d, frames, backend=backend, seed=2, stall_prob=0.3)
               for backend in ("verilator", "amaranth")}
    for result in results.values():
        assert result.mismatches == 0 and result.first_mismatch is None
        assert result.cycles_per_frame == d.bottleneck.cycles()
    verilator, amaranth = results["verilator"], results["amaranth"]
    assert verilator.latency_cycles == amaranth.latency_cycles
    # Both measure the FIFOs' fill levels in the run without stalls, alike.
    assert verilator.fifos == amaranth.fifos
    assert [fifo["name"] for fifo in verilator.fifos] == \
        [node.name for node in d.nodes if node.kind == "fifo"]
    assert all(1 <= fifo["max_occupancy"] <= fifo["depth"] for fifo in verilator.fifos)
    assert verilator.cycles_per_frame == amaranth.cycles_per_frame
    # The report's latency estimate is close to what is measured (1206 cycles for mini-cnv,
    # where the engines' own latencies add up to 89).
    assert abs(d.latency_estimate() - verilator.latency_cycles) <= 0.02 * verilator.latency_cycles


def test_depthwise_separable_network_in_verilator():
    """mini-dwsep (depthwise 3x3 + pointwise 1x1 twice, activations fused): bit-exact under
    random stalls, at its ideal cycles per frame, and its latency within 2% of the estimate.
    The first depthwise layer is its bottleneck at exactly pixels x C/PE x k^2/SIMD: its window
    reads SIMD = 3 positions at once."""
    network = net("mini-dwsep")
    assert network.layer("dw0").ideal_cycles() == 8 * 8 * (4 // 2) * (9 // 3)
    d = design(network)
    assert {node.kind for node in d.nodes} >= {"vvau", "sliding_window", "width_converter"}
    result = simulate(d, network.random_frames(3, seed=5), backend="verilator", seed=1,
                      stall_prob=0.3)
    assert result.mismatches == 0
    assert result.cycles_per_frame == d.bottleneck.cycles()
    assert abs(d.latency_estimate() - result.latency_cycles) <= 0.02 * result.latency_cycles


def test_bitserial_layers_are_bit_exact_at_their_ideal_cycles(tmp_path):
    """mini-cnv with every MVAU bit-serial: conv0 serializes its UINT4 inputs (4 planes),
    conv1 both operands (UINT2 x INT2, 4 planes), fc0 BIPOLAR x BIPOLAR (one +-1 plane)."""
    doc = yaml.safe_load((NETWORKS / "mini-cnv.yaml").read_text())
    modes = {"conv0": "activations", "conv1": "both", "fc0": "both"}
    for layer in doc["layers"]:
        if layer["name"] in modes:
            layer.update(engine="bitserial", bitserial_mode=modes[layer["name"]])
    (tmp_path / "net.yaml").write_text(yaml.safe_dump(doc))
    network = load_network(tmp_path / "net.yaml")
    d = design(network)
    assert d.bottleneck.name == "conv0_mvau" and d.bottleneck.cycles() == 4 * 64 * 2 * 9
    result = simulate(d, network.random_frames(3, seed=4), backend="amaranth", seed=1,
                      stall_prob=0.3)
    assert result.mismatches == 0
    assert result.cycles_per_frame == result.ideal_cycles_per_frame == d.bottleneck.cycles()


def test_tapped_nodes_carry_the_golden_output_of_their_layers():
    """mini-cnv: the MVAUs with fused activations carry the activations' outputs; FIFOs, width
    converters and the padding and sliding-window engines before an MVAU carry none. In a
    clean run every tapped stream equals its layer's golden output."""
    network = net("mini-cnv")
    d = design(network)
    assert [(node.name, layer) for node, layer in tapped_nodes(d)] == [
        ("conv0_mvau", "act0"), ("pool0", "pool0"), ("conv1_mvau", "act1"),
        ("fc0_mvau", "fc0"), ("top", "top")]
    frames = network.random_frames(3, seed=8)
    golden = network.run(frames)
    text, taps, _ = verilog_with_probes(d.top(), d.top_name, engine_taps(d))
    assert text == d.verilog()                  # what `hwgen build` writes
    # pool0 (a row max-pool) is tapped at its own output port.
    assert next(tap.payload for tap in taps if tap.name == "pool0")[-2:] == \
        ("pool0", "o__payload")
    expected = expected_words(d, golden[-1])
    run = VerilatorSim(text, taps=taps).run(input_words(d, frames), len(expected), seed=1,
                                             stall_prob=0.3, burst=3)
    assert run.outputs == expected
    assert first_engine_mismatch(d, golden, run.taps) is None
    assert run.taps["top"] == expected


def test_a_wrong_weight_is_traced_to_its_engine_with_frame_and_element():
    """Weights of the middle matrix layer (conv1, whose MVAU carries act1) corrupted before the
    Verilog is emitted: the output differs, and the first engine whose stream differs is
    conv1's MVAU, not an engine after it."""
    network = net("mini-cnv")
    d = design(network)
    mvau = next(node for node in d.nodes if node.name == "conv1_mvau")
    mvau.arrays["weights"] = -1 - mvau.arrays["weights"]      # INT2 stays INT2, every sign turns
    result = simulate(d, network.random_frames(3, seed=1))
    assert result.mismatches > 0
    assert isinstance(result.first_mismatch, EngineMismatch)
    assert (result.first_mismatch.engine, result.first_mismatch.layer) == ("conv1_mvau", "act1")
    assert re.fullmatch(r"engine conv1_mvau \(layer act1\): frame \d+, element \d+: "
                        r"expected -?\d+, got -?\d+", result.as_dict()["first_mismatch"])


def test_tfc_w1a1_end_to_end_in_verilator():
    network = net("tfc-w1a1")
    d = design(network)
    result = simulate(d, network.random_frames(100, seed=5), seed=7, stall_prob=0.2)
    assert result.mismatches == 0
    assert result.cycles_per_frame / result.ideal_cycles_per_frame <= 1.02
    assert result.ideal_cycles_per_frame == 64


def test_emitted_verilog_lints_clean_and_every_waiver_is_needed(tmp_path):
    """Verilator's -Wall finds nothing in mini-cnv's Verilog beyond the warning classes of
    LINT_WAIVERS (each explained there), and each of them does occur: none is waived for
    nothing."""
    build(net("mini-cnv"), tmp_path / "out")
    path = tmp_path / "out" / "mini_cnv.v"
    assert lint(path, "mini_cnv") == ""
    for waiver in LINT_WAIVERS:
        others = [name for name in LINT_WAIVERS if name != waiver]
        assert f"%Warning-{waiver}" in lint(path, "mini_cnv", others), waiver


def test_sim_cli_json(tmp_path):
    frames = net("mini-mlp").random_frames(5, seed=3)
    np.save(tmp_path / "x.npy", frames)
    result = subprocess.run([sys.executable, "-m", "hwgen", "sim", NETWORKS / "mini-mlp.yaml",
                             "--input", tmp_path / "x.npy", "--stall-prob", "0.5", "--burst", "4",
                             "--json"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["frames"] == 5 and summary["mismatches"] == 0 and summary["burst"] == 4
    for key in ("network", "backend", "cycles_per_frame", "latency_cycles",
                "ideal_cycles_per_frame", "sim_cycles_per_second"):
        assert summary[key] is not None, key
    assert [set(fifo) for fifo in summary["fifos"]] == \
        [{"name", "depth", "max_occupancy"}] * len(summary["fifos"]) != []


def test_sim_cli_rejects_a_burst_below_one():
    result = subprocess.run([sys.executable, "-m", "hwgen", "sim", NETWORKS / "mini-mlp.yaml",
                             "--burst", "0.5"], capture_output=True, text=True)
    assert result.returncode == 2 and "--burst" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cnv-w1a1", "cnv-w2a2"])
def test_cnv_end_to_end_in_verilator(name):
    network = net(name)
    d = design(network)
    result = simulate(d, network.random_frames(8, seed=5), seed=7, stall_prob=0.1)
    assert result.mismatches == 0
    assert result.cycles_per_frame / result.ideal_cycles_per_frame <= 1.05


def test_vcd_trace_on_request(tmp_path):
    network = net("mini-mlp")
    result = simulate(design(network), network.random_frames(2), backend="amaranth",
                      vcd=tmp_path / "trace.vcd")
    assert result.mismatches == 0
    text = (tmp_path / "trace.vcd").read_text()
    assert "$enddefinitions" in text and "fc0_mvau" in text
