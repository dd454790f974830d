"""report.html: a build's report as one self-contained page, from report.json's data alone.

:func:`report_html` takes the report dict (:func:`~.build.report`, or ``report.json`` read
back) and returns the page: the network, generator and (assumed) clock; the totals; the
dataflow graph as inline SVG (:mod:`.report_graph`'s layered layout, engines coloured by their
ideal cycles relative to the bottleneck, the bottleneck outlined, a legend, each edge labelled
with its stream's width and, into a FIFO, the FIFO's depth; hovering a box shows its whole row);
per node, cycles and resources as bars; the folding chosen and why FIFOs have their depths.

Nothing is fetched: no script, stylesheet, font or image from anywhere, so the file can be
mailed, archived or opened offline. Text is sized in a monospace font so that the layout can
measure it here. The same report gives the same bytes.
"""

from html import escape

from ..errors import frames_per_second, plural
from .report_graph import PLUMBING, SCALE, dataflow, heat, layout

__all__ = ["report_html"]

FONT = 12                     # px, node text, monospace: a character is 0.6 of it wide
CHAR = 0.6 * FONT
LINE = FONT + 3               # px between lines of a box
LABEL_FONT = 10               # px, edge labels
PAD = 8                       # px inside a box, around its text
GAP_Y = 18                    # px between boxes in a column
MIN_GAP_X = 36                # px between columns, widened to fit the edge labels there
MARGIN = 24                   # px around the graph (room for the bottleneck's tag above it)
PLUMBING_FILL, TERMINAL_FILL = "#eeeeee", "#ffffff"
BAR = "#4a7bb7"               # resource bars
BOLD = ' font-weight="bold"'  # a box's first line, its name


def report_html(rep):
    """The page for report dict ``rep`` (see the module's docstring), as text."""
    return _PAGE.format(
        title=escape(rep["network"]),
        style=_STYLE,
        header=_header(rep),
        totals=_totals(rep),
        legend=_legend(),
        graph=_graph_svg(rep),
        nodes=_nodes_table(rep),
        folding=_folding(rep),
        reasons=_reasons(rep),
    )


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}: hwgen build report</title>
<style>{style}</style>
</head>
<body>
{header}
{totals}
<h2>Dataflow</h2>
{legend}
<div class="scroll">{graph}</div>
<h2>Nodes</h2>
<p>In topological order. Bars: ideal cycles per frame relative to the bottleneck's; estimated
resources relative to the node that uses the most.</p>
{nodes}
{folding}
{reasons}
</body>
</html>
"""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { margin-bottom: 0.2em; }
.meta { color: #555; margin-top: 0; }
code, td, th, .mono { font-family: monospace; }
.scroll { overflow-x: auto; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 2px 8px; text-align: right; }
th { background: #f4f4f4; }
td.name, th.name { text-align: left; }
td.bar { min-width: 120px; position: relative; }
td.bar div { position: absolute; left: 0; top: 2px; bottom: 2px; opacity: 0.85; }
td.bar span { position: relative; }
tr.bottleneck td { font-weight: bold; }
.legend { display: flex; gap: 2em; align-items: center; font-size: 13px; margin: 0.5em 0; }
"""


def _header(rep):
    return (f"<h1>{escape(rep['network'])}</h1>\n<p class=\"meta\">Built by "
            f"{escape(rep['generator'])}, top level <code>{escape(rep['top'])}</code>; clock "
            f"{rep['clock_mhz']:g} MHz, assumed, not measured (<code>hwgen estimate --target ecp5 "
            "--pnr</code> measures it).</p>")


def _totals(rep):
    t = rep["totals"]
    resources = ", ".join(f"{v} {k.upper().replace('_', ' ')}" for k, v in t["resources"].items())
    buffers = ", ".join([f"{t['buffer_bits']['total']:,} bits in all"]
                        + [f"{v:,} in {_buffers(k)}"
                           for k, v in t["buffer_bits"].items() if k != "total"])
    items = [
        ("Bottleneck", f"<code>{escape(t['bottleneck'])}</code>, "
                       f"{plural(t['bottleneck_cycles'], 'cycle')} per frame"),
        ("Throughput", f"{frames_per_second(t['frames_per_second'])} at an assumed "
                       f"{rep['clock_mhz']:g} MHz"),
        ("Latency", f"about {plural(t['latency_estimate_cycles'], 'cycle')} from the first "
                    "input word to the first output word (estimated from the engines' timing "
                    "models; <code>hwgen sim</code> measures it)"),
        ("Resources", f"{resources} (estimated)"),
        ("Buffers", buffers),
        ("Input", _stream(rep["input"], "s_axis")),
        ("Output", _stream(rep["output"], "m_axis")),
    ]
    rows = "\n".join(f"<tr><th class=\"name\">{key}</th><td class=\"name\">{value}</td></tr>"
                     for key, value in items)
    return f"<table>\n{rows}\n</table>"


