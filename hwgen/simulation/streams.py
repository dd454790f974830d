"""Drive streaming components in Amaranth's simulator.

A producer per input stream feeds words with random gaps and a consumer per output stream takes
words with random stalls, each independently; every consumer also checks the stream rules of
its output (once valid, the payload stays put and valid stays high until the transfer).
:func:`run_stream` drives the one-input, one-output engines (``dut.i``, ``dut.o``);
:func:`run_streams` any number of either (``dut.i[k]``, ``dut.o[k]`` for the arrays of
streams that ``In(...).array(n)`` and ``Out(...).array(n)`` make). Used by the engine tests and
by ``hwgen sim --backend amaranth``.

With ``burst`` above 1 the gaps and stalls come in on/off periods instead of independent draws,
as in the Verilator harness (see :func:`run_streams`); ``watch`` records the largest value of
signals inside the component (a FIFO's fill level).
"""

import random
from dataclasses import dataclass, field

from amaranth.hdl import Fragment
from amaranth.sim import Simulator

__all__ = ["StreamRun", "StreamsRun", "StreamProtocolError", "run_stream", "run_streams",
           "stream_ports"]


class StreamProtocolError(AssertionError):
    """The component broke a stream rule, deadlocked, or produced too many words."""


@dataclass
class StreamRun:
    outputs: list          # output words, in order
    output_cycles: list    # cycle of each output transfer (cycle 0 = first cycle after reset)
    input_cycles: list     # cycle of each input transfer
    cycles: int            # cycles until the last output
    maxima: dict = field(default_factory=dict)     # watched signal name -> largest value


@dataclass
class StreamsRun:
    """As :class:`StreamRun`, with a list per port (in port order) for each of the three."""

    outputs: list
    output_cycles: list
    input_cycles: list
    cycles: int            # cycles until the last output on any port
    maxima: dict = field(default_factory=dict)     # watched signal name -> largest value


def stream_ports(port):
    """The streams of a port: itself, or the members of an array of streams."""
    return list(port) if isinstance(port, (list, tuple)) else [port]


def run_stream(dut, inputs, n_outputs, *, gap_prob=0.0, stall_prob=0.0, seed=0, burst=1,
               max_cycles=None, drain_cycles=16, vcd=None, watch=None):
    """Stream ``inputs`` through ``dut`` and collect ``n_outputs`` words.

    ``gap_prob`` is the chance that the producer idles on a cycle before offering its next
    word; ``stall_prob`` the chance that the consumer holds ``ready`` low on a cycle. After the
    last expected word the consumer stays ready for ``drain_cycles`` more cycles and fails if
    any further word appears. ``max_cycles`` (default: generous, from the stream lengths) bounds
    the run so that a deadlock fails instead of hanging. ``burst`` and ``watch``: see
    :func:`run_streams`.
    """
    run = run_streams(dut, [inputs], [n_outputs], gap_prob=gap_prob, stall_prob=stall_prob,
                      seed=seed, burst=burst, max_cycles=max_cycles, drain_cycles=drain_cycles,
                      vcd=vcd, watch=watch)
    return StreamRun(run.outputs[0], run.output_cycles[0], run.input_cycles[0], run.cycles,
                     run.maxima)


def run_streams(dut, inputs, n_outputs, *, gap_prob=0.0, stall_prob=0.0, seed=0, burst=1,
                max_cycles=None, drain_cycles=16, vcd=None, watch=None):
    """Stream ``inputs[k]`` (a list of words) into input stream k of ``dut`` and collect
    ``n_outputs[k]`` words from output stream k (streams as :func:`stream_ports` lists them).

    Each producer and consumer draws its own gaps or stalls: ``gap_prob`` and ``stall_prob``
    are one probability for all, or a list with one per port. Producer k's generator is seeded
    with ``seed + 2k``, consumer k's with ``seed + 2k + 1`` (so one port each is exactly
    :func:`run_stream`). With ``burst`` (at least 1) above 1, each producer and consumer
    alternates between on and off periods of random geometric lengths instead, off the same
    fraction of its draws, the periods ``burst`` times as long on average as with independent
    draws (as the Verilator harness's ``--burst``; a producer draws on the cycles in which it
    has no word waiting, a consumer on every cycle before the drain). The consumers stay ready
    for ``drain_cycles`` after the last expected word of every port and fail if any further
    word appears; ``max_cycles`` (default: generous,
    from the stream lengths) bounds the run so that a deadlock fails instead of hanging.

    ``watch``: a function given ``dut`` elaborated (its :class:`~amaranth.hdl.Fragment`) that
    returns ``{name: signal}`` of signals inside it; the run records the largest value each
    takes, sampled every cycle before the clock edge, in ``maxima``.
    """
    if not burst >= 1:
        raise ValueError(f"burst must be at least 1, not {burst!r}")
    in_ports, out_ports = stream_ports(dut.i), stream_ports(dut.o)
    bench = _Bench([list(words) for words in inputs], list(n_outputs), max_cycles, drain_cycles)
    if (len(bench.inputs), len(bench.n_outputs)) != (len(in_ports), len(out_ports)):
        raise ValueError(f"the component has {len(in_ports)} input and {len(out_ports)} output "
                         f"streams, not {len(inputs)} and {len(n_outputs)}")
    design = Fragment.get(dut, None)
    sim = Simulator(design)
    sim.add_clock(1e-8)
    for k, (port, prob) in enumerate(zip(in_ports, _per_port(gap_prob, len(in_ports)))):
        sim.add_testbench(bench.producer(k, port, _OnOff(random.Random(seed + 2 * k), prob,
                                                         burst)))
    for k, (port, prob) in enumerate(zip(out_ports, _per_port(stall_prob, len(out_ports)))):
        sim.add_testbench(bench.consumer(k, port, _OnOff(random.Random(seed + 2 * k + 1), prob,
                                                         burst)))
    if watch is not None:
        sim.add_process(bench.watcher(watch(design)))
    if vcd:
        with sim.write_vcd(str(vcd)):
            sim.run()
    else:
        sim.run()
    return bench.run


