"""The pipeline: the chain of engines, and its top level with AXI4-Stream ports.

:class:`Pipeline` connects the engines with ``i``/``o`` streams in the default ``sync`` domain,
so that Amaranth's simulator drives it like any engine. :class:`AxiStreamTop` wraps it for the
outside world (docs/integration.md shows how to use it in Vivado and LiteX):

- ``ap_clk``; ``ap_rst_n``, an active-low synchronous reset as in FINN's stitched IP, registered
  once: the design leaves reset :data:`AxiStreamTop.RESET_DELAY` cycle after ``ap_rst_n`` rises;
- ``s_axis_tdata/tvalid/tready/tlast`` in, ``m_axis_tdata/tvalid/tready/tlast`` out. TDATA is
  padded to whole bytes as AXI4-Stream requires; the padding bits of ``s_axis_tdata`` are
  ignored and those of ``m_axis_tdata`` are zero. ``m_axis_tlast`` is high on the last word of
  every output frame;
- ``tlast_error``, sticky until reset (raised :data:`AxiStreamTop.TLAST_ERROR_DELAY` cycles
  after the word that sets it): ``s_axis_tlast`` was high on a word that does not end an input frame. Frames are counted in words, so the streams go on unchanged whatever
  ``s_axis_tlast`` does. A packet may hold any whole number of frames (a DMA transfer of a batch
  raises tlast once, at its end), and a source without TLAST may hold ``s_axis_tlast`` low or
  high: the check starts only once ``s_axis_tlast`` has been low on some word.

The ports carry Vivado's ``X_INTERFACE_INFO``/``X_INTERFACE_PARAMETER`` attributes, so that IP
integrator sees the two AXI4-Stream interfaces, the clock associated with them and the reset's
polarity.
"""

from amaranth import ClockDomain, ClockSignal, Module, ResetSignal, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..engines.datapath import counter, register
from .lowering import MULTI_INPUT, MULTI_OUTPUT

__all__ = ["Pipeline", "AxiStreamTop", "axis_width"]


def axis_width(bits):
    """TDATA width for a word of ``bits`` bits: a whole number of bytes."""
    return -(-bits // 8) * 8


class Pipeline(wiring.Component):
    """Engines ``nodes`` (see :mod:`.lowering`; FIFOs included) connected as their ``inputs``
    say, the pipeline's ``i`` stream (``input_stream``) feeding the ports of node None and the
    ``output`` port feeding ``o``."""

    def __init__(self, nodes, input_stream, output):
        self.nodes = nodes
        self.output = output
        super().__init__({"i": In(stream.Signature(unsigned(input_stream.width))),
                          "o": Out(stream.Signature(unsigned(output.stream.width)))})

    def elaborate(self, platform):
        m = Module()
        engines, multi_output = {}, set()
        for node in self.nodes:
            engines[node.name] = m.submodules[node.name] = node.component()
            if node.kind in MULTI_OUTPUT:
                multi_output.add(node.name)

        def source(port):
            if port.node is None:
                return self.i
            outputs = engines[port.node].o
            return outputs[port.index] if port.node in multi_output else outputs

        for node in self.nodes:
            inputs = engines[node.name].i
            for k, port in enumerate(node.inputs):
                _connect(m, source(port), inputs[k] if node.kind in MULTI_INPUT else inputs)
        _connect(m, source(self.output), self.o)
        return m


def _connect(m, producer, consumer):
    """Connect two streams; a narrower payload is zero-extended (an add takes all its inputs
    at its widest input's width)."""
    m.d.comb += [consumer.payload.eq(producer.payload), consumer.valid.eq(producer.valid),
                 producer.ready.eq(consumer.ready)]


# Vivado IP integrator's interface descriptions (UG994, "HDL Parameters for Interface Inference").
_AXIS = "xilinx.com:interface:axis:1.0"
_VIVADO_ATTRIBUTES = {
    "ap_clk": {"X_INTERFACE_INFO": "xilinx.com:signal:clock:1.0 ap_clk CLK",
               "X_INTERFACE_PARAMETER": "ASSOCIATED_BUSIF s_axis:m_axis, "
                                        "ASSOCIATED_RESET ap_rst_n"},
    "ap_rst_n": {"X_INTERFACE_INFO": "xilinx.com:signal:reset:1.0 ap_rst_n RST",
                 "X_INTERFACE_PARAMETER": "POLARITY ACTIVE_LOW"},
    **{f"{bus}_{name}": {"X_INTERFACE_INFO": f"{_AXIS} {bus} {name.upper()}"}
       for bus in ("s_axis", "m_axis") for name in ("tdata", "tvalid", "tready", "tlast")},
}


class AxiStreamTop(wiring.Component):
    """``core`` (a component with ``i``/``o`` streams) behind the AXI4-Stream ports described
    in the module docstring, with its own clock and reset; its input frames are
    ``in_frame_words`` words long, its output frames ``out_frame_words``."""

    # Cycles from ap_rst_n rising to the first cycle in which the streams are open.
    RESET_DELAY = 1
    # Cycles from the transfer of a word whose s_axis_tlast is wrong to tlast_error rising.
    TLAST_ERROR_DELAY = 2

    def __init__(self, core, *, in_frame_words, out_frame_words):
        self.core = core
        self.in_width = core.i.payload.shape().width
        self.out_width = core.o.payload.shape().width
        self.in_frame_words = in_frame_words
        self.out_frame_words = out_frame_words
        super().__init__({
            "ap_clk": In(1),
            "ap_rst_n": In(1),
            "s_axis_tdata": In(axis_width(self.in_width)),
            "s_axis_tvalid": In(1),
            "s_axis_tready": Out(1),
            "s_axis_tlast": In(1),
            "m_axis_tdata": Out(axis_width(self.out_width)),
            "m_axis_tvalid": Out(1),
            "m_axis_tready": In(1),
            "m_axis_tlast": Out(1),
            "tlast_error": Out(1),
        })
        for port, attributes in _VIVADO_ATTRIBUTES.items():
            getattr(self, port).attrs.update(attributes)

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
        m.submodules.pipeline = core = self.core
        m.d.comb += [
            core.i.payload.eq(self.s_axis_tdata[:self.in_width]),
            core.i.valid.eq(self.s_axis_tvalid & ~reset),
            self.s_axis_tready.eq(core.i.ready & ~reset),
            self.m_axis_tdata.eq(core.o.payload),
            self.m_axis_tvalid.eq(core.o.valid & ~reset),
            core.o.ready.eq(self.m_axis_tready & ~reset),
        ]

        # Word counters whose registered `last` flags say, with no compare on the stream's
        # path, that the next word ends its frame.
        _, _, out_last = counter(m, core.o.valid & core.o.ready, self.out_frame_words, "out_word")
        m.d.comb += self.m_axis_tlast.eq(out_last)

        # The TLAST check runs a cycle behind the stream, from registers: the error flag goes
        # wherever its output is used (a pin, when the top is placed alone), so no stream
        # handshake is routed out there within a cycle.
        taken = register(m, core.i.valid & core.i.ready, reset=True)
        tlast = register(m, self.s_axis_tlast)
        _, _, in_last = counter(m, taken, self.in_frame_words, "in_word")
        tlast_seen_low = Signal()      # s_axis_tlast is driven: not a TLAST-less source tied high
        with m.If(taken):
            with m.If(~tlast):
                m.d.sync += tlast_seen_low.eq(1)
            with m.Elif(tlast_seen_low & ~in_last):
                m.d.sync += self.tlast_error.eq(1)
        return m
