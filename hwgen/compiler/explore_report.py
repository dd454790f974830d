"""What ``hwgen explore`` writes: the front as JSON (:func:`front_report`) and as a Markdown
table (:func:`front_markdown`), and a plot of frames/s against LUT and block RAM
(:func:`plot_front`, PNG and SVG).

Every file is a function of the exploration's candidates and confirmations alone (no times,
no dates, no cache counts), so the same search writes the same bytes: the SVG's ids are salted
with a constant (``svg.hashsalt``) and no file carries a date.
"""

import io
import json
from pathlib import Path

from ..errors import frames_per_second
from .build import GENERATOR
from .explore_cache import write_whole

__all__ = ["front_report", "front_markdown", "plot_front", "write_front"]


def _entry(candidate, part, clock_mhz, confirmed):
    entry = {
        "folding": [{"layer": layer, "pe": pe, "simd": simd}
                    for layer, pe, simd in candidate.folding],
        "cycles_per_frame": candidate.cycles,
        "frames_per_second": round(clock_mhz * 1e6 / candidate.cycles, 3),
        "bottleneck": candidate.bottleneck,
        "model": candidate.model,
        "use": candidate.use(part),
    }
    if confirmed is not None:
        entry.update(confirmed)
    return entry


def front_report(exploration):
    """front.json: the network, the part and its budget, the search's size, the whole front's
    size (``front_of_models``), and ``front`` (the designs kept, :func:`~.explore.spread`), one
    entry per design: its folding per layer, cycles per frame, frames/s at the clock, the
    modelled resources (``model``, 7-series units; ``use``, the part's), and when confirmed
    ``synthesis`` and ``simulation`` (or ``error``)."""
    x, part = exploration, exploration.part
    return {
        "generator": GENERATOR,
        "network": x.network,
        "device": {"part": part.name, "utilization": x.utilization, "units": part.units,
                   "budget": part.budget(x.utilization), "by": part.note()},
        "clock_mhz": x.clock_mhz,
        "candidates": len(x.candidates),
        "fitting": sum(part.fits(c.use(part), x.utilization) for c in x.candidates),
        "front_of_models": x.stats.get("front_of_models", len(x.front)),
        "front": [_entry(c, part, x.clock_mhz, x.confirmed.get(c.folding) if x.confirmed
                         else None) for c in x.front],
    }


def _folding_text(folding):
    return " ".join(f"{f['layer']}:{f['pe']}" + (f"x{f['simd']}" if f["simd"] else "")
                    for f in folding)


def front_markdown(rep):
    """front.md: one row per front design, fastest first."""
    units = rep["device"]["units"]
    confirmed = any("synthesis" in e or "error" in e for e in rep["front"])
    head = ["#", "cycles/frame", "frames/s", units["lut"], units["bram"], units["dsp"], "FF"]
    if confirmed:
        head += ["synth LUT", "synth FF", "synth BRAM18", "synth DSP", "Verilator cycles/frame",
                 "mismatches"]
    head.append("folding (layer:PExSIMD)")
    lines = [f"# {rep['network']} on {rep['device']['part']}", "",
             f"Pareto front of frames/s at {rep['clock_mhz']:g} MHz (assumed) against "
             f"{units['lut']}, {units['bram']} and {units['dsp']}: {len(rep['front'])} designs "
             f"spread over the {rep['front_of_models']} of the whole front, of "
             f"{rep['candidates']} evaluated ({rep['fitting']} fit "
             f"{rep['device']['utilization']:g} of the part), {rep['device']['by']}.", "",
             "| " + " | ".join(head) + " |", "|" + " ---: |" * (len(head) - 1) + " --- |"]
    for index, e in enumerate(rep["front"], 1):
        use = e["use"]
        row = [index, f"{e['cycles_per_frame']:,}", frames_per_second(e["frames_per_second"])
               .removesuffix(" frames/s"), f"{use['lut']:,}", use["bram"], use["dsp"],
               f"{use['ff']:,}"]
        if confirmed:
            synth, sim = e.get("synthesis", {}), e.get("simulation", {})
            row += [f"{synth['lut']:,}" if synth else "", f"{synth['ff']:,}" if synth else "",
                    f"{synth['bram18']:g}" if synth else "", synth.get("dsp", ""),
                    f"{sim['cycles_per_frame']:.1f}" if sim.get("cycles_per_frame") else "",
                    sim.get("mismatches", e.get("error", ""))]
        row.append(_folding_text(e["folding"]))
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def plot_front(exploration, title):
    """(PNG bytes, SVG bytes): frames/s against LUTs (left) and block RAM (right), every
    evaluated design faint (those over the budget marked x), the front highlighted."""
    # The object-oriented API on the Agg canvas: no pyplot, no display, no global figure.
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    x, part = exploration, exploration.part
    fps = x.clock_mhz * 1e6
    uses = [c.use(part) for c in x.candidates]
    fits = [part.fits(use, x.utilization) for use in uses]
    front = [(c.use(part), fps / c.cycles) for c in x.front]
    with rc_context({"svg.hashsalt": "hwgen-explore", "svg.fonttype": "none"}):
        figure = Figure(figsize=(11, 4.5))
        axes = figure.subplots(1, 2, sharey=True)
        for axis, key in zip(axes, ("lut", "bram")):
            for fit, marker, label in ((True, "o", "evaluated, fits"),
                                       (False, "x", "evaluated, over the budget")):
                points = [(use[key], fps / c.cycles) for c, use, f in
                          zip(x.candidates, uses, fits) if f == fit]
                if points:
                    axis.scatter(*zip(*points), s=14, marker=marker, color="0.55", alpha=0.35,
                                 label=label)
            axis.plot([u[key] for u, _ in front], [f for _, f in front], "o", color="C3",
                      markersize=6, label="Pareto front")
            axis.axvline(part.budget(x.utilization)[key], color="C0", linestyle="--",
                         linewidth=1, label=f"budget ({x.utilization:g} of the part)")
            axis.set_xlabel(part.units[key])
            axis.set_yscale("log")
            axis.grid(True, alpha=0.3)
        axes[0].set_xscale("log")
        axes[0].xaxis.set_minor_formatter(NullFormatter())     # labels of 2-9 x 10^k collide
        axes[0].set_ylabel(f"frames/s at {x.clock_mhz:g} MHz")
        axes[1].legend(loc="lower right", fontsize=8)
        figure.suptitle(title)
        figure.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.9, wspace=0.06)
        images = []
        for kind, metadata in (("png", {"Software": None}), ("svg", {"Date": None})):
            buffer = io.BytesIO()
            figure.savefig(buffer, format=kind, dpi=100, metadata=metadata)
            images.append(buffer.getvalue())
    return tuple(images)


def write_front(out_dir, exploration):
    """Write front.json, front.md, front.png and front.svg into ``out_dir``, each whole; the
    report (:func:`front_report`)."""
    out_dir = Path(out_dir)
    rep = front_report(exploration)
    png, svg = plot_front(exploration, f"{exploration.network} on {exploration.part.name}: "
                                       f"{len(exploration.front)} designs on the front")
    files = {"front.json": json.dumps(rep, indent=2) + "\n", "front.md": front_markdown(rep),
             "front.png": png, "front.svg": svg}
    for name, data in files.items():
        write_whole(out_dir / name, data)
    return rep
