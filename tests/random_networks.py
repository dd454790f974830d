"""A seeded generator of random network descriptions: chains and DAGs.

:func:`random_description` builds a description (the dict a YAML file holds) from a seed: a
random input, then random blocks (convolutions of random kernels, strides and padding with their
activations, max-pools, standalone activations, residual blocks whose add joins two or three
branches (identity, 1x1 stride-2 shortcut convolutions, convolution stacks), concats of
branches), then a head (global average pool or flatten, dense, label select or not). Datatypes
and foldings (PE, SIMD) are random too. Sizes stay small, so that a network simulates in
seconds: the point is the variety of graphs, shapes, datatypes and foldings.
"""

import numpy as np

ACTIVATIONS = ["UINT2", "UINT3", "INT2", "INT3", "UINT4", "BINARY"]
WEIGHTS = ["INT2", "INT3", "INT4", "BIPOLAR"]
INPUTS = ["UINT2", "UINT4", "INT3", "UINT8"]


class _Builder:
    def __init__(self, seed):
        self.rng = np.random.default_rng([seed, 77])
        self.layers = []
        self.shapes = {}       # layer name -> output shape

    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def chance(self, p):
        return self.rng.random() < p

    def divisor(self, n, most=None):
        options = [d for d in range(1, n + 1) if n % d == 0 and (most is None or d <= most)]
        return self.pick(options)

    def add(self, spec, shape, after=None):
        name = f"l{len(self.layers)}"
        spec = {"name": name, **spec}
        if after is not None and (not self.layers or self.layers[-1]["name"] != after):
            spec["inputs"] = [after]
        self.layers.append(spec)
        self.shapes[name] = shape
        return name

    def conv(self, source, channels, kernel, stride=1, padding=0):
        h, w, c = self.shapes[source]
        oh = (h + 2 * padding - kernel) // stride + 1
        ow = (w + 2 * padding - kernel) // stride + 1
        spec = {"kind": "conv2d", "channels": channels, "kernel": kernel, "stride": stride,
                "padding": padding, "weight_datatype": self.pick(WEIGHTS),
                "pe": self.divisor(channels), "simd": self.divisor(c)}
        return self.add(spec, (oh, ow, channels), after=source)

    def activation(self, source, dtype=None):
        spec = {"kind": "activation", "datatype": dtype or self.pick(ACTIVATIONS)}
        return self.add(spec, self.shapes[source], after=source)

    def conv_act(self, source, channels, kernel, stride=1, padding=0, dtype=None):
        return self.activation(self.conv(source, channels, kernel, stride, padding), dtype)

    # --- blocks ---------------------------------------------------------------------------

    def residual(self, source):
        h, w, c = self.shapes[source]
        stride = 2 if min(h, w) >= 4 and self.chance(0.4) else 1
        channels = c if stride == 1 and self.chance(0.6) else self.pick([2, 4, 6, 8])
        branches = []
        main = self.conv_act(source, channels, 3, stride, 1)
        if self.chance(0.5):
            main = self.conv_act(main, channels, 3, 1, 1)
        branches.append(main)
        if stride == 1 and channels == c:
            branches.append(source)                 # identity shortcut
        else:
            branches.append(self.conv_act(source, channels, 1, stride))
        if self.chance(0.25):
            branches.append(self.conv_act(source, channels, 1, stride))
        spec = {"kind": "add", "inputs": branches}
        if self.chance(0.5):
            spec["pe"] = self.divisor(channels)
        name = self.add(spec, self.shapes[branches[0]])
        return self.activation(name) if self.chance(0.7) else name

    def concat(self, source):
        h, w, c = self.shapes[source]
        dtype = self.pick(ACTIVATIONS)
        a = self.conv_act(source, self.pick([2, 4]), 1, 1, 0, dtype)
        b = self.conv_act(source, self.pick([2, 4, 6]), 3, 1, 1, dtype)
        inputs = [a, b] if self.chance(0.8) else [b, a, source]
        if len(inputs) == 3 and self.layers[-1]["datatype"] != self._dtype_of(source):
            inputs = inputs[:2]
        channels = [self.shapes[name][-1] for name in inputs]
        spec = {"kind": "concat", "inputs": inputs}
        if self.chance(0.5):
            spec["pe"] = self.divisor(int(np.gcd.reduce(channels)))
        return self.add(spec, (h, w, sum(channels)))

    def _dtype_of(self, name):
        spec = next(s for s in self.layers if s["name"] == name)
        return spec.get("datatype")

    def block(self, source):
        h, w, c = self.shapes[source]
        choice = self.rng.random()
        if choice < 0.35:
            return self.residual(source)
        if choice < 0.5:
            return self.concat(source)
        if choice < 0.65 and min(h, w) >= 2:
            spec = {"kind": "maxpool", "kernel": 2}
            if self.chance(0.3):
                spec["stride"] = 1
            stride = spec.get("stride", 2)
            if self.chance(0.5):
                spec["pe"] = self.divisor(c)
            return self.add(spec, ((h - 2) // stride + 1, (w - 2) // stride + 1, c),
                            after=source)
        if choice < 0.72:
            spec = {"kind": "activation", "datatype": self.pick(ACTIVATIONS)}
            if self.layers[-1]["kind"] not in ("conv2d", "dense", "add") or \
                    self.layers[-1]["name"] != source:
                spec["pe"] = self.divisor(c)     # not fused: a Thresholds engine of its own
            return self.add(spec, (h, w, c), after=source)
        kernel = self.pick([k for k in (1, 2, 3) if k <= min(h, w) + 2])
        padding = self.pick([0, 1]) if kernel > 1 else 0
        if kernel > min(h, w) + 2 * padding:
            padding = 1
        stride = self.pick([1, 1, 2])
        return self.conv_act(source, self.pick([2, 3, 4, 8]), kernel, stride, padding)

    def build(self):
        shape = (int(self.rng.integers(4, 9)), int(self.rng.integers(4, 9)),
                 self.pick([1, 2, 3, 4]))
        current = self.add({"kind": "input", "shape": list(shape),
                            "datatype": self.pick(INPUTS)}, shape)
        for _ in range(int(self.rng.integers(1, 5))):
            current = self.block(current)
        if self.chance(0.5):
            current = self.add({"kind": "global_avgpool"},
                               (1, 1, self.shapes[current][-1]), after=current)
            current = self.activation(current, "UINT3")
        classes = int(self.rng.integers(2, 11))
        flat = int(np.prod(self.shapes[current]))
        current = self.add({"kind": "dense", "outputs": classes,
                            "weight_datatype": self.pick(WEIGHTS),
                            "pe": self.divisor(classes), "simd": self.divisor(flat, 32)},
                           (classes,), after=current)
        if self.chance(0.6):
            self.add({"kind": "label_select", "k": int(self.rng.integers(1, 3))}, (1,))
        return self.layers


def random_description(seed):
    """A random network description (a dict, as loaded from YAML) for ``seed``."""
    return {"name": f"random{seed}", "seed": seed, "layers": _Builder(seed).build()}
