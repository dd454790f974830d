"""sum_tree: the sum and its latency, for popcounts (bit planes) and adder trees alike."""

import numpy as np
import pytest
from amaranth import ClockDomain, Module, Signal, signed
from amaranth.sim import Simulator

from hwgen.engines.datapath import sum_tree, tree_levels


# Popcounts: up to FANIN bits (adders only), then bit planes with full and short last slices
# (9 and 10: groups of 3 and 2 nodes), several levels (49: TFC's fc0; 255: 8-bit thresholds).
@pytest.mark.parametrize("lo, hi, n", [(0, 1, n) for n in (1, 2, 4, 5, 6, 7, 8, 9, 10, 13, 17,
                                                          49, 64, 65, 255)]
                         + [(-4, 3, 1), (-4, 3, 7), (0, 15, 16)])
def test_sum_and_latency_under_enable(lo, hi, n):
    """The sum of the terms entering while ``en`` was high ``tree_levels(n)`` times ago."""
    rng = np.random.default_rng(n)
    m = Module()
    m.domains.sync = ClockDomain()    # also when a single term needs no register
    en = Signal()
    terms = [Signal(signed(4) if lo < 0 else range(hi + 1)) for _ in range(n)]
    total = sum_tree(m, en, terms, lo, hi)
    vectors = rng.integers(lo, hi + 1, size=(40, n))
    enables = rng.random(40) < 0.7
    seen = []

    async def bench(ctx):
        entered = []    # sums of the terms present at enabled clock edges, oldest first
        for vector, enable in zip(vectors, enables):
            for term, value in zip(terms, vector):
                ctx.set(term, int(value))
            ctx.set(en, int(enable))
            entered_now = entered + [int(vector.sum())]   # as if this cycle were enabled
            if len(entered_now) > tree_levels(n):
                seen.append((ctx.get(total), entered_now[-1 - tree_levels(n)]))
            if enable:
                entered.append(int(vector.sum()))
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen and all(got == want for got, want in seen)
