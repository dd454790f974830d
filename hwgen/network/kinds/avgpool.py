"""avgpool: average pooling over K x K windows per channel (:class:`~.pool.Pool`) as its
integer part, the exact sum of each window. The 1 / (KH x KW) belongs to what reads it: the
thresholds of an activation, which the loader calibrates on these sums (or which a description
states scaled), as for global_avgpool. Padding adds zeros that count in the average (ONNX's
``count_include_pad``)."""

from dataclasses import dataclass

from ... import golden
from .pool import Pool

__all__ = ["AvgPool"]


@dataclass
class AvgPool(Pool):
    """Output in the exact datatype of the window sums."""
    kind = "avgpool"
    OP = "sum"

    @classmethod
    def check_padding(cls, reader, dtype):
        if dtype.kind == "BIPOLAR":     # -1 and +1 only
            reader.error(f"average pooling pads with zeros, which {dtype} cannot hold",
                         field="padding")

    def golden(self, x):
        return golden.sum_pool(golden.pad(x, self.pads), self.kernel, self.stride)
