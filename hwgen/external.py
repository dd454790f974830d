"""What the drivers of external tools (Verilator, Yosys) share: the cache directory, and waiting
for a long run with a progress report."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["cache_root", "wait_with_progress"]


def cache_root(kind, cache_dir=None):
    """``cache_dir`` if given, else ``$HWGEN_CACHE/<kind>`` (default ``~/.cache/hwgen/<kind>``)."""
    if cache_dir is not None:
        return Path(cache_dir)
    base = os.environ.get("HWGEN_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "hwgen") / kind


def wait_with_progress(process, progress, label):
    """Wait for ``process`` (started in its own session), calling ``progress(seconds)`` about
    once a second. ``progress=None`` prints ``label ... N s`` on stderr when it is a terminal
    and ``$CI`` is unset, and nothing otherwise. On an interruption the process and what it
    started (its process group) are stopped."""
    printed = False
    if progress is None and sys.stderr.isatty() and not os.environ.get("CI"):
        def progress(seconds):
            nonlocal printed
            printed = True
            print(f"\r{label} ... {seconds:.0f} s", end="", file=sys.stderr, flush=True)
    start = time.monotonic()
    try:
        while True:
            try:
                process.wait(timeout=1)
                break
            except subprocess.TimeoutExpired:
                if progress:
                    progress(time.monotonic() - start)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait()
        raise
    finally:
        if printed:
            print(file=sys.stderr)
