"""Fitting a network to an FPGA part (``--device D --utilization F``): the fastest design whose
modelled resources fit F of the part.

Contract of :func:`fit_device`: it returns a :class:`Fit` whose ``design`` is
:func:`~.build.design` of the network at ``target`` cycles per frame (hints kept unless
``ignore_hints``), whose whole modelled resources (every node: engines, FIFOs, width converters,
forks, as the build report totals them), converted to the part's units
(:meth:`~hwgen.devices.Device.use`), are within F of the part in every resource (LUT, FF, block
RAM, DSP); and none of the :data:`NEIGHBOURS` candidate targets just faster than ``target`` fits
(or ``target`` is the fastest candidate). If even the most folded design does not fit, it raises
one :class:`HwgenError` naming the resource, the budget and the layer that takes the most of it.
The fit is by the resource models, never by synthesis.

Candidates: the distinct ideal cycles per frame that the layers' foldings reach
(:meth:`~hwgen.network.kinds.Layer.folding_options`). Folding compares only those cycles with the
target, so the folded network is the same for every target from one candidate up to the next:
the candidates are all the designs there are. Those below the slowest layer's fastest folding
are left out: each gives the same bottleneck as that one at a higher cost (layers that could
have been slower are not).

Search: bisection over the sorted candidates for the smallest that fits, each candidate
evaluated as the whole lowered design (neighbouring layers' stream widths matched, FIFOs and
width converters counted), never layer by layer. Resources are not exactly monotone in the
target (a slower layer can need a width converter a faster one did not; FIFO depths follow the
pace), so bisection alone could stop above a faster design that fits; the :data:`NEIGHBOURS`
candidates just below its answer are tried too, and the bisection resumes below any that fits.
Deterministic: the same network, part and utilization give the same trials and design.

Layers with ``resource: auto`` (:meth:`~hwgen.network.kinds.matrix.MatrixLayer.matrix_params`)
take DSP lanes where the cost model prefers them. When a candidate's design does not fit that
way, it is tried again with every such layer that can take DSPs on DSPs (fewer LUTs, when the
part has DSPs to spare), then with every such layer on LUTs (no DSPs): the candidate fits if one
of the three does (:func:`resource_variants`; :attr:`Trial.auto` says which). Layers marked
``lut`` or ``dsp`` keep their choice.
"""

import time
from dataclasses import dataclass, field, replace

from ..devices import RESOURCES
from ..engines.resources import Resources
from ..errors import HwgenError
from .build import design

__all__ = ["Fit", "Trial", "fit_device", "candidate_targets", "resource_variants",
           "NEIGHBOURS"]

NEIGHBOURS = 2


@dataclass(frozen=True)
class Trial:
    target: int          # the candidate folded for
    cycles: int          # the design's bottleneck cycles per frame
    use: dict            # modelled resources in the part's units
    fits: bool
    auto: str = None     # the auto layers' lanes: "cost", "dsp" or "lut"; None without any


@dataclass
class Fit:
    part: object             # :class:`~hwgen.devices.Device`
    utilization: float
    design: object           # :class:`~.build.Design`
    target: int
    candidates: int          # how many candidate targets there were
    trials: list = field(default_factory=list)     # :class:`Trial` in the order tried
    seconds: float = 0.0

    @property
    def use(self):
        return self.part.use(self.design.resources())

    def report(self):
        """The JSON-ready ``device`` section of the reports: the part, the budget, the
        modelled use per resource and as a percentage of the part, and the search."""
        part, use = self.part, self.use
        return {
            "part": part.name, "vendor": part.vendor, "family": part.family,
            "utilization": self.utilization,
            "units": part.units,
            "capacity": part.capacity(),
            "budget": part.budget(self.utilization),
            "use": use,
            "percent_of_part": {key: round(100 * use[key] / part.capacity()[key], 1)
                                if part.capacity()[key] else 0.0 for key in RESOURCES},
            "by": part.note(),
            "search": {"target_cycles": self.target, "candidates": self.candidates,
                       "tried": [vars(trial) for trial in self.trials],
                       "seconds": round(self.seconds, 2)},
        }


