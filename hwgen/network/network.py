"""A loaded network: its layers in order, and the golden model of the whole."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Network"]


@dataclass
class Network:
    name: str
    path: Path
    seed: int
    layers: list

    @property
    def input(self):
        return self.layers[0]

    @property
    def output(self):
        return self.layers[-1]

    def layer(self, name):
        return next(layer for layer in self.layers if layer.name == name)

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
        outputs = [frames]
        for layer in self.layers[1:]:
            outputs.append(layer.golden(outputs[-1]))
        return outputs

    def bottleneck(self):
        """The layer with the most ideal cycles per frame."""
        return max(self.layers, key=lambda layer: layer.ideal_cycles())
