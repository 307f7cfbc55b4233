"""mamori.windows: the one module that knows how windows relate (no Airflow import here: tests/unit).

Boundary cases are the point: windows crossing an hour or a day edge, the detection lag, cadences shorter and
longer than the lake's hour partitions, and UTC all the way (no DST: a window is a span of the epoch).
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mamori import windows as w
from mamori.config import ConfigError, load_settings

T = datetime(2026, 11, 1, tzinfo=UTC)
M = timedelta(minutes=1)


def at(hh: int, mm: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=UTC)


def test_importing_the_module_does_not_import_airflow():
    """tests/unit imports it (and config does): the timetable factory imports Airflow only when called.
    In a fresh interpreter, because other test directories of the same session import Airflow."""
    code = "import sys, mamori.windows, mamori.config; print(sorted(m for m in sys.modules if m.startswith('airflow')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_tags_round_trip_and_reject_other_text():
    assert w.window_tag(at(9, 15)) == "20261101T0915Z"
    assert w.parse_window_tag("20261101T0915Z") == at(9, 15)
    # an aware time in another offset names the same UTC instant
    assert (
        w.window_tag(datetime(2026, 11, 1, 10, 15, tzinfo=timezone(timedelta(hours=1)))) == "20261101T0915Z"
    )
    for bad in ("20261101T0915", "2026-11-01T09:15Z", "20261101T0915Z/../x", ""):
        with pytest.raises(ValueError):
            w.parse_window_tag(bad)


@pytest.mark.parametrize("minutes", w.ALLOWED_MINUTES)
def test_every_allowed_cadence_tiles_hours_and_days(minutes):
    step = timedelta(minutes=minutes)
    assert w.interval_problem(minutes) is None
    assert (w.HOUR % step == timedelta(0)) or (step % w.HOUR == timedelta(0) and w.DAY % step == timedelta(0))
    # the cron ticks are the epoch-aligned boundaries: a day holds DAY/step windows, each starting aligned
    starts = w.window_starts(T, T + w.DAY, step)
    assert len(starts) == w.DAY // step and all(w.is_aligned(t, step) for t in starts)


@pytest.mark.parametrize("minutes", [0, 7, 25, 45, 90, 300, 2880, -15])
def test_cadences_that_do_not_tile_are_refused(minutes):
    assert w.interval_problem(minutes) is not None
    with pytest.raises(ValueError, match="not a cadence"):
        w.cron(timedelta(minutes=minutes))


def test_cron_expressions():
    assert w.cron(timedelta(minutes=60)) == "0 * * * *"  # the hourly default, as before
    assert w.cron(timedelta(minutes=15)) == "*/15 * * * *"
    assert w.cron(timedelta(minutes=1)) == "* * * * *"
    assert w.cron(timedelta(hours=6)) == "0 */6 * * *"
    assert w.cron(timedelta(days=1)) == "0 0 * * *"


@pytest.mark.parametrize(
    ("name", "value"),
    [("MAMORI_INGEST_INTERVAL_MINUTES", "45"), ("MAMORI_DETECT_INTERVAL_MINUTES", "90")],
)
def test_config_names_the_variable_of_a_cadence_that_does_not_tile(name, value):
    with pytest.raises(ConfigError) as err:
        load_settings({name: value})
    assert err.value.setting == name
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(name) and msg.endswith(f"not {value}") and "divide 60" in msg


def test_the_default_cadence_is_5_minutes_and_the_sensor_pokes_at_a_tenth_of_it():
    """Issue 19: landing → ticket p95 within 15 minutes needs windows that close every few minutes (an hourly
    window alone waits 30 minutes on average); the sensor's 2-minute poke would be 40% of such a window."""
    s = load_settings({})
    assert (s.ingest_interval, s.detect_interval, s.detect_poke) == (5 * M, 5 * M, timedelta(seconds=30))
    assert load_settings({"MAMORI_INGEST_INTERVAL_MINUTES": "10"}).detect_poke == timedelta(seconds=60)
    assert load_settings({"MAMORI_DETECT_INTERVAL_MINUTES": "60"}).detect_poke == 2 * M
    assert load_settings({"MAMORI_DETECT_POKE_SECONDS": "7"}).detect_poke == timedelta(seconds=7)
    assert [w.poke_interval(m * M).total_seconds() for m in (1, 5, 10, 15, 20, 60, 1440)] == [
        30,
        30,
        60,
        90,
        120,
        120,
        120,
    ]


def test_detect_interval_follows_the_ingest_interval_unless_set():
    assert load_settings({}).detect_interval == load_settings({}).ingest_interval == 5 * M
    assert load_settings({"MAMORI_INGEST_INTERVAL_MINUTES": "15"}).detect_interval == 15 * M
    s = load_settings({"MAMORI_INGEST_INTERVAL_MINUTES": "15", "MAMORI_DETECT_INTERVAL_MINUTES": "60"})
    assert (s.ingest_interval, s.detect_interval) == (15 * M, w.HOUR)
    # compose passes an unset variable as empty: that is the default, not an error
    s = load_settings({"MAMORI_INGEST_INTERVAL_MINUTES": "30", "MAMORI_DETECT_INTERVAL_MINUTES": ""})
    assert (s.ingest_interval, s.detect_interval) == (30 * M, 30 * M)


def test_floors_are_epoch_aligned_in_utc():
    assert w.hour_floor(at(9, 59)) == at(9) and w.hour_floor(at(10)) == at(10)
    assert w.day_floor(at(23, 59)) == at(0) and w.day_floor(at(0, 0, day=2)) == at(0, 0, day=2)
    # an instant written in another offset floors to the UTC hour/day, not the local one
    local = datetime(2026, 11, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))  # 23:30Z on the 1st
    assert w.day_floor(local) == at(0) and w.hour_floor(local) == at(23)
    assert w.floor(at(9, 29), 15 * M) == at(9, 15)


