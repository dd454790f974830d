"""What the drivers of external tools (Verilator, Yosys) share: the cache directory, a lock that
lets one process fill a cache entry while others wait for it, waiting for a long run, and the
report on stderr of what hwgen is doing (:data:`reporter`)."""

import contextlib
import ctypes
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["cache_root", "cache_lock", "start_tool", "wait_with_progress", "DIE_WITH_STARTER",
           "StepReporter", "reporter"]


def cache_root(kind, cache_dir=None):
    """``cache_dir`` if given, else ``$HWGEN_CACHE/<kind>`` (default ``~/.cache/hwgen/<kind>``)."""
    if cache_dir is not None:
        return Path(cache_dir)
    base = os.environ.get("HWGEN_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "hwgen") / kind


# ``preexec_fn`` of the tools hwgen starts: on Linux, a tool is sent SIGTERM when the thread that
# started it ends. A Dask worker's task thread ends with the worker when its cluster closes
# under it (an interrupted ``hwgen explore``); its Yosys, in a session of its own, would run on
# for as long as the synthesis takes.
_PR_SET_PDEATHSIG = 1
_PRCTL = ctypes.CDLL(None).prctl if sys.platform == "linux" else None   # resolved before forks


def _die_with_starter():
    _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


DIE_WITH_STARTER = _die_with_starter if _PRCTL else None


def seconds_text(seconds):
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


class StepReporter:
    """Reports on stderr the steps of a long command and their elapsed time.

    Each finished step prints one line, ``hwgen: <label> ... done in 4.2 s``. While a step runs,
    on a terminal its line shows the elapsed time, updated every second; elsewhere (a log, CI) a
    step still running after :attr:`heartbeat` seconds prints ``... 30 s so far`` then and as
    often again, so that a log shows what a long run is waiting for without a spinner's spam.
    A step that fails prints nothing (the error says what happened). Steps nest: the innermost
    is the one shown. ``enabled = False`` silences it (``--quiet``).
    """

    heartbeat = 30.0

    def __init__(self):
        self.enabled = True
        self._steps = []            # [label, start, next heartbeat], outermost first
        self._lock = threading.Lock()
        self._stop = None           # the ticker's stop event while a step runs

    @contextlib.contextmanager
    def step(self, label):
        if not self.enabled:
            yield
            return
        stream = sys.stderr
        live = stream.isatty()
        entry = [label, time.monotonic(), self.heartbeat]
        with self._lock:
            self._steps.append(entry)
            if live:
                self._show(stream)
            if self._stop is None:
                self._stop = threading.Event()
                threading.Thread(target=self._tick, args=(self._stop, stream, live),
                                 daemon=True).start()
        failed = True
        try:
            yield
            failed = False
        finally:
            with self._lock:
                self._steps.remove(entry)
                if live:
                    stream.write("\r\033[K")
                if not failed:
                    elapsed = time.monotonic() - entry[1]
                    stream.write(f"hwgen: {label} ... done in {seconds_text(elapsed)}\n")
                if self._steps and live:
                    self._show(stream)
                elif not self._steps:
                    self._stop.set()
                    self._stop = None
                stream.flush()

    def _show(self, stream):
        label, start, _ = self._steps[-1]
        stream.write(f"\r\033[Khwgen: {label} ... {time.monotonic() - start:.0f} s")
        stream.flush()

    def _tick(self, stop, stream, live):
        while not stop.wait(1.0):
            with self._lock:
                if stop.is_set() or not self._steps:
                    return
                if live:
                    self._show(stream)
                    continue
                entry = self._steps[-1]
                elapsed = time.monotonic() - entry[1]
                if elapsed >= entry[2]:
                    entry[2] += self.heartbeat
                    stream.write(f"hwgen: {entry[0]} ... {elapsed:.0f} s so far\n")
                    stream.flush()


reporter = StepReporter()


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


def start_tool(argv, **options):
    """``subprocess.Popen(argv, **options)`` of a long tool run, for :func:`wait_with_progress`:
    in a session of its own, which hwgen stops as a group with what the tool started
    (:func:`stop_group`), and ended with the thread that started it (:data:`DIE_WITH_STARTER`)."""
    return subprocess.Popen(argv, start_new_session=True, preexec_fn=DIE_WITH_STARTER, **options)


def wait_with_progress(process, progress, label):
    """Wait for ``process`` (started by :func:`start_tool`) as the step ``label`` of
    :data:`reporter`, or calling ``progress(seconds)`` about once a second instead if it is
    given. On an interruption the process and what it started (its process group) are stopped
    (:func:`stop_group`) before the exception goes on."""
    start = time.monotonic()
    try:
        with contextlib.nullcontext() if progress else reporter.step(label):
            while True:
                try:
                    process.wait(timeout=1)
                    break
                except subprocess.TimeoutExpired:
                    if progress:
                        progress(time.monotonic() - start)
    except BaseException:
        stop_group(process)
        raise


def stop_group(process, grace=5.0):
    """Stop ``process`` and its process group: SIGINT first, as Ctrl-C would, so that the tools
    clean up after themselves (YoWASP removes its temporary directory, make its half-written
    targets); SIGKILL if the leader is still running after ``grace`` seconds; then SIGTERM to
    whatever of the group remains."""
    for sig in (signal.SIGINT, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
