"""``hwgen estimate``: a design's resources and logic depth from synthesis, per engine, beside
the models'.

The analytic models (each engine's ``resources()``) are what folding decides with; synthesis
(:mod:`hwgen.synthesis`) is what the user pays. Showing both per node keeps the models honest.
Every run also reports the longest register-to-register path, in LUT levels and carry cells, of
each engine and of the whole design; with place and route, the clock achieved and its critical
path. Both name the engines (nodes) a path starts in, ends in and passes through.
"""

from itertools import groupby

from ..engines.resources import Resources
from ..synthesis import group_of, module_of, place_and_route, synthesize

__all__ = ["estimate", "timing_summary"]


def timing_summary(pnr):
    """Whether place and route met the clock, in words that cannot be misread."""
    if pnr["fmax_mhz"] is None:
        return "no clocked path"
    clock = f"{pnr['clock_mhz']:g} MHz"
    if pnr["met"]:
        return f"{pnr['fmax_mhz']} MHz achieved: met the {clock} constraint"
    return (f"{pnr['fmax_mhz']} MHz achieved: MISSED the {clock} constraint (timing fails: the "
            f"design does not run at {clock})")


def estimate(design, target="xc7", *, pnr_clock_mhz=None, cache_dir=None, progress=None):
    """A JSON-ready report: synthesis figures and logic depth (``timing``) per node and in
    total, the models' figures beside them; with ``pnr_clock_mhz``, also place and route at
    that clock (``place_and_route``: achieved ``fmax_mhz``, ``met``, ``critical_path``, and
    ``summary``: "... MHz achieved: met the ... constraint" or "...: MISSED the ..." in words)."""
    verilog = design.verilog()
    prefix = f"{design.top_name}.pipeline."
    names = [node.name for node in design.nodes]
    result = synthesize(verilog, design.top_name, target, units=[prefix + n for n in names],
                        cache_dir=cache_dir, progress=progress)
    synthesized = result.by_prefix(prefix, names)

    def engines(modules):
        """``from``, ``to`` and ``through`` (the engines between) of a path through
        ``modules``, in order; None stands for the top level (glue outside every engine)."""
        nodes = [node for node, _ in groupby(group_of(module, prefix, names)
                                             for module in modules)]
        if not nodes:
            return {"from": None, "to": None, "through": []}
        return {"from": nodes[0], "to": nodes[-1], "through": nodes[1:-1]}

    nodes, model_totals = [], Resources()
    for node in design.nodes:
        model = node.resources()
        model_totals += model
        engine = type(node.params).__name__.removesuffix("Params")
        if getattr(node.params, "style", None):
            engine += f" ({node.params.style})"
        nodes.append({"name": node.name, "kind": node.kind, "engine": engine,
                      "synthesis": synthesized[node.name], "model": model.as_dict(),
                      "timing": result.unit_paths[prefix + node.name]})
    path = result.path
    report = {
        "network": design.network.name,
        "top": design.top_name,
        "target": target,
        "family": result.target.family,
        "script": result.script,
        "synthesis_seconds": round(result.seconds, 1),
        "cached": result.cached,
        "totals": result.totals(),
        "model_totals": model_totals.as_dict(),
        "top_level": synthesized[None],
        "timing": {**{k: v for k, v in path.items() if k != "modules"},
                   **engines(path["modules"])},
        "nodes": nodes,
    }
    if pnr_clock_mhz is not None:
        pnr = place_and_route(verilog, design.top_name, target, pnr_clock_mhz,
                              cache_dir=cache_dir, progress=progress)
        critical = pnr["critical_path"]
        if critical is not None:
            cells = critical["cells"]
            critical = {**{k: critical[k] for k in ("delay_ns", "logic_ns", "routing_ns")},
                        "cells": critical["logic_cells"],
                        **engines(module_of(cell, result.modules, design.top_name)
                                  for cell in cells),
                        "from_cell": cells[0] if cells else None,
                        "to_cell": cells[-1] if cells else None}
        report["place_and_route"] = {**pnr, "critical_path": critical,
                                     "summary": timing_summary(pnr)}
    return report
