"""``hwgen estimate``: a design's resources from synthesis, per engine, beside the models'.

The analytic models (each engine's ``resources()``) are what folding decides with; synthesis
(:mod:`hwgen.synthesis`) is what the user pays. Showing both per node keeps the models honest.
"""

from ..engines.resources import Resources
from ..synthesis import place_and_route, synthesize

__all__ = ["estimate"]


def estimate(design, target="xc7", *, pnr_clock_mhz=None, cache_dir=None, progress=None):
    """A JSON-ready report: synthesis figures per node and in total, the models' beside them;
    with ``pnr_clock_mhz``, also place and route at that clock (``place_and_route``)."""
    verilog = design.verilog()
    result = synthesize(verilog, design.top_name, target, cache_dir=cache_dir, progress=progress)
    names = [node.name for node in design.nodes]
    synthesized = result.by_prefix(f"{design.top_name}.pipeline.", names)
    nodes, model_totals = [], Resources()
    for node in design.nodes:
        model = node.resources()
        model_totals += model
        engine = type(node.params).__name__.removesuffix("Params")
        if getattr(node.params, "style", None):
            engine += f" ({node.params.style})"
        nodes.append({"name": node.name, "kind": node.kind, "engine": engine,
                      "synthesis": synthesized[node.name], "model": model.as_dict()})
    report = {
        "network": design.network.name,
        "top": design.top_name,
        "target": target,
        "family": result.target.family,
        "script": result.target.script.format(top=design.top_name),
        "synthesis_seconds": round(result.seconds, 1),
        "cached": result.cached,
        "totals": result.totals(),
        "model_totals": model_totals.as_dict(),
        "top_level": synthesized[None],
        "nodes": nodes,
    }
    if pnr_clock_mhz is not None:
        report["place_and_route"] = place_and_route(verilog, design.top_name, target,
                                                    pnr_clock_mhz, cache_dir=cache_dir,
                                                    progress=progress)
    return report
