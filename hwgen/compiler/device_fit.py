"""Fitting a network to an FPGA part (``--device D --utilization F``): the fastest design whose
modelled resources fit F of the part.

Contract of :func:`fit_device`: it returns a :class:`Fit` whose ``design`` is
:func:`~.build.design` of the network at ``target`` cycles per frame (hints kept unless
``ignore_hints``), whose whole modelled resources (every node: engines, FIFOs, width converters,
forks, as the build report totals them), converted to the part's units
(:meth:`~hwgen.devices.Device.use`), are within F of the part in every resource (LUT, FF, block
RAM, DSP); and no faster candidate target fits. If no candidate fits, it raises one
:class:`HwgenError` naming the resource, the budget and the layer that takes the most of it in the
most folded design.
The fit is by the resource models, never by synthesis.

Candidates: the distinct ideal cycles per frame that the layers' foldings reach
(:meth:`~hwgen.network.kinds.Layer.folding_options`). Folding compares only those cycles with the
target, so the folded network is the same for every target from one candidate up to the next:
the candidates are all the designs there are. Those below the slowest layer's fastest folding
are left out: each gives the same bottleneck as that one at a higher cost (layers that could
have been slower are not).

Search: the candidates in turn from the fastest, the first that fits, each candidate evaluated
as the whole lowered design (neighbouring layers' stream widths matched, FIFOs and width
converters counted), never layer by layer. No bisection: resources are not monotone in the
target (a slower layer can need a width converter a faster one did not; FIFO depths follow the
pace; folded the most, weights that a wider fold keeps in LUTs go to block RAM, so tfc-w1a1
fits an iCE40 HX8K at 512 cycles per frame but not folded the most). A network
that fits near its fastest folding is answered after a few designs (about a second each for
CNV); one that fits nowhere, after all of them.
Deterministic: the same network, part and utilization give the same trials and design.

Layers with ``resource: auto`` (:meth:`~hwgen.network.kinds.matrix.MatrixLayer.matrix_params`)
take DSP lanes where the cost model prefers them. When a candidate's design does not fit that
way, the part's DSPs are shared out (:func:`balance`): each such layer that can take DSPs is
costed both ways (its nodes in the whole design with every such layer on DSPs, and with every
one on LUTs), and the layers go to DSPs in the order of LUTs saved per DSP while the DSP budget
lasts, the rest on LUTs; that design is tried (:attr:`Trial.auto` says "cost" or "balanced").
Layers marked ``lut`` or ``dsp`` keep their choice.
"""

import time
from dataclasses import dataclass, field, replace

from ..devices import RESOURCES
from ..engines.resources import Resources
from ..errors import HwgenError
from .build import design

__all__ = ["Fit", "Trial", "fit_device", "candidate_targets", "balance", "layer_resources"]


@dataclass(frozen=True)
class Trial:
    target: int          # the candidate folded for
    cycles: int          # the design's bottleneck cycles per frame
    use: dict            # modelled resources in the part's units
    fits: bool
    auto: str = None     # the auto layers' lanes: "cost" or "balanced"; None without any


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


def movable_layers(network):
    """Names of the ``resource: auto`` layers whose lanes can be DSPs."""
    return [layer.name for layer in network.layers
            if getattr(layer, "resource", None) == "auto" and layer.can_use_dsp]


def with_resources(network, choice):
    """``network`` with the layers named in ``choice`` ({name: "lut" | "dsp"}) set so."""
    layers = []
    for layer in network.layers:
        if layer.name in choice:
            hints, layer = layer.hints, replace(layer, resource=choice[layer.name])
            layer.hints = hints       # an instance attribute, which replace() drops
        layers.append(layer)
    return replace(network, layers=layers)


def layer_resources(design):
    """{layer name (None for nodes of no layer): Resources} of ``design``'s nodes, each layer's
    engines with the FIFOs and converters lowered with it."""
    per_layer = {}
    for node in design.nodes:
        per_layer[node.layer] = per_layer.get(node.layer, Resources()) + node.resources()
    return per_layer


