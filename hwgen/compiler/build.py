"""``hwgen build``: fold, lower, size FIFOs, emit Verilog and reports into a directory, atomically.

The output directory holds:

- ``<name>.v``: the whole design in one Verilog file, weights and thresholds as memory contents;
- ``report.json`` and ``report.md``: per node kind, engine, folding, ideal cycles, FIFO depth and
  estimated resources; totals: bottleneck cycles, frames/s at the clock, a latency estimate;
  report.md's dataflow graph as a Mermaid diagram (:mod:`.report_graph`);
- ``report.html``: the same as one self-contained page, the dataflow graph drawn in inline SVG
  with the engines coloured by their cycles (:mod:`.report_html`);
- ``network.yaml`` and ``params.npz``: the description as built (folding explicit, every weight
  and threshold array in the .npz), so the build can be simulated and checked later on its own.

The directory is written whole or not at all: into a staging directory beside it, then renamed
into place. What it may replace (:func:`check_output_dir`): nothing that hwgen did not write. A
missing or empty directory is written; an existing one is replaced only if it is a previous
build, that is if it holds ``report.json`` carrying ``"generator": "hwgen ..."``, and
``network.yaml``, and nothing but the files a build writes (those two, ``report.md``,
``report.html``, ``params.npz`` and the ``<top>.v`` that report.json names). Anything else (a
user's file, a subdirectory, a build of an older hwgen that had no marker) is replaced only with
``force``. The current directory, a directory that contains it and the filesystem root are never
replaced.
"""

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from amaranth.back import verilog

from .. import __version__
from ..engines.resources import Resources
from ..errors import HwgenError, frames_per_second, plural
from ..external import reporter
from .fifo_sizing import with_fifos
from .folding import fold_network
from .latency import latency_estimate
from .lowering import Graph, lower
from .pipeline import AxiStreamTop, Pipeline, axis_width
from .report_graph import dataflow, mermaid
from .report_html import report_html

__all__ = ["Design", "design", "build", "check_output_dir", "OutputKind", "GENERATOR"]

GENERATOR = f"hwgen {__version__}"     # report.json's "generator": marks a directory as a build
BUILD_FILES = ("report.json", "report.md", "report.html", "network.yaml",
               "params.npz")   # and <top>.v


@dataclass
class Design:
    """A network ready for hardware: folded, lowered, FIFOs sized."""
    network: object
    nodes: list              # in topological order
    input_stream: object     # the pipeline's input Stream
    output: object           # the Port the pipeline's output reads
    producers: dict          # layer name -> the Port producing its output (engine layers)
    choices: list            # FoldingChoice per layer when folded automatically, else []
    target_cycles: int       # None unless folded automatically

    def pipeline(self):
        """The engines as one component with ``i``/``o`` streams (for Amaranth's simulator)."""
        return Pipeline(self.nodes, self.input_stream, self.output)

    def top(self):
        """The top level with AXI4-Stream style ports, as emitted to Verilog."""
        return AxiStreamTop(self.pipeline(), in_frame_words=self.input_stream.words,
                            out_frame_words=self.output_stream.words)

    @property
    def top_name(self):
        return "".join(c if c.isalnum() else "_" for c in self.network.name)

    @property
    def output_stream(self):
        return self.output.stream

    @property
    def bottleneck(self):
        """The engine with the most cycles per frame (never a FIFO, width converter or fork:
        they pass a word per cycle, as fast as the engines beside them)."""
        return max((node for node in self.nodes if node.kind not in Graph.PLUMBING),
                   key=lambda node: node.cycles())

    def resources(self):
        """The modelled resources of the whole design: every node's, engines, FIFOs, width
        converters and forks (the report's totals)."""
        return sum((node.resources() for node in self.nodes), Resources())

    def latency_estimate(self):
        """Estimated cycles from the first input word to the first output word, the input
        offered every cycle (:func:`~.latency.latency_estimate`; `hwgen sim` measures it)."""
        return latency_estimate(self.nodes, self.input_stream, self.output)

    def verilog(self):
        with reporter.step(f"emitting Verilog for {plural(len(self.nodes), 'engine')}"):
            return verilog.convert(self.top(), name=self.top_name, emit_src=False)


