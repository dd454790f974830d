import numpy as np
import pytest

from hwgen.datatypes import BINARY, BIPOLAR, DataType, pack, unpack

ALL = [BINARY, BIPOLAR] + [DataType("UINT", n) for n in (1, 2, 3, 4, 8, 16)] + \
      [DataType("INT", n) for n in (2, 3, 4, 8, 16)]


@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_range_and_round_trip(dtype):
    values = dtype.values()
    assert values[0] == dtype.min and values[-1] == dtype.max
    assert len(values) == (2 if dtype.kind == "BIPOLAR" else 2 ** dtype.bits)
    assert dtype.signed == (dtype.min < 0)
    codes = dtype.encode(values)
    assert codes.max() < 2 ** dtype.bits
    assert len(set(codes.tolist())) == len(values)
    assert np.array_equal(dtype.decode(codes), values)


@pytest.mark.parametrize("dtype", ALL, ids=str)
@pytest.mark.parametrize("per_word", [1, 3, 8])
def test_pack_round_trip(dtype, per_word):
    rng = np.random.default_rng(dtype.bits * 31 + per_word)
    values = rng.choice(dtype.values(), size=per_word * 5)
    words = pack(values, dtype, per_word)
    assert len(words) == 5
    assert all(0 <= word < 2 ** (dtype.bits * per_word) for word in words)
    assert np.array_equal(unpack(words, dtype, per_word), values)


def test_packing_conventions():
    # element i at bits [i*b, (i+1)*b), two's complement, BIPOLAR 1 = +1
    assert pack([1, -1, 3], DataType.parse("INT4"), 3) == [0x3F1]
    assert pack([-1, 1, 1, -1], BIPOLAR, 4) == [0b0110]
    assert pack([1, 0, 0, 1], BINARY, 2) == [0b01, 0b10]
    assert pack([-128, 127], DataType.parse("int8"), 2) == [0x7F80]


def test_parse_and_errors():
    assert DataType.parse("uint7") == DataType("UINT", 7)
    assert DataType.parse(" INT12 ").max == 2047
    for bad in ["INT1", "UINT0", "INT33", "FLOAT32", "", 4]:
        with pytest.raises(ValueError):
            DataType.parse(bad)
    with pytest.raises(ValueError):
        BIPOLAR.encode([0])
    with pytest.raises(ValueError):
        DataType.parse("UINT2").encode([4])


@pytest.mark.parametrize("lo,hi,name", [(0, 1, "UINT1"), (0, 255, "UINT8"), (-1, 0, "INT2"),
                                        (-128, 127, "INT8"), (-129, 5, "INT9"),
                                        (-5, 128, "INT9"), (-576, 576, "INT11")])
def test_for_range(lo, hi, name):
    assert DataType.for_range(lo, hi).name == name


@pytest.mark.parametrize("name", ["BIPOLAR", "BINARY", "UINT3", "INT5", "INT32", "UINT32"])
def test_random_values_are_those_of_a_choice_among_all_values(name):
    """The same values as ``rng.choice(values())`` for small types, without listing the values
    (a 32-bit type has 2**32): every value representable, both extremes reachable."""
    dtype = DataType.parse(name)
    drawn = dtype.random_values(np.random.default_rng(5), 4000)
    assert dtype.allows(drawn).all()
    if dtype.bits <= 8:
        assert (drawn == np.random.default_rng(5).choice(dtype.values(), 4000)).all()
        assert set(drawn) == set(dtype.values())
