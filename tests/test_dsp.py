"""DSP lanes (``resource="dsp"``): the same RTL as LUT lanes but for the marks, or two PE rows
packed into one multiplier; the same results as the golden model either way, and what Yosys
makes of them: one DSP48E1 per lane or per packed pair of lanes on xc7, none for LUT lanes."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from amaranth import Module
from amaranth.back import verilog

from hwgen.cli import main
from hwgen.compiler.build import design
from hwgen.compiler.device_fit import fit_device
from hwgen import golden
from hwgen.datatypes import DataType, pack, product_range
from hwgen.devices import DEVICES
from hwgen.engines.datapath import range_bits
from hwgen.engines.mvau import MatrixVectorUnit, MVAUParams, dsp_capable, dsp_pack_factor
from hwgen.engines.vvau import VectorVectorUnit, VVAUParams
from hwgen.network import load_network
from hwgen.simulation.run import simulate
from hwgen.synthesis import DSP_MARK, TARGETS, synthesize

from engine_cases import (OUT_TYPES, assert_rejected, assert_resources_near_yosys, matrix_case,
                          run_with_backpressure, seeds)
from test_mvau import assert_unstalled_schedule
from test_vvau import random_case as vvau_case

EXAMPLE = Path(__file__).parent.parent / "examples" / "dsp" / "mini-cnv-dsp.yaml"
DSP_TYPES = [f"UINT{b}" for b in range(4, 9)] + [f"INT{b}" for b in range(4, 9)]
SEEDS = seeds(0, 12, 40)


def dsp_count(params):
    """DSP48E1 of a DSP unit: one per lane, or per pair of PE rows' lanes when packed (an odd
    PE's last row on its own)."""
    return -(-params.pe // params.dsp_pack) * params.simd


def mvau_case(seed):
    """A random MVAU case with DSP lanes: INT/UINT of 4 to 8 bits, random folding, raw or
    fused."""
    rng = np.random.default_rng(seed)
    names = [*rng.choice(DSP_TYPES, size=2), None if rng.random() < 0.4
             else rng.choice(OUT_TYPES)]
    shape = (int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(1, 4)),
             int(rng.choice([1, 2, 3, 4, 8])))
    return matrix_case(rng, MatrixVectorUnit, MVAUParams, names, shape, resource="dsp")


@pytest.mark.parametrize("seed", SEEDS)
def test_mvau_against_golden_with_gaps_and_stalls(seed):
    _, _, dut, inputs, expected = mvau_case(seed)
    assert run_with_backpressure(dut, inputs, len(expected), seed).outputs == expected


@pytest.mark.parametrize("seed", [0, 6])    # UINT4 x INT4 at SIMD 3, INT8 x INT8 at SIMD 2
def test_vvau_against_golden_with_gaps_and_stalls(seed):
    _, _, dut, inputs, expected = vvau_case(seed, resource="dsp")
    assert run_with_backpressure(dut, inputs, len(expected), seed).outputs == expected


@pytest.mark.parametrize("pe, weights", [(1, "INT4"), (2, "INT16")])
def test_same_rtl_but_the_mark_when_not_packed(pe, weights):
    """Unpacked (PE 1, or UINT4 x INT16 products too wide to pack), a DSP unit's Verilog is the
    LUT unit's with its product registers marked, and the same schedule (latency, cycles)."""
    uint4, w_dtype = DataType.parse("UINT4"), DataType.parse(weights)
    weights = np.random.default_rng(0).choice(w_dtype.values(), (2, 12))
    texts = {}
    for resource in ("lut", "dsp"):
        params = MVAUParams(12, 2, pe, 3, uint4, w_dtype, 1, resource=resource)
        assert params.dsp_pack == 1
        texts[resource] = verilog.convert(MatrixVectorUnit(params, weights), name="unit",
                                          emit_src=False)
    assert DSP_MARK not in texts["lut"]
    assert texts["dsp"].count(DSP_MARK) == pe * 3
    assert texts["dsp"].replace(f"  {DSP_MARK}\n", "") == texts["lut"]


