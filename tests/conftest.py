"""What every test module shares: one hwgen cache for the whole session, away from the user's.

Every test, and every ``hwgen`` process a test starts, finds ``$HWGEN_CACHE`` pointing at the same
fresh directory: a Verilator model or a synthesis result that one test builds, another that
needs the same design takes from the cache instead of building it again.
"""

import pytest


@pytest.fixture(scope="session")
def hwgen_cache(tmp_path_factory):
    """The session's ``$HWGEN_CACHE`` (Verilator builds under ``verilator/``, synthesis results
    under ``synthesis/``)."""
    return tmp_path_factory.mktemp("hwgen-cache")


@pytest.fixture(autouse=True)
def _session_cache(hwgen_cache, monkeypatch):
    monkeypatch.setenv("HWGEN_CACHE", str(hwgen_cache))
