"""sum_tree: the sum and its latency, for popcounts (bit planes) and adder trees alike; counter:
its registered flags."""

import numpy as np
import pytest
from amaranth import ClockDomain, Module, Signal, signed
from amaranth.sim import Simulator

from hwgen.engines.datapath import counter, sum_tree, tree_levels


def simulate(m, bench):
    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


# Popcounts: up to FANIN bits (adders only), then bit planes with full and short last slices
# (9 and 10: groups of 3 and 2 nodes), several levels (49: TFC's fc0; 255: 8-bit thresholds).
@pytest.mark.parametrize("lo, hi, n", [(0, 1, n) for n in (1, 2, 4, 5, 6, 7, 8, 9, 10, 13, 17,
                                                          49, 64, 65, 255)]
                         + [(-4, 3, 1), (-4, 3, 7), (0, 15, 16)])
def test_sum_and_latency(lo, hi, n):
    """The sum of the terms presented ``tree_levels(n)`` cycles ago (free-running)."""
    rng = np.random.default_rng(n)
    m = Module()
    m.domains.sync = ClockDomain()    # also when a single term needs no register
    terms = [Signal(signed(4) if lo < 0 else range(hi + 1)) for _ in range(n)]
    total = sum_tree(m, terms, lo, hi)
    vectors = rng.integers(lo, hi + 1, size=(40, n))
    seen = []

    async def bench(ctx):
        for cycle, vector in enumerate(vectors):
            for term, value in zip(terms, vector):
                ctx.set(term, int(value))
            if cycle >= tree_levels(n):
                seen.append((ctx.get(total), int(vectors[cycle - tree_levels(n)].sum())))
            await ctx.tick()

    simulate(m, bench)
    assert len(seen) == 40 - tree_levels(n) and all(got == want for got, want in seen)


@pytest.mark.parametrize("modulus", [1, 2, 3, 7])
def test_counter_flags(modulus):
    """The flags equal value == 0 and value == modulus - 1 on every cycle, stepping or not."""
    m = Module()
    m.domains.sync = ClockDomain()
    advance = Signal()
    value, first, last = counter(m, advance, modulus, "c")
    rng = np.random.default_rng(modulus)
    states = []

    async def bench(ctx):
        for step in rng.random(60) < 0.6:
            ctx.set(advance, int(step))
            states.append((ctx.get(value), ctx.get(first), ctx.get(last), int(step)))
            await ctx.tick()

    simulate(m, bench)
    expected = 0
    for value_now, first_now, last_now, step in states:
        assert (value_now, first_now, last_now) == (expected, expected == 0,
                                                    expected == modulus - 1)
        expected = (expected + step) % modulus
