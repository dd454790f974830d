"""What an imported model takes and gives: its float input, quantized to the input layer's
integers, and its output tensor, dequantized from the last layer's integers.

A description may have two top-level sections (``hwgen import`` writes both):

- ``model_input``: ``shape`` (one frame as the model takes it, e.g. [C, H, W]), ``index`` (for
  each element of that frame, its position in the input layer's frame flattened in NHWC order;
  default: the same order) and ``thresholds`` (float32, (C, n) or (1, n) for the input layer's
  C channels and its datatype's n thresholds): a value x of channel c becomes the level reached
  by counting ``x >= thresholds[c, i]``, as a multi-threshold does (count + min; BIPOLAR
  2 count - 1). That is exactly the model's input quantizer: the importer finds each threshold
  as the smallest float32 at which the quantizer's output reaches the level. Without
  ``thresholds`` the model's input is already integer (an annotated datatype) and the values
  must be of the input datatype.
- ``model_output``: ``shape`` and ``index`` likewise for the last layer's output, and ``scale``
  and ``bias`` per channel (C,): the model's output is ``scale[c] q + bias[c]`` (float32). Without
  them the output integers are the model's output as they are (the labels of an ArgMax or TopK).
"""

from dataclasses import dataclass
from math import prod

import numpy as np

from ..golden import count_value
from .batchnorm import threshold_count

__all__ = ["ModelInput", "ModelOutput"]


def _shape(reader, spec, key):
    shape = spec.get("shape")
    if (not isinstance(shape, list) or not shape
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape)):
        reader.error(f"must be a list of positive integers, not {shape!r}", field=f"{key}.shape")
    return tuple(shape)


def _array(reader, spec, field, name, shape=None):
    return reader.array(spec[name], field, shape,
                        lambda: reader.error("must be given, not generated", field=field))


def _index(reader, spec, key, shape, size):
    """The ``index`` array: a permutation of range(size) in ``shape``."""
    field = f"{key}.index"
    if prod(shape) != size:
        reader.error(f"shape {list(shape)} holds {prod(shape)} values, the layer's frame {size}",
                     field=f"{key}.shape")
    if "index" not in spec:
        return np.arange(size).reshape(shape)
    index = reader.integers(_array(reader, spec, field, "index", shape), field)
    if not np.array_equal(np.sort(index, axis=None), np.arange(size)):
        reader.error(f"must hold each of 0 to {size - 1} once", field=field)
    return index


def _finite(reader, array, field):
    if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
        reader.error("values must be finite numbers", field=field)
    return array


def _spec(key, shape, index, arrays, **named):
    """The section ``key`` as a description writes it: its shape, its index unless it is the
    identity, and each of the ``named`` arrays that is given, put into ``arrays``."""
    identity = np.array_equal(index.reshape(-1), np.arange(index.size))
    named = {"index": None if identity else index, **named}
    spec = {"shape": list(shape)}
    for name, array in named.items():
        if array is not None:
            arrays[f"{key}.{name}"] = array
            spec[name] = {"key": f"{key}.{name}"}
    return spec


@dataclass
class ModelInput:
    shape: tuple
    index: np.ndarray
    thresholds: np.ndarray      # float32 (C, n) or None: the values are integers already
    dtype: object               # the input layer's datatype
    channels: int

    KEY = "model_input"

    @classmethod
    def read(cls, reader, spec, layer):
        key = cls.KEY
        if not isinstance(spec, dict) or set(spec) - {"shape", "index", "thresholds"}:
            reader.error("must be a mapping of shape, index and thresholds", field=key)
        shape = _shape(reader, spec, key)
        index = _index(reader, spec, key, shape, prod(layer.out_shape))
        thresholds = None
        channels = layer.out_shape[-1]
        if "thresholds" in spec:
            field = f"{key}.thresholds"
            n = threshold_count(layer.out_dtype)
            thresholds = _array(reader, spec, field, "thresholds")
            if not np.issubdtype(thresholds.dtype, np.number) or np.isnan(thresholds).any():
                reader.error("values must be numbers (-inf: always reached, inf: never)",
                             field=field)
            thresholds = thresholds.astype(np.float32)
            if thresholds.ndim != 2 or thresholds.shape[0] not in (1, channels) or \
                    thresholds.shape[1] != n:
                reader.error(f"expected shape ({channels}, {n}) or (1, {n}) for {channels} "
                             f"channels of {layer.out_dtype}, got {thresholds.shape}", field=field)
            if np.any(thresholds[:, 1:] < thresholds[:, :-1]):
                reader.error("thresholds must ascend", field=field)
        return cls(shape, index, thresholds, layer.out_dtype, channels)

    def frames(self, x):
        """Input layer frames (N, *layer shape flattened) from model inputs ``x`` (N, *shape);
        ValueError naming the first value that is not of the datatype, where there is no
        quantizer."""
        x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
        flat = np.empty_like(x)
        flat[:, self.index.reshape(-1)] = x
        if self.thresholds is None:
            bad = ~self.dtype.allows(flat)
            if bad.any():
                frame, element = (int(i) for i in np.argwhere(bad)[0])
                raise ValueError(f"frame {frame}: value {flat[frame, element]:g} is not of "
                                 f"{self.dtype}, the model's input datatype")
            return flat.astype(np.int64)
        values = flat.reshape(len(x), -1, self.channels)
        count = (values[..., None] >= self.thresholds).sum(axis=-1)
        return count_value(count, self.dtype).reshape(len(x), -1)

    def spec(self, arrays):
        return _spec(self.KEY, self.shape, self.index, arrays, thresholds=self.thresholds)


@dataclass
class ModelOutput:
    shape: tuple
    index: np.ndarray
    scale: np.ndarray           # float64 (C,) or None: integers as they are
    bias: np.ndarray

    KEY = "model_output"

    @classmethod
    def read(cls, reader, spec, layer):
        key = cls.KEY
        if not isinstance(spec, dict) or set(spec) - {"shape", "index", "scale", "bias"}:
            reader.error("must be a mapping of shape, index, scale and bias", field=key)
        shape = _shape(reader, spec, key)
        index = _index(reader, spec, key, shape, prod(layer.out_shape))
        if ("scale" in spec) != ("bias" in spec):
            reader.error("give both scale and bias, or neither", field=f"{key}.scale")
        scale = bias = None
        if "scale" in spec:
            channels = layer.out_shape[-1]
            scale, bias = (_finite(reader, _array(reader, spec, f"{key}.{name}", name,
                                                  (channels,)), f"{key}.{name}")
                           .astype(np.float64) for name in ("scale", "bias"))
        return cls(shape, index, scale, bias)

    def values(self, outputs):
        """The model's output tensors (N, *shape) from the last layer's integers (N, ...)."""
        q = np.asarray(outputs)
        if self.scale is not None:
            q = (q.reshape(len(q), -1, len(self.scale)) * self.scale + self.bias)
            q = q.astype(np.float32)
        return q.reshape(len(q), -1)[:, self.index.reshape(-1)].reshape(len(q), *self.shape)

    def spec(self, arrays):
        return _spec(self.KEY, self.shape, self.index, arrays, scale=self.scale, bias=self.bias)
