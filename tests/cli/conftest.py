"""Fixtures of the command-line tests: the lake of cli_lake.py, built once, copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_lake import Lake, build


@pytest.fixture(scope="session")
def built_lake(tmp_path_factory) -> Lake:
    return build(tmp_path_factory.mktemp("cli-lake"))


@pytest.fixture
def lake(built_lake: Lake, tmp_path: Path, monkeypatch) -> Lake:
    """A private copy of the session's lake, exported as MAMORI_HOME for the command line."""
    home = tmp_path / "home"
    shutil.copytree(built_lake.home, home, copy_function=shutil.copy2)
    monkeypatch.setenv("MAMORI_HOME", str(home))
    for var in (
        "MAMORI_RAW_URL",
        "MAMORI_LAKE_URL",
        "MAMORI_LEDGER_URL",
        "MAMORI_OUTBOX_URL",
        "MAMORI_SQL_DIR",
        "MAMORI_ENGINE",
    ):
        monkeypatch.delenv(var, raising=False)
    return Lake(home, built_lake.steps, built_lake.records, built_lake.objects)
