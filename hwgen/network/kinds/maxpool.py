"""maxpool: the maximum over K x K windows per channel (:class:`~.pool.Pool`); padding is
zeros, which pad as the minimum does for unsigned inputs only."""

from dataclasses import dataclass

from ... import golden
from .pool import Pool

__all__ = ["MaxPool"]


@dataclass
class MaxPool(Pool):
    kind = "maxpool"
    OP = "max"

    @classmethod
    def check_padding(cls, reader, dtype):
        if dtype.min != 0:
            reader.error(f"max pooling pads with zeros, which act as the minimum only for "
                         f"unsigned inputs, not {dtype}", field="padding")

    def golden(self, x):
        return golden.maxpool(golden.pad(x, self.pads), self.kernel, self.stride)
