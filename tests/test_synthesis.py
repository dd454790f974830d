"""Synthesis with Yosys: cell classification, per-engine grouping, memory placement as the models
say, the cache, and ``hwgen estimate``."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from amaranth.back import verilog

from hwgen.compiler.build import design
from hwgen.datatypes import BIPOLAR
from hwgen.engines.mvau import MatrixVectorUnit, MVAUParams
from hwgen.network import load_network
from hwgen.synthesis import TARGETS, SynthesisResult, synthesize

NETWORKS = Path(__file__).parent.parent / "networks"


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    """One synthesis cache for the whole module run, away from the user's."""
    monkeypatch.setenv("HWGEN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def test_cells_fold_into_figures():
    modules = {"top": {"LUT6": 3, "RAM64M": 2, "FDRE": 5, "MUXF7": 4, "BUFG": 1},
               "top.pipeline.a": {"RAMB36E1": 1, "RAMB18E1": 1, "CARRY4": 2, "SRLC32E": 1},
               "top.pipeline.a.sub": {"LUT2": 1, "DSP48E1": 1},
               "top.pipeline.b": {"FDSE": 2}}
    result = SynthesisResult(TARGETS["xc7"], modules, 1.0, cached=False)
    assert result.totals() == {"lut": 3 + 8 + 1 + 1, "lutram": 8 + 1, "ff": 7, "carry": 2,
                               "bram_kbit": 54, "dsp": 1, "bram18": 3, "bram36": 1.5}
    groups = result.by_prefix("top.pipeline.", ["a", "b", "c"])
    assert groups["a"]["lut"] == 2 and groups["a"]["bram18"] == 3 and groups["a"]["dsp"] == 1
    assert groups["b"]["ff"] == 2 and groups["c"]["lut"] == 0
    assert groups[None]["lut"] == 11 and groups[None]["ff"] == 5


def test_memories_land_where_the_models_put_them():
    """Deep weights fill block RAMs (4 x RAMB18 of 512 x 36 for 512 words of 128 bits), the
    input buffer (8 words) becomes LUT RAM, exactly as the MVAU's model counts them."""
    params = MVAUParams(1024, 64, 4, 32, BIPOLAR, BIPOLAR, 1)
    weights = np.random.default_rng(0).choice([-1, 1], size=(64, 1024))
    text = verilog.convert(MatrixVectorUnit(params, weights), name="unit", emit_src=False)
    totals = synthesize(text, "unit").totals()
    assert totals["bram18"] == params.resources().bram18 == 4
    assert totals["lutram"] > 0 and totals["dsp"] == 0


@pytest.mark.parametrize("target", ["ecp5", "ice40"])
def test_other_families(target):
    """The Lattice flows run and count the mini-MLP's logic."""
    d = design(load_network(NETWORKS / "mini-mlp.yaml"))
    result = synthesize(d.verilog(), d.top_name, target)
    totals = result.totals()
    assert totals["lut"] > 100 and totals["ff"] > 50 and totals["carry"] > 0
    nodes = result.by_prefix(f"{d.top_name}.pipeline.", [n.name for n in d.nodes])
    assert all(nodes[n.name]["lut"] > 0 for n in d.nodes if n.kind == "mvau")


def test_estimate_cli_json_and_cache():
    """`hwgen estimate --json` on TFC-w1a1: totals equal the sum of the parts, every engine
    is found in the synthesized hierarchy, and a second run comes from the cache."""
    argv = [sys.executable, "-m", "hwgen", "estimate", str(NETWORKS / "tfc-w1a1.yaml"), "--json"]
    first = subprocess.run(argv, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["network"] == "tfc-w1a1" and report["target"] == "xc7"
    totals = report["totals"]
    for figure in ("lut", "ff", "bram18", "bram36", "dsp", "carry", "lutram"):
        parts = sum(node["synthesis"][figure] for node in report["nodes"])
        assert parts + report["top_level"][figure] == totals[figure], figure
    assert totals["lut"] > 1000 and totals["ff"] > 1000
    for node in report["nodes"]:
        synth, model = node["synthesis"], node["model"]
        assert synth["lut"] > 0, node["name"]
        # Memories sit where the model puts them (Yosys may pack block RAM a little tighter
        # or looser than the model's best single shape).
        assert (synth["bram18"] > 0) == (model["bram18"] > 0), node["name"]
        assert abs(synth["bram18"] - model["bram18"]) <= 0.1 * model["bram18"], node["name"]
    second = subprocess.run(argv, capture_output=True, text=True)
    assert json.loads(second.stdout)["cached"] and not report["cached"]
    assert json.loads(second.stdout)["totals"] == totals


def test_estimate_cli_text(capsys):
    from hwgen.cli import main
    assert main(["estimate", str(NETWORKS / "mini-mlp.yaml")]) == 0
    out = capsys.readouterr().out
    assert "fc0_mvau" in out and "total:" in out and "BRAM36" in out


def test_place_and_route_reports_the_clock_achieved():
    """`--pnr` on ECP5: nextpnr's achieved clock and the cells it placed."""
    argv = [sys.executable, "-m", "hwgen", "estimate", str(NETWORKS / "mini-mlp.yaml"),
            "--target", "ecp5", "--pnr", "--clock", "50", "--json"]
    result = subprocess.run(argv, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    pnr = json.loads(result.stdout)["place_and_route"]
    assert pnr["device"].startswith("LFE5U") and 20 < pnr["fmax_mhz"] < 500
    assert pnr["utilization"]["TRELLIS_COMB"] > 100


def test_place_and_route_only_for_open_flows(capsys):
    from hwgen.cli import main
    assert main(["estimate", str(NETWORKS / "mini-mlp.yaml"), "--target", "xc7", "--pnr"]) == 2
    assert "--pnr" in capsys.readouterr().err
