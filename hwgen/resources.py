"""Where hwgen's non-Python files live: ``templates/`` (files the generator fills in) and
``sim/`` (the Verilator harness) at the repository root.

A source checkout (or an editable install) reads them in place; ``pip install .`` installs the
same directories as ``hwgen/templates`` and ``hwgen/sim`` (see pyproject.toml), which are looked
at first.
"""

from pathlib import Path

__all__ = ["template", "sim_source"]

_PACKAGE = Path(__file__).resolve().parent


def _find(directory, name):
    for root in (_PACKAGE, _PACKAGE.parent):
        if (root / directory / name).is_file():
            return root / directory / name
    raise FileNotFoundError(f"hwgen file {directory}/{name} is missing from this installation")


def template(name):
    """Path of ``templates/<name>``; FileNotFoundError if neither location has it."""
    return _find("templates", name)


def sim_source(name):
    """Path of ``sim/<name>``; FileNotFoundError if neither location has it."""
    return _find("sim", name)
