"""Fixtures of the search tests: the shared generated lake (built once per session, ~5 s; `search_lake` says
what is in it) and a moto server."""

from __future__ import annotations

import pytest
from moto_support import moto_process
from search_lake import HOURS, SOURCES, START, build_lake


@pytest.fixture(scope="session")
def lake_settings(tmp_path_factory):
    """Settings of the shared lake (DuckDB engine); tests must not write to it."""
    from mamori.config import load_settings

    home = tmp_path_factory.mktemp("search-lake")
    build_lake(home, START, HOURS, SOURCES)
    return load_settings({"MAMORI_HOME": str(home)})


@pytest.fixture
def lake_env(lake_settings, monkeypatch):
    """The shared lake exported for code that calls load_settings() (the command line)."""
    monkeypatch.setenv("MAMORI_HOME", str(lake_settings.home))
    monkeypatch.delenv("MAMORI_ENGINE", raising=False)
    for var in ("MAMORI_RAW_URL", "MAMORI_LAKE_URL", "MAMORI_QUERY_BUDGET_BYTES"):
        monkeypatch.delenv(var, raising=False)
    return lake_settings


@pytest.fixture(scope="session")
def moto_url():
    """A moto server process (S3 + Athena over HTTP) on 127.0.0.1 for the search tier, stopped by process group."""
    with moto_process() as url:
        yield url