def candidate_targets(network, ignore_hints=False):
    """The targets worth folding ``network`` for, ascending (see the module docstring)."""
    fastest, reachable = 0, set()
    for layer in network.layers:
        cycles = {option.ideal_cycles()
                  for option in layer.folding_options(frozenset() if ignore_hints
                                                      else layer.hints)} - {0}
        if cycles:
            fastest = max(fastest, min(cycles))
            reachable |= cycles
    return sorted(c for c in reachable if c >= fastest)


def resource_variants(network):
    """[(how, network)]: ``network`` as described ("cost": its ``auto`` layers as the cost
    model chooses), then with those of its auto layers that can take DSPs on DSPs ("dsp") and
    on LUTs ("lut"); only the first, with how None, if no layer can move."""
    movable = {layer.name for layer in network.layers
               if getattr(layer, "resource", None) == "auto" and layer.can_use_dsp}
    if not movable:
        return [(None, network)]

    def moved(resource):
        layers = []
        for layer in network.layers:
            if layer.name in movable:
                hints, layer = layer.hints, replace(layer, resource=resource)
                layer.hints = hints       # an instance attribute, which replace() drops
            layers.append(layer)
        return replace(network, layers=layers)
    return [("cost", network), ("dsp", moved("dsp")), ("lut", moved("lut"))]


def fit_device(network, part, utilization, *, ignore_hints=False):
    """The fastest design of ``network`` that fits ``utilization`` of ``part`` by the models
    (see the module docstring for the contract)."""
    start = time.monotonic()
    budget = part.budget(utilization)
    candidates = candidate_targets(network, ignore_hints)
    variants = resource_variants(network)
    trials, designs = {}, {}

    def fits(index):
        if index not in trials:
            # The first variant that fits; if none does, the network as described.
            for how, variant in variants:
                d = design(variant, candidates[index], ignore_hints=ignore_hints)
                use = part.use(d.resources())
                trial = Trial(candidates[index], d.bottleneck.cycles(), use,
                              all(use[key] <= budget[key] for key in RESOURCES), how)
                if trial.fits or index not in trials:
                    designs[index], trials[index] = d, trial
                if trial.fits:
                    break
        return trials[index].fits

    best = len(candidates) - 1
    if not fits(best):
        raise infeasible(network, part, utilization, designs[best])
    while True:
        low = -1           # below every candidate: taken as not fitting
        while best - low > 1:
            middle = (low + best) // 2
            if fits(middle):
                best = middle
            else:
                low = middle
        faster = [i for i in range(best - 1, max(best - 1 - NEIGHBOURS, -1), -1) if fits(i)]
        if not faster:
            break
        best = min(faster)
    return Fit(part, utilization, designs[best], candidates[best], len(candidates),
               list(trials.values()), time.monotonic() - start)


def infeasible(network, part, utilization, most_folded):
    """The error for a part too small for even ``most_folded``: the resource most over its
    budget (the one a user must cut most), and the layer that takes the most of it (its
    engines and the FIFOs and converters lowered with it)."""
    budget, use = part.budget(utilization), part.use(most_folded.resources())
    key = max((key for key in RESOURCES if use[key] > budget[key]),
              key=lambda key: use[key] / max(budget[key], 1))
    per_layer = {}
    for node in most_folded.nodes:
        per_layer[node.layer] = per_layer.get(node.layer, Resources()) + node.resources()
    layer, taken = max(((name, part.use(r)[key]) for name, r in per_layer.items()
                        if name is not None), key=lambda item: item[1])
    unit = part.units[key]
    return HwgenError(
        f"needs {taken} {unit} even folded the most ({most_folded.bottleneck.cycles()} cycles "
        f"per frame), the most of any layer; the whole design needs {use[key]} {unit} and the "
        f"{part.name} at {utilization:g} allows {budget[key]} (by hwgen's resource models)",
        file=network.path, layer=layer)
