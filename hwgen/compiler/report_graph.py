"""The dataflow graph of a build, from its report alone: nodes, edges, a layered layout, Mermaid.

:func:`dataflow` reads ``report.json``'s data (a dict as :func:`~.build.report` returns it) into
a :class:`Dataflow`: a node per design node (engines and plumbing: FIFOs, width converters,
forks) plus two terminals, the pipeline's input and output, and an edge per stream, labelled
with its width and, into a FIFO, the FIFO's depth. Both renderings of a report draw from it:
:func:`mermaid` (the ```mermaid block of report.md) and :mod:`.report_html`'s SVG, which places
it with :func:`layout`.

The layout is the classic layered one (Sugiyama), small enough to compute here rather than
depend on Graphviz or a JavaScript library: column = longest path from the input; an edge that
skips columns passes through a waypoint in each (so that a residual shortcut runs beside its
branch, not through it); order within each column by repeated barycenter sweeps, keeping the
order with the fewest crossings; then heights that keep edges straight (each point at the mean
of its neighbours', packed apart by isotonic regression). Everything is deterministic: ties are
broken by the report's (topological) node order.
"""

from dataclasses import dataclass

from .lowering import Graph

__all__ = ["GraphNode", "Edge", "Dataflow", "dataflow", "heat", "Layout", "layout", "mermaid"]

PLUMBING = Graph.PLUMBING   # FIFOs, width converters, forks: they pass a word per cycle, as fast
# as the engines beside them; never the bottleneck, not on the colour scale
SCALE = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")   # ColorBrewer YlOrRd:
# sequential, light to dark, readable in grey and by the colour-blind; the bottleneck is the end


@dataclass
class GraphNode:
    """A box: ``id`` is unique and safe as a Mermaid or HTML identifier; ``row`` is the
    report's node row (None for the two terminals, ``kind`` "input" or "output")."""
    id: str
    name: str
    kind: str
    row: dict = None

    @property
    def terminal(self):
        return self.row is None

    @property
    def folding(self):
        """What the box says under its kind: "PE 4 SIMD 3", "depth 57", or ""."""
        row = self.row or {}
        if self.kind == "fifo":
            return f"depth {row['fifo_depth']}"
        return " ".join(f"{key.upper()} {row[key]}" for key in ("pe", "simd") if row.get(key))


@dataclass(frozen=True)
class Edge:
    """Stream ``index`` into ``dst`` (its input port, in order) from ``src`` (node ids)."""
    src: str
    dst: str
    index: int
    width: int
    fifo_depth: int = None   # when ``dst`` is a FIFO

    @property
    def label_lines(self):
        """["24 b"], or ["24 b", "depth 3"] into a FIFO."""
        return [f"{self.width} b"] + ([f"depth {self.fifo_depth}"] if self.fifo_depth else [])

    @property
    def label(self):
        return ", ".join(self.label_lines)


@dataclass
class Dataflow:
    """Nodes in topological order (input terminal first, output terminal last), edges in the
    order of their destinations and ports; ``bottleneck`` and its ``cycles`` per frame."""
    nodes: list
    edges: list
    bottleneck: str          # node id
    cycles: int

    def relative_cycles(self, node):
        """An engine's ideal cycles over the bottleneck's (at most 1); None for plumbing and
        terminals."""
        if node.terminal or node.kind in PLUMBING:
            return None
        return node.row["ideal_cycles"] / self.cycles


def heat(fraction):
    """The colour of ``fraction`` (0 to 1) of the bottleneck's cycles on :data:`SCALE`, as
    "#rrggbb", and the text colour readable on it."""
    position = min(max(fraction, 0.0), 1.0) * (len(SCALE) - 1)
    k = min(int(position), len(SCALE) - 2)
    a, b = (_rgb(SCALE[k]), _rgb(SCALE[k + 1]))
    rgb = [round(x + (y - x) * (position - k)) for x, y in zip(a, b)]
    luminance = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255
    return "#" + "".join(f"{c:02x}" for c in rgb), "#000000" if luminance > 0.55 else "#ffffff"


def _rgb(colour):
    return [int(colour[k:k + 2], 16) for k in (1, 3, 5)]


