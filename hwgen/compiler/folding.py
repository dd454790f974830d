"""Automatic folding: the cheapest PE/SIMD per layer that meets a target of cycles per frame.

Matrix layers take the (PE, SIMD) pair, PE dividing the output channels and SIMD the input
channels (conv) or inputs (dense), whose MVAU meets the target at the lowest estimated cost,
LUTs plus block RAMs at :data:`~hwgen.engines.memories.LUTS_PER_BRAM18` (the engine's cycle
and resource models: a bit-serial MVAU takes ``planes`` times the cycles of a bit-parallel one).
Channel-wise layers (pooling, standalone thresholds, add, concat, global pooling) take the PE
that needs no width converter in front (:func:`~hwgen.network.layers.natural_pe` of the streams
feeding them) when that meets the target, else the smallest PE that does; label select takes
:meth:`~hwgen.network.layers.LabelSelect.default_pe` (for k = 1 the smallest PE that meets the
target). Every cost is the layer's own engines' cycle model
(:meth:`~hwgen.network.layers.Layer.ideal_cycles`), sliding windows and pads included. Folding
hints in the description win, unless ``ignore_hints`` asks to fold from scratch
(``--ignore-hints``: re-folding a shipped network for another target). Layers are folded in
dataflow order because each default depends on the layers it reads.
"""

from dataclasses import dataclass, replace

from ..engines.memories import lut_cost
from ..network.layers import Activation, Conv2d, LabelSelect, natural_pe

__all__ = ["FoldingChoice", "fold_network"]


@dataclass(frozen=True)
class FoldingChoice:
    layer: str
    pe: int
    simd: int            # None where the layer has no SIMD
    cycles: int
    meets_target: bool
    hinted: bool


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _matrix_folding(layer, hints, target):
    simds = divisors(layer.in_shape[-1] if isinstance(layer, Conv2d) else layer.mw)
    if "simd" in hints:
        simds = [layer.simd]
    pes = [layer.pe] if "pe" in hints else divisors(layer.mh)
    options = []
    for pe in pes:
        for simd in simds:
            try:
                params = layer.matrix_params(pe, simd)
            except ValueError:      # beyond what the engine can generate
                continue
            cycles = replace(layer, pe=pe, simd=simd).ideal_cycles()
            options.append((cycles > target, lut_cost(params.resources()) if cycles <= target
                            else cycles, pe * simd, pe, simd))
    _, _, _, pe, simd = min(options)
    return pe, simd


def _channel_folding(layer, hints, channels, target, natural):
    if "pe" in hints:
        return layer.pe
    if replace(layer, pe=natural).ideal_cycles() <= target:
        return natural
    return next((pe for pe in divisors(channels)
                 if replace(layer, pe=pe).ideal_cycles() <= target), channels)


def fold_network(network, target_cycles, *, ignore_hints=False):
    """A copy of ``network`` folded for ``target_cycles``, and the choice made per layer;
    ``ignore_hints``: as if the description gave no ``pe``/``simd``."""
    folded, choices = {}, []
    for layer in network.layers:
        hints = frozenset() if ignore_hints else layer.hints
        inputs = [folded[name] for name in layer.inputs]
        if hasattr(layer, "simd"):
            pe, simd = _matrix_folding(layer, hints, target_cycles)
            new = replace(layer, pe=pe, simd=simd)
        elif isinstance(layer, Activation) and layer.fused_into:
            new = replace(layer, pe=inputs[0].pe)
            folded[layer.fused_into].fused = new
        elif isinstance(layer, LabelSelect):
            natural = natural_pe(layer.classes, inputs[0].out_elems)
            pe = layer.pe if "pe" in hints else layer.default_pe(natural, target_cycles)
            new = replace(layer, pe=pe)
        elif hasattr(layer, "pe"):
            channels = layer.folding_channels
            natural = natural_pe(channels, *(i.out_elems for i in inputs))
            new = replace(layer, pe=_channel_folding(layer, hints, channels, target_cycles,
                                                     natural))
        elif layer.kind == "flatten":
            new = replace(layer, out_elems=inputs[0].out_elems)
        else:
            new = replace(layer)
        new.hints = hints
        folded[new.name] = new
        if new.folding() and not (isinstance(new, Activation) and new.fused_into):
            cycles = new.ideal_cycles()
            choices.append(FoldingChoice(new.name, new.pe, new.folding().get("simd"), cycles,
                                         cycles <= target_cycles, bool(hints)))
    return replace(network, layers=list(folded.values())), choices