def test_dsp_pack_factor():
    """Two products per DSP48E1 where the shared input takes at most 18 bits signed and the
    packed weight w0 + w1 * 2**s (s: a product's width) at most 25, or the other way round; never
    for a depthwise unit or PE 1; an odd PE's last row alone (ceil(PE / 2) DSPs per SIMD lane)."""
    packs = [("UINT8", "INT8"), ("INT8", "INT8"), ("INT8", "UINT8"), ("UINT8", "UINT8"),
             ("UINT4", "INT4"), ("INT4", "UINT4"), ("INT16", "INT4"), ("UINT16", "INT4")]
    single = [("UINT8", "INT9"), ("INT8", "INT9"), ("UINT4", "INT16"), ("UINT17", "INT4"),
              ("INT3", "INT8"), ("BIPOLAR", "INT8")]
    for names, expected in [(pair, 2) for pair in packs] + [(pair, 1) for pair in single]:
        assert dsp_pack_factor(*map(DataType.parse, names)) == expected, names
    uint8, int8 = DataType.parse("UINT8"), DataType.parse("INT8")
    for pe, dsps in [(1, 4), (2, 4), (3, 8), (4, 8)]:
        params = MVAUParams(8, 12, pe, 4, uint8, int8, 1, resource="dsp")
        assert params.resources().dsp == dsps, pe
    assert VVAUParams(8, 12, 4, 4, uint8, int8, 1, resource="dsp").dsp_pack == 1
    assert MVAUParams(8, 12, 4, 4, uint8, int8, 1).dsp_pack == 1      # LUT lanes


@pytest.mark.parametrize("names", [("UINT8", "INT8"), ("INT8", "INT8"), ("INT8", "UINT8"),
                                   ("UINT8", "UINT8"), ("UINT4", "INT4"), ("INT4", "UINT4"),
                                   ("INT6", "INT5")])
def test_packed_extraction_is_exact(names):
    """Every input x and weights w0, w1, in numpy as the RTL computes them
    (mvau.packed_weight, mvau.packed_products): the packed weight's fields (w0 in s bits, w1
    less w0's borrow above them) are w0 + w1 * 2**s and fit 25 bits signed, x 18; of P = x *
    that, the low s bits read in the product's shape are x * w0, and P >> s plus their sign bit
    (where the products can be negative) is x * w1."""
    x_dtype, w_dtype = map(DataType.parse, names)
    assert dsp_pack_factor(x_dtype, w_dtype) == 2
    lo, hi = product_range(x_dtype, w_dtype)
    s, signed = range_bits(lo, hi), lo < 0
    w0, w1 = (grid.ravel() for grid in np.meshgrid(w_dtype.values(), w_dtype.values()))
    packed = (w0 & ((1 << s) - 1)) + ((w1 - (w0 < 0)) << s)
    assert (packed == w0 + (w1 << s)).all()
    assert range_bits(min(packed.min(), -1), packed.max()) <= 25
    assert x_dtype.bits + (not x_dtype.signed) <= 18
    for x in x_dtype.values():
        product = x * packed
        low = product & ((1 << s) - 1)
        sign = low >> (s - 1) if signed else 0
        assert (low - (sign << s) == x * w0).all()
        assert ((product >> s) + sign == x * w1).all()


# (input, weight, PE, SIMD): odd PEs leave a row unpacked.
PACKED = [("UINT8", "INT8", 3, 2), ("INT8", "INT8", 4, 3), ("UINT4", "INT4", 5, 2),
          ("INT4", "UINT4", 2, 4)]


def packed_case(seed, in_name, w_name, pe, simd):
    """A packed DSP MVAU (two neuron folds, two synapse folds, raw output: every bit of the
    dot products) and its expected output, its weights and inputs mostly at their extremes:
    the largest products of either sign in both rows of a pair, and a zero or positive low
    product under a negative high one and the other way round."""
    rng = np.random.default_rng(seed)
    x_dtype, w_dtype = DataType.parse(in_name), DataType.parse(w_name)
    params = MVAUParams(2 * simd, 2 * pe, pe, simd, x_dtype, w_dtype, 2, resource="dsp")
    assert params.dsp_pack == 2

    def extreme(dtype, size):
        values = rng.choice(dtype.values(), size=size)
        return np.where(rng.random(size) < 0.7, rng.choice([dtype.min, dtype.max], size), values)
    weights = extreme(w_dtype, (params.mh, params.mw))
    x = extreme(x_dtype, (3 * params.vectors, params.mw))
    expected = pack(golden.matmul(x, weights), params.output_dtype, pe)
    return params, 3, MatrixVectorUnit(params, weights), pack(x, x_dtype, simd), expected


