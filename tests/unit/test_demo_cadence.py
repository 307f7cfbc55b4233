"""The demo's replay plan (`demo_env`, `demo_run_dates`): few dag.test() runs, and windows that still cover the day.

The demo replays its day in one landing window and six-hour detect windows, because every dag.test() run pays
fixed costs whatever its data.
What must hold for its alerts to be those of hourly windows: the detect runs' detection windows tile the
generated day exactly (no event evaluated twice, none missed), every detect run's sensor waits only for ingest
windows the demo runs, and ingest runs on past the day for the last deliveries. Checked here for the demo's own
cadence and for cadences set by hand; the full demo is not run here (its alerts and lake rows against hourly
windows: docs/operations.md, Cadence).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from mamori import windows
from mamori.config import load_settings
from mamori.dev.demo import DEMO_CADENCE, demo_env, demo_run_dates

START = datetime(2026, 11, 1, tzinfo=UTC)
END = START + timedelta(hours=24)


def _plan(env: dict[str, str]) -> tuple[list[datetime], list[datetime], timedelta, timedelta]:
    full = {"MAMORI_HOME": "/nonexistent/demo", **env}
    full.update(demo_env(full))
    s = load_settings(full)
    ingest, detect = demo_run_dates(START, END, s)
    return ingest, detect, s.ingest_interval, s.detect_interval


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"MAMORI_INGEST_INTERVAL_MINUTES": "60"},
        {"MAMORI_INGEST_INTERVAL_MINUTES": "15"},
        {"MAMORI_INGEST_INTERVAL_MINUTES": "60", "MAMORI_DETECT_INTERVAL_MINUTES": "360"},
        {"MAMORI_INGEST_INTERVAL_MINUTES": "1440"},
    ],
    ids=["demo", "hourly", "15min", "hourly-ingest-6h-detect", "daily"],
)
def test_detection_windows_tile_the_day_and_wait_only_for_ingest_windows_that_run(
    env: dict[str, str],
) -> None:
    ingest, detect, ingest_interval, detect_interval = _plan(env)
    s = load_settings({"MAMORI_HOME": "/nonexistent/demo", **env, **demo_env(env)})
    # The data interval Airflow infers for a manual run at a tick is the interval ending there
    # (tests/e2e/test_cadence.py reads it from the real timetable).
    spans = [windows.detection_window(d - detect_interval, d, s.detect_lag) for d in detect]
    assert spans[0].start == START and spans[-1].end == END
    assert all(a.end == b.start for a, b in itertools.pairwise(spans))
    ran = {d - ingest_interval for d in ingest}
    for d in detect:
        needed = windows.ingest_windows_needed(d - detect_interval, d, ingest_interval)
        assert set(needed) <= ran, f"detect run at {d} would wait for ingest windows the demo never runs"
    assert ingest[0] - ingest_interval == START
    assert ingest[-1] >= END + timedelta(hours=1)  # the last deliveries land up to ~40 minutes after the day


def test_the_demo_day_is_a_few_dozen_dag_runs_not_two_hundred() -> None:
    ingest, detect, ingest_interval, detect_interval = _plan({})
    assert (ingest_interval, detect_interval) == (timedelta(days=1), timedelta(hours=6))
    assert (len(ingest), len(detect)) == (2, 4)  # per ingest DAG; hourly it was 25 and 24


def test_a_cadence_set_by_hand_wins_and_the_lag_follows_it() -> None:
    hourly = demo_env({"MAMORI_INGEST_INTERVAL_MINUTES": "60"})
    assert "MAMORI_INGEST_INTERVAL_MINUTES" not in hourly
    assert "MAMORI_DETECT_INTERVAL_MINUTES" not in hourly  # config's default: the ingest interval
    assert hourly["MAMORI_DETECT_LAG_MINUTES"] == "60"
    assert demo_env({"MAMORI_DETECT_INTERVAL_MINUTES": "120"})["MAMORI_DETECT_LAG_MINUTES"] == "120"
    assert "MAMORI_DETECT_LAG_MINUTES" not in demo_env({"MAMORI_DETECT_LAG_MINUTES": "120"})
    assert demo_env({})["MAMORI_DETECT_LAG_MINUTES"] == DEMO_CADENCE["MAMORI_DETECT_INTERVAL_MINUTES"]