def _buffers(kind):
    """"line buffers" for "line_buffer", "partial results" for "partial_results"."""
    name = kind.replace("_", " ")
    return name if name.endswith("s") else name + "s"


def _stream(info, prefix):
    return (f"{plural(info['words_per_frame'], 'word')} per frame "
            f"({plural(info['bytes_per_frame'], 'byte')}) of {info['elements_per_word']} x "
            f"{escape(info['datatype'])} ({prefix}_tdata {info['tdata_bits']} bits)")


def _legend():
    stops = "".join(f'<stop offset="{k / (len(SCALE) - 1):.2f}" stop-color="{c}"/>'
                    for k, c in enumerate(SCALE))
    scale = (f'<svg width="260" height="34" role="img"><defs><linearGradient id="scale">{stops}'
             '</linearGradient></defs><rect x="0" y="0" width="200" height="14" '
             'fill="url(#scale)" stroke="#999"/><text x="0" y="28" font-size="11">0</text>'
             '<text x="200" y="28" font-size="11" text-anchor="end">100%</text></svg>')
    return (f'<div class="legend"><span>Engine fill: ideal cycles per frame relative to the '
            f'bottleneck\'s</span>{scale}'
            f'<span><svg width="28" height="16"><rect x="2" y="2" width="24" height="12" '
            f'fill="{SCALE[-1]}" stroke="#000" stroke-width="3"/></svg> bottleneck</span>'
            f'<span><svg width="28" height="16"><rect x="2" y="2" width="24" height="12" '
            f'fill="{PLUMBING_FILL}" stroke="#888" stroke-dasharray="3 2"/></svg> '
            'FIFO, width converter, fork (a word per cycle)</span></div>')


def _box_lines(flow, node, rep):
    """The lines of text in ``node``'s box, the name first."""
    if node.terminal:
        info = rep[node.kind]
        return [node.name, f"{info['elements_per_word']} x {info['datatype']}"]
    lines = [node.name, node.kind]
    if node.folding:
        lines.append(node.folding)
    fraction = flow.relative_cycles(node)
    if fraction is not None:
        lines.append(f"{node.row['ideal_cycles']} cyc, {fraction:.0%}")
    return lines


def _box_size(lines):
    return (round(max(len(line) for line in lines) * CHAR) + 2 * PAD,
            len(lines) * LINE + 2 * PAD - 3)