def balance(part, utilization, on_dsp, on_lut, movable):
    """{layer: "dsp" | "lut"} for the ``movable`` layers, from :func:`layer_resources` of the
    design with all of them on DSPs (``on_dsp``) and on LUTs (``on_lut``): by LUTs saved per
    DSP (in ``part``'s units, ties by name), each layer that saves LUTs goes to DSPs if the DSP
    budget still holds it."""
    needs = {name: part.use(on_dsp[name])["dsp"] for name in movable}
    gain = {name: (part.use(on_lut[name])["lut"] - part.use(on_dsp[name])["lut"])
            / max(needs[name], 1) for name in movable}
    dsps = sum(part.use(r)["dsp"] for name, r in on_lut.items() if name not in movable)
    budget, choice = part.budget(utilization)["dsp"], dict.fromkeys(movable, "lut")
    for name in sorted(movable, key=lambda name: (-gain[name], name)):
        if gain[name] > 0 and dsps + needs[name] <= budget:
            choice[name], dsps = "dsp", dsps + needs[name]
    return choice


def fit_device(network, part, utilization, *, ignore_hints=False):
    """The fastest design of ``network`` that fits ``utilization`` of ``part`` by the models
    (see the module docstring for the contract)."""
    start = time.monotonic()
    candidates = candidate_targets(network, ignore_hints)
    movable = movable_layers(network)
    trials, designs = {}, {}

    def folded(net, index):
        return design(net, candidates[index], ignore_hints=ignore_hints)

    budget = part.budget(utilization)

    def overrun(trial):      # the largest share of a budget a trial uses
        return max(trial.use[key] / max(budget[key], 1) for key in RESOURCES)

    def attempt(index, d, how):
        use = part.use(d.resources())
        trial = Trial(candidates[index], d.bottleneck.cycles(), use, part.fits(use, utilization),
                      how)
        if index not in trials or overrun(trial) < overrun(trials[index]):
            designs[index], trials[index] = d, trial     # the closer to fitting of the two
        return trial.fits

    def fits(index):
        if index not in trials:
            if not attempt(index, folded(network, index), "cost" if movable else None) \
                    and movable:
                on_dsp, on_lut = (layer_resources(folded(with_resources(
                    network, dict.fromkeys(movable, resource)), index))
                    for resource in ("dsp", "lut"))
                choice = balance(part, utilization, on_dsp, on_lut, movable)
                attempt(index, folded(with_resources(network, choice), index), "balanced")
        return trials[index].fits

    best = next((i for i in range(len(candidates)) if fits(i)), None)
    if best is None:     # name what is over budget in the design closest to fitting
        closest = min(trials, key=lambda i: overrun(trials[i]))
        raise infeasible(network, part, utilization, designs[closest])
    return Fit(part, utilization, designs[best], candidates[best], len(candidates),
               list(trials.values()), time.monotonic() - start)


def infeasible(network, part, utilization, smallest):
    """The error for a part too small for the network, shown on ``smallest`` (a design of it
    that does not fit): the resource most over its budget (the one a user must cut most), and
    the layer that takes the most of it (its engines and the FIFOs and converters lowered with
    it)."""
    budget, use = part.budget(utilization), part.use(smallest.resources())
    key = max((key for key in RESOURCES if use[key] > budget[key]),
              key=lambda key: use[key] / max(budget[key], 1))
    layer, taken = max(((name, part.use(r)[key])
                        for name, r in layer_resources(smallest).items() if name is not None),
                       key=lambda item: item[1])
    unit = part.units[key]
    return HwgenError(
        f"needs {taken} {unit} at {smallest.bottleneck.cycles()} cycles per frame, the most of "
        f"any layer; that design needs {use[key]} {unit} and the {part.name} at "
        f"{utilization:g} allows {budget[key]}; no folding fits (by hwgen's resource models)",
        file=network.path, layer=layer)
