"""Per-source delivery lags and the lookback overlap: settings, declarations and the windows they give."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mamori import windows
from mamori.config import ConfigError, load_settings
from mamori.sources import SPECS, delivery_lag, detection_trail

M = timedelta(minutes=1)
T = datetime(2026, 11, 1, 10, tzinfo=UTC)
SOURCES_DIR = Path(__file__).resolve().parents[2] / "include/mamori/sources"


def test_every_source_declares_its_delivery_lag_in_its_folder_within_the_runs_own_lag():
    """Declared, not inherited: the spec's 60-minute default would be a guess. None trails the run's own window
    (60 minutes when MAMORI_DETECT_LAG_MINUTES is unset), which the deadline and late-data re-runs are named by."""
    default = load_settings({}).detect_lag
    for name, spec in SPECS.items():
        tree = ast.parse((SOURCES_DIR / name / "spec.py").read_text())
        declared = {kw.arg for node in ast.walk(tree) if isinstance(node, ast.Call) for kw in node.keywords}
        assert "delivery_lag" in declared, f"{name}: declare delivery_lag in its spec.py"
        assert timedelta(0) < spec.delivery_lag <= default, name
    assert SPECS["cloudtrail"].delivery_lag == 15 * M and SPECS["alb"].delivery_lag == 10 * M


def test_unset_lag_means_each_sources_own_and_set_means_one_for_all():
    s = load_settings({})
    assert s.source_lags and s.detect_lag == 60 * M and s.detect_overlap == 15 * M
    assert delivery_lag("cloudtrail", s) == 15 * M and delivery_lag("s3access", s) == 60 * M
    s = load_settings({"MAMORI_DETECT_LAG_MINUTES": "30", "MAMORI_DETECT_OVERLAP_MINUTES": "0"})
    assert not s.source_lags and s.detect_overlap == timedelta(0)
    assert {delivery_lag(n, s) for n in SPECS} == {30 * M}
    # compose's `${VAR:-}`: empty means unset
    s = load_settings({"MAMORI_DETECT_LAG_MINUTES": "", "MAMORI_DETECT_OVERLAP_MINUTES": ""})
    assert s.source_lags and s.detect_overlap == 15 * M


@pytest.mark.parametrize("value", ["-5", "ten", "1.5"])
def test_a_bad_overlap_names_its_variable(value):
    with pytest.raises(ConfigError) as e:
        load_settings({"MAMORI_DETECT_OVERLAP_MINUTES": value})
    assert e.value.setting == "MAMORI_DETECT_OVERLAP_MINUTES"


def test_a_run_re_reads_whole_windows_before_its_own():
    assert windows.reread_windows(timedelta(0), 15 * M) == 0
    assert windows.reread_windows(15 * M, 15 * M) == 1
    assert windows.reread_windows(20 * M, 15 * M) == 2  # rounded up: a window is re-read whole
    assert windows.reread_windows(15 * M, 60 * M) == 1
    got = windows.detection_windows(T, T + 15 * M, 10 * M, 20 * M)
    assert [(w.start, w.end) for w in got] == [
        (T - 40 * M, T - 25 * M),
        (T - 25 * M, T - 10 * M),
        (T - 10 * M, T + 5 * M),  # its own window, last
    ]
    # each re-read window is exactly an earlier run's own window (so its ledger contribution is replaced)
    earlier = windows.detection_windows(T - 15 * M, T, 10 * M, timedelta(0))
    assert earlier == [got[1]]


def test_the_first_look_is_early_and_the_re_reads_reach_as_far_as_the_lag_plus_the_overlap():
    """First lag 0 (the default with per-source lags): the run of [10:00, 10:05) evaluates its own data interval
    at once, and re-reads the 15 + 15 minutes before it, so a window is last evaluated exactly when it was
    with one look at the lag (15 minutes) and one overlap window: the early look adds evaluations, it removes
    none."""
    early = windows.detection_windows(T, T + 5 * M, 15 * M, 15 * M, early=timedelta(0))
    assert early[-1] == windows.Window(T, T + 5 * M)
    assert [x.start for x in early] == [T - k * 5 * M for k in range(6, -1, -1)]
    at_lag = windows.detection_windows(T, T + 5 * M, 15 * M, 15 * M)
    assert at_lag[0] == early[0] and len(at_lag) == 4  # same oldest window, three fewer looks
    # a first lag is never longer than the source's delivery lag; 5 of 15 re-reads 10 + 15
    assert windows.first_lag(10 * M, 30 * M) == 10 * M and windows.first_lag(10 * M, None) == 10 * M
    assert windows.reread_span(15 * M, 15 * M, 5 * M, 5 * M) == 25 * M
    assert windows.reread_span(15 * M, 15 * M, 60 * M, timedelta(0)) == 60 * M  # whole windows


def test_every_window_an_early_run_evaluates_is_an_earlier_runs_own():
    """So each re-read replaces that window's contribution (the ledger counts an event once), at any cadence."""
    for step in (5 * M, 10 * M, 15 * M, 60 * M):
        got = windows.detection_windows(T, T + step, 60 * M, 15 * M, early=timedelta(0))
        owners = [
            windows.detection_windows(x.start, x.end, 60 * M, 15 * M, early=timedelta(0))[-1] for x in got
        ]
        assert owners == got


def test_settings_give_each_source_its_first_lag_and_re_read_span():
    s = load_settings({})  # shipped: 5-minute cadence, per-source lags, first lag 0, overlap 15
    assert s.detect_first_lag == timedelta(0)
    assert detection_trail("cloudtrail", s) == (timedelta(0), 30 * M)
    assert detection_trail("s3access", s) == (timedelta(0), 75 * M)
    # the late horizon of an ingest window is where it was with the first look at the lag
    first, span = detection_trail("cloudtrail", s)
    assert windows.late_horizon(T, first, span) == windows.late_horizon(T, 15 * M, 15 * M) == T - 30 * M
    # one lag set for every source: no early look unless the first lag is set too
    one = load_settings({"MAMORI_DETECT_LAG_MINUTES": "60", "MAMORI_DETECT_OVERLAP_MINUTES": "0"})
    assert one.detect_first_lag is None and detection_trail("cloudtrail", one) == (60 * M, timedelta(0))
    both = load_settings({"MAMORI_DETECT_LAG_MINUTES": "60", "MAMORI_DETECT_FIRST_LAG_MINUTES": "10"})
    assert detection_trail("alb", both) == (10 * M, 65 * M)
    with pytest.raises(ConfigError) as e:
        load_settings({"MAMORI_DETECT_FIRST_LAG_MINUTES": "-1"})
    assert e.value.setting == "MAMORI_DETECT_FIRST_LAG_MINUTES"


def test_late_horizon_moves_back_by_the_re_read_windows():
    assert windows.late_horizon(T, 15 * M) == T - 15 * M
    assert windows.late_horizon(T, 15 * M, 15 * M) == T - 30 * M
