"""Each golden operator against an independent formulation (direct loops on small shapes)."""

import numpy as np
import pytest

from hwgen import golden
from hwgen.datatypes import BIPOLAR, DataType

SEEDS = range(6)


def loop_conv2d(x, w, stride, pads):
    n, h, wd, c = x.shape
    ofm, kh, kw, _ = w.shape
    top, bottom, left, right = pads
    sh, sw = stride
    oh = (h + top + bottom - kh) // sh + 1
    ow = (wd + left + right - kw) // sw + 1
    out = np.zeros((n, oh, ow, ofm), dtype=np.int64)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for o in range(ofm):
                    acc = 0
                    for u in range(kh):
                        for v in range(kw):
                            y, z = i * sh + u - top, j * sw + v - left
                            if 0 <= y < h and 0 <= z < wd:
                                for ch in range(c):
                                    acc += int(w[o, u, v, ch]) * int(x[b, y, z, ch])
                    out[b, i, j, o] = acc
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d(seed):
    rng = np.random.default_rng(seed)
    h, w, c, ofm = rng.integers(3, 7), rng.integers(3, 7), rng.integers(1, 4), rng.integers(1, 4)
    kh, kw = rng.integers(1, 4), rng.integers(1, 4)
    stride = tuple(int(s) for s in rng.integers(1, 3, size=2))
    pads = tuple(int(p) for p in rng.integers(0, 2, size=4))
    x = rng.integers(-8, 8, size=(2, h, w, c))
    weights = rng.integers(-4, 4, size=(ofm, kh, kw, c))
    assert np.array_equal(golden.conv2d(x, weights, stride, pads),
                          loop_conv2d(x, weights, stride, pads))


@pytest.mark.parametrize("seed", SEEDS)
def test_depthwise_conv2d(seed):
    """Each channel convolved alone: the full convolution with weights zero off the diagonal."""
    rng = np.random.default_rng(seed)
    h, w, c = rng.integers(3, 7), rng.integers(3, 7), rng.integers(1, 5)
    kh, kw = rng.integers(1, 4), rng.integers(1, 4)
    stride = tuple(int(s) for s in rng.integers(1, 3, size=2))
    pads = tuple(int(p) for p in rng.integers(0, 2, size=4))
    x = rng.integers(-8, 8, size=(2, h, w, c))
    weights = rng.integers(-4, 4, size=(c, kh, kw, 1))
    full = weights * np.eye(c, dtype=np.int64)[:, None, None, :]
    assert np.array_equal(golden.depthwise_conv2d(x, weights, stride, pads),
                          loop_conv2d(x, full, stride, pads))
    with pytest.raises(ValueError, match="depthwise weights"):
        golden.depthwise_conv2d(x, weights.reshape(c, kh, kw))


@pytest.mark.parametrize("seed", SEEDS)
def test_depthwise_window_order(seed):
    rng = np.random.default_rng(seed)
    simd, folds = rng.integers(1, 3), rng.integers(1, 3)
    x = rng.integers(0, 100, size=(1, 4, 5, simd * folds))
    out = golden.depthwise_windows(x, (2, 3), (1, 2), simd)
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            expected = [x[0, i + u, j * 2 + v, f * simd + ch] for f in range(folds)
                        for u in range(2) for v in range(3) for ch in range(simd)]
            assert list(out[0, i, j]) == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_sliding_window_order(seed):
    rng = np.random.default_rng(seed)
    h, w, c = rng.integers(2, 6), rng.integers(2, 6), rng.integers(1, 4)
    kh, kw, sh, sw = rng.integers(1, h + 1), rng.integers(1, w + 1), *rng.integers(1, 3, size=2)
    x = rng.integers(0, 100, size=(1, h, w, c))
    out = golden.sliding_window(x, (kh, kw), (sh, sw))
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            expected = [x[0, i * sh + u, j * sw + v, ch]
                        for u in range(kh) for v in range(kw) for ch in range(c)]
            assert list(out[0, i, j]) == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_pad(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 9, size=(2, 3, 4, 2))
    pads = tuple(int(p) for p in rng.integers(0, 3, size=4))
    out = golden.pad(x, pads)
    top, bottom, left, right = pads
    assert out.shape == (2, 3 + top + bottom, 4 + left + right, 2)
    for y in range(out.shape[1]):
        for z in range(out.shape[2]):
            inside = top <= y < top + 3 and left <= z < left + 4
            expected = x[:, y - top, z - left] if inside else 0
            assert np.array_equal(out[:, y, z], np.broadcast_to(expected, (2, 2)))


