"""The ``hwgen`` command line: ``hwgen check``, ``golden``, ``build``, ``sim``, ``estimate`` and
``explore``.

A user mistake prints one line ``hwgen: error: ...`` naming the file, layer and field, and exits
with status 2; an interruption (Ctrl-C) prints ``hwgen: interrupted`` and exits with status 130,
leaving no partial output and no process behind; no traceback either way. ``build``, ``sim`` and
``estimate`` report their steps and elapsed times on stderr (:data:`hwgen.external.reporter`;
``--quiet`` silences them); ``--json`` changes only stdout.
"""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import yaml
from amaranth.hdl import UnusedElaboratable

from . import __version__
from .devices import DEVICES, device
from .errors import HwgenError, frames_per_second, plural
from .external import reporter
from .network import load_network
from .synthesis import TARGETS

__all__ = ["main"]


def layer_summary(layer):
    """One row of ``hwgen check``: what a user needs to judge a layer's cost."""
    row = {
        "name": layer.name,
        "kind": layer.kind,
        "inputs": list(layer.inputs),
        "in_shape": list(layer.in_shape),
        "out_shape": list(layer.out_shape),
        "in_datatype": str(layer.in_dtype),
        "out_datatype": str(layer.out_dtype),
        "pe": layer.folding().get("pe"),
        "simd": layer.folding().get("simd"),
        "ideal_cycles": layer.ideal_cycles(),
    }
    row.update(layer.summary())
    return row


def check_report(network):
    layers = [layer_summary(layer) for layer in network.layers]
    bottleneck = network.bottleneck()
    report = {
        "network": network.name,
        "file": str(network.path),
        "layers": layers,
        "bottleneck": bottleneck.name,
        "bottleneck_cycles": bottleneck.ideal_cycles(),
        "total_macs": sum(row.get("macs", 0) for row in layers),
        "total_weight_bits": sum(row.get("weight_bits", 0) for row in layers),
    }
    if network.model_input is not None:
        report["model_input"] = {"shape": list(network.model_input.shape),
                                 "quantized": network.model_input.thresholds is not None}
    if network.model_output is not None:
        report["model_output"] = {"shape": list(network.model_output.shape),
                                  "dequantized": network.model_output.scale is not None}
    return report


