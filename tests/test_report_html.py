"""report.html and report.md's Mermaid graph, from the report of a design (no Verilog, no
browser): every node and edge of the design drawn, the bottleneck marked, engines coloured by
their cycles, nothing fetched from anywhere, the same bytes every time."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hwgen.compiler.build import design, report, report_markdown
from hwgen.compiler.report_graph import PLUMBING, SCALE, dataflow, heat, mermaid
from hwgen.compiler.report_html import report_html
from hwgen.network import load_network

NETWORKS = Path(__file__).parent.parent / "networks"


def build_report(name):
    d = design(load_network(NETWORKS / f"{name}.yaml"))
    return d, report(d, 100.0)


@pytest.fixture(scope="module", params=["mini-resnet", "cnv-w1a1"])
def built(request):
    """(design, report dict, report.html text, parsed page) of a network with forks and joins,
    and of a long chain with width converters."""
    d, rep = build_report(request.param)
    text = report_html(rep)
    return d, rep, text, Page(text)


class Page(HTMLParser):
    """The SVG groups of a page: ``nodes`` {name: attributes, plus "title" and "fill" (its
    rect's)}, ``edges`` [attributes]; and every tag's opening and closing counts."""

    def __init__(self, text):
        super().__init__()
        self.nodes, self.edges, self.opened, self.closed = {}, [], {}, {}
        self.group, self.in_title = None, False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.opened[tag] = self.opened.get(tag, 0) + 1
        if tag == "g" and "node" in attrs.get("class", "").split():
            self.group = attrs
        elif tag == "g" and attrs.get("class") == "edge":
            self.edges.append(attrs)
        elif tag == "title" and self.group is not None:
            self.in_title = True
        elif tag == "rect" and self.group is not None:
            self.group["fill"] = attrs["fill"]

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag):
        self.closed[tag] = self.closed.get(tag, 0) + 1
        if tag == "title":
            self.in_title = False
        elif tag == "g" and self.group is not None:
            if "terminal" not in self.group["class"]:
                name = self.group["title"].split(" ")[0]      # "<name> (<kind>, layer ...)"
                self.nodes[name] = self.group
            self.group = None

    def handle_data(self, data):
        if self.in_title:
            self.group["title"] = self.group.get("title", "") + data


def design_edges(d):
    """(producer, consumer) per stream of the design; None for the pipeline's input/output."""
    return sorted([(port.node or "", node.name) for node in d.nodes for port in node.inputs]
                  + [(d.output.node, "")])


def test_every_node_and_edge_is_drawn(built):
    d, rep, text, page = built
    assert sorted(page.nodes) == sorted(node.name for node in d.nodes)
    ids = {node: attrs["id"] for node, attrs in page.nodes.items()}
    names = {value: key for key, value in ids.items()}
    drawn = sorted((names.get(e["data-from"], ""), names.get(e["data-to"], ""))
                   for e in page.edges)
    assert drawn == design_edges(d)
    assert "\n" in page.nodes[d.nodes[0].name]["title"]      # the tooltip has the whole row
    # Edges say their width; edges into a FIFO its depth.
    fifo = next(node for node in d.nodes if node.kind == "fifo")
    assert re.search(rf'data-to="{ids[fifo.name]}">.*?<tspan[^>]*>{fifo.source.width} b</tspan>'
                     rf'<tspan[^>]*>depth {fifo.params.depth}</tspan>', text)


def test_the_mermaid_block_has_every_node_and_edge(built):
    d, rep, _, page = built
    md = report_markdown(rep)
    block = re.search(r"```mermaid\n(flowchart LR\n.*?)\n```", md, re.S).group(1)
    nodes = re.findall(r"^  (\w+)\W?[\[(]+\"(.*?)\"", block, re.M)
    assert [label.split("<br/>")[0] for _, label in nodes] \
        == ["input"] + [node.name for node in d.nodes] + ["output"]
    ids = [node_id for node_id, _ in nodes]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"[A-Za-z_]\w*", i) for i in ids)
    assert ids[1:-1] == [page.nodes[node.name]["id"] for node in d.nodes]   # as in the SVG
    assert len(re.findall(r"^  \w+ -->\|\"[^\"]+\"\| \w+$", block, re.M)) == len(design_edges(d))
    assert f"class {page.nodes[d.bottleneck.name]['id']} bottleneck" in block


def test_the_bottleneck_is_marked_and_colours_follow_cycles(built):
    d, _, _, page = built
    marked = [name for name, attrs in page.nodes.items() if "bottleneck" in attrs["class"]]
    assert marked == [d.bottleneck.name]
    assert page.nodes[d.bottleneck.name]["fill"] == SCALE[-1]
    engines = sorted((node for node in d.nodes if node.kind not in PLUMBING),
                     key=lambda node: node.cycles())
    darkness = [-sum(int(page.nodes[node.name]["fill"][k:k + 2], 16) for k in (1, 3, 5))
                for node in engines]
    assert darkness == sorted(darkness)       # more cycles, darker
    assert page.nodes[engines[0].name]["fill"] == heat(engines[0].cycles()
                                                       / d.bottleneck.cycles())[0]
    plumbing = {page.nodes[node.name]["fill"] for node in d.nodes if node.kind in PLUMBING}
    assert len(plumbing) == 1 and plumbing.isdisjoint(SCALE)


def test_the_page_parses_and_fetches_nothing(built):
    _, rep, text, page = built
    for tag in ("html", "svg", "g", "text", "table", "title"):
        assert page.opened.get(tag, 0) == page.closed.get(tag, 0) > 0, tag
    assert "http" not in text.lower()
    assert not re.search(r"""\b(src|href)\s*=\s*["']?(?!data:|#)""", text, re.I)
    assert not re.search(r"url\((?!#)", text) and "<link" not in text and "@import" not in text
    assert "assumed, not measured" in text and rep["generator"] in text


def test_it_needs_report_json_only_and_is_deterministic():
    _, rep = build_report("mini-resnet")
    text = report_html(rep)
    assert report_html(json.loads(json.dumps(rep))) == text
    assert report_html(build_report("mini-resnet")[1]) == text


def test_node_ids_stay_unique_when_names_differ_only_in_punctuation():
    _, rep = build_report("mini-resnet")
    rep = json.loads(json.dumps(rep).replace('"conv0_swg"', '"conv0-mvau"'))
    ids = [node.id for node in dataflow(rep).nodes]
    assert ids[ids.index("n_conv0_mvau") + 1] == "n_conv0_mvau_2" and len(set(ids)) == len(ids)
    assert mermaid(dataflow(rep)).count('n_conv0_mvau_2["conv0_mvau') == 1
