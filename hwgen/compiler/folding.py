"""Automatic folding: the cheapest PE/SIMD per layer that meets a target of cycles per frame.

Matrix layers take the (PE, SIMD) pair, PE dividing the output channels and SIMD the input
channels (conv) or inputs (dense), whose MVAU meets the target at the lowest estimated cost, LUTs plus block RAMs at
:data:`~hwgen.engines.memories.LUTS_PER_BRAM18` (the engine's cycle and resource models: a bit-serial MVAU takes ``planes`` times the cycles of
a bit-parallel one). Pooling and standalone thresholds take the PE of the layer feeding them
when that meets the target (so no width converter is needed), else the smallest PE that does;
label select takes :meth:`~hwgen.network.layers.LabelSelect.default_pe` (for k = 1 the smallest
PE that meets the target). Folding hints in the description win, unless ``ignore_hints`` asks
to fold from scratch (``--ignore-hints``: re-folding a shipped network for another target). Layers are re-folded in order
because each default depends on the layer before.
"""

from dataclasses import dataclass, replace
from math import gcd

from ..network.layers import Activation, Conv2d, Dense, LabelSelect
from ..engines.memories import lut_cost
from .lowering import matrix_params

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


def _matrix_folding(layer, hints, target, out_dtype):
    simds = divisors(layer.in_shape[-1] if isinstance(layer, Conv2d) else layer.mw)
    if "simd" in hints:
        simds = [layer.simd]
    pes = [layer.pe] if "pe" in hints else divisors(layer.mh)
    options = []
    for pe in pes:
        for simd in simds:
            try:
                params = matrix_params(layer, out_dtype, pe, simd)
            except ValueError:      # beyond what the engine can generate
                continue
            cycles = params.cycles()
            options.append((cycles > target, lut_cost(params.resources()) if cycles <= target
                            else cycles, pe * simd, pe, simd))
    _, _, _, pe, simd = min(options)
    return pe, simd


def _channel_folding(layer, hints, channels, target, natural, cycles_at):
    if "pe" in hints:
        return layer.pe
    if cycles_at(natural) <= target:
        return natural
    return next((pe for pe in divisors(channels) if cycles_at(pe) <= target), channels)


def fold_network(network, target_cycles, *, ignore_hints=False):
    """A copy of ``network`` folded for ``target_cycles``, and the choice made per layer;
    ``ignore_hints``: as if the description gave no ``pe``/``simd``."""
    layers, choices = [], []
    for index, layer in enumerate(network.layers):
        hints = frozenset() if ignore_hints else layer.hints
        prev = layers[-1] if layers else None
        following = network.layers[index + 1] if index + 1 < len(network.layers) else None
        if isinstance(layer, (Conv2d, Dense)):
            fused = following if isinstance(following, Activation) and following.fused_into \
                else None
            pe, simd = _matrix_folding(layer, hints, target_cycles, fused.out_dtype if fused else None)
            new = replace(layer, pe=pe, simd=simd)
        elif isinstance(layer, Activation) and layer.fused_into:
            new = replace(layer, pe=prev.pe)
        elif isinstance(layer, LabelSelect):
            natural = gcd(layer.classes, prev.out_elems)
            pe = layer.pe if "pe" in hints else layer.default_pe(natural, target_cycles)
            new = replace(layer, pe=pe)
        elif hasattr(layer, "pe"):
            channels = layer.in_shape[-1]
            pe = _channel_folding(layer, hints, channels, target_cycles, gcd(channels, prev.out_elems),
                                  lambda pe: replace(layer, pe=pe).ideal_cycles())
            new = replace(layer, pe=pe)
        elif layer.kind == "flatten":
            new = replace(layer, out_elems=prev.out_elems)
        else:
            new = replace(layer)
        new.hints = hints
        layers.append(new)
        if new.folding() and not (isinstance(new, Activation) and new.fused_into):
            cycles = new.ideal_cycles()
            choices.append(FoldingChoice(new.name, new.pe, new.folding().get("simd"), cycles,
                                         cycles <= target_cycles, bool(hints)))
    return replace(network, layers=layers), choices
