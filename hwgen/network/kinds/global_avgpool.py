"""global_avgpool: global average pooling as its integer part, the sum over H x W per channel:
an :class:`~.avgpool.AvgPool` whose kernel is the whole input. The 1 / (H x W) belongs to what
reads it: the thresholds of an activation, which the loader calibrates on these sums (or which
a description states scaled)."""

from dataclasses import dataclass

from .avgpool import AvgPool

__all__ = ["GlobalAvgPool"]


@dataclass
class GlobalAvgPool(AvgPool):
    """Output (1, 1, C) in the exact datatype of the sums."""
    kind = "global_avgpool"
    FIELDS = frozenset({"pe"})

    def __post_init__(self):
        self.kernel = self.stride = tuple(self.in_shape[:2])
        self.pads = (0, 0, 0, 0)

    @classmethod
    def read(cls, reader, spec, name, prev):
        c = reader.feature_map(prev, cls.kind)[-1]
        return cls(name, prev.out_shape, prev.out_dtype,
                   pe=cls.read_pe(reader, spec, c, [prev])).checked(reader)

    def spec(self, arrays):
        return {"pe": self.pe}
