"""The input layer: the frames' shape and datatype."""

from dataclasses import dataclass

from .base import Layer

__all__ = ["InputLayer"]


@dataclass
class InputLayer(Layer):
    kind = "input"
    FIELDS = frozenset({"shape", "datatype"})

    @classmethod
    def read(cls, reader, spec, name):
        shape = spec.get("shape")
        if isinstance(shape, int) and not isinstance(shape, bool):
            shape = [shape]
        if (not isinstance(shape, list) or len(shape) not in (1, 3)
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                           for v in shape)):
            reader.error(f"must be [features] or [height, width, channels] of positive "
                         f"integers, not {spec.get('shape')!r}", field="shape")
        return cls(name, tuple(shape), reader.datatype(spec, "datatype"))

    def lower(self, graph):
        graph.produce(self.name, graph.pipeline_input())

    def spec(self, arrays):
        return {"shape": list(self.out_shape), "datatype": str(self.out_dtype)}
