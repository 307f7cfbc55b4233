"""Per-source delivery lags and the lookback overlap: settings, declarations and the windows they give."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mamori import windows
from mamori.config import ConfigError, load_settings
from mamori.sources import SPECS, delivery_lag

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


def test_late_horizon_moves_back_by_the_re_read_windows():
    assert windows.late_horizon(T, 15 * M) == T - 15 * M
    assert windows.late_horizon(T, 15 * M, 15 * M) == T - 30 * M
