"""FPGA parts a design can be fitted to (``--device``), and how hwgen's resource models count
on each.

The resource models (each engine's ``resources()``) are fitted to Xilinx 7-series synthesis
(Yosys ``synth_xilinx -nodsp``): 6-input LUTs, flip-flops, 18-kbit block RAMs, DSPs. A part is
described in its own units (:class:`Device`); :meth:`Device.use` converts the models' figures
into them, so that a budget check on a LUT4 part is not silently wrong:

- LUTs: one LUT6 of the models is :data:`LUT4_PER_LUT6` LUT4s on a LUT4 part. Measured in this
  repository on the same Verilog synthesized for both families (``hwgen estimate --target xc7``
  and ``--target ecp5``, Yosys, cached results of the runs behind README's tables):
  cnv-w1a1 11,911 LUT6 and 21,287 LUT4 (1.79), resnet8-w4a4 25,325 LUT6 and 48,304 LUT4
  (1.91); the larger ratio is taken, so that the check errs on the safe side. ECP5's count
  includes its carry cells (two LUT4s per CCU2C). iCE40 is assumed to convert as ECP5 does (no
  pair measured: its carry cells are apart from its LUTs, which makes the factor pessimistic,
  and it has no LUT RAM, so the memories the models put in LUT RAM go to its block RAM or
  logic, which the models do not count).
- Flip-flops: :data:`FF_LUT4_PER_LUT6` on a LUT4 part (the same pairs: 14,157 and 14,445,
  18,068 and 18,720 flip-flops).
- Block RAM: by capacity, 18 kbit per BRAM18 of the models (the same pairs: 155 BRAM18 and 155
  ECP5 EBRs, 104 and 105). On a part with 4-kbit blocks (iCE40) a BRAM18 is 4.5 blocks, a lower
  bound: a memory's shape may take more (a 512 x 36 word memory takes five 512 x 8 blocks).
- DSPs: one for one: a multiplier of DSP lanes (``resource: dsp``: a lane, or two PE rows'
  lanes packed into one) is one DSP48 on a Xilinx part and one MULT18X18D on ECP5 (Yosys maps
  one per multiplication either way, though a packed weight over 18 bits may take two 18 x 18
  ones on ECP5, not measured; arithmetic otherwise stays in LUTs).

Every fit is therefore by the models, whose errors against synthesis are in
docs/resource-models.md; a design near its budget should be checked with ``hwgen estimate``.
"""

import math
from dataclasses import dataclass

from .errors import HwgenError

__all__ = ["Device", "DEVICES", "device", "LUT4_PER_LUT6", "FF_LUT4_PER_LUT6", "RESOURCES"]

LUT4_PER_LUT6 = 1.91
FF_LUT4_PER_LUT6 = 1.04
RESOURCES = ("lut", "ff", "bram", "dsp")     # what a part has, in its own units
MODEL_KEYS = {"lut": "lut", "ff": "ff", "bram": "bram18", "dsp": "dsp"}   # :class:`Resources`


