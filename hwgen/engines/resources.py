"""Analytic resource estimates shared by every engine's resource model."""

from dataclasses import dataclass, fields

__all__ = ["Resources"]


@dataclass(frozen=True)
class Resources:
    """Estimated FPGA resources: 6-input LUTs (logic and LUT RAM), flip-flops, 18-kbit block
    RAMs, DSP blocks."""

    lut: int = 0
    ff: int = 0
    bram18: int = 0
    dsp: int = 0

    def __add__(self, other):
        return Resources(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __mul__(self, copies):
        """The resources of ``copies`` copies."""
        return Resources(*(getattr(self, f.name) * copies for f in fields(self)))

    def as_dict(self):
        return {f.name: getattr(self, f.name) for f in fields(self)}
