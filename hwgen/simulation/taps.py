"""Probes into a design's Verilog: taps on engines' streams, and signals whose maximum to record.

A :class:`Tap` names a stream port (or a plain signal) of one component instance by its place
in the Amaranth hierarchy, e.g. ``Tap("conv0", "pipeline.conv0_mvau", "o", 8)``: the output
stream ``o`` of the instance that the top level's submodule ``pipeline`` names ``conv0_mvau``.
:func:`verilog_with_probes` converts the top level to Verilog exactly as
``amaranth.back.verilog.convert`` does (the text ``hwgen build`` writes, not one port more) and
takes the Verilog names of the tapped signals from the name map that the conversion returns:
Amaranth names a signal after its path (``o__payload``) but adds a ``$N`` suffix where another
signal of the same module has that name (a max-pool engine's own ``o`` beside its internal
window's), so names cannot be guessed from the text alone; the name map knows.

The resulting :class:`StreamProbe` and :class:`LevelProbe` carry hierarchical Verilog names
(tuples from the top module's name down to the wire's); :func:`verilator_config` and
:func:`harness_include` turn them into what :class:`~hwgen.simulation.verilator.VerilatorSim`
compiles: a Verilator configuration file marking the signals public (``public_flat_rd``), and a
C++ include that reads them through ``rootp`` under the names Verilator gives them
(:func:`verilator_name`).
"""

import re
from dataclasses import dataclass

from amaranth.back import verilog
from amaranth.hdl import Fragment, Value
from amaranth.hdl._ir import PortDirection
from amaranth.lib import wiring

__all__ = ["Tap", "StreamProbe", "LevelProbe", "resolve", "verilog_with_probes", "verilator_name",
           "verilator_config", "harness_include"]


@dataclass(frozen=True)
class Tap:
    """``name``: the label of the results; ``instance``: submodule names from the top level
    down, dot-separated; ``port``: the member of that component, attribute names and indices
    (``o``, ``o[0]``, ``level``); ``width``: the payload's (or signal's) bits."""
    name: str
    instance: str
    port: str
    width: int


