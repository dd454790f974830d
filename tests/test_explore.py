"""hwgen explore: the front is non-dominated and fits, the search is deterministic, the cache
answers a second run, the files are valid, errors are one line; and with --synthesize every
front design is confirmed by Yosys and Verilator.

The model-only runs share one Dask LocalCluster (``--scheduler``), started once for the
module, on mini-mlp (21 designs), so that the module stays well under a minute; the runs with
--synthesize start their own LocalCluster (``--workers 2``).
"""

import contextlib
import io
import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hwgen.cli import main
from hwgen.compiler.explore import Candidate, spread
from hwgen.devices import DEVICES

NETWORKS = Path(__file__).parent.parent / "networks"
# mini-mlp on a fifth of an iCE40 HX8K: the fastest foldings do not fit, so the budget matters.
PART, UTILIZATION = "ice40-hx8k", 0.2
ARGS = [str(NETWORKS / "mini-mlp.yaml"), "--device", PART, "--utilization", str(UTILIZATION)]


@pytest.fixture(scope="module")
def scheduler(hwgen_cache):
    """The address of a LocalCluster of two worker processes (which see the session's
    ``$HWGEN_CACHE``)."""
    from distributed import LocalCluster

    previous = os.environ.get("HWGEN_CACHE")
    os.environ["HWGEN_CACHE"] = str(hwgen_cache)
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster:
            yield cluster.scheduler_address
    finally:
        if previous is None:
            del os.environ["HWGEN_CACHE"]
        else:
            os.environ["HWGEN_CACHE"] = previous


def run(capsys, *args):
    status = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return status, out, err


def explore_json(capsys, out_dir, scheduler, *extra):
    status, out, err = run(capsys, "explore", *ARGS, "-o", out_dir, "--scheduler", scheduler,
                           "--json", *extra)
    assert status == 0, err
    return json.loads(out), err


@pytest.fixture(scope="module")
def first(tmp_path_factory, scheduler):
    """The first run, into a fresh directory: (its --json, the directory, its stderr); run
    directly, as a module fixture has no capsys."""
    out_dir = tmp_path_factory.mktemp("explore") / "tfc"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(["explore", *ARGS, "-o", str(out_dir), "--scheduler", scheduler,
                       "--json"])
    assert status == 0, stderr.getvalue()
    return json.loads(stdout.getvalue()), out_dir, stderr.getvalue()


def dominates(a, b):
    return a != b and all(x <= y for x, y in zip(a, b))


def test_json_shape_and_progress(first):
    rep, out_dir, err = first
    assert rep["network"] == "mini-mlp" and rep["device"]["part"] == PART
    assert rep["search"]["models"]["evaluated"] > 0 and rep["front"]
    for entry in rep["front"]:
        assert set(entry) >= {"folding", "cycles_per_frame", "frames_per_second", "model",
                              "use", "bottleneck"}
        assert [f["layer"] for f in entry["folding"]] == ["fc0", "fc1", "top"]
        assert entry["frames_per_second"] == pytest.approx(1e8 / entry["cycles_per_frame"],
                                                           rel=1e-6)
        assert set(entry["model"]) == {"lut", "ff", "bram18", "dsp"}
    assert "hwgen: models of the seed designs:" in err and "from the cache" in err


def test_the_front_fits_and_no_evaluated_design_dominates_it(first):
    rep, out_dir, _ = first
    part = DEVICES[PART]
    budget = part.budget(UTILIZATION)

    def objectives(cycles, use):
        return (cycles, use["lut"], use["bram"], use["dsp"])

    front = [objectives(e["cycles_per_frame"], e["use"]) for e in rep["front"]]
    for entry in rep["front"]:
        assert all(entry["use"][key] <= budget[key] for key in budget)
    # Every design the search evaluated is in the cache: none that fits dominates the front.
    evaluated = []
    for path in (out_dir / "cache" / "models").glob("*.json"):
        r = json.loads(path.read_text())
        evaluated.append(Candidate(tuple(map(tuple, r["folding"])), r["cycles"],
                                   r["bottleneck"], (), r["model"]))
    fitting = [objectives(c.cycles, c.use(part)) for c in evaluated
               if part.fits(c.use(part), UTILIZATION)]
    assert len(fitting) > len(front) and len(evaluated) > len(fitting)   # the budget bites
    for point in front:
        assert point in fitting
        assert not any(dominates(other, point) for other in fitting)
    assert front == sorted(front) and len(set(front)) == len(front)


def test_the_front_is_spread_over_its_speeds(first, scheduler, capsys, tmp_path):
    """At most --front-size designs of the whole front, the fastest and the slowest kept, all
    members of the whole front (the default's 6 keep all of mini-mlp's)."""
    whole = first[0]
    assert len(whole["front"]) == whole["front_of_models"] == 5
    rep, _ = explore_json(capsys, tmp_path / "three", scheduler, "--front-size", "3")
    assert len(rep["front"]) == 3 and rep["front_of_models"] == 5
    assert [e for e in whole["front"] if e in rep["front"]] == rep["front"]
    assert rep["front"][0] == whole["front"][0] and rep["front"][-1] == whole["front"][-1]


@pytest.mark.parametrize("size", [0, 1, 2, 3, 5, 9, 12])
def test_spread_keeps_the_ends_and_the_order(size):
    front = [Candidate((), cycles, "", (), {}) for cycles in (10, 11, 12, 20, 40, 41, 80, 160,
                                                              320, 330)]
    kept = spread(front, size)
    assert kept == [c for c in front if c in kept]           # a sub-sequence, in order
    assert len(kept) == (len(front) if size == 0 else min(size, len(front)))
    assert kept[0] is front[0] and (size == 1 or kept[-1] is front[-1])
    if size == 3:     # the middle one nearest the middle of log cycles (sqrt(10 * 330) = 57.4)
        assert [c.cycles for c in kept] == [10, 80, 330]      # 80/57.4 < 57.4/40


