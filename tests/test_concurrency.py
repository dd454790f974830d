"""Two hwgen processes at once on one machine do not crash each other, even on cold caches: the
yowasp runtime's first compile of a tool is one process's (hwgen.synthesis._prepare), and
hwgen's own cache entries (synthesis results, Verilator builds) are filled by one process while
another that wants the same one waits for it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

NETWORKS = Path(__file__).parent.parent / "networks"


def _at_once(argvs, env):
    """Runs the hwgen command lines ``argvs`` at once; their CompletedProcess-like results."""
    processes = [subprocess.Popen([sys.executable, "-m", "hwgen", *argv], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for argv in argvs]
    outputs = [process.communicate() for process in processes]
    return [subprocess.CompletedProcess(process.args, process.returncode, *output)
            for process, output in zip(processes, outputs)]


def _fresh_env(tmp_path, *, cold):
    """The environment with hwgen's cache fresh and empty; with ``cold``, a fresh home and cache
    directory as well, so that every cache starts empty: hwgen's (at its default place), the
    yowasp runtime's and wasmtime's (Amaranth's Yosys)."""
    env = dict(os.environ, HWGEN_CACHE=str(tmp_path / "hwgen-cache"))
    if cold:
        for name in ("HWGEN_CACHE", "YOWASP_CACHE_DIR"):
            env.pop(name, None)
        env.update(HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "home" / ".cache"))
    return env


def _check_estimate(result, network):
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["network"] == network and not report["cached"]
    assert report["totals"]["lut"] > 100
    assert all(node["synthesis"]["lut"] > 0 for node in report["nodes"])


@pytest.mark.parametrize("cold", [
    False,
    # Compiling Yosys' WebAssembly (twice: yowasp's and Amaranth's) takes minutes.
    pytest.param(True, marks=pytest.mark.slow)], ids=["hwgen-cache-cold", "all-caches-cold"])
def test_two_estimates_at_once(tmp_path, cold):
    """`hwgen estimate` of two networks started together, hwgen's cache fresh (``cold``: every
    cache, the yowasp runtime's included): both succeed with full reports."""
    env = _fresh_env(tmp_path, cold=cold)
    networks = ["mini-mlp", "mini-cnv"]
    results = _at_once([["estimate", str(NETWORKS / f"{name}.yaml"), "--target", "ecp5",
                         "--json"] for name in networks], env)
    for result, network in zip(results, networks):
        _check_estimate(result, network)


def test_two_sims_of_one_network_at_once(tmp_path):
    """`hwgen sim` of the same network twice at once, on a fresh cache: one process compiles the
    Verilator model while the other waits for it; both are bit-exact, one build is cached."""
    env = _fresh_env(tmp_path, cold=False)
    results = _at_once([["sim", str(NETWORKS / "mini-mlp.yaml"), "--frames", "3", "--seed",
                         str(seed), "--stall-prob", "0.3", "--json"] for seed in (1, 2)], env)
    for result in results:
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["frames"] == 3 and summary["mismatches"] == 0
    builds = Path(env["HWGEN_CACHE"]) / "verilator"
    assert len(list(builds.glob("*/sim"))) == 1
