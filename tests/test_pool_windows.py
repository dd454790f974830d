"""WindowPool (pooling of any kernel and stride, max or sum) against hwgen.golden.maxpool and
hwgen.golden.sum_pool and its cycle model; the pooling layers with padding."""

import numpy as np
import pytest

from hwgen import golden
from hwgen.datatypes import DataType, pack
from hwgen.engines.pool_windows import WindowPool, WindowPoolParams
from hwgen.simulation.streams import run_stream

from engine_cases import seeds

DTYPES = ["BINARY", "BIPOLAR", "UINT1", "UINT2", "UINT3", "UINT6", "UINT8",
          "INT2", "INT3", "INT4", "INT5", "INT8"]
GOLDEN = {"max": golden.maxpool, "sum": golden.sum_pool}


def random_params(rng):
    """Kernel 1..4 (non-square), stride 1..3, input from the kernel size up, 1..3 PE lanes, max
    or sum."""
    kh, kw = (int(k) for k in rng.integers(1, 5, size=2))
    pe = int(rng.integers(1, 4))
    return WindowPoolParams(
        height=kh + int(rng.integers(0, 5)), width=kw + int(rng.integers(0, 5)),
        channels=pe * int(rng.integers(1, 4)), kernel=(kh, kw),
        stride=tuple(int(s) for s in rng.integers(1, 4, size=2)),
        pe=pe, dtype=DataType.parse(str(rng.choice(DTYPES))), op=str(rng.choice(list(GOLDEN))))


def run_frames(params, frames, rng, **kwargs):
    """Stream random frames through the pool; the full output must equal the golden model's."""
    x = rng.choice(params.dtype.values(),
                   size=(frames, params.height, params.width, params.channels))
    expected = pack(GOLDEN[params.op](x, params.kernel, params.stride), params.out_dtype,
                    params.pe)
    run = run_stream(WindowPool(params), pack(x, params.dtype, params.pe), len(expected),
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
    params = WindowPoolParams(8, 8, 8, (2, 2), (2, 2), 4, DataType.parse("INT2"))
    run = run_frames(params, 4, np.random.default_rng(1))
    measured = np.diff(run.output_cycles[::params.out_words]).tolist()[1:]
    assert measured == [params.cycles()] * 2


@pytest.mark.parametrize("kwargs, message", [
    (dict(channels=6, pe=4), "multiple of pe"),
    (dict(pe=0), "pe"),
    (dict(kernel=(2, 5)), "does not fit"),
    (dict(stride=0), "stride"),
    (dict(dtype="INT2"), "DataType"),
    (dict(op="min"), "op must be"),
])
def test_rejects_bad_params(kwargs, message):
    fields = dict(height=4, width=4, channels=4, kernel=(2, 2), stride=(2, 2), pe=2,
                  dtype=DataType.parse("INT4"))
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        WindowPoolParams(**fields)


def test_padded_max_pooling_layer(tmp_path):
    """A 3x3 stride-2 max pool with padding 1 (a ResNet stem's, as ONNX MaxPool pads: -inf):
    [Pad] + WindowPool, zeros standing for -inf on unsigned inputs, bit-exact with stalls at its
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
    assert kinds.index("pad") < kinds.index("window_pool")
    result = simulate(d, frames, backend="amaranth", stall_prob=0.2)
    assert result.mismatches == 0 and result.cycles_per_frame == net.layer("pool").ideal_cycles()
    doc["layers"][0]["datatype"] = "INT3"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(HwgenError, match="unsigned"):
        load_network(path)


@pytest.mark.parametrize("kernel, stride, padding", [(3, 2, 1), (2, 2, 0), (3, 1, [1, 0, 2, 1])])
def test_average_pooling_layer(kernel, stride, padding, tmp_path):
    """avgpool: the window sums (zeros of the padding counted, as ONNX's count_include_pad),
    in their exact datatype; lowered to [Pad] + a WindowPool or, kernel == stride, a RowPool;
    bit-exact with stalls at its ideal cycles; an activation after it reads the sums. Inputs
    that cannot hold the padding's zeros, and sums too wide, are one-line errors."""
    import yaml

    from hwgen.compiler.build import design
    from hwgen.errors import HwgenError
    from hwgen.network import load_network
    from hwgen.simulation.run import simulate

    doc = {"name": "p", "layers": [
        {"name": "input", "kind": "input", "shape": [7, 6, 4], "datatype": "INT3"},
        {"name": "pool", "kind": "avgpool", "kernel": kernel, "stride": stride,
         "padding": padding, "pe": 2},
        {"name": "act", "kind": "activation", "datatype": "UINT2", "thresholds": "random"}]}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    net = load_network(path)
    pool = net.layer("pool")
    frames = net.random_frames(3, seed=2)
    pads = [padding] * 4 if isinstance(padding, int) else padding
    padded = np.pad(frames, ((0, 0), tuple(pads[:2]), tuple(pads[2:]), (0, 0)))
    k, s = (kernel, kernel), (stride, stride)
    windows = golden.sliding_window(padded, k, s)
    expected = windows.reshape(*windows.shape[:3], kernel * kernel, 4).sum(axis=3)
    assert np.array_equal(net.run(frames)[1], expected)
    assert pool.out_dtype == DataType.parse("INT" + str(3 + (kernel * kernel - 1).bit_length()))
    d = design(net)
    kinds = [node.kind for node in d.nodes if node.layer == "pool"]
    assert kinds[-1] == ("row_pool" if kernel == stride else "window_pool")
    assert ("pad" in kinds) == bool(np.any(pads))
    result = simulate(d, frames, backend="amaranth", stall_prob=0.2)
    assert result.mismatches == 0
    assert result.cycles_per_frame == max(net.layer(n).ideal_cycles() for n in ("pool", "act"))
    doc["layers"][0]["datatype"] = "BIPOLAR"
    path.write_text(yaml.safe_dump(doc))
    if np.any(pads):
        with pytest.raises(HwgenError, match="layer 'pool': field 'padding': .*BIPOLAR cannot hold"):
            load_network(path)
    doc["layers"][0]["datatype"] = "INT31"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(HwgenError, match="too wide"):
        load_network(path)