def test_the_files_are_valid(first):
    rep, out_dir, _ = first
    assert (out_dir / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = ET.parse(out_dir / "front.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert json.loads((out_dir / "front.json").read_text())["front"] == rep["front"]
    table = [line for line in (out_dir / "front.md").read_text().splitlines()
             if line.startswith("| ") and line[2].isdigit()]
    assert len(table) == len(rep["front"])


def test_a_second_run_answers_from_the_cache_with_the_same_files(first, scheduler, capsys):
    rep, out_dir, _ = first
    before = {name: (out_dir / name).read_bytes() for name in
              ("front.json", "front.md", "front.png", "front.svg")}
    again, _ = explore_json(capsys, out_dir, scheduler)
    assert again["search"]["models"]["evaluated"] == 0
    assert again["search"]["models"]["cached"] == rep["search"]["models"]["evaluated"] \
        + rep["search"]["models"]["cached"]
    assert {name: (out_dir / name).read_bytes() for name in before} == before


def test_a_run_resumes_from_its_candidates(first, scheduler, tmp_path, capsys):
    """Without the whole run's entry (as after an interruption), every model evaluation comes
    from the per-candidate cache, and the front is the same."""
    rep, out_dir, _ = first
    copy = tmp_path / "copy"
    shutil.copytree(out_dir, copy)
    shutil.rmtree(copy / "cache" / "runs")
    again, err = explore_json(capsys, copy, scheduler)
    assert again["search"]["models"]["evaluated"] == 0 and again["front"] == rep["front"]
    assert "whole search from the cache" not in err


def test_the_search_is_deterministic(first, scheduler, tmp_path, capsys):
    """A fresh directory (no cache) gives the same front, byte for byte."""
    rep, out_dir, _ = first
    again, _ = explore_json(capsys, tmp_path / "fresh", scheduler)
    assert again["search"]["models"]["cached"] == 0
    assert again["front"] == rep["front"]
    for name in ("front.json", "front.md", "front.svg", "front.png"):
        assert (tmp_path / "fresh" / name).read_bytes() == (out_dir / name).read_bytes()


def one_error(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hwgen: error: "), err
    return lines[0]


@pytest.mark.parametrize("args,message", [
    (["--device", "xc9000"], "unknown part 'xc9000'"),
    (["--device", "xc7z020", "--utilization", "0"], "field '--utilization'"),
    (["--device", "xc7z020", "--utilization", "1.5"], "field '--utilization'"),
    (["--device", "xc7z020", "--workers", "0"], "field '--workers'"),
])
def test_bad_options_are_one_line(capsys, tmp_path, args, message):
    status, out, err = run(capsys, "explore", NETWORKS / "mini-mlp.yaml", *args,
                           "-o", tmp_path / "out")
    assert status == 2 and message in one_error(err)
    assert not (tmp_path / "out").exists()


def test_a_part_too_small_gives_device_fits_error(capsys, tmp_path, scheduler):
    """No folding of mini-mlp fits 5% of an iCE40 HX8K (384 LUT4): --device's error."""
    status, out, err = run(capsys, "explore", NETWORKS / "mini-mlp.yaml", "--device",
                           "ice40-hx8k", "--utilization", "0.05", "-o", tmp_path / "out",
                           "--scheduler", scheduler, "-q")
    assert status == 2
    assert "no folding fits" in one_error(err) and "ice40-hx8k at 0.05 allows 384" in err


def test_a_foreign_directory_is_left_alone(capsys, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine\n")
    status, out, err = run(capsys, "explore", NETWORKS / "mini-mlp.yaml", "--device",
                           "xc7z020", "-o", foreign)
    assert status == 2 and "is not an hwgen explore directory" in one_error(err)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


@pytest.mark.slow
def test_synthesize_confirms_every_front_design(capsys, tmp_path):
    """mini-mlp's front on an XC7Z020 (4 of its 7 designs: --front-size), each design
    synthesized (xc7) and run in Verilator with stalls, on a LocalCluster of two workers: every
    entry carries synthesis figures and 0 mismatches at its ideal cycles, and only those are
    confirmed; a second run takes them from the cache."""
    out_dir = tmp_path / "front"
    argv = ["explore", NETWORKS / "mini-mlp.yaml", "--device", "xc7z020", "--moves", "0",
            "--synthesize", "--front-size", "4", "--workers", "2", "-o", out_dir, "--json"]
    status, out, err = run(capsys, *argv)
    assert status == 0, err
    rep = json.loads(out)
    assert len(rep["front"]) == 4 < rep["front_of_models"]
    assert rep["search"]["confirmations"]["evaluated"] == len(rep["front"])
    for entry in rep["front"]:
        assert "error" not in entry, entry["error"]
        assert entry["synthesis"]["target"] == "xc7" and entry["synthesis"]["lut"] > 0
        sim = entry["simulation"]
        assert sim["mismatches"] == 0 and sim["stall_prob"] > 0
        assert sim["cycles_per_frame"] == pytest.approx(entry["cycles_per_frame"], rel=0.05)
    status, out, err = run(capsys, *argv)
    again = json.loads(out)
    assert status == 0 and again["search"]["confirmations"]["evaluated"] == 0
    assert again["front"] == rep["front"]
