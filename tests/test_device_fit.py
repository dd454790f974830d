"""--device: the fastest design whose modelled resources fit a share of a part (model only: no
synthesis, no simulation)."""

import json
from pathlib import Path

import pytest

from hwgen.cli import main
from hwgen.compiler.build import design
from hwgen.compiler.device_fit import candidate_targets, fit_device
from hwgen.devices import DEVICES, RESOURCES
from hwgen.network import load_network

NETWORKS = Path(__file__).parent.parent / "networks"


def net(name):
    return load_network(NETWORKS / f"{name}.yaml")


def fits(network, part, utilization, target, ignore_hints=True):
    use = part.use(design(network, target, ignore_hints=ignore_hints).resources())
    budget = part.budget(utilization)
    return all(use[key] <= budget[key] for key in RESOURCES)


def run(capsys, *args):
    status = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return status, out, err


def one_error(err):
    lines = [line for line in err.strip().splitlines() if not line.startswith("hwgen: fitting")]
    assert len(lines) == 1 and lines[0].startswith("hwgen: error: "), err
    return lines[0]


@pytest.mark.parametrize("name,part,utilization", [("resnet8-w4a4", "xc7z020", 0.8),
                                                   ("tfc-w1a1", "ice40-hx8k", 1.0)])
def test_the_chosen_design_fits_and_the_next_faster_does_not(name, part, utilization):
    network, chip = net(name), DEVICES[part]
    fit = fit_device(network, chip, utilization, ignore_hints=True)
    budget = chip.budget(utilization)
    assert all(fit.use[key] <= budget[key] for key in RESOURCES)
    assert fit.design.resources() == design(network, fit.target,
                                            ignore_hints=True).resources()
    candidates = candidate_targets(network, ignore_hints=True)
    index = candidates.index(fit.target)
    for faster in candidates[:index]:
        assert not fits(network, chip, utilization, faster)
    assert fit.design.bottleneck.cycles() <= fit.target
    again = fit_device(network, chip, utilization, ignore_hints=True)      # deterministic
    assert (again.target, again.trials, again.use) == (fit.target, fit.trials, fit.use)


def test_a_network_that_fits_at_full_speed_takes_the_fastest_candidate():
    """cnv-w1a1's fastest folding (8,100 cycles per frame, its first window's) fits an XC7Z020
    at 0.8 by the models."""
    network = net("cnv-w1a1")
    fit = fit_device(network, DEVICES["xc7z020"], 0.8, ignore_hints=True)
    assert fit.target == candidate_targets(network, ignore_hints=True)[0] == 8100


def test_hints_are_respected_unless_ignored():
    """tfc-w1a1's description folds every layer: with hints the fit can only take them."""
    fit = fit_device(net("tfc-w1a1"), DEVICES["xc7z020"], 0.8)
    fc0 = fit.design.network.layer("fc0")
    assert (fc0.pe, fc0.simd) == (16, 49) and fit.target == 64 and fit.candidates == 1
    refolded = fit_device(net("tfc-w1a1"), DEVICES["xc7z020"], 0.8, ignore_hints=True)
    assert refolded.candidates > 1


def test_cli_device_searches_every_folding_unless_keep_hints(capsys):
    """--device folds from scratch (the part decides); --keep-hints keeps the description's
    pe/simd; --keep-hints without --device is one line."""
    targets = {}
    for extra in ([], ["--keep-hints"]):
        status, out, err = run(capsys, "check", NETWORKS / "tfc-w1a1.yaml", "--device",
                               "xc7z020", *extra, "--json")
        assert status == 0, err
        targets[bool(extra)] = json.loads(out)["device"]["search"]["candidates"]
    assert targets[True] == 1 and targets[False] > 1
    status, out, err = run(capsys, "check", NETWORKS / "tfc-w1a1.yaml", "--keep-hints")
    assert status == 2 and "--keep-hints" in one_error(err)


def test_cli_reports_the_device_in_check_and_build(tmp_path, capsys):
    status, out, err = run(capsys, "check", NETWORKS / "tfc-w1a1.yaml", "--device",
                           "ice40-hx8k", "--utilization", "1", "--ignore-hints", "--json")
    assert status == 0, err
    dev = json.loads(out)["device"]
    assert dev["part"] == "ice40-hx8k" and dev["utilization"] == 1.0
    assert dev["units"]["lut"] == "LUT4" and "converted" in dev["by"]
    assert all(dev["use"][key] <= dev["budget"][key] for key in RESOURCES)
    status, out, err = run(capsys, "build", NETWORKS / "mini-cnv.yaml", "-o", tmp_path / "b",
                           "--device", "xc7z020", "--ignore-hints", "-q")
    assert status == 0, err
    assert "fitted to xc7z020 at 0.8" in out and "BRAM18:" in out
    rep = json.loads((tmp_path / "b" / "report.json").read_text())
    assert rep["device"]["budget"] == {"lut": 42560, "ff": 85120, "bram": 224, "dsp": 176}
    assert rep["target_cycles"] == rep["device"]["search"]["target_cycles"]
    assert "totals" in rep and "folding" in rep          # the existing fields stay
    assert "Fitted to the xc7z020" in (tmp_path / "b" / "report.md").read_text()


def test_a_budget_nothing_fits_is_one_line_naming_a_layer(tmp_path, capsys):
    # (Every candidate is tried before giving up: a small network keeps this fast.)
    status, out, err = run(capsys, "build", NETWORKS / "mini-cnv.yaml", "-o", tmp_path / "b",
                           "--device", "ice40-hx8k", "--utilization", "0.02", "--ignore-hints")
    assert status == 2 and not (tmp_path / "b").exists()
    line = one_error(err)
    assert "mini-cnv.yaml: layer 'conv" in line and "ice40-hx8k at 0.02 allows" in line
    assert "LUT4" in line and "no folding fits" in line and "Traceback" not in err
    status, out, err = run(capsys, "check", NETWORKS / "tfc-w1a1.yaml", "--device",
                           "ice40-hx8k", "--utilization", "0.5", "--ignore-hints")
    assert status == 2 and "layer 'fc0'" in one_error(err)


@pytest.mark.parametrize("args,field", [
    (["--device", "xc7z021"], "--device"),
    (["--device", "xc7z020", "--utilization", "0"], "--utilization"),
    (["--device", "xc7z020", "--utilization", "1.5"], "--utilization"),
    (["--device", "xc7z020", "--utilization", "nan"], "--utilization"),
    (["--utilization", "0.5"], "--utilization"),
])
def test_bad_device_options_are_one_line(capsys, args, field):
    status, out, err = run(capsys, "check", NETWORKS / "mini-mlp.yaml", *args)
    line = one_error(err)
    assert status == 2 and f"field '{field}'" in line
    if field == "--device":
        assert "xc7z020, xc7z045, xc7a100t, xczu3eg, lfe5u-85f, ice40-hx8k" in line


@pytest.mark.parametrize("command", ["build", "check", "estimate"])
def test_device_excludes_a_target(tmp_path, capsys, command):
    output = ["-o", tmp_path / "b"] if command == "build" else []
    with pytest.raises(SystemExit) as exit:
        main([command, str(NETWORKS / "mini-mlp.yaml"), *map(str, output), "--device",
              "xc7z020", "--target-cycles", "64"])
    assert exit.value.code == 2
    assert "not allowed with argument --device" in capsys.readouterr().err
