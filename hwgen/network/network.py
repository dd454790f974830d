"""A loaded network: its layers in dataflow order, and the golden model of the whole."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Network"]


@dataclass
class Network:
    """Layers in dataflow order (every layer after the layers it reads, ``layer.inputs``): the
    first is the input layer, the last the output, and every other layer is read by some
    layer (the loader checks it)."""
    name: str
    path: Path
    seed: int
    layers: list
    # What an imported model takes and gives (model_io.py); None for integer frames only.
    model_input: object = None
    model_output: object = None

    @property
    def input(self):
        return self.layers[0]

    @property
    def output(self):
        return self.layers[-1]

    def layer(self, name):
        return next(layer for layer in self.layers if layer.name == name)

    def readers(self, name):
        """The layers that read layer ``name``'s output."""
        return [layer for layer in self.layers if name in layer.inputs]

    def read_counts(self):
        """How many times each layer's output is read: by layers, and the output's once by
        the outside world."""
        counts = {layer.name: 0 for layer in self.layers}
        for layer in self.layers:
            for name in layer.inputs:
                counts[name] += 1
        counts[self.output.name] += 1
        return counts

    def random_frames(self, count, seed=0):
        """``count`` frames of uniformly random input values, reproducible from ``seed``."""
        rng = np.random.default_rng([seed, 1])
        return self.input.out_dtype.random_values(rng, (count, *self.input.out_shape))

    def run(self, frames):
        """Golden outputs of every layer for a batch of input frames: a list, one per layer."""
        frames = np.asarray(frames, dtype=np.int64)
        if frames.shape[1:] != self.input.out_shape:
            raise ValueError(f"frames of shape {frames.shape[1:]} do not match the input "
                             f"shape {self.input.out_shape}")
        outputs = {self.input.name: frames}
        for layer in self.layers[1:]:
            outputs[layer.name] = layer.golden(*(outputs[name] for name in layer.inputs))
        return [outputs[layer.name] for layer in self.layers]

    def bottleneck(self):
        """The layer with the most ideal cycles per frame."""
        return max(self.layers, key=lambda layer: layer.ideal_cycles())
