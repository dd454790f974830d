"""Drive a one-input, one-output streaming component in Amaranth's simulator.

A producer feeds words to ``dut.i`` with random gaps and a consumer takes words from ``dut.o``
with random stalls; the consumer also checks the stream rules of the output (once valid, the
payload stays put and valid stays high until the transfer). Used by the engine tests and by
``hwgen sim --backend amaranth``.
"""

import random
from dataclasses import dataclass

from amaranth.sim import Simulator

__all__ = ["StreamRun", "StreamProtocolError", "run_stream"]


class StreamProtocolError(AssertionError):
    """The component broke a stream rule, deadlocked, or produced too many words."""


@dataclass
class StreamRun:
    outputs: list          # output words, in order
    output_cycles: list    # cycle of each output transfer (cycle 0 = first cycle after reset)
    input_cycles: list     # cycle of each input transfer
    cycles: int            # cycles until the last output


def run_stream(dut, inputs, n_outputs, *, gap_prob=0.0, stall_prob=0.0, seed=0,
               max_cycles=None, drain_cycles=16, vcd=None):
    """Stream ``inputs`` through ``dut`` and collect ``n_outputs`` words.

    ``gap_prob`` is the chance that the producer idles on a cycle before offering its next
    word; ``stall_prob`` the chance that the consumer holds ``ready`` low on a cycle. After the
    last expected word the consumer stays ready for ``drain_cycles`` more cycles and fails if
    any further word appears. ``max_cycles`` (default: generous, from the stream lengths) bounds
    the run so that a deadlock fails instead of hanging.
    """
    inputs = list(inputs)
    if max_cycles is None:
        max_cycles = 1000 + 20 * (len(inputs) + n_outputs)
    rng_in, rng_out = random.Random(seed), random.Random(seed + 1)
    run = StreamRun([], [], [], 0)

    async def producer(ctx):
        cycle = 0
        for word in inputs:
            while gap_prob and rng_in.random() < gap_prob:
                await ctx.tick()
                cycle += 1
            ctx.set(dut.i.payload, word)
            ctx.set(dut.i.valid, 1)
            while True:
                _, _, ready = await ctx.tick().sample(dut.i.ready)
                cycle += 1
                if ready:
                    run.input_cycles.append(cycle - 1)
                    break
                if cycle > max_cycles:
                    return
            ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        pending = None      # payload offered but not taken on the previous cycle
        for cycle in range(max_cycles + drain_cycles):
            draining = len(run.outputs) >= n_outputs
            if draining and cycle >= run.cycles + drain_cycles:
                return
            ready = draining or not (stall_prob and rng_out.random() < stall_prob)
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if pending is not None and (not valid or payload != pending):
                raise StreamProtocolError(
                    f"cycle {cycle}: output withdrawn or changed before it was taken "
                    f"(was {pending:#x}, now valid={valid} payload={payload:#x})")
            pending = None
            if valid and ready:
                if draining:
                    raise StreamProtocolError(
                        f"cycle {cycle}: output word {len(run.outputs)} beyond the "
                        f"{n_outputs} expected ({payload:#x})")
                run.outputs.append(payload)
                run.output_cycles.append(cycle)
                if len(run.outputs) == n_outputs:
                    run.cycles = cycle + 1
            elif valid:
                pending = payload
        raise StreamProtocolError(
            f"no progress: {len(run.outputs)} of {n_outputs} outputs after {max_cycles} cycles "
            f"({len(run.input_cycles)} of {len(inputs)} inputs taken)")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    if vcd:
        with sim.write_vcd(str(vcd)):
            sim.run()
    else:
        sim.run()
    return run
