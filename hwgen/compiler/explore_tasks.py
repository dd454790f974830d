"""What ``hwgen explore``'s workers run, and where: plain functions of picklable arguments
(the network and a folding), as Dask tasks.

- :func:`evaluate` (in chunks: :func:`evaluate_chunk`): a folding, or the network folded for a
  target, as the whole lowered design (:func:`design_of`: every layer pinned to its PE and
  SIMD, then :func:`~.build.design`), and its bottleneck cycles and modelled resources;
- :func:`confirm_design`: Yosys synthesis and a Verilator run with stalls of one folding;
- :func:`dask_pool`: a :class:`DaskPool` on a :class:`distributed.LocalCluster` or on the
  cluster of a scheduler's address.
"""

import os
import signal
from contextlib import ExitStack, contextmanager
from dataclasses import replace

from ..errors import HwgenError
from ..external import reporter
from .build import design

__all__ = ["evaluate", "evaluate_chunk", "confirm_design", "design_of", "described_folding",
           "synthesis_target", "DaskPool", "dask_pool", "SIM_FRAMES", "SIM_STALL_PROB"]

SIM_FRAMES = 4       # frames through Verilator per confirmed design
SIM_STALL_PROB = 0.2
SIGBUS_RETRIES = 1   # a Yosys run killed by SIGBUS is run again this many times


def folding_of(d):
    """The folding of design ``d``: (layer, pe, simd) per layer it chose a folding for."""
    return tuple((c.layer, c.pe, c.simd) for c in d.choices)


def pinned(network, folding):
    """``network`` with every layer of ``folding`` given its PE and SIMD as hints, so that
    folding keeps them (and fused activations follow their engine's PE)."""
    wanted = {name: (pe, simd) for name, pe, simd in folding}
    layers = []
    for layer in network.layers:
        if layer.name in wanted:
            pe, simd = wanted[layer.name]
            changes = {"pe": pe} if simd is None else {"pe": pe, "simd": simd}
            hints = frozenset(changes)
            layer = replace(layer, **changes)
            layer.hints = hints
        layers.append(layer)
    return replace(network, layers=layers)


def described_folding(network):
    """The folding the description gives (or its loader's defaults): (layer, pe, simd) per
    layer that has a folding, fused activations left out (they follow their engine)."""
    return tuple((layer.name, layer.pe, layer.folding().get("simd"))
                 for layer in network.layers
                 if layer.folding() and not getattr(layer, "fused_into", None))


def design_of(network, folding):
    """The whole lowered design of ``network`` at ``folding``."""
    network = pinned(network, folding)
    # Every layer of the folding keeps its hint whatever the target: the slowest layer's
    # cycles only make the report's "meets target" true.
    return design(network, max(1, *(layer.ideal_cycles() for layer in network.layers)))


def evaluate(network, spec, ignore_hints):
    """The :class:`Candidate` fields, as a JSON-ready dict, of ``spec``: ("target", cycles),
    the network folded for that target (:func:`~.build.design`), or ("folding", folding)."""
    kind, value = spec
    d = (design(network, value, ignore_hints=ignore_hints) if kind == "target"
         else design_of(network, value))
    folding = folding_of(d)
    bottleneck = d.bottleneck
    return {"folding": [list(f) for f in folding], "cycles": bottleneck.cycles(),
            "bottleneck": bottleneck.name,
            "layer_cycles": [[c.layer, c.cycles] for c in d.choices],
            "model": d.resources().as_dict()}


def evaluate_chunk(network, specs, ignore_hints):
    """A model task: :func:`evaluate` of each of ``specs``."""
    reporter.enabled = False      # a worker's steps would interleave on its stderr
    return [evaluate(network, spec, ignore_hints) for spec in specs]


def synthesis_target(part):
    """The Yosys flow for ``part``: ecp5 or ice40 for those families, else xc7."""
    return {"ECP5": "ecp5", "iCE40": "ice40"}.get(part.family, "xc7")


def _silent(seconds):
    """A progress callback that shows nothing: a worker's step lines would interleave."""