@pytest.mark.parametrize("case", PACKED)
def test_packed_mvau_bit_exact_at_the_extremes(case):
    """Against the golden model with gaps and stalls, and unstalled on the exact schedule of
    the latency model (the extraction stage included)."""
    params, frames, dut, inputs, expected = packed_case(7, *case)
    assert run_with_backpressure(dut, inputs, len(expected), 7).outputs == expected
    assert_unstalled_schedule(*packed_case(8, *case))


def test_dsp_capable():
    capable = [("INT4", "UINT4"), ("UINT8", "INT8"), ("INT16", "INT8"), ("UINT17", "INT4"),
               ("INT25", "INT18")]
    not_capable = [("INT3", "INT8"), ("BIPOLAR", "INT8"), ("BINARY", "UINT8"),
                   ("UINT18", "UINT18"), ("INT26", "INT4"), ("INT19", "INT19")]
    for names, expected in [(pair, True) for pair in capable] + \
            [(pair, False) for pair in not_capable]:
        assert dsp_capable(*map(DataType.parse, names)) == expected, names


@pytest.mark.parametrize("make, message", [
    (lambda: MVAUParams(4, 2, 1, 1, DataType.parse("INT2"), DataType.parse("INT8"), 1,
                        resource="dsp"), "resource 'dsp' needs"),
    (lambda: MVAUParams(4, 2, 1, 1, DataType.parse("INT4"), DataType.parse("INT4"), 1,
                        resource="bram"), "resource must be one of lut, dsp"),
])
def test_invalid_parameters(make, message):
    assert_rejected(make, message)


def test_script_for_a_design_with_dsp_lanes():
    """Designs without DSP lanes keep the -nodsp scripts (and their cached results); iCE40 maps
    no DSPs."""
    plain, marked = "module unit; endmodule", f"module unit; {DSP_MARK} reg r; endmodule"
    assert TARGETS["xc7"].script_for(plain, "unit") == "synth_xilinx -nodsp -noiopad -top unit"
    assert "xilinx_dsp -family xc7 @dsp" in TARGETS["xc7"].script_for(marked, "unit")
    assert "dsp_map_18x18.v" in TARGETS["ecp5"].script_for(marked, "unit")
    assert TARGETS["ice40"].script_for(marked, "unit") == TARGETS["ice40"].script_for(plain,
                                                                                       "unit")


def test_dsp_and_lut_units_in_one_design(tmp_path):
    """One design, a DSP unit and the same unit with LUT lanes (xc7, the units of
    docs/resource-models.md's first row): a DSP48E1 per pair of products in the first (PE 2
    packed, SIMD 4: 4), within the model, and none in the second, which synthesizes exactly as
    it does alone (under -nodsp)."""
    int4, uint4 = DataType.parse("INT4"), DataType.parse("UINT4")
    weights = np.random.default_rng(0).integers(0, 16, (8, 16))

    def unit(resource):
        return MatrixVectorUnit(MVAUParams(16, 8, 2, 4, int4, uint4, 1, resource=resource),
                                weights)
    units = {"dsp": unit("dsp"), "lut": unit("lut")}
    top = Module()
    for resource, part in units.items():
        top.submodules[resource] = part
    ports = [signal for part in units.values() for port in (part.i, part.o)
             for signal in (port.payload, port.valid, port.ready)]
    text = verilog.convert(top, name="top", ports=ports, emit_src=False)
    groups = synthesize(text, "top", "xc7", cache_dir=tmp_path).by_prefix("top.", units)
    alone = synthesize(verilog.convert(unit("lut"), name="unit", emit_src=False), "unit", "xc7",
                       cache_dir=tmp_path).totals()
    dsp, lut = groups["dsp"], groups["lut"]
    model = units["dsp"].params.resources()
    assert dsp["dsp"] == model.dsp == 4 and lut["dsp"] == 0
    assert abs(model.lut - dsp["lut"]) <= 0.2 * dsp["lut"], (model, dsp)
    assert abs(model.ff - dsp["ff"]) <= 0.15 * dsp["ff"], (model, dsp)
    assert all(lut[key] == alone[key] for key in ("lut", "ff", "carry", "dsp")), (lut, alone)