def format_table(rows, columns):
    cells = [[str(row.get(key, "")) if row.get(key) is not None else "" for key, _ in columns]
             for row in rows]
    header = [title for _, title in columns]
    widths = [max(len(line[i]) for line in [header] + cells) for i in range(len(columns))]
    lines = ["  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip()
             for line in [header] + cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def cmd_check(args):
    target, part = target_cycles(args), device_option(args)
    network = load_network(args.network)
    fit = None
    if target is not None or part is not None:
        folded, fit = folded_design(args, network, target, part)
        network = folded.network
    report = check_report(network)
    if fit is not None:
        report["device"] = fit.report()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    rows, previous = [], None
    for row in report["layers"]:
        reads = ", ".join(row["inputs"]) if row["inputs"] != [previous] and previous else None
        previous = row["name"]
        shapes = f"{'x'.join(map(str, row['in_shape']))} -> {'x'.join(map(str, row['out_shape']))}"
        types = f"{row['in_datatype']} -> {row['out_datatype']}"
        if "weight_datatype" in row:
            dsp = ", dsp" if row["multipliers"] == "dsp" else ""
            types += f" (w {row['weight_datatype']}, {row['engine']}{dsp})"
        if "fused_into" in row:
            types += f" (fused into {row['fused_into']})"
        rows.append(dict(row, shapes=shapes, types=types, reads=reads,
                         matrix=f"{row['mw']}x{row['mh']}" if "mw" in row else None,
                         cycles=row["ideal_cycles"] or None))
    print(f"{report['network']} ({report['file']})")
    print(format_table(rows, [("name", "layer"), ("kind", "kind"), ("reads", "reads"),
                              ("shapes", "shape"),
                              ("types", "datatypes"), ("matrix", "MWxMH"), ("pe", "PE"),
                              ("simd", "SIMD"), ("macs", "MACs"), ("weight_bits", "weight bits"),
                              ("cycles", "ideal cycles")]))
    print(f"bottleneck: {report['bottleneck']} at {report['bottleneck_cycles']} cycles per frame; "
          f"{report['total_macs']} MACs and {report['total_weight_bits']} weight bits in all")
    if "model_input" in report:
        model_in, model_out = report["model_input"], report.get("model_output")
        print(f"model input: floats of shape {model_in['shape']}, "
              + ("quantized by the model's input quantizer" if model_in["quantized"]
                 else "integers of the input datatype")
              + (f"; model output: shape {model_out['shape']}, "
                 + ("dequantized per channel" if model_out["dequantized"] else "labels")
                 if model_out else ""))
    print_device(report, report["bottleneck_cycles"], args.clock)
    return 0


NPY_MAGIC = b"\x93NUMPY"


def read_frames(path, network):
    """Input frames from a .npy file: (N, *shape) with N >= 1, or a single frame of the input
    shape."""
    try:
        with open(path, "rb") as file:
            if file.read(len(NPY_MAGIC)) != NPY_MAGIC:
                raise HwgenError("not a .npy file (numpy's array format, as numpy.save writes "
                                 "it)", file=path)
            file.seek(0)
            frames = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise HwgenError(f"cannot read input frames: {getattr(exc, 'strerror', None) or exc}",
                         file=path) from None
    if network.model_input is not None and np.issubdtype(frames.dtype, np.floating):
        return model_frames(path, network, frames)
    shape = network.input.out_shape
    if frames.shape == shape:
        frames = frames[None]
    if frames.shape[1:] != shape:
        raise HwgenError(f"frames of shape {frames.shape} do not match the input shape "
                         f"(N, {', '.join(map(str, shape))})", file=path,
                         layer=network.input.name, field="shape")
    if not len(frames):
        raise HwgenError(f"holds no frames (shape {frames.shape}); give at least one",
                         file=path)
    dtype = network.input.out_dtype
    if not np.issubdtype(frames.dtype, np.number) or np.iscomplexobj(frames):
        raise HwgenError(f"input values must be integers of {dtype}, not {frames.dtype} values",
                         file=path, layer=network.input.name, field="datatype")
    bad = ~dtype.allows(frames)
    if bad.any():
        frame, *index = (int(i) for i in np.argwhere(bad)[0])
        allowed = "-1 or 1" if dtype.kind == "BIPOLAR" else f"integers {dtype.min} to {dtype.max}"
        value = frames[(frame, *index)].item()
        element = index[0] if len(index) == 1 else tuple(index)
        raise HwgenError(f"frame {frame}, element {element}: value "
                         f"{f'{value:g}' if isinstance(value, float) else value} is outside "
                         f"{dtype} ({allowed}); "
                         f"{plural(int(bad.sum()), 'value')} in all", file=path,
                         layer=network.input.name, field="datatype")
    return frames.astype(np.int64)


def model_frames(path, network, x):
    """Input frames from the model's float inputs ``x``, quantized as the model does."""
    shape = network.model_input.shape
    if x.shape == shape:
        x = x[None]
    if x.shape[1:] != shape or not len(x):
        raise HwgenError(f"inputs of shape {x.shape} do not match the model's input shape "
                         f"(N, {', '.join(map(str, shape))}) (integer frames of the input "
                         f"layer's shape {network.input.out_shape} work too)", file=path,
                         field="model_input.shape")
    try:
        frames = network.model_input.frames(x)
    except ValueError as exc:
        raise HwgenError(str(exc), file=path, layer=network.input.name,
                         field="datatype") from None
    return frames.reshape(len(x), *network.input.out_shape)


def model_outputs(network, outputs):
    """What --output writes: the model's output tensor where the description says how to make
    it from the last layer's integers, else the integers."""
    if network.model_output is None:
        return outputs
    return network.model_output.values(outputs)


def output_file(path, option):
    """Check before any work that ``path`` (given with ``option``) can be written: its directory
    exists and it is not itself a directory. An existing file is overwritten, as usual."""
    path = Path(path)
    if path.is_dir():
        raise HwgenError("is a directory; give a file name", file=path, field=option)
    parent = path.parent
    if not parent.is_dir():
        raise HwgenError(f"the directory {str(parent)!r} does not exist", file=path,
                         field=option)
    if not os.access(parent, os.W_OK):
        raise HwgenError(f"the directory {str(parent)!r} is not writable", file=path,
                         field=option)


def save_npy(path, array):
    """Write ``path`` whole or not at all; HwgenError if it cannot be written."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent or ".", suffix=".npy.tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                np.save(file, array)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise HwgenError(f"cannot write: {exc.strerror}", file=path) from None


def input_frames(args, network):
    """Frames from --input, or --frames seeded random ones."""
    if args.input:
        return read_frames(args.input, network)
    return network.random_frames(args.frames, args.seed)


def cmd_golden(args):
    if args.output:
        output_file(args.output, "--output")
    network = load_network(args.network)
    frames = input_frames(args, network)
    names = [layer.name for layer in network.layers]
    if args.layer is not None and args.layer not in names:
        raise HwgenError(f"no layer named {args.layer!r} (layers: {', '.join(names)})",
                         file=args.network, field="--layer")
    outputs = network.run(frames)
    result = outputs[names.index(args.layer)] if args.layer else model_outputs(network,
                                                                               outputs[-1])
    if args.output:
        save_npy(args.output, result)
    which = args.layer or network.output.name
    what = ("the model's output" if not args.layer and network.model_output is not None
            else f"'{which}' output") + f" of shape {result.shape[1:]}"
    kind = "float32" if result.dtype == np.float32 else network.layer(which).out_dtype
    print(f"{network.name}: {plural(len(frames), 'frame')} -> {what} ({kind})"
          + (f", written to {args.output}" if args.output else ""))
    if not args.output:
        for index, frame in enumerate(result[:args.show]):
            print(f"frame {index}: {np.array2string(frame.ravel(), threshold=16)}")
    return 0


def cmd_import(args):
    from .importers import import_model

    out = Path(args.output)
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise HwgenError("must name the description to write, a .yaml file (its params .npz "
                         "goes beside it)", file=out, field="-o")
    if out.is_dir():
        raise HwgenError("is a directory; give a file name such as DIR/net.yaml", file=out,
                         field="-o")
    params = out.with_suffix(".npz")
    if params.is_dir():
        raise HwgenError("is a directory, where the description's params go", file=params,
                         field="-o")
    imported = import_model(args.model, args.name)
    doc, arrays = imported.description(params.name)
    write_description(out, params, doc, arrays)
    nodes = [{"name": name, "op_type": op, "became": what} for name, op, what in imported.rows]
    if args.json:
        print(json.dumps({"description": str(out), "params": str(params),
                          "layers": [{"name": layer.name, "kind": layer.kind}
                                     for layer in imported.layers],
                          "nodes": nodes}, indent=2))
        return 0
    print(format_table(nodes, [("name", "ONNX node"), ("op_type", "op"),
                               ("became", "in hwgen")]))
    print(f"{imported.name}: {plural(len(imported.layers), 'layer')} written to {out} "
          f"(params {params}); unfolded (PE = SIMD = 1): give `hwgen build` or `hwgen sim` "
          "--target-cycles N or --fps F to fold it")
    return 0


def write_description(out, params, doc, arrays):
    """Write the description and its params whole or not at all, after checking that hwgen
    loads it; the directory is made if missing."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        np.savez(staging / params.name, **arrays)
        (staging / out.name).write_text(yaml.safe_dump(doc, sort_keys=False,
                                                       default_flow_style=None))
        load_network(staging / out.name)
        os.replace(staging / params.name, params)
        os.replace(staging / out.name, out)
    except OSError as exc:
        raise HwgenError(f"cannot write: {exc.strerror or exc}", file=out) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def target_cycles(args):
    """Cycles per frame from --target-cycles, or from --fps at --clock; None if neither (checked
    before any work)."""
    if args.clock <= 0:
        raise HwgenError("must be positive", field="--clock")
    if (args.ignore_hints and args.target_cycles is None and args.fps is None
            and args.device is None):
        raise HwgenError("needs a target to fold for: --target-cycles or --fps, or a part to "
                         "fit: --device", field="--ignore-hints")
    if args.keep_hints and (args.device is None or args.ignore_hints):
        raise HwgenError("goes with --device, without --ignore-hints", field="--keep-hints")
    if args.target_cycles is not None:
        if args.target_cycles < 1:
            raise HwgenError("must be at least 1", field="--target-cycles")
        return args.target_cycles
    if args.fps is not None:
        if args.fps <= 0 or args.clock <= 0:
            raise HwgenError("--fps and --clock must be positive", field="--fps")
        return max(1, int(args.clock * 1e6 // args.fps))
    return None


def device_option(args):
    """(part, utilization) from --device and --utilization (default 0.8), or None without
    --device (checked before any work)."""
    if args.device is None:
        if args.utilization is not None:
            raise HwgenError("needs --device, the part to fit", field="--utilization")
        return None
    utilization = 0.8 if args.utilization is None else args.utilization
    return device(args.device, utilization), utilization


def folded_design(args, network, target, part):
    """The design of ``network``: folded for ``target`` (None: as described), or with ``part``
    (see :func:`device_option`) the fastest that fits it; and the device fit, or None."""
    from .compiler.build import design
    from .compiler.device_fit import fit_device

    if part is None:
        with reporter.step(f"folding and lowering {plural(len(network.layers), 'layer')}"):
            return design(network, target, ignore_hints=args.ignore_hints), None
    chip, utilization = part
    with reporter.step(f"fitting {network.name} to {chip.name} at {utilization:g}"):
        fit = fit_device(network, chip, utilization, ignore_hints=not args.keep_hints)
    return fit.design, fit


def print_device(report, cycles, clock):
    """The ``device`` section of ``report``, if any, for a person: the design's ``cycles`` per
    frame and frames/s at ``clock``, the search, and per resource the modelled use, the
    budget and the share of the part."""
    dev = report.get("device")
    if dev is None:
        return
    search = dev["search"]
    print(f"fitted to {dev['part']} at {dev['utilization']:g} of it: "
          f"{plural(cycles, 'cycle')} per frame ({frames_per_second(clock * 1e6 / cycles)} at "
          f"{clock:g} MHz), the fastest of {plural(search['candidates'], 'candidate target')} "
          f"that fits ({search['target_cycles']}; {len(search['tried'])} tried in "
          f"{search['seconds']:.2f} s), {dev['by']}")
    for key, unit in dev["units"].items():
        print(f"  {unit}: {dev['use'][key]:,} of {dev['budget'][key]:,} allowed "
              f"({dev['percent_of_part'][key]:g}% of the part's {dev['capacity'][key]:,})")


def cmd_build(args):
    from .compiler.build import build, check_output_dir

    check_output_dir(args.output, args.force)
    target, part = target_cycles(args), device_option(args)
    network = load_network(args.network)
    fit = folded_design(args, network, target, part)[1] if part is not None else None
    design, rep = build(network, args.output, target, args.clock, force=args.force,
                        ignore_hints=args.ignore_hints, fit=fit)
    if args.json:
        print(json.dumps(rep, indent=2))
        return 0
    totals = rep["totals"]
    print(f"{network.name}: {plural(len(design.nodes), 'node')} written to {args.output}/ "
          f"({design.top_name}.v, report.md, report.html, report.json, network.yaml, params.npz)")
    missed = [c for c in design.choices if not c.meets_target]
    for choice in design.choices:
        print(f"  {choice.layer}: PE {choice.pe}" + (f", SIMD {choice.simd}" if choice.simd else "")
              + f" -> {plural(choice.cycles, 'cycle')}" + (" (hint)" if choice.hinted else "")
              + ("" if choice.meets_target else "  MISSES THE TARGET"))
    print(f"bottleneck {totals['bottleneck']}: {plural(totals['bottleneck_cycles'], 'cycle')} per "
          f"frame, {frames_per_second(totals['frames_per_second'])} at an assumed "
          f"{args.clock:g} MHz (not measured: `hwgen estimate --target ecp5 --pnr` measures the "
          f"clock); latency about {plural(totals['latency_estimate_cycles'], 'cycle')} "
          "(estimated); estimated " + ", ".join(f"{v} {k}" for k, v in totals["resources"].items()))
    print_device(rep, totals["bottleneck_cycles"], args.clock)
    if missed:
        print(f"hwgen: warning: {plural(len(missed), 'layer')} cannot meet "
              f"{plural(design.target_cycles, 'cycle')} per frame: "
              f"{', '.join(c.layer for c in missed)}", file=sys.stderr)
    return 0


def cmd_sim(args):
    from .simulation.run import SimulationFailed, simulate

    if not 0 <= args.stall_prob < 1:
        raise HwgenError("must be in [0, 1)", field="--stall-prob")
    if not args.burst >= 1:
        raise HwgenError("must be at least 1", field="--burst")
    if args.vcd:
        output_file(args.vcd, "--vcd")
    if args.output:
        output_file(args.output, "--output")
    target, part = target_cycles(args), device_option(args)
    network = load_network(args.network)
    frames = input_frames(args, network)
    design = folded_design(args, network, target, part)[0]
    try:
        result = simulate(design, frames, backend=args.backend, seed=args.seed,
                          stall_prob=args.stall_prob, burst=args.burst, vcd=args.vcd)
    except SimulationFailed as exc:
        if args.json:
            print(json.dumps({"network": network.name, "backend": args.backend,
                              "error": str(exc)}, indent=2))
        print(f"hwgen: simulation failed: {exc}", file=sys.stderr)
        return 1
    summary = result.as_dict()
    if args.output and result.outputs is not None:
        save_npy(args.output, model_outputs(network, result.outputs))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        verdict = ("every output matches the golden model" if not result.mismatches else
                   f"MISMATCH: {result.mismatches} output elements differ; first at "
                   f"{result.first_mismatch}")
        if result.mismatches == 1:
            verdict = f"MISMATCH: 1 output element differs, at {result.first_mismatch}"
        print(f"{network.name} ({args.backend}): {plural(len(frames), 'frame')}"
              + (f" with stall probability {args.stall_prob}" if args.stall_prob else "")
              + (f" in bursts of {args.burst:g}" if args.stall_prob and args.burst != 1 else "")
              + f": {verdict}")
        if result.cycles_per_frame is not None:
            print(f"{result.cycles_per_frame:.1f} cycles per frame (ideal "
                  f"{result.ideal_cycles_per_frame}, ratio {summary['efficiency']:.3f}), "
                  f"latency {plural(result.latency_cycles, 'cycle')}")
        print(f"simulated {plural(result.sim_cycles, 'cycle')} in {result.sim_seconds:.2f} s "
              f"({summary['sim_cycles_per_second']:,.0f} cycles/s)")
    return 1 if result.mismatches else 0


def cmd_estimate(args):
    from .compiler.estimate import estimate
    from .synthesis import DEVICES, SynthesisError

    if args.pnr and args.target not in DEVICES:
        raise HwgenError(f"place and route is available for {' and '.join(DEVICES)} only (open "
                         f"tools; none places and routes {args.target})", field="--pnr")
    target, part = target_cycles(args), device_option(args)
    network = load_network(args.network)
    design, fit = folded_design(args, network, target, part)
    try:
        report = estimate(design, args.target, pnr_clock_mhz=args.clock if args.pnr else None)
    except SynthesisError as exc:
        print(f"hwgen: synthesis failed: {exc}", file=sys.stderr)
        return 1
    if fit is not None:
        report["device"] = fit.report()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0

    def row(name, kind, synth, model, timing=None):
        cells = {"name": name, "kind": kind, "lut": synth["lut"], "lutram": synth["lutram"],
                 "ff": synth["ff"], "carry": synth["carry"], "bram18": f"{synth['bram18']:g}",
                 "dsp": synth["dsp"]}
        if model is not None:
            cells.update(lut_model=model["lut"], ff_model=model["ff"],
                         bram18_model=model["bram18"], dsp_model=model["dsp"])
        if timing is not None:
            cells.update(timing)
        return cells

    rows = [row(n["name"], n["kind"], n["synthesis"], n["model"], n["timing"])
            for n in report["nodes"]]
    rows.append(row("(top level)", "", report["top_level"], None))
    rows.append(row("total", "", report["totals"], report["model_totals"], report["timing"]))
    columns = [("name", "node"), ("kind", "kind"), ("lut", "LUT"), ("lut_model", "(model)"),
               ("lutram", "of which RAM"), ("ff", "FF"), ("ff_model", "(model)"),
               ("carry", "carry"), ("bram18", "BRAM18"), ("bram18_model", "(model)"),
               ("dsp", "DSP"), ("dsp_model", "(model)"), ("lut_levels", "path LUT"),
               ("mux_cells", "path mux"), ("carry_cells", "path carry")]
    when = "cached" if report["cached"] else f"{report['synthesis_seconds']} s"
    print(f"{report['network']}: {report['family']}, Yosys `{report['script']}` ({when})")
    print(format_table(rows, columns))
    totals, timing = report["totals"], report["timing"]
    print(f"total: {totals['lut']} LUT, {totals['ff']} FF, {totals['bram36']:g} BRAM36 "
          f"({totals['bram_kbit']} kbit), {totals['dsp']} DSP")
    print(f"longest register-to-register path: {timing['lut_levels']} LUT levels, "
          f"{timing['mux_cells']} wide multiplexers, {timing['carry_cells']} carry cells; "
          + path_engines(timing))
    pnr = report.get("place_and_route")
    if pnr:
        clock = pnr["summary"]
        print(f"place and route on {pnr['device']}: {clock}"
              + (" (cached)" if pnr["cached"] else f" ({pnr['seconds']} s)"))
        critical = pnr["critical_path"]
        if critical:
            print(f"critical path: {critical['delay_ns']:.2f} ns ({critical['logic_ns']:.2f} "
                  f"logic, {critical['routing_ns']:.2f} routing), {critical['cells']} logic "
                  f"cells; " + path_engines(critical))
    print_device(report, design.bottleneck.cycles(), args.clock)
    return 0


def cmd_explore(args):
    from .compiler.build import check_output_dir
    from .compiler.explore import explore
    from .compiler.explore_cache import EXPLORE_DIR, ResultCache
    from .compiler.explore_tasks import dask_pool
    from .compiler.explore_report import front_markdown, write_front

    if args.clock <= 0:
        raise HwgenError("must be positive", field="--clock")
    if args.workers is not None and args.workers < 1:
        raise HwgenError("must be at least 1", field="--workers")
    if args.moves < 0:
        raise HwgenError("must be at least 0", field="--moves")
    if args.front_size < 0:
        raise HwgenError("must be at least 0", field="--front-size")
    part, utilization = device_option(args)
    out = Path(args.output or f"explore-{Path(args.network).stem}")
    check_output_dir(out, kind=EXPLORE_DIR)
    try:
        cache = ResultCache(out / "cache")
    except OSError as exc:
        raise HwgenError(f"cannot create the directory: {exc.strerror}", file=out) from None
    with dask_pool(args.scheduler, args.workers) as pool:
        result = explore(args.network, part, utilization, pool, cache, clock_mhz=args.clock,
                         seed=args.seed, moves=args.moves, front_size=args.front_size,
                         ignore_hints=not args.keep_hints, confirm=args.synthesize,
                         show_progress=not args.quiet)
    rep = write_front(out, result)
    failed = [index for index, entry in enumerate(rep["front"], 1)
              if "error" in entry or entry.get("simulation", {}).get("mismatches")]
    if args.json:
        print(json.dumps({**rep, "output": str(out), "search": result.stats}, indent=2))
    else:
        print(front_markdown(rep), end="")
        models = result.stats["models"]
        print(f"{plural(len(result.candidates), 'distinct design')} evaluated by the models "
              f"({models['evaluated']} evaluations now, {models['cached']} from the cache); "
              f"written to {out}/ (front.md, front.json, front.png, front.svg)")
    if failed:
        print(f"hwgen: {plural(len(failed), 'front design')} not confirmed (synthesis or "
              f"simulation failed, or outputs differ): {', '.join(map(str, failed))}",
              file=sys.stderr)
        return 1
    return 0


def path_engines(path):
    """Where a path of ``hwgen estimate`` runs: "in X" or "from X through Y, Z to W"."""
    def name(node):
        return node or "(top level)"
    if path["from"] == path["to"] and not path["through"]:
        return f"in {name(path['from'])}"
    through = f" through {', '.join(map(name, path['through']))}" if path["through"] else ""
    return f"from {name(path['from'])}{through} to {name(path['to'])}"


def add_folding_options(parser):
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--target-cycles", type=int, metavar="N",
                        help="fold automatically for at most N cycles per frame (pe/simd in the "
                             "description win, unless --ignore-hints)")
    target.add_argument("--fps", type=float, metavar="F",
                        help="fold automatically for F frames/s at --clock")
    target.add_argument("--device", metavar="PART",
                        help="fold for the fastest design whose modelled resources fit "
                             f"--utilization of PART ({', '.join(DEVICES)}); every layer's "
                             "folding is searched, the description's pe/simd ignored unless "
                             "--keep-hints")
    parser.add_argument("--utilization", type=float, metavar="F",
                        help="with --device: the share of the part the design may use, in "
                             "(0, 1] (default 0.8)")
    parser.add_argument("--keep-hints", action="store_true",
                        help="with --device: keep the pe/simd the description gives")
    parser.add_argument("--ignore-hints", action="store_true",
                        help="with --target-cycles or --fps: fold every layer from scratch, "
                             "ignoring the pe/simd the description gives (as --device does)")
    parser.add_argument("--clock", type=float, default=100.0, metavar="MHZ",
                        help="clock frequency for --fps and the report (default 100)")


def add_output_options(parser):
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout (the steps still go to stderr)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="do not report the steps and their elapsed times on stderr")


def add_frame_options(parser, default_frames):
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--input", metavar="X.npy",
                        help="input frames, shape (N, *input shape); for an imported model also "
                             "its float inputs, shape (N, *model input shape)")
    source.add_argument("--frames", type=int, default=default_frames, metavar="N",
                        help=f"number of random input frames (default {default_frames})")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random frames (and of the stall patterns)")


