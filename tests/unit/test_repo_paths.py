"""Paths to the repository that code derives from its own file location.

Moving a module one package deeper (mamori/local.py -> mamori/dev/local.py, cli.py -> cli/__init__.py) silently
pointed the local Airflow at an empty DAG folder and no plugins: the scheduler e2e tier then timed out waiting for
DAGs. These checks catch it in seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_the_local_airflow_launcher_points_at_the_repos_dags_and_plugins() -> None:
    from mamori.dev import local

    assert local.REPO == REPO
    assert (local.REPO / "dags" / "ingest.py").is_file()
    assert (local.REPO / "plugins").is_dir()


def test_the_embedded_cli_environment_uses_the_repos_dag_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    from mamori import cli

    monkeypatch.delenv("AIRFLOW__CORE__DAGS_FOLDER", raising=False)
    monkeypatch.setenv("MAMORI_HOME", "/nonexistent/mamori-home")
    for var in ("AIRFLOW_HOME", "AIRFLOW__CORE__LOAD_EXAMPLES", "GX_ANALYTICS_ENABLED"):
        monkeypatch.setenv(var, os.environ.get(var, "x"))
    cli._embedded_env()
    assert os.environ["AIRFLOW__CORE__DAGS_FOLDER"] == str(REPO / "dags")


def test_the_default_sql_folder_is_the_repos() -> None:
    from mamori import config

    assert config._REPO_SQL == REPO / "sql"