def design(network, target_cycles=None, *, ignore_hints=False):
    """Fold ``network`` (if a target is given; ``ignore_hints``: from scratch, as if the
    description gave no ``pe``/``simd``), lower it and insert sized FIFOs."""
    choices = []
    if target_cycles is not None:
        network, choices = fold_network(network, target_cycles, ignore_hints=ignore_hints)
    elif ignore_hints:
        raise HwgenError("needs a target to fold for: --target-cycles or --fps",
                         field="--ignore-hints")
    try:
        nodes, input_stream, output, producers = lower(network)
    except ValueError as exc:
        raise HwgenError(str(exc), file=network.path) from None
    nodes, output = with_fifos(nodes, input_stream, output)
    return Design(network, nodes, input_stream, output, producers, choices, target_cycles)


def report(design, clock_mhz, fit=None):
    """The build report (report.json); with ``fit`` (the :class:`~.device_fit.Fit` that chose
    the design), its ``device`` section too."""
    nodes = []
    for node in design.nodes:
        params = node.params
        row = {
            "name": node.name,
            "kind": node.kind,
            "layer": node.layer,
            "inputs": [port.node for port in node.inputs],   # producers; None: the pipeline input
            "in_width": node.source.width,
            "out_width": node.sink.width,
            "ideal_cycles": node.cycles(),
            "resources": node.resources().as_dict(),
            "buffer_bits": node.buffer_bits(),
        }
        for key in ("pe", "simd", "style"):
            if hasattr(params, key):
                row[key] = getattr(params, key)
        if hasattr(params, "depth"):    # a FIFO's, or another engine's buffer (a line buffer)
            row["fifo_depth" if node.kind == "fifo" else "buffer_depth"] = params.depth
        if node.reason:
            row["fifo_reason"] = node.reason
        nodes.append(row)
    buffers = {}
    for row in nodes:
        for key, value in row["buffer_bits"].items():
            buffers[key] = buffers.get(key, 0) + value
    bottleneck = design.bottleneck
    cycles = bottleneck.cycles()
    folding = [{"layer": c.layer, "pe": c.pe, "simd": c.simd, "ideal_cycles": c.cycles,
                "meets_target": c.meets_target, "hinted": c.hinted} for c in design.choices]
    rep = {
        "generator": GENERATOR,
        "network": design.network.name,
        "top": design.top_name,
        "clock_mhz": clock_mhz,
        "clock_measured": False,     # --clock, assumed; hwgen estimate --pnr measures it
        "target_cycles": design.target_cycles,
        "folding": folding,
        "input": _stream_info(design.input_stream),
        "output": _stream_info(design.output_stream),
        "output_node": design.output.node,
        "nodes": nodes,
        "totals": {
            "bottleneck": bottleneck.name,
            "bottleneck_cycles": cycles,
            "frames_per_second": clock_mhz * 1e6 / cycles,
            "latency_estimate_cycles": design.latency_estimate(),
            "resources": design.resources().as_dict(),
            "buffer_bits": {"total": sum(buffers.values()), **dict(sorted(buffers.items()))},
        },
    }
    if fit is not None:
        rep["device"] = fit.report()
    return rep