def build_parser():
    from .compiler.explore import FRONT_SIZE, MOVES

    parser = argparse.ArgumentParser(
        prog="hwgen", description="Streaming FPGA accelerators for quantized neural networks.")
    parser.add_argument("--version", action="version", version=f"hwgen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="validate a network and show its layers and cost")
    check.add_argument("network", help="network description (.yaml)")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    add_folding_options(check)
    check.set_defaults(run=cmd_check)

    gold = commands.add_parser("golden", help="run the bit-exact golden model")
    gold.add_argument("network", help="network description (.yaml)")
    add_frame_options(gold, 1)
    gold.add_argument("--layer", metavar="NAME", help="output of this layer instead of the last")
    gold.add_argument("--output", metavar="Y.npy", help="write the outputs to this file")
    gold.add_argument("--show", type=int, default=8, metavar="N",
                      help="frames to print when not writing a file (default 8)")
    gold.set_defaults(run=cmd_golden)

    imp = commands.add_parser("import", help="import a QONNX or QCDQ ONNX model as a "
                              "description")
    imp.add_argument("model", help="the model (.onnx)")
    imp.add_argument("-o", "--output", required=True, metavar="NET.yaml",
                     help="the description to write; NET.npz goes beside it")
    imp.add_argument("--name", help="the network's name (default: the model file's name)")
    imp.add_argument("--json", action="store_true", help="print one JSON object")
    imp.set_defaults(run=cmd_import)

    bld = commands.add_parser("build", help="generate the accelerator: Verilog and reports")
    bld.add_argument("network", help="network description (.yaml)")
    bld.add_argument("-o", "--output", required=True, metavar="DIR",
                     help="output directory: written whole or not at all; an existing one is "
                          "replaced only if it is a previous hwgen build (or with --force)")
    bld.add_argument("--force", action="store_true",
                     help="replace DIR even if it is not a previous build, with all it holds")
    add_folding_options(bld)
    add_output_options(bld)
    bld.set_defaults(run=cmd_build)

    sim = commands.add_parser("sim", help="simulate the design cycle-accurately against golden")
    sim.add_argument("network", help="network description (.yaml)")
    add_frame_options(sim, 8)
    sim.add_argument("--stall-prob", type=float, default=0.0, metavar="P",
                     help="probability of an input gap and of an output stall on each cycle")
    sim.add_argument("--burst", type=float, default=1.0, metavar="B",
                     help="gaps and stalls in on/off periods B times as long on average as "
                          "independent draws give, off the same fraction of cycles (default 1: "
                          "an independent draw per cycle)")
    sim.add_argument("--backend", choices=["verilator", "amaranth"], default="verilator",
                     help="simulator (default verilator; amaranth is slow, for small networks)")
    sim.add_argument("--vcd", metavar="FILE", help="write a waveform trace")
    sim.add_argument("--output", metavar="Y.npy",
                     help="write the outputs the hardware gave (the model's output tensor, "
                          "for an imported model)")
    add_folding_options(sim)
    add_output_options(sim)
    sim.set_defaults(run=cmd_sim)

    est = commands.add_parser("estimate", help="synthesize the design with Yosys: resources "
                              "per engine, beside the models', and logic depth")
    est.add_argument("network", help="network description (.yaml)")
    est.add_argument("--target", choices=sorted(TARGETS), default="xc7",
                     help="FPGA family (default xc7: Xilinx 7-series)")
    est.add_argument("--pnr", action="store_true",
                     help="also place and route (ecp5, ice40; needs yowasp-nextpnr-<target>) "
                          "and report the clock achieved against --clock, and its critical "
                          "path")
    add_folding_options(est)
    add_output_options(est)
    est.set_defaults(run=cmd_estimate)

    exp = commands.add_parser("explore", help="search foldings for the Pareto front of "
                              "frames/s against LUT, block RAM and DSP on a part")
    exp.add_argument("network", help="network description (.yaml)")
    exp.add_argument("--device", required=True, metavar="PART",
                     help=f"the part the designs must fit ({', '.join(DEVICES)})")
    exp.add_argument("--utilization", type=float, metavar="F",
                     help="the share of the part a design may use, in (0, 1] (default 0.8)")
    exp.add_argument("--clock", type=float, default=100.0, metavar="MHZ",
                     help="clock frequency for frames/s (default 100)")
    exp.add_argument("--synthesize", action="store_true",
                     help="confirm each front design: Yosys synthesis and a Verilator run "
                          "with stalls")
    exp.add_argument("--scheduler", metavar="ADDRESS",
                     help="run the tasks on this Dask scheduler (tcp://host:8786) instead of "
                          "a local cluster")
    exp.add_argument("--workers", type=int, metavar="N",
                     help="worker processes of the local cluster (default: the machine's "
                          "cores)")
    exp.add_argument("--moves", type=int, default=MOVES, metavar="N",
                     help=f"local-search evaluations after the seed designs (default {MOVES})")
    exp.add_argument("--seed", type=int, default=0, help="seed of the local search")
    exp.add_argument("--front-size", type=int, default=FRONT_SIZE, metavar="N",
                     help=f"report (and confirm) at most N front designs: the fastest, the "
                          f"smallest and the rest spread over frames/s (default {FRONT_SIZE}; "
                          f"0: the whole front)")
    exp.add_argument("--keep-hints", action="store_true",
                     help="keep the pe/simd the description gives (default: search every "
                          "folding)")
    exp.add_argument("-o", "--output", metavar="DIR",
                     help="output directory (default explore-<network>): front.md, "
                          "front.json, front.png, front.svg and cache/; a run resumes from "
                          "its cache")
    add_output_options(exp)
    exp.set_defaults(run=cmd_explore)
    return parser


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    # A SIGTERM (a job's time limit, `kill`) stops hwgen as Ctrl-C does: tools and workers
    # stopped, temporary files removed, nothing half-written left in place.
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv):
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "frames", 1) < 1:
            print("hwgen: error: --frames must be at least 1", file=sys.stderr)
            return 2
        reporter.enabled = not getattr(args, "quiet", False)
        return args.run(args)
    except HwgenError as exc:
        print(f"hwgen: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader of stdout went away (`hwgen ... | head`): nothing more to say to it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        # Components built before the interrupt were never elaborated: Amaranth would warn
        # about each of them as the interpreter exits, after the one line said all there is.
        warnings.simplefilter("ignore", UnusedElaboratable)
        print("hwgen: interrupted", file=sys.stderr)
        return 130
