"""Random networks (tests/random_networks.py: chains and DAGs with residual adds and concats,
random shapes, datatypes, kernels, strides and foldings): every one loads, lowers and sizes its
FIFOs, and simulates bit-exact in Verilator under bursty backpressure, at its ideal cycles per
frame without it."""

import numpy as np
import pytest
import yaml

from hwgen.compiler.build import design
from hwgen.compiler.fifo_sizing import MIN_DEPTH
from hwgen.network import load_network
from hwgen.simulation.run import simulate

from random_networks import random_description

# Seeds simulated in the default tier, chosen to cover between them: residual adds (one on the
# network's input, forked), a concat, global pooling, max-pooling, a standalone activation,
# label select (mini-resnet's test adds 1x1 stride-2 shortcuts); more under -m slow.
SIMULATED = [3, 13]
SIMULATED_SLOW = [seed for seed in range(40) if seed not in SIMULATED]


def random_network(tmp_path, seed):
    path = tmp_path / f"random{seed}.yaml"
    path.write_text(yaml.safe_dump(random_description(seed)))
    return load_network(path)


def test_random_networks_load_lower_and_size_their_fifos(tmp_path):
    kinds = set()
    for seed in range(120):
        network = random_network(tmp_path, seed)
        kinds |= {layer.kind for layer in network.layers}
        d = design(network)
        frames = network.random_frames(2, seed=seed)
        for layer, out in zip(network.layers, network.run(frames)):
            assert out.shape == (2, *layer.out_shape)
            assert layer.out_dtype.allows(out).all(), (seed, layer.name)
        assert d.bottleneck.cycles() == max(layer.ideal_cycles() for layer in network.layers)
        seen = {None}
        for node in d.nodes:
            assert all(port.node in seen for port in node.inputs), (seed, node.name)
            seen.add(node.name)
            if node.reason:
                assert node.params.depth >= MIN_DEPTH
    assert kinds >= {"add", "concat", "global_avgpool", "maxpool", "conv2d", "dense",
                     "activation", "label_select"}


def check_in_verilator(tmp_path, seed):
    """Bit-exact under bursty backpressure (on/off gaps and stalls, off 30% of the cycles in
    periods of about 11 cycles): no deadlock; and without it at the ideal cycles per frame."""
    network = random_network(tmp_path, seed)
    d = design(network)
    frames = network.random_frames(3, seed=seed)
    result = simulate(d, frames, stall_prob=0.3, burst=8, seed=seed)
    assert result.mismatches == 0, (seed, result.first_mismatch)
    assert result.cycles_per_frame == d.bottleneck.cycles(), seed


@pytest.mark.parametrize("seed", SIMULATED)
def test_random_network_in_verilator(tmp_path, seed):
    check_in_verilator(tmp_path, seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SIMULATED_SLOW)
def test_more_random_networks_in_verilator(tmp_path, seed):
    check_in_verilator(tmp_path, seed)


def test_generator_is_deterministic():
    assert random_description(5) == random_description(5)
    assert random_description(5) != random_description(6)
    assert np.any([random_description(s)["layers"][-1]["kind"] == "label_select"
                   for s in range(10)])