def _stream_info(stream):
    return {"elements_per_word": stream.elems, "datatype": str(stream.dtype),
            "word_bits": stream.width, "tdata_bits": axis_width(stream.width),
            "words_per_frame": stream.words,
            "bytes_per_frame": stream.words * axis_width(stream.width) // 8}


def report_markdown(rep):
    t = rep["totals"]
    lines = [
        f"# {rep['network']}",
        "",
        f"Bottleneck: `{t['bottleneck']}` at {plural(t['bottleneck_cycles'], 'cycle')} per frame, "
        f"{frames_per_second(t['frames_per_second'])} at an assumed {rep['clock_mhz']:g} MHz (not "
        f"measured: `hwgen estimate --target ecp5 --pnr` measures the clock); latency about "
        f"{plural(t['latency_estimate_cycles'], 'cycle')} from the first input word to the first "
        "output word (estimated from the engines' timing models; `hwgen sim` measures it). "
        "Estimated resources: "
        + ", ".join(f"{v} {k.upper().replace('_', ' ')}" for k, v in t["resources"].items())
        + ". Buffers (memories holding stream data): "
        + ", ".join([f"{t['buffer_bits']['total']:,} bits in all"]
                    + [f"{v:,} in {k.replace('_', ' ')}{'' if k.endswith('s') else 's'}"
                       for k, v in t["buffer_bits"].items()
                       if k != "total"])
        + ".",
        "",
        f"Input: {plural(rep['input']['words_per_frame'], 'word')} per frame "
        f"({plural(rep['input']['bytes_per_frame'], 'byte')}) of "
        f"{rep['input']['elements_per_word']} x {rep['input']['datatype']} "
        f"(s_axis_tdata {rep['input']['tdata_bits']} bits). Output: "
        f"{plural(rep['output']['words_per_frame'], 'word')} per frame "
        f"({plural(rep['output']['bytes_per_frame'], 'byte')}) of "
        f"{rep['output']['elements_per_word']} x {rep['output']['datatype']} "
        f"(m_axis_tdata {rep['output']['tdata_bits']} bits), m_axis_tlast on the last word of "
        "each. See docs/integration.md for the ports.",
        "",
    ]
    if "device" in rep:
        dev = rep["device"]
        lines += [f"Fitted to the {dev['part']} ({dev['vendor']} {dev['family']}) at "
                  f"{dev['utilization']:g} of it: the fastest of "
                  f"{dev['search']['candidates']} candidate targets whose design fits, "
                  f"{dev['by']}.", "",
                  "| resource | modelled use | budget | part | use of the part |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        lines += [f"| {dev['units'][key]} | {dev['use'][key]:,} | {dev['budget'][key]:,} | "
                  f"{dev['capacity'][key]:,} | {dev['percent_of_part'][key]}% |"
                  for key in dev["use"]]
        lines.append("")
    if rep["folding"]:
        lines += [f"Folding chosen for a target of {rep['target_cycles']} cycles per frame:", "",
                  "| layer | PE | SIMD | ideal cycles | meets target | from hints |",
                  "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {c['layer']} | {c['pe']} | {c['simd'] or ''} | {c['ideal_cycles']} | "
                  f"{'yes' if c['meets_target'] else 'NO'} | {'yes' if c['hinted'] else ''} |"
                  for c in rep["folding"]]
        lines.append("")
    lines += ["| node | kind | PE | SIMD | in bits | out bits | ideal cycles | FIFO depth | LUT | FF "
              "| BRAM18 | DSP |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for n in rep["nodes"]:
        r = n["resources"]
        lines.append(f"| {n['name']} | {n['kind']} | {n.get('pe', '')} | {n.get('simd', '')} | "
                     f"{n['in_width']} | {n['out_width']} | {n['ideal_cycles']} | "
                     f"{n.get('fifo_depth', '')} | {r['lut']} | {r['ff']} | {r['bram18']} | "
                     f"{r['dsp']} |")
    reasons = [n for n in rep["nodes"] if "fifo_reason" in n]
    if reasons:
        lines += ["", "FIFOs where paths rejoin, sized from the timed schedule of a frame so that "
                  "the join cannot deadlock and the pipeline keeps its rate:", ""]
        lines += [f"- `{n['name']}`: {n['fifo_depth']} words; {n['fifo_reason']}"
                  for n in reasons]
    lines += ["", "Dataflow (edges: stream width in bits; into a FIFO, its depth; report.html "
              "draws it with the engines coloured by their cycles):", "", "```mermaid",
              mermaid(dataflow(rep)), "```"]
    return "\n".join(lines) + "\n"


def built_description(network):
    """The description as built: explicit folding, every array in params.npz."""
    arrays, layers = {}, []
    for index, layer in enumerate(network.layers):
        spec = {"name": layer.name, "kind": layer.kind}
        if index and list(layer.inputs) != [network.layers[index - 1].name]:
            spec["inputs"] = list(layer.inputs)
        spec.update(layer.spec(arrays))
        layers.append(spec)
    doc = {"name": network.name, "seed": network.seed, "params": "params.npz", "layers": layers}
    for io in (network.model_input, network.model_output):
        if io is not None:
            doc[io.KEY] = io.spec(arrays)
    return doc, arrays


@dataclass(frozen=True)
class OutputKind:
    """A kind of directory a command writes, for :func:`check_output_dir`: ``what`` names it in
    messages; ``own_files(path)`` gives the names a directory of this kind holds (its marker
    found in it), else an empty set; ``remedy``: what a user can do about a foreign one."""
    what: str
    own_files: object
    remedy: str


def check_output_dir(out_dir, force=False, kind=None):
    """Raise :class:`HwgenError` unless a command may write ``out_dir``, a directory of
    ``kind`` (an :class:`OutputKind`; default: a build, see the module's docstring): before any
    work, so that a refused directory costs nothing."""
    kind = kind or BUILD_DIR
    out_dir = Path(out_dir)
    resolved = out_dir.resolve()
    if resolved.parent == resolved:
        raise HwgenError("is the filesystem root; name a new directory", file=out_dir)
    if resolved == Path.cwd().resolve() or resolved in Path.cwd().resolve().parents:
        raise HwgenError("is the current directory or contains it; name a new directory",
                         file=out_dir)
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise HwgenError("exists and is not a directory", file=out_dir)
    try:
        entries = sorted(path.name for path in out_dir.iterdir())
    except OSError as exc:
        raise HwgenError(f"cannot read the directory: {exc.strerror}", file=out_dir) from None
    foreign = [name for name in entries if name not in kind.own_files(out_dir)]
    if foreign and not force:
        more = f" and {plural(len(foreign) - 1, 'other entry', 'other entries')}" \
            if len(foreign) > 1 else ""
        raise HwgenError(f"exists and is not {kind.what} (it holds {foreign[0]!r}{more}); "
                         f"{kind.remedy}", file=out_dir)


def _build_files(out_dir):
    """The names a build wrote into ``out_dir``, if it is a previous build; else none."""
    try:
        rep = json.loads((out_dir / "report.json").read_text())
    except (OSError, ValueError):
        return set()
    if (not isinstance(rep, dict) or not str(rep.get("generator", "")).startswith("hwgen ")
            or not isinstance(rep.get("top"), str) or not (out_dir / "network.yaml").is_file()):
        return set()
    return {*BUILD_FILES, f"{rep['top']}.v"}


BUILD_DIR = OutputKind("an hwgen build", _build_files,
                       "give --force to replace it and everything in it")


def build(network, out_dir, target_cycles=None, clock_mhz=100.0, *, force=False,
          ignore_hints=False, fit=None):
    """Build ``network`` into ``out_dir``: replaced whole, or left untouched on failure; an
    existing directory only if it is a previous build or with ``force``
    (:func:`check_output_dir`). ``fit``: a :class:`~.device_fit.Fit` of ``network``, whose
    design is built (and its ``device`` section reported) instead of folding here."""
    named = out_dir
    check_output_dir(out_dir, force)
    out_dir = Path(out_dir).resolve()
    if fit is None:
        with reporter.step(f"folding and lowering {plural(len(network.layers), 'layer')}"):
            d = design(network, target_cycles, ignore_hints=ignore_hints)
    else:
        d = fit.design
    text = d.verilog()
    rep = report(d, clock_mhz, fit)
    doc, arrays = built_description(d.network)
    parent = out_dir.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=parent))
        staging.chmod(0o755)     # mkdtemp's 0700 is for the staging phase only
    except OSError as exc:
        raise HwgenError(f"cannot create the output directory: {exc.strerror}",
                         file=named) from None
    try:
        with reporter.step(f"writing {named}"):
            _write(staging, d, text, rep, doc, arrays)
            check_output_dir(named, force)     # again: the directory may have changed since
            _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return d, rep


def _write(staging, d, text, rep, doc, arrays):
    (staging / f"{d.top_name}.v").write_text(text)
    (staging / "report.json").write_text(json.dumps(rep, indent=2) + "\n")
    (staging / "report.md").write_text(report_markdown(rep))
    (staging / "report.html").write_text(report_html(rep))
    (staging / "network.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    with open(staging / "params.npz", "wb") as file:
        np.savez_compressed(file, **{key: _narrow(array) for key, array in arrays.items()})


def _narrow(array):
    """An integer array in the narrowest integer type that holds it (the loader widens it
    again); float arrays (an imported model's scales and input thresholds) as they are."""
    if not np.issubdtype(array.dtype, np.integer):
        return array
    dtype = np.result_type(np.min_scalar_type(int(array.min())),
                           np.min_scalar_type(int(array.max())))
    return array.astype(dtype)


def _swap_into_place(staging, out_dir):
    """Rename ``staging`` to ``out_dir``, moving a previous ``out_dir`` aside first and back if
    the rename fails."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old.{os.getpid()}")
        os.replace(out_dir, old)
    try:
        os.replace(staging, out_dir)
    except BaseException:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old)