# Synthesis (xc7): exactly ceil(pe/2)*simd DSP48E1 (packed), and the model's LUTs and flip-flops
# within the tolerances (the calibration in docs/resource-models.md: what the DSPs take out of the
# logic is modelled within 7%; the rest carries the LUT model's own error, e.g. 20 flip-flops over
# on the first unit in either form).
SYNTHESIZED = [
    pytest.param((8, 8, 4, 1, "INT4", "INT4"), 0.25, 0.1, marks=pytest.mark.slow),
    pytest.param((12, 4, 2, 3, "UINT6", "INT5"), 0.2, 0.15, marks=pytest.mark.slow),
]


@pytest.mark.parametrize("shape, lut, ff", SYNTHESIZED)
def test_resources_near_yosys(shape, lut, ff, tmp_path):
    mw, mh, pe, simd, a, b = shape
    params = MVAUParams(mw, mh, pe, simd, DataType.parse(a), DataType.parse(b), 1,
                        resource="dsp")
    weights = np.random.default_rng(0).choice(params.weight_dtype.values(), size=(mh, mw))
    assert params.resources().dsp == -(-pe // 2) * simd
    assert_resources_near_yosys(MatrixVectorUnit(params, weights), params.resources(), tmp_path,
                                lut, ff)


@pytest.mark.slow
def test_vvau_resources_near_yosys(tmp_path):
    params = VVAUParams(9, 8, 2, 3, DataType.parse("UINT4"), DataType.parse("INT4"), 16,
                        resource="dsp")
    weights = np.random.default_rng(0).integers(-8, 8, (8, 9))
    assert_resources_near_yosys(VectorVectorUnit(params, weights), params.resources(), tmp_path,
                                ff=0.15)


def mini_cnv(tmp_path, **conv0):
    """examples/dsp/mini-cnv-dsp.yaml (mini-cnv, conv0 UINT4 x INT4 on DSPs) with conv0
    changed by ``conv0``."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["layers"][1].update(conv0)
    (tmp_path / "net.yaml").write_text(yaml.safe_dump(doc))
    return load_network(tmp_path / "net.yaml")


def test_layer_resource_reads_round_trips_and_resolves(tmp_path):
    """``resource`` reads, is written back by spec() only when not lut (so built descriptions
    without DSPs are unchanged), and auto picks DSP lanes where the model's cost says so:
    at LUTS_PER_DSP (80) a DSP for two products (PE 2, packed), UINT4 x INT4 products (two
    24-LUT multipliers) stay in LUTs, UINT4 x INT8 (two of 48) and UINT4 x INT16 (one of 96,
    not packed) go to DSPs."""
    plain = mini_cnv(tmp_path, resource="lut").layer("conv0")
    assert plain.resource == "lut" and "resource" not in plain.spec({})
    assert plain.summary()["multipliers"] == "lut"
    dsp = load_network(EXAMPLE).layer("conv0")
    assert dsp.spec({})["resource"] == "dsp" and dsp.summary()["multipliers"] == "dsp"
    params = dsp.matrix_params(dsp.pe, dsp.simd)
    assert params.resource == "dsp" and params.resources().dsp == dsp_count(params)
    auto4 = mini_cnv(tmp_path, resource="auto").layer("conv0")
    auto8 = mini_cnv(tmp_path, weight_datatype="INT8", resource="auto").layer("conv0")
    auto16 = mini_cnv(tmp_path, weight_datatype="INT16", resource="auto").layer("conv0")
    assert [layer.multipliers() for layer in (auto4, auto8, auto16)] == ["lut", "dsp", "dsp"]
    assert auto16.spec({})["resource"] == "auto"


def test_check_shows_dsp_layers(capsys):
    assert main(["check", str(EXAMPLE)]) == 0
    assert "(w INT4, parallel, dsp)" in capsys.readouterr().out


def tiny_mlp_dsp(tmp_path):
    """Two dense layers, the first UINT4 x INT4 on PE 4 x SIMD 4 DSP lanes, fused UINT2."""
    (tmp_path / "net.yaml").write_text(yaml.safe_dump({"name": "tiny-dsp", "seed": 3, "layers": [
        {"name": "input", "kind": "input", "shape": [16], "datatype": "UINT4"},
        {"name": "fc0", "kind": "dense", "outputs": 8, "weight_datatype": "INT4",
         "resource": "dsp", "pe": 4, "simd": 4},
        {"name": "act0", "kind": "activation", "datatype": "UINT2", "thresholds": "random"},
        {"name": "fc1", "kind": "dense", "outputs": 4, "weight_datatype": "INT2", "pe": 2,
         "simd": 8},
        {"name": "top", "kind": "label_select"}]}))
    return load_network(tmp_path / "net.yaml")


def mini_dwsep_dsp(tmp_path):
    """mini-dwsep with its first depthwise layer (a VVAU, UINT4 inputs) INT4 x UINT4 on DSPs."""
    doc = yaml.safe_load((EXAMPLE.parents[2] / "networks" / "mini-dwsep.yaml").read_text())
    doc["layers"][1].update(weight_datatype="INT4", resource="dsp")
    (tmp_path / "net.yaml").write_text(yaml.safe_dump(doc))
    return load_network(tmp_path / "net.yaml")


@pytest.mark.parametrize("make, node_name", [
    # Unpacked, the DSP RTL is the LUT RTL plus the marks (test_same_rtl_but_the_mark...),
    # which the default tier's networks simulate in Verilator; packed units are checked in the
    # simulator (test_packed_mvau_bit_exact_at_the_extremes): these runs are for -m slow.
    pytest.param(tiny_mlp_dsp, "fc0_mvau", marks=pytest.mark.slow),
    pytest.param(lambda tmp_path: load_network(EXAMPLE), "conv0_mvau", marks=pytest.mark.slow),
    pytest.param(mini_dwsep_dsp, "dw0_vvau", marks=pytest.mark.slow),
])
def test_network_with_a_dsp_layer_is_bit_exact_in_verilator(tmp_path, make, node_name):
    """A small MLP with a DSP layer, and (slow) examples/dsp/mini-cnv-dsp.yaml (conv0 UINT4 x
    INT4 on DSP lanes) and mini-dwsep with its first depthwise layer so: the Verilog marks a
    product register per DSP (:func:`dsp_count`: packed in the MVAUs), and in Verilator the
    network is bit-exact under random stalls at its ideal cycles."""
    network = make(tmp_path)
    d = design(network)
    node = next(node for node in d.nodes if node.name == node_name)
    assert node.params.resource == "dsp" and node.resources().dsp == dsp_count(node.params)
    assert d.verilog().count(DSP_MARK) == dsp_count(node.params)
    result = simulate(d, network.random_frames(3, seed=5), backend="verilator", seed=1,
                      stall_prob=0.3)
    assert result.mismatches == 0
    assert result.cycles_per_frame == d.bottleneck.cycles()


@pytest.mark.parametrize("weights, dsps, utilization, auto, lanes", [
    ("INT4", 2000, 0.03, "cost", "lut"),    # fits with the cost model's LUT lanes
    ("INT4", 2000, 0.0215, "balanced", "dsp"),   # 1,182 LUTs over 1,143: DSP lanes (954) fit
    ("INT16", 0, 0.05, "balanced", "lut"),  # the cost model's DSP lanes, on a part without DSPs
])
def test_device_fit_moves_auto_layers(tmp_path, weights, dsps, utilization, auto, lanes):
    """--device: an auto layer's lanes follow the cost model when that design fits, else move
    to DSPs or to LUTs if that makes it fit (xc7z020 with ``dsps`` DSP48s): mini-cnv's fastest
    design (576 cycles per frame) fits each time."""
    network = mini_cnv(tmp_path, weight_datatype=weights, resource="auto")
    part = replace(DEVICES["xc7z020"], dsp=dsps)
    fit = fit_device(network, part, utilization, ignore_hints=True)
    assert fit.design.bottleneck.cycles() == 576
    assert fit.trials[-1].target == 576 and fit.trials[-1].auto == auto
    node = next(node for node in fit.design.nodes if node.name == "conv0_mvau")
    assert node.params.resource == lanes
