"""Integer datatypes of quantized networks and their packing into stream words.

Values are held as numpy ``int64`` arrays of their true integer values (BIPOLAR as -1/+1). In
hardware every element is a fixed-width *code*:

- INTn: n-bit two's complement; UINTn and BINARY: plain binary;
- BIPOLAR: one bit, 1 = +1 and 0 = -1 (so that XNOR + popcount computes the dot product).

A stream word packs elements little-endian: element ``i`` of a word occupies bits
``[i*b, (i+1)*b)``.
"""

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["DataType", "BINARY", "BIPOLAR", "product_range", "pack", "unpack"]

MAX_BITS = 32


@dataclass(frozen=True)
class DataType:
    """One of BINARY, BIPOLAR, INTn, UINTn (1 <= n <= 32)."""

    kind: str   # "BINARY", "BIPOLAR", "INT" or "UINT"
    bits: int

    def __post_init__(self):
        if self.kind in ("BINARY", "BIPOLAR"):
            if self.bits != 1:
                raise ValueError(f"{self.kind} is 1 bit wide")
        elif self.kind in ("INT", "UINT"):
            if not 1 <= self.bits <= MAX_BITS or (self.kind == "INT" and self.bits < 2):
                raise ValueError(f"{self.kind}{self.bits}: width out of range")
        else:
            raise ValueError(f"unknown datatype kind {self.kind!r}")

    @classmethod
    def parse(cls, name):
        """``"INT4"``, ``"uint8"``, ``"BIPOLAR"``... -> DataType; ValueError with a clear message."""
        if not isinstance(name, str):
            raise ValueError(f"a datatype is a name such as INT4 or BIPOLAR, not {name!r}")
        text = name.strip().upper()
        if text in ("BINARY", "BIPOLAR"):
            return cls(text, 1)
        match = re.fullmatch(r"(U?INT)(\d+)", text)
        if match is None:
            raise ValueError(f"unknown datatype {name!r} (expected BINARY, BIPOLAR, INTn or UINTn)")
        kind, bits = match.group(1), int(match.group(2))
        if not (2 if kind == "INT" else 1) <= bits <= MAX_BITS:
            raise ValueError(f"datatype {name!r}: width must be "
                             f"{2 if kind == 'INT' else 1} to {MAX_BITS} bits")
        return cls(kind, bits)

    @classmethod
    def for_range(cls, lo, hi):
        """The narrowest INTn (if ``lo`` < 0) or UINTn holding every integer in [lo, hi]."""
        lo, hi = int(lo), int(hi)
        if lo < 0:
            bits = max(2, max((-lo - 1).bit_length(), hi.bit_length()) + 1)
            return cls("INT", bits)
        return cls("UINT", max(1, hi.bit_length()))

    @property
    def name(self):
        return self.kind if self.kind in ("BINARY", "BIPOLAR") else f"{self.kind}{self.bits}"

    def __str__(self):
        return self.name

    @property
    def signed(self):
        """True if the values can be negative (BIPOLAR included)."""
        return self.kind in ("INT", "BIPOLAR")

    @property
    def min(self):
        return {"BINARY": 0, "BIPOLAR": -1, "UINT": 0}.get(self.kind, -(1 << (self.bits - 1)))

    @property
    def max(self):
        return {"BINARY": 1, "BIPOLAR": 1, "INT": (1 << (self.bits - 1)) - 1}.get(
            self.kind, (1 << self.bits) - 1)

    def allows(self, values):
        """Boolean array: which of ``values`` this datatype can represent."""
        values = np.asarray(values)
        if self.kind == "BIPOLAR":
            return (values == -1) | (values == 1)
        return (values >= self.min) & (values <= self.max) & (values == np.round(values))

    def values(self):
        """Every representable value, ascending."""
        return np.array([-1, 1] if self.kind == "BIPOLAR" else range(self.min, self.max + 1),
                        dtype=np.int64)

    def random_values(self, rng, size):
        """``rng.choice(self.values(), size)`` (the same values) without listing the values: a
        32-bit type has 2**32 of them."""
        if self.kind == "BIPOLAR":
            return 2 * rng.integers(0, 2, size=size) - 1
        return self.min + rng.integers(0, self.max - self.min + 1, size=size)

    def encode(self, values):
        """True values -> unsigned codes (``uint64``); ValueError if any is not representable."""
        values = np.asarray(values, dtype=np.int64)
        if not self.allows(values).all():
            raise ValueError(f"values outside {self.name}")
        if self.kind == "BIPOLAR":
            return (values > 0).astype(np.uint64)
        return (values & ((1 << self.bits) - 1)).astype(np.uint64)

    def decode(self, codes):
        """Unsigned codes -> true values (``int64``)."""
        codes = np.asarray(codes).astype(np.int64) & ((1 << self.bits) - 1)
        if self.kind == "BIPOLAR":
            return 2 * codes - 1
        if self.kind == "INT":
            return np.where(codes >> (self.bits - 1), codes - (1 << self.bits), codes)
        return codes


BINARY = DataType("BINARY", 1)
BIPOLAR = DataType("BIPOLAR", 1)


def product_range(a, b):
    """(lo, hi) of the product of a value of datatype ``a`` and one of datatype ``b``."""
    corners = [x * y for x in (a.min, a.max) for y in (b.min, b.max)]
    return min(corners), max(corners)


def pack(values, dtype, per_word):
    """Pack values (any shape; flattened in C order) into words of ``per_word`` elements.

    Returns a list of Python ints, each ``per_word * dtype.bits`` bits wide. The element count
    must be a multiple of ``per_word``.
    """
    codes = dtype.encode(np.asarray(values).reshape(-1))
    if codes.size % per_word:
        raise ValueError(f"{codes.size} elements do not fill words of {per_word}")
    shifts = [i * dtype.bits for i in range(per_word)]
    words = []
    for row in codes.reshape(-1, per_word).tolist():
        word = 0
        for code, shift in zip(row, shifts):
            word |= code << shift
        words.append(word)
    return words


def unpack(words, dtype, per_word):
    """Inverse of :func:`pack`: words -> ``int64`` array of ``len(words) * per_word`` values."""
    mask = (1 << dtype.bits) - 1
    codes = [(int(word) >> (i * dtype.bits)) & mask for word in words for i in range(per_word)]
    return dtype.decode(np.array(codes, dtype=np.uint64))
