"""dense: a fully connected layer on the flattened input (NHWC order), one MVAU."""

from dataclasses import dataclass

import numpy as np

from ... import golden
from .matrix import MatrixLayer

__all__ = ["Dense"]


@dataclass
class Dense(MatrixLayer):
    """out[n] = sum_k W[n, k] x[k]; weights (MH, MW)."""
    kind = "dense"
    FIELDS = MatrixLayer.FIELDS | {"outputs"}

    @classmethod
    def read(cls, reader, spec, name, prev):
        mw = int(np.prod(prev.out_shape))
        mh = reader.integer(spec, "outputs")
        matrix = cls.read_matrix(reader, spec, prev, (mh, mw), mw, "inputs (MW)")
        return cls(name, prev.out_shape, prev.out_dtype, **matrix)

    @property
    def out_shape(self):
        return (self.mh,)

    def golden(self, x):
        return golden.dense(x, self.weights)

    def lower(self, graph):
        self.lower_matrix(graph, graph.read(self.inputs[0]))

    def spec(self, arrays):
        return {**super().spec(arrays), "outputs": self.mh}