def _graph_svg(rep):
    flow = dataflow(rep)
    lines = {node.id: _box_lines(flow, node, rep) for node in flow.nodes}
    size = {key: _box_size(text) for key, text in lines.items()}

    def spacing(a, b):
        height = [size[key][1] if key else 0 for key in (a, b)]
        return (height[0] + height[1]) / 2 + GAP_Y

    place = layout(flow, spacing)
    # Column widths, then the gaps after them, wide enough for the labels of the edges that
    # start there (an edge is labelled on its first segment).
    widths = [0] * place.columns
    for key, (width, _) in size.items():
        widths[place.column[key]] = max(widths[place.column[key]], width)
    gaps = [MIN_GAP_X] * place.columns
    for edge in flow.edges:
        column = place.column[edge.src]
        gaps[column] = max(gaps[column],
                           round(max(map(len, edge.label_lines)) * 0.6 * LABEL_FONT) + 24)
    left, x = [], MARGIN
    for width, gap in zip(widths, gaps):
        left.append(x)
        x += width + gap
    total_width = x - gaps[-1] + MARGIN

    # Layout ys are centres: shift them so that the highest box's top is at MARGIN.
    shift = MARGIN - min(place.y[key] - height // 2 for key, (_, height) in size.items())

    def box(key):     # x, y of the top left corner, width, height
        column = place.column[key]
        width, height = size[key]
        return (left[column] + (widths[column] - width) // 2, place.y[key] + shift - height // 2,
                width, height)

    total_height = max(box(key)[1] + size[key][1] for key in size) + MARGIN
    out = [f'<svg width="{total_width}" '
           f'height="{total_height}" viewBox="0 0 {total_width} {total_height}" '
           'class="dataflow" role="img" font-family="monospace">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker>'
           '</defs>']
    out += _edges_svg(flow, place, box, left, widths, shift)
    out += [_node_svg(flow, node, lines[node.id], box(node.id)) for node in flow.nodes]
    out.append("</svg>")
    return "\n".join(out)


def _edges_svg(flow, place, box, left, widths, shift):
    """An SVG ``g.edge`` per edge: a smooth path through its waypoints, its label on the first
    segment. A node's inputs arrive spread over its left side in port order, its outputs
    (a fork's) leave spread over its right side in the order of where they go."""
    inputs, outputs = {}, {}
    for i, edge in enumerate(flow.edges):
        inputs.setdefault(edge.dst, []).append(i)
        outputs.setdefault(edge.src, []).append(i)

    def first_y(i):
        points = place.points[i]
        return points[0][1] if points else place.y[flow.edges[i].dst]

    for indices in outputs.values():
        indices.sort(key=lambda i: (first_y(i), i))
    out = []
    for i, edge in enumerate(flow.edges):
        sx, sy, sw, sh = box(edge.src)
        dx, dy, _, dh = box(edge.dst)
        start = (sx + sw, sy + sh / 2 + _spread(outputs[edge.src].index(i),
                                                len(outputs[edge.src]), sh))
        end = (dx, dy + dh / 2 + _spread(inputs[edge.dst].index(i), len(inputs[edge.dst]), dh))
        path, point = [f"M{start[0]:g},{start[1]:g}"], start
        for column, y in place.points[i]:
            y += shift
            path.append(_curve(point, (left[column], y)))
            path.append(f"H{left[column] + widths[column]}")
            point = (left[column] + widths[column], y)
        path.append(_curve(point, end))
        label_end = (left[place.points[i][0][0]], place.points[i][0][1] + shift) \
            if place.points[i] else end
        lx = (start[0] + label_end[0]) / 2
        ly = (start[1] + label_end[1]) / 2 - 4 - (len(edge.label_lines) - 1) * LABEL_FONT
        label = "".join(f'<tspan x="{lx:g}" dy="{LABEL_FONT if k else 0}">{escape(line)}</tspan>'
                        for k, line in enumerate(edge.label_lines))
        out.append(f'<g class="edge" data-from="{edge.src}" data-to="{edge.dst}">'
                   f'<path d="{" ".join(path)}" fill="none" stroke="#555" stroke-width="1.3" '
                   f'marker-end="url(#arrow)"/>'
                   f'<text x="{lx:g}" y="{ly:g}" font-size="{LABEL_FONT}" text-anchor="middle" '
                   f'fill="#333" stroke="#fff" stroke-width="3" paint-order="stroke">'
                   f'{label}</text></g>')
    return out


def _spread(k, n, height):
    """Offset from the middle of a side of ``height`` of connection ``k`` of ``n``."""
    return (k - (n - 1) / 2) * min(14, height / (n + 1))


def _curve(a, b):
    """A cubic from ``a`` to ``b`` leaving and arriving horizontally."""
    middle = (a[0] + b[0]) / 2
    return f"C{middle:g},{a[1]:g} {middle:g},{b[1]:g} {b[0]:g},{b[1]:g}"


def _node_svg(flow, node, lines, box):
    x, y, width, height = box
    fraction = flow.relative_cycles(node)
    classes = ["node", "terminal" if node.terminal else node.kind]
    stroke = 'stroke="#555"'
    if node.terminal:
        fill, text = TERMINAL_FILL, "#000000"
    elif fraction is None:
        fill, text = PLUMBING_FILL, "#000000"
        stroke = 'stroke="#888" stroke-dasharray="3 2"'
    else:
        fill, text = heat(fraction)
    tag = ""
    if node.id == flow.bottleneck:
        classes.append("bottleneck")
        stroke = 'stroke="#000" stroke-width="3"'
        tag = (f'<text x="{x}" y="{y - 5}" font-size="11" font-weight="bold" '
               f'fill="{SCALE[-1]}">BOTTLENECK</text>')
    rx = height // 2 if node.terminal else 4
    spans = "".join(
        f'<text x="{x + PAD}" y="{y + PAD + FONT - 2 + k * LINE}" font-size="{FONT}" '
        f'fill="{text}"{BOLD if k == 0 else ""}>{escape(line)}</text>'
        for k, line in enumerate(lines))
    return (f'<g class="{" ".join(classes)}" id="{node.id}"><title>{escape(_tooltip(flow, node))}'
            f'</title><rect x="{x}" y="{y}" width="{width}" height="{height}" rx="{rx}" '
            f'fill="{fill}" {stroke}/>{spans}{tag}</g>')


def _tooltip(flow, node):
    """The node's whole report row, a line per entry."""
    if node.terminal:
        return f"the pipeline's {node.kind} stream"
    row = node.row
    lines = [f"{row['name']} ({row['kind']}, layer {row['layer']})",
             "inputs: " + ", ".join(name or "pipeline input" for name in row["inputs"])]
    lines += [f"{key.upper()}: {row[key]}" for key in ("pe", "simd") if key in row]
    if "style" in row:
        lines.append(f"style: {row['style']}")
    lines.append(f"in {row['in_width']} bits, out {row['out_width']} bits")
    fraction = row["ideal_cycles"] / flow.cycles
    lines.append(f"ideal cycles per frame: {row['ideal_cycles']} ({fraction:.1%} of the "
                 "bottleneck's)")
    lines.append("resources: " + ", ".join(f"{v} {k.upper()}" for k, v in
                                           row["resources"].items()))
    lines.append("buffer bits: " + (", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in
                                              row["buffer_bits"].items()) or "none"))
    for key, what in (("fifo_depth", "FIFO depth"), ("buffer_depth", "buffer depth")):
        if key in row:
            lines.append(f"{what}: {row[key]} words")
    if "fifo_reason" in row:
        lines.append(f"why: {row['fifo_reason']}")
    return "\n".join(lines)


