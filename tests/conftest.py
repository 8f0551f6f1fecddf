"""Shared fixtures: every test gets its own WORKBENCH_HOME (cache, history, live streams are hermetic)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
PLUGINS = TESTS / "plugins"
TEST_ENGINES = ",".join(
    f"wb_test_engines:{c}"
    for c in ("EchoEngine", "CrashEngine", "OomEngine", "HangEngine", "BrokenLoadEngine", "DriftEngine", "RaiseEngine")
)


@pytest.fixture(autouse=True)
def workbench_home(tmp_path, monkeypatch):
    home = tmp_path / "wbhome"
    home.mkdir()
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("shared-cache")


@pytest.fixture
def shared_cache(_session_cache, monkeypatch):
    """A model cache shared by the whole session (WORKBENCH_CACHE), so tiny models are exported once."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(_session_cache))
    return _session_cache


@pytest.fixture
def test_engines(monkeypatch):
    """Make the test-only engines (echo, crash, oomkill, hang, brokenload) loadable here and in children."""
    monkeypatch.setenv("WORKBENCH_ENGINE_PLUGINS", TEST_ENGINES)
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", f"{PLUGINS}{os.pathsep}{path}" if path else str(PLUGINS))
    monkeypatch.syspath_prepend(str(PLUGINS))
    return TEST_ENGINES
