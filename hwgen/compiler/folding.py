"""Automatic folding: the cheapest PE/SIMD per layer that meets a target of cycles per frame.

Each kind folds itself (:meth:`~hwgen.network.kinds.Layer.fold`). Matrix layers take the
(PE, SIMD) pair, PE dividing the output channels and SIMD the input channels (conv) or inputs
(dense), that meets the target at the lowest estimated cost, LUTs plus block RAMs at
:data:`~hwgen.engines.memories.LUTS_PER_BRAM18` and DSPs at
:data:`~hwgen.engines.memories.LUTS_PER_DSP` (the engine's resource model; a bit-serial MVAU
takes ``planes`` times the cycles of a bit-parallel one). Channel-wise layers (pooling,
standalone thresholds, add, concat, global pooling) take the PE that needs no width converter in
front (:func:`~hwgen.network.kinds.natural_pe` of the streams feeding them) when that meets the
target, else the smallest PE that does; label select takes
:meth:`~hwgen.network.kinds.LabelSelect.default_pe` (for k = 1 the smallest PE that meets the
target). Every cost is the layer's own engines' cycle model
(:meth:`~hwgen.network.kinds.Layer.ideal_cycles`), sliding windows and pads included. Folding
hints in the description win, unless ``ignore_hints`` asks to fold from scratch
(``--ignore-hints``: re-folding a shipped network for another target). Layers are folded in
dataflow order because each default depends on the layers it reads.
"""

from dataclasses import dataclass, replace

__all__ = ["FoldingChoice", "fold_network"]


@dataclass(frozen=True)
class FoldingChoice:
    layer: str
    pe: int
    simd: int            # None where the layer has no SIMD
    cycles: int
    meets_target: bool
    hinted: bool


def fold_network(network, target_cycles, *, ignore_hints=False):
    """A copy of ``network`` folded for ``target_cycles``, and the choice made per layer;
    ``ignore_hints``: as if the description gave no ``pe``/``simd``."""
    folded, choices = {}, []
    for layer in network.layers:
        hints = frozenset() if ignore_hints else layer.hints
        new = layer.fold([folded[name] for name in layer.inputs], target_cycles, hints)
        new.hints = hints
        folded[new.name] = new
        if new.folding() and not getattr(new, "fused_into", None):
            cycles = new.ideal_cycles()
            choices.append(FoldingChoice(new.name, new.pe, new.folding().get("simd"), cycles,
                                         cycles <= target_cycles, bool(hints)))
    return replace(network, layers=list(folded.values())), choices
