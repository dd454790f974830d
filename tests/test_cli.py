"""The command line as a user meets it: what it may overwrite, one line and exit 2 for every
mistake, exit 130 on Ctrl-C with nothing left behind, and the steps it reports on stderr."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hwgen.cli import main

NETWORKS = Path(__file__).parent.parent / "networks"
MLP = str(NETWORKS / "mini-mlp.yaml")


def run(capsys, *args):
    """``hwgen ARGS`` in this process: (exit status, stdout, stderr)."""
    status = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return status, out, err


def one_error(err):
    """The single line of a user error, asserting that it is the only one."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hwgen: error: "), err
    return lines[0]


def hwgen(*args, **kwargs):
    """hwgen in a process group of its own, with Ctrl-C's default action even where the tests
    run with SIGINT ignored (a job started in the background by a shell: Python would keep
    ignoring it)."""
    return subprocess.Popen([sys.executable, "-m", "hwgen", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            **kwargs)


def test_build_replaces_only_a_previous_build(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("a week of work")
    status, _, err = run(capsys, "build", MLP, "-o", out)
    assert status == 2 and "--force" in one_error(err) and "notes.txt" in err
    assert [path.name for path in out.iterdir()] == ["notes.txt"]
    # A previous build is replaced; with a file of the user's in it, it is not.
    (out / "notes.txt").unlink()
    assert run(capsys, "build", MLP, "-o", out)[0] == 0
    assert run(capsys, "build", MLP, "-o", out)[0] == 0
    (out / "notes.txt").write_text("mine")
    status, _, err = run(capsys, "build", MLP, "-o", out)
    assert status == 2 and "notes.txt" in one_error(err)
    assert (out / "notes.txt").read_text() == "mine"
    # --force replaces it whole.
    assert run(capsys, "build", MLP, "-o", out, "--force")[0] == 0
    assert not (out / "notes.txt").exists() and (out / "network.yaml").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("where", [".", "..", "/"])
def test_build_never_replaces_the_current_directory_or_the_root(tmp_path, capsys, monkeypatch,
                                                                where):
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("keep")
    monkeypatch.chdir(work)
    status, _, err = run(capsys, "build", MLP, "-o", where, "--force")
    assert status == 2 and one_error(err)
    assert (work / "keep.txt").read_text() == "keep"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["work"]


def test_input_mistakes_are_one_line(tmp_path, capsys):
    np.save(tmp_path / "empty.npy", np.zeros((0, 16)))
    (tmp_path / "text.npy").write_text("1 2 3\n")
    frames = np.zeros((3, 16))           # mini-mlp's input is INT2: from -2 to 1
    frames[2, 11] = 5
    np.save(tmp_path / "range.npy", frames)
    for command in ("golden", "sim"):
        status, _, err = run(capsys, command, MLP, "--input", tmp_path / "empty.npy")
        assert status == 2 and "no frames" in one_error(err)
        status, _, err = run(capsys, command, MLP, "--input", tmp_path / "text.npy")
        assert status == 2 and "not a .npy file" in one_error(err) and "pickle" not in err
        status, _, err = run(capsys, command, MLP, "--input", tmp_path / "range.npy")
        assert status == 2 and "frame 2, element 11: value 5 is outside INT2" in one_error(err)
    status, _, err = run(capsys, "golden", MLP, "--output", tmp_path / "no" / "y.npy")
    assert status == 2 and "does not exist" in one_error(err)


def test_sim_checks_the_vcd_directory_before_simulating(tmp_path, capsys):
    status, _, err = run(capsys, "sim", MLP, "--vcd", tmp_path / "nodir" / "x.vcd")
    assert status == 2 and "--vcd" in one_error(err)     # the one line: no step ran


def test_a_build_directory_points_at_its_description(tmp_path, capsys):
    assert run(capsys, "build", MLP, "-o", tmp_path / "b", "-q")[0] == 0
    for wrong in (tmp_path / "b", tmp_path / "b" / "mini_mlp.v"):
        status, _, err = run(capsys, "sim", wrong)
        assert status == 2 and f"give {tmp_path / 'b' / 'network.yaml'}" in one_error(err)


def test_steps_are_reported_on_stderr_with_json_too(tmp_path):
    process = hwgen("build", MLP, "-o", tmp_path / "b", "--json")
    out, err = process.communicate()
    assert process.returncode == 0
    assert json.loads(out)["network"] == "mini-mlp"
    lines = err.splitlines()
    assert any(line.startswith("hwgen: emitting Verilog for ") and " ... done in " in line
               for line in lines), err
    assert all(line.startswith("hwgen: ") and "\r" not in line for line in lines), err
    process = hwgen("build", MLP, "-o", tmp_path / "c", "--json", "--quiet")
    assert process.communicate()[1] == "" and process.returncode == 0


def processes_using(path):
    """Processes whose command line or working directory mentions ``path``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if str(path) in cmdline or cwd.startswith(str(path)):
            found.append(f"{entry.name}: {cmdline}")
    return found


def interrupt_when(process, ready, timeout=120, kill=None):
    """Ctrl-C, as a terminal sends it (SIGINT to the process group of ``process``, which
    :func:`hwgen` starts in a group of its own), or ``kill(pid)``, once ``ready()`` holds;
    (exit status, stderr)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)
    if kill is None:
        os.killpg(process.pid, signal.SIGINT)
    else:
        kill(process.pid)
    _, err = process.communicate(timeout=60)
    return process.returncode, err


def test_ctrl_c_during_a_verilator_compile_leaves_nothing(tmp_path):
    cache = tmp_path / "cache"
    env = dict(os.environ, HWGEN_CACHE=str(cache))
    process = hwgen("sim", MLP, "--frames", "2", env=env)
    status, err = interrupt_when(
        process, lambda: any((cache / "verilator").glob(".*/obj")))
    assert status == 130 and err.splitlines()[-1] == "hwgen: interrupted", err
    assert "Traceback" not in err
    # No build (whole or half-written) is left; the lock file stays, by design.
    assert [p.name for p in (cache / "verilator").iterdir()
            if p.suffix != ".lock" and p.name != "runtime"] == []
    assert processes_using(cache) == []


def test_ctrl_c_during_synthesis_and_build_leaves_nothing(tmp_path):
    work = tmp_path / "work"        # the temporary files and the output; the cache beside it
    work.mkdir()
    env = dict(os.environ, HWGEN_CACHE=str(tmp_path / "cache"), TMPDIR=str(work))
    process = hwgen("estimate", MLP, "--target", "ice40", env=env)
    status, err = interrupt_when(process, lambda: any(work.glob("hwgen-synth-*")))
    assert status == 130 and err.splitlines()[-1] == "hwgen: interrupted", err
    assert "Traceback" not in err
    assert not any(work.glob("hwgen-synth-*")) and processes_using(tmp_path) == []
    # `kill` (SIGTERM to hwgen alone, not to Yosys in its session): the same.
    process = hwgen("estimate", MLP, "--target", "ice40", env=env)
    status, err = interrupt_when(process, lambda: any(work.glob("hwgen-synth-*")),
                                 kill=lambda pid: os.kill(pid, signal.SIGTERM))
    assert status == 130 and err.splitlines()[-1] == "hwgen: interrupted", err
    assert "Traceback" not in err
    assert not any(work.glob("hwgen-synth-*")) and processes_using(tmp_path) == []
    # In a build: while the Verilog is emitted, nothing is written yet; nothing stays.
    process = hwgen("build", NETWORKS / "cnv-w1a1.yaml", "-o", work / "out", env=env)
    start = time.monotonic()
    status, err = interrupt_when(process, lambda: time.monotonic() > start + 5)
    assert status == 130 and err.splitlines()[-1] == "hwgen: interrupted", err
    assert "Traceback" not in err
    assert list(work.iterdir()) == [] and processes_using(tmp_path) == []


def test_no_compiler_says_install_g_plus_plus_and_make(tmp_path):
    """A PATH with perl (Verilator is a perl script) but no c++ or make."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "perl").symlink_to(shutil.which("perl"))
    env = dict(os.environ, HWGEN_CACHE=str(tmp_path / "cache"), PATH=str(bin_dir))
    process = hwgen("sim", MLP, "--frames", "1", "-q", env=env)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 2
    assert "install g++ and make" in one_error(err)


def test_ctrl_c_during_the_imports_is_one_line():
    """Ctrl-C a moment after the start, while Python imports numpy and Amaranth."""
    process = hwgen("check", MLP)
    time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert "Traceback" not in err
    # Killed before Python's handler was up (-SIGINT), or caught: one line, exit 130.
    assert process.returncode == -signal.SIGINT or (
        process.returncode == 130 and err == "hwgen: interrupted\n"), (process.returncode, err)
