"""Test-wide environment. Airflow reads its configuration on first import, so this runs before anything
imports airflow: a throwaway AIRFLOW_HOME (SQLite metadata DB), no example DAGs, this repo's dags/."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="mamori-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["GX_ANALYTICS_ENABLED"] = "False"
os.environ.pop("MAMORI_ENGINE", None)
# Most tests build their windows with the one 60-minute lag every source had before per-source delivery lags
# (detection window = data interval - 1 h) and no lookback re-reads; tests of the shipped defaults unset these
# (tests/quality/test_late_overlap.py, tests/unit/test_delivery_lag.py).
os.environ["MAMORI_DETECT_LAG_MINUTES"] = "60"
os.environ["MAMORI_DETECT_OVERLAP_MINUTES"] = "0"
# ...and the hourly cadence that was the default before the 5-minute one (issue 19): fixtures, golden lakes and
# e2e runs are written in hour windows. Tests of the shipped cadence unset it or read load_settings({}).
os.environ["MAMORI_INGEST_INTERVAL_MINUTES"] = "60"
# Tests must never touch the developer's real home or demo state.
os.environ["MAMORI_HOME"] = tempfile.mkdtemp(prefix="mamori-home-")
# Both are this process's alone: remove them at exit, or every pytest run leaves two directories in /tmp.
for _home in (_AIRFLOW_HOME, os.environ["MAMORI_HOME"]):
    atexit.register(shutil.rmtree, _home, True)

import pytest  # noqa: E402


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings rooted in a fresh tmp dir, also exported so code calling load_settings() sees the same."""
    from mamori.config import load_settings

    monkeypatch.setenv("MAMORI_HOME", str(tmp_path))
    for var in ("MAMORI_RAW_URL", "MAMORI_LAKE_URL", "MAMORI_LEDGER_URL", "MAMORI_OUTBOX_URL"):
        monkeypatch.delenv(var, raising=False)
    return load_settings()


@pytest.fixture(scope="session")
def airflow_db():
    """The Airflow metadata DB, created once per session (~4 s) for tests that run DAGs."""
    from airflow.utils import db

    db.initdb()
    return _AIRFLOW_HOME
