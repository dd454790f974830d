"""What conv2d and dense share: a layer computed by a matrix-vector unit (MVAU), its weights,
its engine (bit-parallel, XNOR, bit-serial), what its multipliers are built of (LUTs, DSPs) and
its folding over (PE, SIMD)."""

from dataclasses import dataclass, replace

import numpy as np

from ...compiler.lowering import Stream
from ...datatypes import DataType, product_range
from ...engines.bitserial_mvau import MODES as BITSERIAL_MODES
from ...engines.bitserial_mvau import BitSerialMVAUParams, bit_planes
from ...engines.memories import lut_cost
from ...engines.mvau import DSP_MIN_BITS, RESOURCES, MVAUParams, dsp_capable
from ...engines.vvau import VVAUParams
from .base import Layer, divisors

__all__ = ["MatrixLayer", "ENGINES", "MAX_WEIGHTS"]

ENGINES = ("parallel", "xnor", "bitserial")
RESOURCE_CHOICES = (*RESOURCES, "auto")    # a layer's ``resource``
MAX_WEIGHTS = 1 << 24        # weights of one layer: far beyond any network an FPGA holds


@dataclass
class MatrixLayer(Layer):
    """A layer computed by a matrix-vector unit: dense, or conv2d as windows x weight matrix."""
    weight_dtype: DataType = None
    weights: np.ndarray = None
    pe: int = 1
    simd: int = 1
    engine: str = "parallel"
    bitserial_mode: str = None     # "activations" or "both" for engine "bitserial"
    resource: str = "lut"          # "lut", "dsp" or "auto": see :meth:`matrix_params`

    FIELDS = frozenset({"weight_datatype", "weights", "pe", "simd", "engine", "bitserial_mode",
                        "resource"})
    fusable = True
    depthwise = False    # each output channel from its own input channel: a VVAU, not an MVAU

    # --- reading --------------------------------------------------------------------------

    @staticmethod
    def read_engine(reader, spec, prev, weight_dtype):
        """(engine, bitserial_mode); the mode is None unless bit-serial."""
        bipolar = prev.out_dtype.kind == weight_dtype.kind == "BIPOLAR"
        engine = spec.get("engine", "xnor" if bipolar else "parallel")
        if engine not in ENGINES:
            reader.error(f"unknown engine {engine!r} (expected one of: {', '.join(ENGINES)})",
                         field="engine")
        if engine == "xnor" and not bipolar:
            reader.error("the xnor engine needs BIPOLAR inputs and weights (inputs are "
                         f"{prev.out_dtype}, weights {weight_dtype})", field="engine")
        if engine != "bitserial":
            if "bitserial_mode" in spec:
                reader.error(f"only for engine: bitserial (the engine is {engine})",
                             field="bitserial_mode")
            return engine, None
        mode = spec.get("bitserial_mode", BITSERIAL_MODES[0])
        if mode not in BITSERIAL_MODES:
            reader.error(f"unknown bit-serial mode {mode!r} (expected one of: "
                         f"{', '.join(BITSERIAL_MODES)})", field="bitserial_mode")
        return engine, mode

    @staticmethod
    def read_resource(reader, spec, prev, weight_dtype, engine):
        """``resource``: "lut" (the default), "dsp" (only where every product can take a DSP48,
        :func:`~hwgen.engines.mvau.dsp_capable`) or "auto"."""
        resource = spec.get("resource", "lut")
        if resource not in RESOURCE_CHOICES:
            reader.error(f"unknown resource {resource!r} (expected one of: "
                         f"{', '.join(RESOURCE_CHOICES)})", field="resource")
        if resource == "dsp" and (engine != "parallel"
                                  or not dsp_capable(prev.out_dtype, weight_dtype)):
            reader.error(f"dsp needs the parallel engine and INT/UINT inputs and weights of at "
                         f"least {DSP_MIN_BITS} bits that fit a DSP48 (here: engine {engine}, "
                         f"inputs {prev.out_dtype}, weights {weight_dtype}); use lut or auto",
                         field="resource")
        return resource

    @staticmethod
    def read_weights(reader, spec, shape, dtype):
        count = int(np.prod(shape, dtype=object))
        if count > MAX_WEIGHTS:
            reader.error(f"{count:,} weights of shape {shape}, more than hwgen supports "
                         f"({MAX_WEIGHTS:,} per layer)", field="weights")

        def generate():
            return dtype.random_values(reader.rng(1), shape)
        weights = reader.integers(reader.array(spec.get("weights"), "weights", shape, generate),
                                  "weights")
        bad = ~dtype.allows(weights)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            reader.error(f"value {weights[where]} at index {where} is outside {dtype}",
                         field="weights")
        return weights

    @classmethod
    def read_matrix(cls, reader, spec, prev, weight_shape, simd_total, simd_what):
        """The fields every matrix layer has, as keyword arguments of the class."""
        weight_dtype = reader.datatype(spec, "weight_datatype")
        engine, mode = cls.read_engine(reader, spec, prev, weight_dtype)
        weights = cls.read_weights(reader, spec, weight_shape, weight_dtype)
        return {"weight_dtype": weight_dtype, "weights": weights, "engine": engine,
                "bitserial_mode": mode,
                "resource": cls.read_resource(reader, spec, prev, weight_dtype, engine),
                "pe": reader.folding(spec, "pe", weight_shape[0], "output channels"
                                     if len(weight_shape) == 4 else "outputs (MH)"),
                "simd": reader.folding(spec, "simd", simd_total, simd_what)}

    # --- the matrix -----------------------------------------------------------------------

    @property
    def mw(self):
        return self.weights[0].size

    @property
    def mh(self):
        return self.weights.shape[0]

    @property
    def vectors(self):
        """Input vectors (output pixels) per frame."""
        return 1

    @property
    def simd_channels(self):
        """What SIMD must divide."""
        return self.mw

    @property
    def acc_range(self):
        """Worst-case (lo, hi) of a dot product, from the datatypes."""
        lo, hi = product_range(self.in_dtype, self.weight_dtype)
        return self.mw * lo, self.mw * hi

    @property
    def out_dtype(self):
        return DataType.for_range(*self.acc_range)

    def folding(self):
        return {"pe": self.pe, "simd": self.simd}

    @property
    def planes(self):
        """Bit-planes per MAC step: 1, or weight x activation planes for a bit-serial engine."""
        if self.engine != "bitserial":
            return 1
        weight_planes, act_planes = bit_planes(self.in_dtype, self.weight_dtype,
                                               self.bitserial_mode)
        return weight_planes * act_planes

    @property
    def macs(self):
        return self.vectors * self.mw * self.mh

    def matrix_params(self, pe, simd):
        """The MVAU parameters at folding (pe, simd), the fused activation's thresholds
        included. ValueError beyond what the engine can generate. ``resource: auto`` takes DSP
        lanes where the products can have them and the model's :func:`lut_cost` (a DSP at
        :data:`~hwgen.engines.memories.LUTS_PER_DSP`) is lower, LUT lanes otherwise."""
        shape = (self.mw, self.mh, pe, simd, self.in_dtype, self.weight_dtype, self.vectors,
                 self.fused.out_dtype if self.fused else None)
        # The engines apply the thresholds to the dot products (acc_range), but for XNOR,
        # which moves them into the popcount domain: no affine form there.
        requantizer = self.fused.requantizer(self.acc_range) \
            if self.fused and self.engine != "xnor" else None
        if self.engine == "bitserial":
            return BitSerialMVAUParams(*shape, mode=self.bitserial_mode, requantizer=requantizer)
        kind = VVAUParams if self.depthwise else MVAUParams
        if self.resource != "auto":
            return kind(*shape, style=self.engine, resource=self.resource,
                        requantizer=requantizer)
        if not self.can_use_dsp:
            return kind(*shape, style=self.engine, requantizer=requantizer)
        return min((kind(*shape, style=self.engine, resource=resource, requantizer=requantizer)
                    for resource in RESOURCES),
                   key=lambda params: lut_cost(params.resources()))    # a tie: LUTs

    def lower_matrix(self, graph, source):
        """The MVAU (node kind "mvau") or, depthwise, the VVAU (kind "vvau", reading ``simd``
        positions x ``pe`` channels per word) reading ``source`` (a port of ``graph``) and
        producing this layer's output."""
        arrays = {"weights": self.weights.reshape(self.mh, self.mw)}
        if self.fused:
            arrays["thresholds"] = self.fused.thresholds
        kind = "vvau" if self.depthwise else "mvau"
        elems = self.simd * (self.pe if self.depthwise else 1)
        graph.produce(self.name, graph.add(
            f"{self.name}_{kind}", kind, self.name, self.matrix_params(self.pe, self.simd),
            [(source, elems)], Stream(self.pe, self.output_dtype, self.vectors * self.mh),
            **arrays))

    def fold(self, inputs, target, hints):
        """The (PE, SIMD) that meets ``target`` at the lowest estimated cost: LUTs plus block
        RAMs at :data:`~hwgen.engines.memories.LUTS_PER_BRAM18` and DSPs at
        :data:`~hwgen.engines.memories.LUTS_PER_DSP` (the engines' models; the layer's cycles
        are its engines', sliding window included); if none does, the fastest."""
        ranked = []
        for option, params in self._options(hints):
            cycles = option.ideal_cycles()
            ranked.append((cycles > target, lut_cost(params.resources())
                           if cycles <= target else cycles, option.pe * option.simd,
                           option.pe, option.simd))
        _, _, _, pe, simd = min(ranked)
        return replace(self, pe=pe, simd=simd)

    def folding_options(self, hints):
        return [option for option, _ in self._options(hints)]

    def _options(self, hints):
        """(copy at (PE, SIMD), its MVAU parameters) for every pair the engine can generate,
        the fields in ``hints`` kept."""
        simds = [self.simd] if "simd" in hints else divisors(self.simd_channels)
        pes = [self.pe] if "pe" in hints else divisors(self.mh)
        for pe in pes:
            for simd in simds:
                try:
                    params = self.matrix_params(pe, simd)
                except ValueError:      # beyond what the engine can generate
                    continue
                yield replace(self, pe=pe, simd=simd), params

    def spec(self, arrays):
        arrays[f"{self.name}.weights"] = self.weights
        spec = {"weight_datatype": str(self.weight_dtype),
                "weights": {"key": f"{self.name}.weights"},
                "pe": self.pe, "simd": self.simd, "engine": self.engine}
        if self.engine == "bitserial":
            spec["bitserial_mode"] = self.bitserial_mode
        if self.resource != "lut":      # so that descriptions without DSPs read as before
            spec["resource"] = self.resource
        return spec

    def summary(self):
        engine = self.engine + (f" ({self.bitserial_mode})" if self.engine == "bitserial"
                                else "")
        return {"weight_datatype": str(self.weight_dtype), "engine": engine, "mw": self.mw,
                "mh": self.mh, "macs": self.macs,
                "weight_bits": self.weights.size * self.weight_dtype.bits,
                "resource": self.resource, "multipliers": self.multipliers()}

    @property
    def can_use_dsp(self):
        """Whether the lanes can be DSPs (``resource: dsp``): parallel engine, products
        :func:`~hwgen.engines.mvau.dsp_capable` of."""
        return self.engine == "parallel" and dsp_capable(self.in_dtype, self.weight_dtype)

    def multipliers(self):
        """What the lanes' multipliers are built of at this folding: "lut" or "dsp" (``auto``
        decided), None for an engine without multipliers (xnor, bit-serial)."""
        if self.engine != "parallel":
            return None
        return self.matrix_params(self.pe, self.simd).resource
