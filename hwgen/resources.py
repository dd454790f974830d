"""Where hwgen's non-Python files live: ``templates/`` at the repository root.

A source checkout (or an editable install) reads them in place; ``pip install .`` installs the
same directory as ``hwgen/templates`` (see pyproject.toml), which is looked at first.
"""

from pathlib import Path

__all__ = ["template"]

_PACKAGE = Path(__file__).resolve().parent


def template(name):
    """Path of ``templates/<name>``; FileNotFoundError if neither location has it."""
    for directory in (_PACKAGE / "templates", _PACKAGE.parent / "templates"):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"hwgen template {name!r} is missing from this installation")