def test_airflow_pendulum_times_and_naive_times_work_like_utc_datetimes():
    """Airflow hands tasks pendulum DateTimes (their differences do not divide by a timedelta); naive means UTC."""
    pendulum = pytest.importorskip("pendulum")
    p = pendulum.datetime(2026, 11, 1, 11, 20, tz="UTC")
    assert w.floor(p, 15 * M) == at(11, 15) and type(w.floor(p, 15 * M)) is datetime
    assert w.ingest_windows_needed(p, p + timedelta(minutes=40), 30 * M) == [at(11), at(11, 30)]
    assert w.is_aligned(pendulum.datetime(2026, 11, 1, 11, 30, tz="UTC"), 30 * M)
    assert w.hour_floor(datetime(2026, 11, 1, 11, 20)) == at(11)


def test_dedup_buckets_are_unchanged():
    """The third part of an alert key: same starts as before the move (epoch-aligned floor of the period)."""
    assert w.bucket_start(at(9, 29, day=1) + timedelta(seconds=59), 15 * M) == at(9, 15)
    assert w.bucket_start(at(23, 59), w.DAY) == at(0)
    assert w.bucket_start(at(0, 0, day=2), w.DAY) == at(0, 0, day=2)
    assert w.bucket_start(at(5, 10), timedelta(hours=6)) == at(0)


def test_run_dates_are_interval_ends():
    assert w.hours_between(T, T + 3 * w.HOUR) == [T + w.HOUR, T + 2 * w.HOUR, T + 3 * w.HOUR]
    assert w.run_dates(T, T + w.HOUR, 15 * M) == [T + 15 * M, T + 30 * M, T + 45 * M, T + w.HOUR]
    assert w.run_dates(T, T, w.HOUR) == []


def test_hours_touched_by_short_windows_and_windows_crossing_edges():
    assert w.hours_touched(at(9, 15), at(9, 30)) == [at(9)]
    assert w.hours_touched(at(9, 45), at(10)) == [at(9)]  # half-open: the end hour is not touched
    assert w.hours_touched(at(9, 45), at(10, 15)) == [at(9), at(10)]
    # across midnight: both days' partitions
    assert w.partitions_touched(at(23, 30), at(0, 30, day=2)) == {"2026-11-01": ["23"], "2026-11-02": ["00"]}
    assert len(w.hours_touched(T, T + w.DAY)) == 24
    with pytest.raises(ValueError, match="empty window"):
        w.hours_touched(at(9), at(9))


def test_detection_window_is_the_data_interval_shifted_back_by_the_lag():
    dw = w.detection_window(at(11), at(12), w.HOUR)
    assert (dw.start, dw.end, dw.last) == (at(10), at(11), at(11) - w.TICK)
    # a lag that crosses midnight
    dw = w.detection_window(at(0, 15, day=2), at(0, 30, day=2), w.HOUR)
    assert (dw.start, dw.end) == (at(23, 15), at(23, 30))


def test_detect_waits_for_exactly_the_ingest_windows_that_exist():
    # hourly both: the one window ending at the run's end (what detect always waited for)
    assert w.ingest_windows_needed(at(11), at(12), w.HOUR) == [at(11)]
    # 15-minute ingest under hourly detection: the four that tile the hour
    assert w.ingest_windows_needed(at(11), at(12), 15 * M) == [at(11), at(11, 15), at(11, 30), at(11, 45)]
    # same cadence: one window each
    assert w.ingest_windows_needed(at(11, 15), at(11, 30), 15 * M) == [at(11, 15)]
    # hourly ingest under 15-minute detection: the hour containing the run, not a 15-minute window
    assert w.ingest_windows_needed(at(11, 30), at(11, 45), w.HOUR) == [at(11)]
    # 6-hour ingest, hourly detection across midnight
    assert w.ingest_windows_needed(at(23), at(0, 0, day=2), 6 * w.HOUR) == [at(18)]


def test_detect_runs_over_late_events():
    # hourly detection, lag 1h: the hour 10:00 was evaluated by the run starting 11:00
    assert w.detect_runs_over(at(10), at(11), w.HOUR, w.HOUR) == [at(11)]
    # 15-minute detection: four runs evaluated parts of that hour
    assert w.detect_runs_over(at(10), at(11), 15 * M, w.HOUR) == [at(11), at(11, 15), at(11, 30), at(11, 45)]
    # a lag that is not a multiple of the interval: both hourly runs that saw part of the hour
    assert w.detect_runs_over(at(10), at(11), w.HOUR, 30 * M) == [at(10), at(11)]
    assert w.late_horizon(at(12), w.HOUR) == at(11)


def test_run_sequence_replays_the_schedule_in_order():
    same = w.run_sequence(at(0), at(2), w.HOUR, w.HOUR)
    assert same == [("ingest", at(0)), ("detect", at(0)), ("ingest", at(1)), ("detect", at(1))]
    mixed = w.run_sequence(at(0), at(1), 30 * M, w.HOUR)
    assert mixed == [("ingest", at(0)), ("ingest", at(0, 30)), ("detect", at(0))]
    # a detect run shorter than an ingest window comes after the ingest window that covers it
    fast = w.run_sequence(at(0), at(1), w.HOUR, 30 * M)
    assert fast == [("ingest", at(0)), ("detect", at(0)), ("detect", at(0, 30))]


def test_empty_windows_are_refused():
    with pytest.raises(ValueError, match="empty window"):
        w.Window(at(9), at(9))