def _nodes_table(rep):
    bottleneck = rep["totals"]["bottleneck_cycles"]
    most = {key: max([row["resources"][key] for row in rep["nodes"]] + [1])
            for key in ("lut", "ff", "bram18")}
    head = ("<tr><th class=\"name\">node</th><th class=\"name\">kind</th><th>PE</th>"
            "<th>SIMD</th><th>in bits</th><th>out bits</th><th>FIFO depth</th>"
            "<th class=\"name\">ideal cycles</th><th class=\"name\">LUT</th>"
            "<th class=\"name\">FF</th><th class=\"name\">BRAM18</th><th>DSP</th></tr>")
    rows = []
    for row in rep["nodes"]:
        r = row["resources"]
        fraction = row["ideal_cycles"] / bottleneck
        colour = PLUMBING_FILL if row["kind"] in PLUMBING else heat(fraction)[0]
        marked = ' class="bottleneck"' if row["name"] == rep["totals"]["bottleneck"] else ""
        cells = [f'<td class="name">{escape(row["name"])}</td>',
                 f'<td class="name">{escape(row["kind"])}</td>',
                 *(f"<td>{row.get(key, '')}</td>" for key in ("pe", "simd")),
                 f"<td>{row['in_width']}</td><td>{row['out_width']}</td>",
                 f"<td>{row.get('fifo_depth', '')}</td>",
                 _bar(row["ideal_cycles"], fraction, colour),
                 *(_bar(r[key], r[key] / most[key], BAR) for key in ("lut", "ff", "bram18")),
                 f"<td>{r['dsp']}</td>"]
        rows.append(f"<tr{marked}>{''.join(cells)}</tr>")
    return "<table>\n" + head + "\n" + "\n".join(rows) + "\n</table>"


def _bar(value, fraction, colour):
    """A table cell with ``value`` over a bar ``fraction`` (at most 1) of its width."""
    return (f'<td class="bar name"><div style="width:{min(fraction, 1):.1%};'
            f'background:{colour}"></div><span>{value}</span></td>')


def _folding(rep):
    if not rep["folding"]:
        return ""
    rows = "\n".join(
        f"<tr><td class=\"name\">{escape(c['layer'])}</td><td>{c['pe']}</td>"
        f"<td>{c['simd'] or ''}</td><td>{c['ideal_cycles']}</td>"
        f"<td>{'yes' if c['meets_target'] else '<b>NO</b>'}</td>"
        f"<td>{'yes' if c['hinted'] else ''}</td></tr>" for c in rep["folding"])
    return (f"<h2>Folding</h2>\n<p>Chosen for a target of {rep['target_cycles']} cycles per "
            "frame:</p>\n<table>\n<tr><th class=\"name\">layer</th><th>PE</th><th>SIMD</th>"
            "<th>ideal cycles</th><th>meets target</th><th>from hints</th></tr>\n"
            f"{rows}\n</table>")


def _reasons(rep):
    reasons = [row for row in rep["nodes"] if "fifo_reason" in row]
    if not reasons:
        return ""
    items = "\n".join(f"<li><code>{escape(row['name'])}</code>: {row['fifo_depth']} words; "
                      f"{escape(row['fifo_reason'])}</li>" for row in reasons)
    return ("<h2>FIFOs where paths rejoin</h2>\n<p>Sized from the timed schedule of a frame so "
            f"that the join cannot deadlock and the pipeline keeps its rate:</p>\n<ul>\n{items}"
            "\n</ul>")
