"""Which ingest windows a detect run waits for, and which detect runs late data repeats, at other cadences.

Both used to assume hourly detection over hourly ingest: the sensor looked for the one ingest window
`end - ingest_interval` (at 15-minute ingest under hourly detection it ignored three of the hour's four
windows; at hourly ingest under 15-minute detection it looked for windows that never exist), and late data
re-ran one hourly detect run per late hour whatever the detection cadence and lag.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mamori.config import load_settings
from mamori.detect import sources_ready
from mamori.health import late
from mamori.lake import Store, layout
from mamori.lake.manifests import WindowSummary
from mamori.sources import SOURCES

M = timedelta(minutes=1)


def at(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, 1, hh, mm, tzinfo=UTC)


def cadence(tmp_path, monkeypatch, **env: str):
    for k in (
        "MAMORI_INGEST_INTERVAL_MINUTES",
        "MAMORI_DETECT_INTERVAL_MINUTES",
        "MAMORI_DETECT_LAG_MINUTES",
    ):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("MAMORI_DETECT_LAG_MINUTES", "60")  # one lag for every source (conftest's)
    monkeypatch.setenv("MAMORI_INGEST_INTERVAL_MINUTES", "60")  # hourly unless a case says (the default was)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("MAMORI_HOME", str(tmp_path))
    return load_settings()


def finalize(s, *starts: datetime, late_hours: list[str] | None = None) -> None:
    """Mark ingest windows finalized for every source, as finalize_window's `_SUCCESS.json` does."""
    lake = Store(s.lake_url, s.lake_conn_id)
    for source in SOURCES:
        for t in starts:
            doc = WindowSummary(
                source, t.isoformat(), (t + s.ingest_interval).isoformat(), late_hours=late_hours or []
            )
            lake.write_atomic(layout.success_key(source, t), doc.to_json())


def test_hourly_detection_waits_for_every_short_ingest_window_of_its_hour(tmp_path, monkeypatch):
    s = cadence(
        tmp_path, monkeypatch, MAMORI_INGEST_INTERVAL_MINUTES="15", MAMORI_DETECT_INTERVAL_MINUTES="60"
    )
    finalize(s, at(11, 45))
    assert not sources_ready(at(12), s)  # 11:00, 11:15, 11:30 are not finalized yet
    finalize(s, at(11), at(11, 15), at(11, 30))
    assert sources_ready(at(12), s)


def test_short_detection_waits_for_the_hourly_ingest_window_that_exists(tmp_path, monkeypatch):
    s = cadence(
        tmp_path, monkeypatch, MAMORI_INGEST_INTERVAL_MINUTES="60", MAMORI_DETECT_INTERVAL_MINUTES="15"
    )
    assert not sources_ready(at(11, 30), s)
    finalize(s, at(11))  # the only ingest window of that hour: [11:00, 12:00)
    assert sources_ready(at(11, 30), s)


def test_hourly_detection_waits_for_the_one_window_ending_at_the_run_end(tmp_path, monkeypatch):
    s = cadence(tmp_path, monkeypatch)
    finalize(s, at(10))
    assert not sources_ready(at(12), s)
    finalize(s, at(11))
    assert sources_ready(at(12), s)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        # hourly: the one hourly run whose window is the late hour
        ({}, [(at(11), at(12), at(10), at(11))]),
        # a lag that is not a whole number of hours: two hourly runs each saw half of the hour
        (
            {"MAMORI_DETECT_LAG_MINUTES": "30"},
            [(at(10), at(11), at(9, 30), at(10, 30)), (at(11), at(12), at(10, 30), at(11, 30))],
        ),
        # 30-minute detection: both 30-minute runs of the hour, each with its own 30-minute data interval
        (
            {"MAMORI_DETECT_INTERVAL_MINUTES": "30"},
            [(at(11), at(11, 30), at(10), at(10, 30)), (at(11, 30), at(12), at(10, 30), at(11))],
        ),
    ],
    ids=["hourly", "lag-30m", "detect-30m"],
)
def test_late_rows_re_run_every_detect_run_that_saw_their_hour(tmp_path, monkeypatch, env, expected):
    s = cadence(tmp_path, monkeypatch, **env)
    # the ingest window [12:00, 13:00) wrote late rows into the event hour 10:00
    finalize(s, at(12), late_hours=[at(10).isoformat()])
    got = [
        tuple(
            datetime.fromisoformat(x)
            for x in (w["data_interval_start"], w["data_interval_end"], *w["detection_window"])
        )
        for w in late.windows_to_rerun(at(12), at(13), s)
    ]
    assert got == expected