INPUT, OUTPUT = "stream_in", "stream_out"   # terminal ids; node ids all start "n_"


def dataflow(rep):
    """The :class:`Dataflow` of report dict ``rep`` (its node rows' ``inputs``: producer names,
    None for the pipeline input; ``output_node``: what the output reads)."""
    ids = _ids([row["name"] for row in rep["nodes"]])
    nodes = [GraphNode(INPUT, "input", "input")]
    nodes += [GraphNode(ids[row["name"]], row["name"], row["kind"], row) for row in rep["nodes"]]
    nodes.append(GraphNode(OUTPUT, "output", "output"))
    width = {None: rep["input"]["word_bits"], **{row["name"]: row["out_width"]
                                                  for row in rep["nodes"]}}
    edges = []
    for row in rep["nodes"]:
        for index, producer in enumerate(row["inputs"]):
            depth = row.get("fifo_depth")
            edges.append(Edge(ids.get(producer, INPUT), ids[row["name"]], index,
                              width[producer], depth))
    edges.append(Edge(ids[rep["output_node"]], OUTPUT, 0, width[rep["output_node"]]))
    return Dataflow(nodes, edges, ids[rep["totals"]["bottleneck"]],
                    rep["totals"]["bottleneck_cycles"])


def _ids(names):
    """{name: "n_" + the name with every character but letters, digits and _ made _}, made
    unique with a suffix (the prefix keeps Mermaid's keywords, such as ``end``, out)."""
    ids, taken = {}, set()
    for name in names:
        base = "n_" + "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_"
                              for c in name)
        node_id, k = base, 1
        while node_id in taken:
            k += 1
            node_id = f"{base}_{k}"
        taken.add(node_id)
        ids[name] = node_id
    return ids


def mermaid(flow):
    """A Mermaid ``flowchart LR`` of ``flow`` (without the ``` fence): engines as rectangles,
    plumbing rounded, terminals as stadiums, the bottleneck in a class of its own."""
    shapes = {"engine": '["{}"]', "plumbing": '("{}")', "terminal": '(["{}"])'}
    lines = ["flowchart LR"]
    for node in flow.nodes:
        role = _role(node)
        text = node.name if node.terminal else "<br/>".join(
            filter(None, [node.name, node.kind, node.folding]))
        if node.id == flow.bottleneck:
            text += "<br/>bottleneck"
        lines.append(f"  {node.id}{shapes[role].format(_mermaid_text(text))}")
    lines += [f'  {e.src} -->|"{_mermaid_text(e.label)}"| {e.dst}' for e in flow.edges]
    plumbing = [node.id for node in flow.nodes if _role(node) == "plumbing"]
    lines += ["  classDef plumbing fill:#eeeeee,stroke:#999999",
              f"  classDef bottleneck fill:{SCALE[-1]},color:#ffffff,stroke:#000000,"
              "stroke-width:3px"]
    if plumbing:
        lines.append(f"  class {','.join(plumbing)} plumbing")
    lines.append(f"  class {flow.bottleneck} bottleneck")
    return "\n".join(lines)


def _role(node):
    if node.terminal:
        return "terminal"
    return "plumbing" if node.kind in PLUMBING else "engine"


def _mermaid_text(text):
    """Text safe inside a quoted Mermaid label (its entity codes for quotes)."""
    return text.replace('"', "#quot;")


@dataclass
class Layout:
    """Where everything goes: ``column[id]`` and ``y[id]`` (the centre) per node; ``points``,
    per edge (as in ``flow.edges``), the ``(column, y)`` of each waypoint between its ends."""
    column: dict
    y: dict
    points: list

    @property
    def columns(self):
        return max(self.column.values()) + 1


