"""What the drivers of external tools (Verilator, Yosys) share: the cache directory, a lock that
lets one process fill a cache entry while others wait for it, and waiting for a long run with a
progress report."""

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["cache_root", "cache_lock", "wait_with_progress"]


def cache_root(kind, cache_dir=None):
    """``cache_dir`` if given, else ``$HWGEN_CACHE/<kind>`` (default ``~/.cache/hwgen/<kind>``)."""
    if cache_dir is not None:
        return Path(cache_dir)
    base = os.environ.get("HWGEN_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "hwgen") / kind


@contextlib.contextmanager
def cache_lock(path, progress=None):
    """Hold an exclusive lock on the file ``path`` (made if missing, never removed: removing it
    would let a third process lock a new file while the old one is held) across processes, so
    that one process fills a cache entry while another that wants the same one waits and then
    finds it. ``progress(seconds)`` is called about once a second while waiting. The lock goes
    with the process: one that dies releases it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if progress:
                    progress(time.monotonic() - start)
                time.sleep(1)
        yield       # closing the file releases the lock


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
