"""label_select: the indices of the k largest class scores, a LabelSelect engine."""

from dataclasses import dataclass, replace
from math import prod

from ... import golden
from ...compiler.lowering import Stream
from ...datatypes import DataType
from ...engines.label_select import LabelSelectParams
from .base import ChannelLayer, divisors, natural_pe

__all__ = ["LabelSelect"]


@dataclass
class LabelSelect(ChannelLayer):
    """Indices of the k largest class scores, largest first (ties: lower index first)."""
    k: int = 1
    kind = "label_select"
    FIELDS = frozenset({"k", "pe"})

    @classmethod
    def read(cls, reader, spec, name, prev):
        classes = int(prod(prev.out_shape))
        k = reader.integer(spec, "k", default=1)
        if k > classes:
            reader.error(f"k={k} exceeds the {classes} classes", field="k")
        return cls(name, prev.out_shape, prev.out_dtype, k=k,
                   pe=cls.read_pe(reader, spec, classes, [prev], "classes"))

    @property
    def classes(self):
        return prod(self.in_shape)

    folding_channels = classes

    @property
    def out_shape(self):
        return (self.k,)

    @property
    def out_dtype(self):
        return DataType("UINT", max(1, (self.classes - 1).bit_length()))

    def golden(self, x):
        return golden.label_select(x, self.k)

    def lower(self, graph):
        params = LabelSelectParams(self.classes, self.pe, self.in_dtype, self.k)
        graph.produce(self.name, graph.add(
            self.name, "label_select", self.name, params,
            [(graph.read(self.inputs[0]), self.pe)], Stream(1, self.out_dtype, self.k)))

    def default_pe(self, natural, target):
        """The PE without a hint, given the ``natural`` one (that of the stream feeding it,
        which needs no width converter) and a ``target`` of cycles per frame. k = 1: the
        smallest PE that meets the target (the engine's tournament tree grows with PE; a width
        converter inserted in front of a narrow one is cheaper), else ``classes``. k > 1: the
        natural PE, since the engine takes one class per cycle at any PE (shifting the lanes of
        a word out itself, as a converter would)."""
        if self.k > 1:
            return natural
        return next((pe for pe in range(1, self.classes + 1)
                     if self.classes % pe == 0 and self.classes // pe <= target), self.classes)

    def fold(self, inputs, target, hints):
        if "pe" in hints:
            return replace(self)
        natural = natural_pe(self.classes, inputs[0].out_elems)
        return replace(self, pe=self.default_pe(natural, target))

    def folding_options(self, hints):
        # k > 1 takes a class per cycle whatever its PE (:meth:`default_pe`).
        if "pe" in hints or self.k > 1:
            return [self]
        return [replace(self, pe=pe) for pe in divisors(self.classes)]

    def spec(self, arrays):
        return {"k": self.k, "pe": self.pe}
