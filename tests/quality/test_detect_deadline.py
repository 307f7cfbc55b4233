"""The detect deadline end to end on a real ledger: a detection window whose result was not recorded within
interval + lag + MAMORI_DETECT_DEADLINE_MINUTES raises one `mamori_detect_deadline` alert naming it, from the
health DAG's check and from the detect DAG's Airflow DeadlineAlert callback alike (one key, one alert), and
replays (the demo, backfills, manual runs) raise none.

The clock is fixed: the check takes `now`, evaluations are noted with the time they were recorded.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from quality_helpers import alerts_of, hour, ledger

from mamori import detect
from mamori.health import deadline

M = timedelta(minutes=1)
DEADLINE = "mamori_detect_deadline"


def evaluated(settings, run_start, at, run_type="scheduled"):
    """What the detect run [run_start, run_start + 1h)'s `record` task notes (`summarize_window` calls it)."""
    detect.record_evaluated(run_start, run_start + timedelta(hours=1), settings, run_type=run_type, now=at)


@pytest.fixture
def live(settings):
    """The scheduler has been running detect since the run [08:00, 09:00) (events of [07:00, 08:00))."""
    evaluated(settings, hour(8), hour(9) + 5 * M)
    return settings


def test_a_window_not_evaluated_in_time_raises_one_alert_naming_it(live):
    settings = live
    # The run [10:00, 11:00) (events of [09:00, 10:00)) is due at 11:30 and never recorded its window.
    out = deadline.run(hour(11), hour(12), settings, now=hour(12))
    (alert,) = alerts_of(settings, DEADLINE)
    assert out["missed"] == [hour(9).isoformat()] and out["alerts"] == [alert.key]
    assert alert.dedup_values == {"window": "20261101T0900Z"}
    (sample,) = alert.samples
    assert sample["window_start"] == hour(9).isoformat() and sample["window_end"] == hour(10).isoformat()
    assert sample["due"] == (hour(11) + 30 * M).isoformat() and sample["recorded_at"] is None

    # Re-run of the same check: the same single alert, the ledger unchanged.
    before = ledger(settings).dump()
    assert deadline.run(hour(11), hour(12), settings, now=hour(12))["alerts"] == [alert.key]
    assert ledger(settings).dump() == before

    # The window is evaluated late, then the check runs again: still that one alert, still one hit.
    evaluated(settings, hour(10), hour(12) + 10 * M)
    assert deadline.run(hour(11), hour(12), settings, now=hour(13))["alerts"] == [alert.key]
    (again,) = alerts_of(settings, DEADLINE)
    assert again.key == alert.key and again.hit_count == 1
    assert again.samples[0]["recorded_at"] == (hour(12) + 10 * M).isoformat()


def test_a_window_evaluated_in_time_raises_nothing(live):
    evaluated(live, hour(10), hour(11) + 20 * M)
    out = deadline.run(hour(11), hour(12), live, now=hour(12))
    assert out["judged"] == [hour(9).isoformat()] and out["missed"] == []
    assert alerts_of(live, DEADLINE) == []


def test_the_first_evaluation_counts_a_backfill_does_not_move_it(live):
    evaluated(live, hour(10), hour(11) + 20 * M)
    evaluated(live, hour(10), hour(30), run_type="backfill")  # evaluated again a day later
    assert deadline.run(hour(11), hour(12), live, now=hour(31))["missed"] == []


def test_replays_raise_nothing(settings):
    """The demo: every window evaluated by dag.test() (manual runs) long after its due time, then the health
    DAG for the last window. No scheduled detect run ever happened: nothing is judged."""
    for h in range(0, 24):
        evaluated(settings, hour(h), hour(24 * 400), run_type="manual")
    for h in range(1, 25):
        assert deadline.run(hour(h), hour(h + 1), settings, now=hour(24 * 400))["missed"] == []
    # Once the scheduler runs detect, windows older than its first are still not judged (catch-up, backfill).
    evaluated(settings, hour(30), hour(31) + 5 * M)
    assert deadline.run(hour(10), hour(12), settings, now=hour(24 * 400))["missed"] == []
    assert alerts_of(settings, DEADLINE) == []


def test_summarize_window_notes_the_window_and_whether_the_scheduler_ran_it(settings):
    detect.summarize_window([[]], hour(10), hour(11), settings, run_type="manual", now=hour(11) + 3 * M)
    assert ledger(settings).live_since() is None
    assert ledger(settings).evaluations(hour(9), hour(10)) == {hour(9): hour(11) + 3 * M}
    detect.summarize_window([[]], hour(10), hour(11), settings, run_type="scheduled", now=hour(12))
    assert ledger(settings).live_since() == hour(9)
    assert ledger(settings).evaluations(hour(9), hour(10)) == {hour(9): hour(11) + 3 * M}  # the first kept


# -- the detect DAG's Airflow DeadlineAlert callback -----------------------------------------------------------
def airflow_context(run_start, run_type="scheduled"):
    """The `context` kwarg Airflow gives a deadline callback (airflow.models.deadline.Deadline.handle_miss):
    the run as the REST API's DAGRunResponse in JSON mode, and the deadline."""
    from airflow.api_fastapi.core_api.datamodels.dag_run import DAGRunResponse

    end = run_start + timedelta(hours=1)
    run = SimpleNamespace(
        run_id=f"{run_type}__{end.isoformat()}",
        dag_id="detect",
        logical_date=run_start,
        queued_at=end,
        start_date=end,
        end_date=None,
        duration=None,
        data_interval_start=run_start,
        data_interval_end=end,
        run_after=end,
        last_scheduling_decision=end,
        run_type=run_type,
        state="running",
        triggered_by=None,
        triggering_user_name=None,
        conf={},
        note=None,
        dag_versions=[],
        bundle_version=None,
        dag_model=SimpleNamespace(dag_display_name="detect"),
        partition_key=None,
        partition_date=None,
    )
    dag_run = DAGRunResponse.model_validate(run, from_attributes=True).model_dump(mode="json")
    return {"dag_run": dag_run, "deadline": {"id": "0", "deadline_time": end + 30 * M}}


def call_as_airflow(context):
    """Through the executor's own callback runner, with the path the detect DAG declares."""
    import structlog
    from airflow.sdk.execution_time.callback_supervisor import execute_callback

    from mamori.dag_defaults import detect_deadline

    path = detect_deadline().callback.path
    assert path == "mamori.health.deadline.on_detect_deadline_missed"
    ok, error = execute_callback(path, {"context": context}, "detect.py", None, structlog.get_logger())
    assert ok, error


def test_the_airflow_callback_records_the_same_alert_as_the_health_check(live):
    call_as_airflow(airflow_context(hour(10)))
    (alert,) = alerts_of(live, DEADLINE)
    assert alert.dedup_values == {"window": "20261101T0900Z"}
    assert alert.samples[0]["found_by"] == "airflow deadline"

    # The health check judges the same window later: the same alert, not a second one, one hit.
    assert deadline.run(hour(11), hour(12), live, now=hour(12))["alerts"] == [alert.key]
    (again,) = alerts_of(live, DEADLINE)
    assert again.key == alert.key and again.hit_count == 1


def test_the_airflow_callback_skips_replays_and_windows_recorded_in_time(live):
    call_as_airflow(airflow_context(hour(10), run_type="manual"))
    call_as_airflow(airflow_context(hour(10), run_type="backfill"))
    evaluated(live, hour(11), hour(12) + 25 * M)  # record was in time; a later task of the run was not
    call_as_airflow(airflow_context(hour(11)))
    assert alerts_of(live, DEADLINE) == []