def _per_port(prob, ports):
    probs = list(prob) if isinstance(prob, (list, tuple)) else [prob] * ports
    if len(probs) != ports:
        raise ValueError(f"{len(probs)} probabilities for {ports} streams")
    return probs


class _OnOff:
    """The gaps or stalls of one port: :meth:`off` draws whether the next cycle is off. A
    two-state chain that goes off with chance ``p / burst`` when on and stays off with chance
    ``1 - (1 - p) / burst`` when off (off a fraction ``p`` of the draws); at ``burst`` 1 both
    are ``p``, one independent draw per cycle."""

    def __init__(self, rng, p, burst):
        self.rng, self.to_off, self.is_off = rng, p / burst, False
        self.stay_off = p if burst == 1 else 1 - (1 - p) / burst

    def off(self):
        chance = self.stay_off if self.is_off else self.to_off
        self.is_off = bool(chance) and self.rng.random() < chance
        return self.is_off


class _Bench:
    """The producers and consumers of one run, and what they record (:attr:`run`)."""

    def __init__(self, inputs, n_outputs, max_cycles, drain_cycles):
        self.inputs, self.n_outputs, self.drain_cycles = inputs, n_outputs, drain_cycles
        self.max_cycles = (1000 + 20 * (sum(map(len, inputs)) + sum(n_outputs))
                           if max_cycles is None else max_cycles)
        self.run = StreamsRun([[] for _ in n_outputs], [[] for _ in n_outputs],
                              [[] for _ in inputs], 0)

    def producer(self, k, port, gaps):
        """A testbench offering input k's words on ``port``, idling before each word while
        ``gaps`` (an :class:`_OnOff`) is off."""
        words, input_cycles = self.inputs[k], self.run.input_cycles[k]

        async def producer(ctx):
            cycle = 0
            for word in words:
                while gaps.off():
                    await ctx.tick()
                    cycle += 1
                ctx.set(port.payload, word)
                ctx.set(port.valid, 1)
                while True:
                    _, _, ready = await ctx.tick().sample(port.ready)
                    cycle += 1
                    if ready:
                        input_cycles.append(cycle - 1)
                        break
                    if cycle > self.max_cycles:
                        return
                ctx.set(port.valid, 0)
        return producer

    def consumer(self, k, port, stalls):
        """A testbench taking output k's words from ``port``, stalling on the cycles that
        ``stalls`` (an :class:`_OnOff`) draws off, and checking the stream rules; it stays ready
        and watchful until ``drain_cycles`` after every output's last expected word."""
        run, expected = self.run, self.n_outputs[k]
        outputs, output_cycles = run.outputs[k], run.output_cycles[k]
        name = "output" if len(self.n_outputs) == 1 else f"output {k}"

        async def consumer(ctx):
            pending = None      # payload offered but not taken on the previous cycle
            for cycle in range(self.max_cycles + self.drain_cycles):
                draining = len(outputs) >= expected
                if self._all_out() and cycle >= run.cycles + self.drain_cycles:
                    return
                ready = draining or not stalls.off()
                ctx.set(port.ready, ready)
                _, _, valid, payload = await ctx.tick().sample(port.valid, port.payload)
                if pending is not None and (not valid or payload != pending):
                    raise StreamProtocolError(
                        f"cycle {cycle}: {name} withdrawn or changed before it was taken "
                        f"(was {pending:#x}, now valid={valid} payload={payload:#x})")
                pending = None
                if valid and ready:
                    if draining:
                        raise StreamProtocolError(
                            f"cycle {cycle}: {name} word {len(outputs)} beyond the "
                            f"{expected} expected ({payload:#x})")
                    outputs.append(payload)
                    output_cycles.append(cycle)
                    if len(outputs) == expected:
                        run.cycles = max(run.cycles, cycle + 1)
                elif valid:
                    pending = payload
            raise StreamProtocolError(f"no progress: {self._progress()}")
        return consumer

    def watcher(self, signals):
        """A process recording the largest value of each of ``signals`` ({name: signal})."""
        maxima = self.run.maxima
        maxima.update(dict.fromkeys(signals, 0))

        async def watcher(ctx):
            async for _, _, *values in ctx.tick().sample(*signals.values()):
                for name, value in zip(signals, values):
                    maxima[name] = max(maxima[name], value)
        return watcher

    def _all_out(self):
        return all(len(got) >= n for got, n in zip(self.run.outputs, self.n_outputs))

    def _progress(self):
        """How far the run got (worded as it always was when there is one stream each)."""
        outputs = _counts(self.run.outputs, self.n_outputs, "outputs")
        inputs = _counts(self.run.input_cycles, list(map(len, self.inputs)), "inputs taken")
        return f"{outputs} after {self.max_cycles} cycles ({inputs})"


def _counts(done, totals, what):
    """"3 of 5 inputs taken", or one such count per stream."""
    return ", ".join(f"{len(d)} of {total} {what}" + (f" (stream {k})" if len(totals) > 1 else "")
                     for k, (d, total) in enumerate(zip(done, totals)))