@pytest.mark.parametrize("seed", SEEDS)
def test_dense_and_xnor_popcount(seed):
    rng = np.random.default_rng(seed)
    mw, mh = rng.integers(1, 40), rng.integers(1, 10)
    x = rng.choice([-1, 1], size=(3, mw))
    weights = rng.choice([-1, 1], size=(mh, mw))
    dot = golden.dense(x, weights)
    loops = np.array([[sum(int(weights[n, k]) * int(x[b, k]) for k in range(mw))
                       for n in range(mh)] for b in range(3)])
    assert np.array_equal(dot, loops)
    pop = golden.xnor_popcount(x, weights)
    codes_x, codes_w = BIPOLAR.encode(x), BIPOLAR.encode(weights)
    loops_pop = np.array([[sum(1 - (int(codes_x[b, k]) ^ int(codes_w[n, k])) for k in range(mw))
                           for n in range(mh)] for b in range(3)])
    assert np.array_equal(pop, loops_pop)
    assert np.array_equal(dot, 2 * pop - mw)


def test_matmul_exact_beyond_float_range():
    # Large operands take the integer path; the result must still be exact.
    x = np.array([[2**40, 3]], dtype=np.int64)
    weights = np.array([[2**20 + 1, 7]], dtype=np.int64)
    assert golden.matmul(x, weights)[0, 0] == 2**60 + 2**40 + 21


@pytest.mark.parametrize("name", ["BIPOLAR", "BINARY", "UINT2", "INT2", "INT3", "UINT4"])
def test_multithreshold(name):
    dtype = DataType.parse(name)
    rng = np.random.default_rng(len(name))
    n = 1 if dtype.kind == "BIPOLAR" else dtype.max - dtype.min
    thresholds = np.sort(rng.integers(-20, 20, size=(5, n)), axis=1)
    acc = rng.integers(-25, 25, size=(7, 5))
    out = golden.multithreshold(acc, thresholds, dtype)
    for b in range(7):
        for c in range(5):
            level = 0
            while level < n and acc[b, c] >= thresholds[c, level]:
                level += 1
            expected = dtype.values()[level]     # the level-th smallest representable value
            assert out[b, c] == expected
    assert dtype.allows(out).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_maxpool(seed):
    rng = np.random.default_rng(seed)
    h, w, c = rng.integers(2, 7), rng.integers(2, 7), rng.integers(1, 4)
    kh, kw, sh, sw = rng.integers(1, 3), rng.integers(1, 3), *rng.integers(1, 3, size=2)
    x = rng.integers(-50, 50, size=(2, h, w, c))
    out = golden.maxpool(x, (kh, kw), (sh, sw))
    for b in range(2):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                for ch in range(c):
                    assert out[b, i, j, ch] == max(x[b, i * sh + u, j * sw + v, ch]
                                                   for u in range(kh) for v in range(kw))


@pytest.mark.parametrize("seed", SEEDS)
def test_label_select(seed):
    rng = np.random.default_rng(seed)
    classes, k = rng.integers(1, 12), 0
    k = int(rng.integers(1, classes + 1))
    scores = rng.integers(-3, 3, size=(4, classes))      # a tiny range: many ties
    out = golden.label_select(scores, k)
    for b in range(4):
        ranked = sorted(range(classes), key=lambda i: (-scores[b, i], i))
        assert list(out[b]) == ranked[:k]
