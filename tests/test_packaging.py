"""The installed package holds every subpackage of the source tree: pyproject.toml names them
explicitly, and the tests, run from the checkout, would not notice one left out."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_every_subpackage_is_installed():
    packages = set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                   ["tool"]["setuptools"]["packages"])
    source = {".".join(path.parent.relative_to(ROOT).parts)
              for path in (ROOT / "hwgen").rglob("__init__.py")}
    assert source <= packages, sorted(source - packages)
