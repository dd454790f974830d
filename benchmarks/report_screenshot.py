"""report.html as a browser shows it: a headless Chromium screenshot, and a check that it drew.

    python benchmarks/report_screenshot.py [NAME] [-o PNG] [--width 1600] [--height 1000]

Builds networks/NAME.yaml (default cnv-w1a1) with ``hwgen build`` into a temporary directory,
then, with Chromium (``apt-get install chromium``; or name the binary with --chromium):

- ``--dump-dom``: the page as Chromium parsed it must hold a node group (``g.node``) per design
  node and the two terminals, and an edge group (``g.edge``) per stream of the design;
- ``--screenshot``: a PNG of the page's first WIDTH x HEIGHT pixels (default
  report-NAME.png), which must have those dimensions and not be blank: a blank page filters
  to the same bytes on every row, a drawn one does not.

Exit status 1 if a check fails (what failed on stderr), 0 otherwise.
"""

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

from hwgen.compiler.build import build
from hwgen.network import load_network

ROOT = Path(__file__).resolve().parent.parent
MIN_DISTINCT_ROWS = 50    # a rendered report has hundreds; a blank page one or two


def chromium(binary, *args):
    """Run headless Chromium on ``args``; its stdout."""
    command = [binary, "--headless", "--disable-gpu", "--hide-scrollbars"]
    if os.geteuid() == 0:
        command.append("--no-sandbox")     # Chromium refuses to run as root with its sandbox
    result = subprocess.run(command + list(args), capture_output=True, text=True, timeout=120)
    if result.returncode:
        raise SystemExit(f"{binary} failed:\n{result.stderr}")
    return result.stdout


def check_dom(dom, rep):
    """What is wrong with the DOM Chromium built from report.html, or None."""
    nodes = len(re.findall(r'<g class="node\b', dom))
    edges = len(re.findall(r'<g class="edge"', dom))
    streams = sum(len(row["inputs"]) for row in rep["nodes"]) + 1      # + the output
    if nodes != len(rep["nodes"]) + 2 or edges != streams:
        return (f"the page drew {nodes} nodes and {edges} edges, not {len(rep['nodes'])} + 2 "
                f"terminals and {streams}")
    return None


def check_png(data, width, height):
    """What is wrong with screenshot ``data`` (PNG bytes), or None."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return "not a PNG"
    chunks, at = {}, 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        chunks[kind] = chunks.get(kind, b"") + data[at + 8:at + 8 + length]
        at += 12 + length
    size = struct.unpack(">II", chunks[b"IHDR"][:8])
    if size != (width, height):
        return f"{size[0]} x {size[1]} pixels, not {width} x {height}"
    pixels = zlib.decompress(chunks[b"IDAT"])
    stride = len(pixels) // height       # a filter byte, then the row's pixels
    rows = {pixels[k:k + stride] for k in range(0, len(pixels), stride)}
    if len(rows) < MIN_DISTINCT_ROWS:
        return f"blank: {len(rows)} distinct rows"
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", default="cnv-w1a1")
    parser.add_argument("-o", "--output", type=Path)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--chromium", default=next(
        (name for name in ("chromium", "chromium-browser", "google-chrome")
         if shutil.which(name)), None))
    args = parser.parse_args(argv)
    if args.chromium is None:
        raise SystemExit("no Chromium on PATH: apt-get install chromium, or give --chromium")
    output = (args.output or Path(f"report-{args.name}.png")).resolve()
    with tempfile.TemporaryDirectory() as work:
        _, rep = build(load_network(ROOT / "networks" / f"{args.name}.yaml"), Path(work) / "out")
        page = (Path(work) / "out" / "report.html").as_uri()
        problems = [check_dom(chromium(args.chromium, "--dump-dom", page), rep)]
        chromium(args.chromium, f"--window-size={args.width},{args.height}",
                 f"--screenshot={output}", page)
    problems.append(check_png(output.read_bytes(), args.width, args.height))
    problems = [problem for problem in problems if problem]
    for problem in problems:
        print(f"report_screenshot: {problem}", file=sys.stderr)
    print(f"{output}: {output.stat().st_size:,} bytes" + ("" if problems else ", checked"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
