"""``hwgen explore``'s directory and cache: what marks a directory as an explore directory
(:data:`EXPLORE_DIR`, for :func:`~.build.check_output_dir`), and :class:`ResultCache`, results
on disk by content: keys from :func:`source_digest` (hwgen's version and source) and
:func:`network_digest` (the network's description as built and every array, whatever files
they came from) for each candidate, or :func:`description_digest` (the description's files)
for a whole run.
"""

import hashlib
import json
import os
from pathlib import Path

import yaml

from .. import __version__
from .build import GENERATOR, OutputKind, built_description

__all__ = ["EXPLORE_DIR", "ResultCache", "digest", "source_digest", "network_digest",
           "description_digest", "write_whole"]

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


def digest(*parts):
    """The SHA-256 of ``parts`` (text or bytes), each length-prefixed so that no two lists of
    parts run together alike."""
    sha = hashlib.sha256()
    for part in parts:
        part = part if isinstance(part, bytes) else str(part).encode()
        sha.update(len(part).to_bytes(8, "little") + part)
    return sha.hexdigest()


def source_digest():
    """hwgen's version and the SHA-256 of its source: the models and the generators are code,
    so any change to it invalidates every cached figure."""
    root = Path(__file__).resolve().parent.parent
    files = sorted(root.rglob("*.py"))
    return digest(__version__, *(part for path in files
                                 for part in (str(path.relative_to(root)), path.read_bytes())))


def network_digest(network):
    """The SHA-256 of ``network``'s content: its description as built (names, shapes,
    datatypes, folding) and every array (weights, thresholds), whatever files they came from."""
    doc, arrays = built_description(network)
    return digest(json.dumps(doc, sort_keys=True, default=str),
                   *(part for key in sorted(arrays)
                     for part in (key, str(arrays[key].dtype), str(arrays[key].shape),
                                  arrays[key].tobytes())))


def description_digest(path):
    """The SHA-256 of the description file ``path`` and of every file it names (its
    ``params`` and any ``{file: ...}`` array), or None if it cannot be read as YAML (loading
    it then says what is wrong): a whole run is recognised before the network is loaded."""
    path = Path(path)
    try:
        text = path.read_bytes()
        names = set()
        pending = [yaml.safe_load(text)]
        while pending:
            node = pending.pop()
            if isinstance(node, dict):
                names.update(value for key, value in node.items()
                             if key in ("params", "file") and isinstance(value, str))
                pending += node.values()
            elif isinstance(node, list):
                pending += node
        files = [(name, path.parent / name) for name in sorted(names)]
        return digest(text, *(part for name, file in files
                              for part in (name, file.read_bytes() if file.is_file() else b"")))
    except (OSError, yaml.YAMLError):
        return None


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