def confirm_design(network, folding, target, frames=SIM_FRAMES, stall_prob=SIM_STALL_PROB,
                   seed=0):
    """Synthesize the design of ``folding`` for ``target`` (:func:`~.estimate.estimate`) and
    stream ``frames`` seeded random frames through its Verilog in Verilator with stalls
    (:func:`~hwgen.simulation.run.simulate`): a JSON-ready dict with ``synthesis`` (totals)
    and ``simulation`` (``mismatches``, ``cycles_per_frame``, ...), or ``error`` naming what
    failed. A Yosys run killed by SIGBUS (two first runs of the WebAssembly at once) is run
    again once."""
    from ..simulation.run import SimulationFailed, simulate
    from ..synthesis import SynthesisError
    from .estimate import estimate

    reporter.enabled = False
    d = design_of(network, folding)
    for attempt in range(SIGBUS_RETRIES + 1):
        try:
            report = estimate(d, target, progress=_silent)
            break
        except SynthesisError as exc:
            if exc.status != -signal.SIGBUS or attempt == SIGBUS_RETRIES:
                # What failed, and the last line of the log's tail: most often, why.
                lines = str(exc).splitlines()
                why = f" ... {lines[-1].strip()}" if len(lines) > 1 else ""
                return {"error": f"synthesis failed: {lines[0]}{why}"}
    totals = report["totals"]
    result = {"synthesis": {"target": target, **{key: totals[key] for key in
                                                 ("lut", "lutram", "ff", "bram18", "dsp")}}}
    try:
        sim = simulate(d, network.random_frames(frames, seed), seed=seed,
                       stall_prob=stall_prob, progress=_silent)
    except SimulationFailed as exc:
        return {**result, "error": f"simulation failed: {exc}"}
    result["simulation"] = {
        "frames": frames, "stall_prob": stall_prob, "mismatches": sim.mismatches,
        "first_mismatch": str(sim.first_mismatch) if sim.first_mismatch else None,
        "cycles_per_frame": sim.cycles_per_frame, "ideal_cycles_per_frame":
        sim.ideal_cycles_per_frame, "latency_cycles": sim.latency_cycles}
    return result


class DaskPool:
    """Tasks on a Dask distributed client, connected on first use (a run that the cache
    answers starts no cluster): :meth:`share` a value with every worker once, :meth:`run`
    calls of plain functions, yielding (index, result) as they finish."""

    def __init__(self, connect):
        self.connect, self._client = connect, None

    @property
    def client(self):
        if self._client is None:
            self._client = self.connect()
        return self._client

    def share(self, value):
        return self.client.scatter(value, broadcast=True, hash=False)

    def run(self, function, calls):
        from distributed import as_completed

        if not calls:
            return
        futures = {self.client.submit(function, *args, pure=False): index
                   for index, args in enumerate(calls)}
        for future in as_completed(futures):
            yield futures[future], future.result()


@contextmanager
def dask_pool(scheduler=None, workers=None):
    """A :class:`DaskPool` on the cluster at ``scheduler`` (an address such as
    ``tcp://host:8786``), or on a :class:`distributed.LocalCluster` of ``workers`` processes of
    one thread each (default: the machine's cores); the client, and the local cluster with its
    processes, are shut down when the block ends, however it ends."""
    import logging

    from distributed import Client, LocalCluster

    # Dask's own log lines (workers and scheduler losing each other as the cluster closes on an
    # interruption) are not the user's concern: a task's failure reaches us as its exception.
    quiet = logging.CRITICAL + 1
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(quiet)
    with ExitStack() as stack:
        def connect():
            if scheduler is not None:
                try:
                    return stack.enter_context(Client(scheduler))
                except (OSError, ValueError) as exc:     # unreachable, or not an address
                    raise HwgenError(f"cannot connect to the Dask scheduler at {scheduler}: "
                                     f"{exc}", field="--scheduler") from None
            # A terminal's Ctrl-C reaches the whole process group, and a worker interrupted
            # prints its own traceback: the workers inherit SIGINT ignored (Python keeps an
            # inherited SIG_IGN), leaving it to this process, which shuts them down. A Ctrl-C
            # during these seconds of start-up is lost (ignored here too): press it again.
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                cluster = stack.enter_context(LocalCluster(
                    n_workers=workers or os.cpu_count(), threads_per_worker=1, processes=True,
                    dashboard_address=":0", silence_logs=quiet))
                client = stack.enter_context(Client(cluster))
            finally:
                signal.signal(signal.SIGINT, previous)
            return client
        yield DaskPool(connect)
