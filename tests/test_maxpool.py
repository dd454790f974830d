"""MaxPool against hwgen.golden.maxpool and its cycle model."""

import numpy as np
import pytest

from hwgen import golden
from hwgen.datatypes import DataType, pack
from hwgen.engines.maxpool import MaxPool, MaxPoolParams
from hwgen.simulation.streams import run_stream

from engine_cases import seeds

DTYPES = ["BINARY", "BIPOLAR", "UINT1", "UINT2", "UINT3", "UINT6", "UINT8",
          "INT2", "INT3", "INT4", "INT5", "INT8"]


def random_params(rng):
    """Kernel 1..4 (non-square), stride 1..3, input from the kernel size up, 1..3 PE lanes."""
    kh, kw = (int(k) for k in rng.integers(1, 5, size=2))
    pe = int(rng.integers(1, 4))
    return MaxPoolParams(
        height=kh + int(rng.integers(0, 5)), width=kw + int(rng.integers(0, 5)),
        channels=pe * int(rng.integers(1, 4)), kernel=(kh, kw),
        stride=tuple(int(s) for s in rng.integers(1, 4, size=2)),
        pe=pe, dtype=DataType.parse(str(rng.choice(DTYPES))))


def run_frames(params, frames, rng, **kwargs):
    """Stream random frames through MaxPool; the full output must equal the golden model's."""
    x = rng.choice(params.dtype.values(),
                   size=(frames, params.height, params.width, params.channels))
    expected = pack(golden.maxpool(x, params.kernel, params.stride), params.dtype, params.pe)
    run = run_stream(MaxPool(params), pack(x, params.dtype, params.pe), len(expected),
                     **kwargs)
    assert run.outputs == expected
    return run


@pytest.mark.parametrize("seed", seeds(0, 24, 60))
def test_matches_golden_with_gaps_and_stalls(seed):
    rng = np.random.default_rng(seed)
    run_frames(random_params(rng), 3, rng, gap_prob=float(rng.uniform(0.3, 0.5)),
               stall_prob=float(rng.uniform(0.3, 0.5)), seed=seed)


@pytest.mark.parametrize("seed", seeds(100, 20, 50))
def test_cycles_without_stalls(seed):
    """Steady-state cycles per frame (frames 1 to 3) are the sliding window's: within its
    documented accuracy of cycles() (never below, less than one window's words above); the
    first output word comes exactly latency() cycles after the first input word."""
    rng = np.random.default_rng(seed)
    params = random_params(rng)
    run = run_frames(params, 4, rng)
    measured = np.diff(run.output_cycles[::params.out_words]).tolist()[1:]
    window_words = params.window.window_words
    for cycles in measured:
        assert params.cycles() <= cycles < params.cycles() + window_words
    assert run.output_cycles[0] - run.input_cycles[0] == params.latency()


def test_cnv_pool_shape():
    """CNV's 2x2 stride-2 pool (smaller image): golden-exact, cycles exactly as modelled."""
    params = MaxPoolParams(8, 8, 8, (2, 2), (2, 2), 4, DataType.parse("INT2"))
    run = run_frames(params, 4, np.random.default_rng(1))
    measured = np.diff(run.output_cycles[::params.out_words]).tolist()[1:]
    assert measured == [params.cycles()] * 2


def test_signed_and_bipolar_comparison():
    """INT compares signed (-1 > -4, code 0b1111 > 0b1100 but 0b0001 > 0b1111), BIPOLAR is
    the OR of codes, UINT unsigned."""
    for name, values, expected in [("INT4", [-1, 1, -8, -4], 1), ("INT4", [-8, -3, -5, -4], -3),
                                   ("BIPOLAR", [-1, -1, 1, -1], 1),
                                   ("BIPOLAR", [-1, -1, -1, -1], -1),
                                   ("UINT4", [15, 1, 8, 0], 15)]:
        params = MaxPoolParams(2, 2, 1, (2, 2), (1, 1), 1, DataType.parse(name))
        x = np.array(values).reshape(1, 2, 2, 1)
        run = run_stream(MaxPool(params), pack(x, params.dtype, 1), 1)
        assert run.outputs == pack([expected], params.dtype, 1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(channels=6, pe=4), "multiple of pe"),
    (dict(pe=0), "pe"),
    (dict(kernel=(2, 5)), "does not fit"),
    (dict(stride=0), "stride"),
    (dict(dtype="INT2"), "DataType"),
])
def test_rejects_bad_params(kwargs, message):
    fields = dict(height=4, width=4, channels=4, kernel=(2, 2), stride=(2, 2), pe=2,
                  dtype=DataType.parse("INT4"))
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        MaxPoolParams(**fields)


def test_padded_max_pooling_layer(tmp_path):
    """A 3x3 stride-2 max pool with padding 1 (a ResNet stem's, as ONNX MaxPool pads: -inf):
    [Pad] + MaxPool, zeros standing for -inf on unsigned inputs, bit-exact with stalls at its
    ideal cycles; signed inputs are refused."""
    import yaml

    from hwgen.compiler.build import design
    from hwgen.errors import HwgenError
    from hwgen.network import load_network
    from hwgen.simulation.run import simulate

    doc = {"name": "p", "layers": [
        {"name": "input", "kind": "input", "shape": [7, 7, 2], "datatype": "UINT3"},
        {"name": "pool", "kind": "maxpool", "kernel": 3, "stride": 2, "padding": 1, "pe": 2}]}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    net = load_network(path)
    frames = net.random_frames(3, seed=1)
    padded = np.pad(frames.astype(float), ((0, 0), (1, 1), (1, 1), (0, 0)),
                    constant_values=-np.inf)
    expected = golden.sliding_window(padded, (3, 3), (2, 2)).reshape(3, 4, 4, 9, 2).max(axis=3)
    assert np.array_equal(net.run(frames)[-1], expected)
    d = design(net)
    kinds = [node.kind for node in d.nodes if node.layer == "pool"]
    assert kinds.index("pad") < kinds.index("maxpool")
    result = simulate(d, frames, backend="amaranth", stall_prob=0.2)
    assert result.mismatches == 0 and result.cycles_per_frame == net.layer("pool").ideal_cycles()
    doc["layers"][0]["datatype"] = "INT3"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(HwgenError, match="unsigned"):
        load_network(path)
