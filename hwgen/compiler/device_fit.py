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
"""

import time
from dataclasses import dataclass, field

from ..devices import RESOURCES
from ..engines.resources import Resources
from ..errors import HwgenError
from .build import design

__all__ = ["Fit", "Trial", "fit_device", "candidate_targets", "NEIGHBOURS"]

NEIGHBOURS = 2


@dataclass(frozen=True)
class Trial:
    target: int          # the candidate folded for
    cycles: int          # the design's bottleneck cycles per frame
    use: dict            # modelled resources in the part's units
    fits: bool


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


def fit_device(network, part, utilization, *, ignore_hints=False):
    """The fastest design of ``network`` that fits ``utilization`` of ``part`` by the models
    (see the module docstring for the contract)."""
    start = time.monotonic()
    candidates = candidate_targets(network, ignore_hints)
    trials, designs = {}, {}

    def fits(index):
        if index not in trials:
            d = design(network, candidates[index], ignore_hints=ignore_hints)
            use = part.use(d.resources())
            designs[index] = d
            trials[index] = Trial(candidates[index], d.bottleneck.cycles(), use,
                                  part.fits(use, utilization))
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
