"""The pipeline: the chain of engines, and its top level with AXI4-Stream style ports.

:class:`Pipeline` connects the engines with ``i``/``o`` streams in the default ``sync`` domain,
so that Amaranth's simulator drives it like any engine. :class:`AxiStreamTop` wraps it for the
outside world with ports ``ap_clk``, ``ap_rst_n`` (active-low synchronous reset, as in FINN's
stitched IP, registered once: the design leaves reset one cycle after ``ap_rst_n`` rises), ``s_axis_tdata/tvalid/tready`` and ``m_axis_tdata/tvalid/tready``. TDATA is padded
to whole bytes as AXI4-Stream requires; the padding bits of ``s_axis_tdata`` are ignored and
those of ``m_axis_tdata`` are zero.
"""

from amaranth import ClockDomain, ClockSignal, Module, ResetSignal, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Pipeline", "AxiStreamTop", "axis_width"]


def axis_width(bits):
    """TDATA width for a word of ``bits`` bits: a whole number of bytes."""
    return -(-bits // 8) * 8


class Pipeline(wiring.Component):
    """Engines ``nodes`` (see :mod:`.lowering`; FIFOs included) connected in order."""

    def __init__(self, nodes):
        self.nodes = nodes
        super().__init__({"i": In(stream.Signature(unsigned(nodes[0].source.width))),
                          "o": Out(stream.Signature(unsigned(nodes[-1].sink.width)))})

    def elaborate(self, platform):
        m = Module()
        engines = [node.component() for node in self.nodes]
        for node, engine in zip(self.nodes, engines):
            m.submodules[node.name] = engine
        for upstream, downstream in zip(engines, engines[1:]):
            wiring.connect(m, upstream.o, downstream.i)
        wiring.connect(m, wiring.flipped(self.i), engines[0].i)
        wiring.connect(m, engines[-1].o, wiring.flipped(self.o))
        return m


class AxiStreamTop(wiring.Component):
    """``pipeline`` behind AXI4-Stream style ports with its own clock and reset."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.in_width = pipeline.i.payload.shape().width
        self.out_width = pipeline.o.payload.shape().width
        super().__init__({
            "ap_clk": In(1),
            "ap_rst_n": In(1),
            "s_axis_tdata": In(axis_width(self.in_width)),
            "s_axis_tvalid": In(1),
            "s_axis_tready": Out(1),
            "m_axis_tdata": Out(axis_width(self.out_width)),
            "m_axis_tvalid": Out(1),
            "m_axis_tready": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        # The reset is registered once: it reaches every flip-flop of the design, so a register
        # keeps that fan-out off the input pins (better timing, and Verilator no longer
        # re-evaluates all next-state logic whenever an input changes). Both streams are closed
        # while the registered reset is active.
        m.domains.sync = ClockDomain()
        m.domains.reset = ClockDomain(reset_less=True)
        reset = Signal(init=1)
        m.d.comb += [ClockSignal("sync").eq(self.ap_clk), ClockSignal("reset").eq(self.ap_clk),
                     ResetSignal("sync").eq(reset)]
        m.d.reset += reset.eq(~self.ap_rst_n)
        m.submodules.pipeline = core = self.pipeline
        m.d.comb += [
            core.i.payload.eq(self.s_axis_tdata[:self.in_width]),
            core.i.valid.eq(self.s_axis_tvalid & ~reset),
            self.s_axis_tready.eq(core.i.ready & ~reset),
            self.m_axis_tdata.eq(core.o.payload),
            self.m_axis_tvalid.eq(core.o.valid & ~reset),
            core.o.ready.eq(self.m_axis_tready & ~reset),
        ]
        return m