@dataclass(frozen=True)
class StreamProbe:
    """A stream's ``valid``, ``ready`` and ``payload`` as hierarchical Verilog names."""
    name: str
    valid: tuple
    ready: tuple
    payload: tuple
    width: int

    @property
    def bytes(self):
        return -(-self.width // 8)


@dataclass(frozen=True)
class LevelProbe:
    """A signal whose largest value over the run is recorded (a FIFO's fill level)."""
    name: str
    signal: tuple
    width: int


def _component(fragment, instance):
    """The elaboratable that the submodule path ``instance`` names below ``fragment``."""
    for name in instance.split("."):
        found = [sub for sub, sub_name, _ in fragment.subfragments if sub_name == name]
        if not found:
            raise KeyError(f"no submodule {name!r} on the path {instance!r}")
        fragment = found[0]
    return fragment.origins[0]      # the component first asked to elaborate


_PORT = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*")
_STEP = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")


def _member(component, port):
    """``component.o``, ``component.o[0]``... for ``port`` written that way."""
    if not _PORT.fullmatch(port):
        raise ValueError(f"cannot read port {port!r}: write attributes and [index]es, e.g. o[0]")
    value = component
    for attribute, index in _STEP.findall(port):
        value = getattr(value, attribute) if attribute else value[int(index)]
    return value


def resolve(fragment, tap):
    """The member (a stream interface, a signal) that ``tap`` names in the elaborated design
    ``fragment``; ValueError if there is none."""
    try:
        return _member(_component(fragment, tap.instance), tap.port)
    except (KeyError, AttributeError, IndexError, TypeError) as error:
        raise ValueError(f"tap {tap.name!r}: {tap.instance}.{tap.port}: {error}") from None


def _elaborate(top):
    """``top`` elaborated, with the ports ``verilog.convert`` gives it (from its signature)."""
    ports = {}
    for path, member, value in top.signature.flatten(top):
        direction = PortDirection.Input if member.flow == wiring.In else PortDirection.Output
        ports["__".join(map(str, path))] = (Value.cast(value), direction)
    return Fragment.get(top, None), ports


def verilog_with_probes(top, name, taps=(), levels=()):
    """(Verilog text, stream probes, level probes) of the top level ``top`` (a component)
    emitted as module ``name``: the text is ``amaranth.back.verilog.convert(top, name=name,
    emit_src=False)``'s; ``taps`` name streams (each a :class:`Tap` whose port is a stream),
    ``levels`` signals (a :class:`Tap` whose port is a signal)."""
    fragment, ports = _elaborate(top)
    text, names = verilog.convert_fragment(fragment, ports, name, emit_src=False)

    streams = []
    for tap in taps:
        stream = resolve(fragment, tap)
        streams.append(StreamProbe(tap.name, names[stream.valid], names[stream.ready],
                                   names[Value.cast(stream.payload)], tap.width))
    level_probes = [LevelProbe(tap.name, names[resolve(fragment, tap)], tap.width)
                    for tap in levels]
    return text, streams, level_probes


def verilator_name(path):
    """The C++ member of ``rootp`` holding the public signal at hierarchical name ``path``.

    Verilator joins the levels with ``__DOT__`` and encodes each one: a character other than a
    letter, a digit or an underscore (or a leading digit) becomes ``__0`` and its two hex
    digits, and the second of two underscores ``__05F``: ``o__payload$12`` is
    ``o___05Fpayload__02412``."""
    def encode(name):
        out, i = [], 0
        while i < len(name):
            char = name[i]
            if char.isascii() and (char.isalpha() or (i and char.isdigit())):
                out.append(char)
            elif char == "_":
                out.append("_")
                if name[i + 1:i + 2] == "_":
                    out.append("__05F")
                    i += 1
            else:
                out.append(f"__0{ord(char):02x}")
            i += 1
        return "".join(out)
    return "__DOT__".join(map(encode, path))


def _signals(streams, levels):
    for probe in streams:
        yield from (probe.valid, probe.ready, probe.payload)
    for probe in levels:
        yield probe.signal


_PLAIN = re.compile(r"[\w$.\[\]]+")


def verilator_config(streams, levels):
    """The Verilator configuration file that keeps the probed signals and makes them readable
    from C++ (Amaranth names each module after its hierarchical path)."""
    lines = ["`verilator_config"]
    for path in dict.fromkeys(_signals(streams, levels)):
        module, wire = ".".join(path[:-1]), path[-1]
        if not (_PLAIN.fullmatch(module) and _PLAIN.fullmatch(wire)):
            raise ValueError(f"cannot probe {'.'.join(path)!r}: unusual characters in the name")
        lines.append(f'public_flat_rd -module "{module}" -var "{wire}"')
    return "\n".join(lines) + "\n"


def harness_include(streams, levels):
    """The C++ that ``sim/verilator_harness.cpp`` includes to read the probes: their counts and
    ``sample_probes``, which hands every transfer and every level of the cycle to a recorder
    (see the harness)."""
    def ref(path):
        return f"root.{verilator_name(path)}"

    calls = [f"    if ({ref(p.valid)} && {ref(p.ready)}) "
             f"recorder.template transfer<{p.bytes}>({k}, {ref(p.payload)});"
             for k, p in enumerate(streams)]
    calls += [f"    recorder.level({k}, {ref(p.signal)});" for k, p in enumerate(levels)]
    return "\n".join([
        "// Generated by hwgen/simulation/taps.py: the probes of one design.",
        '#include "Vtop___024root.h"',
        f"static constexpr size_t STREAM_PROBES = {len(streams)};",
        f"static constexpr size_t LEVEL_PROBES = {len(levels)};",
        "template <typename Recorder>",
        "static inline void sample_probes(const Vtop___024root& root, Recorder& recorder) {",
        *calls,
        "}",
        "",
    ])