@dataclass(frozen=True)
class Device:
    """One FPGA part: its logic (``lut`` LUTs of ``lut_inputs`` inputs, ``ff`` flip-flops),
    ``bram`` block RAMs of ``bram_kbit`` kbit each, ``dsp`` DSP blocks of kind ``dsp_kind``."""

    name: str
    vendor: str
    family: str
    lut: int
    ff: int
    bram: int
    bram_kbit: int
    dsp: int
    lut_inputs: int
    dsp_kind: str

    @property
    def units(self):
        """What each resource is counted in, for reports: {"lut": "LUT6", ...}."""
        bram = "BRAM18" if self.vendor == "Xilinx" else f"EBR ({self.bram_kbit} kbit)"
        return {"lut": f"LUT{self.lut_inputs}", "ff": "FF", "bram": bram, "dsp": self.dsp_kind}

    def capacity(self):
        return {key: getattr(self, key) for key in RESOURCES}

    def budget(self, utilization):
        """What a design may use at ``utilization`` of the part, per resource (rounded down)."""
        return {key: math.floor(value * utilization + 1e-9)
                for key, value in self.capacity().items()}

    def fits(self, use, utilization):
        """Whether ``use`` (in this part's units, as :meth:`use` gives it) is within
        ``utilization`` of the part in every resource."""
        budget = self.budget(utilization)
        return all(use[key] <= budget[key] for key in RESOURCES)

    def conversion(self):
        """Units of this part per unit of the models, per resource (see the module
        docstring)."""
        lut4 = self.lut_inputs == 4
        return {"lut": LUT4_PER_LUT6 if lut4 else 1, "ff": FF_LUT4_PER_LUT6 if lut4 else 1,
                "bram": 18 / self.bram_kbit, "dsp": 1}

    def use(self, resources):
        """The models' ``resources`` (a :class:`~hwgen.engines.resources.Resources`) in this
        part's units, per resource (rounded up)."""
        figures = resources.as_dict()
        return {key: math.ceil(figures[MODEL_KEYS[key]] * factor - 1e-9)
                for key, factor in self.conversion().items()}

    def note(self):
        """How the models' figures became this part's, in one sentence."""
        if self.lut_inputs == 6 and self.bram_kbit == 18:
            return ("by hwgen's resource models (fitted to Xilinx 7-series synthesis; errors in "
                    "docs/resource-models.md), not by synthesis")
        return (f"by hwgen's resource models (fitted to Xilinx 7-series synthesis), converted: "
                f"1 LUT6 = {LUT4_PER_LUT6} LUT4 and 1 FF = {FF_LUT4_PER_LUT6} FF (measured "
                f"xc7/ECP5 ratio), 1 BRAM18 = {18 / self.bram_kbit:g} blocks of "
                f"{self.bram_kbit} kbit (by capacity)"
                + ("; iCE40 assumed to convert as ECP5, its lack of LUT RAM not modelled"
                   if self.family == "iCE40" else "") + "; not by synthesis")


# Sources, the vendors' product tables: AMD/Xilinx DS190 (Zynq-7000 SoC overview, table 1:
# xc7z020, xc7z045), DS180 (7 series FPGAs overview, Artix-7 table: xc7a100t), DS891 (Zynq
# UltraScale+ MPSoC overview: xczu3eg); Lattice FPGA-DS-02012 (ECP5 family data sheet, table
# 1.1: LFE5U-85F) and FPGA-DS-02029 (iCE40 LP/HX family data sheet, table 1.1: HX8K). Block RAM
# in the part's own blocks: 7-series and UltraScale+ BRAM36 counted as two BRAM18 each.
# Cross-checked against the pages the search tool found: xc7z020 53,200 LUT6, 140 BRAM36,
# 220 DSP (a parts list quoting DS190), xc7a100t 63,400 LUT6 and 126,800 flip-flops
# (a distributor's data sheet summary), iCE40 HX8K 7,680 logic cells of a LUT4 and a
# flip-flop with 128 kbit of 4-kbit EBR (same); the other figures are the data sheets' as
# quoted in the issue, not re-checked here.
DEVICES = {d.name: d for d in (
    Device("xc7z020", "Xilinx", "Zynq-7000", 53_200, 106_400, 280, 18, 220, 6, "DSP48E1"),
    Device("xc7z045", "Xilinx", "Zynq-7000", 218_600, 437_200, 1090, 18, 900, 6, "DSP48E1"),
    Device("xc7a100t", "Xilinx", "Artix-7", 63_400, 126_800, 270, 18, 240, 6, "DSP48E1"),
    Device("xczu3eg", "Xilinx", "Zynq UltraScale+", 70_560, 141_120, 432, 18, 360, 6,
           "DSP48E2"),
    Device("lfe5u-85f", "Lattice", "ECP5", 83_640, 83_640, 208, 18, 156, 4, "MULT18X18"),
    Device("ice40-hx8k", "Lattice", "iCE40", 7_680, 7_680, 32, 4, 0, 4, "DSP"),
)}


def device(name, utilization):
    """The part called ``name`` (case-insensitive), checking ``utilization`` is in (0, 1]: one
    :class:`HwgenError` naming the option otherwise."""
    part = DEVICES.get(name.lower())
    if part is None:
        raise HwgenError(f"unknown part {name!r}; known parts: {', '.join(DEVICES)}",
                         field="--device")
    if not 0 < utilization <= 1:
        raise HwgenError(f"must be in (0, 1], the share of {part.name} the design may use, "
                         f"not {utilization:g}", field="--utilization")
    return part