def layout(flow, spacing):
    """A layered :class:`Layout` of ``flow``; ``spacing(a, b)``: the least distance between the
    centres of a above b in one column (a, b: node ids, or None for a waypoint)."""
    column = {}
    for node in flow.nodes:          # topological: every producer is placed before its readers
        column[node.id] = 1 + max((column[e.src] for e in flow.edges if e.dst == node.id),
                                  default=-1)
    # Chains of waypoints: an edge spanning k columns gets k - 1 of them, (edge index, step).
    chains = [[(i, c) for c in range(column[e.src] + 1, column[e.dst])]
              for i, e in enumerate(flow.edges)]
    layers = [[] for _ in range(max(column.values()) + 1)]
    for node in flow.nodes:
        layers[column[node.id]].append(node.id)
    for chain in chains:
        for point in chain:
            layers[point[1]].append(point)
    # Neighbours, through waypoints: a point's predecessors (one column left) and successors.
    preds, succs = {key: [] for layer in layers for key in layer}, {}
    for i, e in enumerate(flow.edges):
        path = [e.src, *chains[i], e.dst]
        for a, b in zip(path, path[1:]):
            preds[b].append(a)
    for key, sources in preds.items():
        for source in sources:
            succs.setdefault(source, []).append(key)
    layers = _order(layers, preds, succs)
    y = _heights(layers, preds, succs, spacing)
    points = [[(c, y[(i, c)]) for i, c in chain] for chain in chains]
    return Layout(column, {node.id: y[node.id] for node in flow.nodes}, points)


SWEEPS = 8


def _order(layers, preds, succs):
    """The layers reordered by barycenter sweeps, left to right then right to left, to reduce
    crossings; the best order seen (the first one, on ties) is kept."""
    best, best_crossings = [list(layer) for layer in layers], _crossings(layers, preds)
    for sweep in range(SWEEPS):
        forward = sweep % 2 == 0
        indices = range(1, len(layers)) if forward else range(len(layers) - 2, -1, -1)
        for i in indices:
            neighbours = preds if forward else succs
            position = {key: p for p, key in enumerate(layers[i - 1 if forward else i + 1])}
            layers[i] = sorted(layers[i], key=lambda key: _barycenter(
                [position[n] for n in neighbours.get(key, [])], layers[i].index(key)))
        crossings = _crossings(layers, preds)
        if crossings < best_crossings:
            best, best_crossings = [list(layer) for layer in layers], crossings
    return best


def _barycenter(positions, current):
    # A node without neighbours on that side keeps its place (sorted is stable).
    return sum(positions) / len(positions) if positions else current


def _crossings(layers, preds):
    total = 0
    for left, right in zip(layers, layers[1:]):
        position = {key: p for p, key in enumerate(left)}
        segments = [(position[a], j) for j, key in enumerate(right) for a in preds[key]]
        total += sum(1 for k, (a, b) in enumerate(segments) for c, d in segments[k + 1:]
                     if (a - c) * (b - d) < 0)
    return total


def _heights(layers, preds, succs, spacing, passes=12):
    """{key: y}: each key's y pulled towards the mean of its neighbours' (all of them, both
    sides), column by column, each column packed to keep its order and spacing; rounded to
    whole units, the smallest 0."""
    y = {}
    for layer in layers:
        y.update(zip(layer, _offsets(layer, spacing)))
    for _ in range(passes):
        for layer in layers:
            wanted = []
            for key in layer:
                near = preds.get(key, []) + succs.get(key, [])
                wanted.append(sum(y[n] for n in near) / len(near) if near else y[key])
            y.update(zip(layer, _pack(wanted, _offsets(layer, spacing))))
    low = min(y.values())
    return {key: round(value - low) for key, value in y.items()}


def _offsets(layer, spacing):
    """The least y of each key in ``layer`` above the first, keys spaced as ``spacing`` says."""
    offsets = [0]
    for a, b in zip(layer, layer[1:]):
        offsets.append(offsets[-1] + spacing(_node(a), _node(b)))
    return offsets


def _node(key):
    return key if isinstance(key, str) else None


def _pack(wanted, offsets):
    """The ys closest (least squares) to ``wanted`` with y[k + 1] - y[k] >= offsets[k + 1] -
    offsets[k]: isotonic regression of wanted - offsets (pool adjacent violators)."""
    blocks = []          # [mean, count]
    for value in (w - o for w, o in zip(wanted, offsets)):
        blocks.append([value, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m1, n1), (m2, n2) = blocks.pop(-2), blocks.pop()
            blocks.append([(m1 * n1 + m2 * n2) / (n1 + n2), n1 + n2])
    shifted = [mean for mean, count in blocks for _ in range(count)]
    return [s + o for s, o in zip(shifted, offsets)]
