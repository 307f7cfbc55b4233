"""`mamori backfill` through Airflow (mamori.cli.airflow_backfill): the same windows as in-process, which
Airflow is driven, and resume/refuse when a backfill of the DAG is already active. The end-to-end run against
a real scheduler is tests/e2e/test_scheduler.py::test_mamori_backfill_is_airflows_own_backfill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mamori.backfill import BackfillPlan
from mamori.cli import airflow_backfill as ab
from mamori.dev import local

REPO = Path(__file__).resolve().parents[2]
F, T = datetime(2026, 11, 1, 19, tzinfo=UTC), datetime(2026, 11, 1, 21, tzinfo=UTC)


def _airflow_logical_dates(dag_file: str, dag_id: str, body: dict[str, Any]) -> list[datetime]:
    """What Airflow's backfill selects for this request body: the DAG as the scheduler holds it (serialized),
    and the call `_create_backfill` makes (`iter_dagrun_infos_between`, inclusive at both ends)."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    bag = DagBag(str(REPO / "dags" / dag_file))
    assert bag.import_errors == {}
    sdag = DagSerialization.from_dict(DagSerialization.to_dict(bag.dags[dag_id]))
    lo, hi = (datetime.fromisoformat(body[k]) for k in ("from_date", "to_date"))
    return [i.logical_date for i in sdag.iter_dagrun_infos_between(lo, hi)]


@pytest.mark.parametrize("ingest_minutes", [60, 30])
def test_airflow_backfills_select_the_windows_the_in_process_backfill_runs(monkeypatch, ingest_minutes):
    """`--from 19:00 --to 21:00`: data intervals starting in [19:00, 21:00), both ways (the issue's "two stories
    that read 19:00–21:00 differently": Airflow's range is inclusive, mamori's end exclusive)."""
    monkeypatch.setenv("MAMORI_INGEST_INTERVAL_MINUTES", str(ingest_minutes))
    monkeypatch.setenv("MAMORI_DETECT_INTERVAL_MINUTES", "60")
    ingest_iv, detect_iv = timedelta(minutes=ingest_minutes), timedelta(hours=1)
    plan = BackfillPlan(F, T, sources=["cloudtrail"], detections=["some_rule"])
    in_process = plan.steps(ingest_iv, detect_iv)
    [[ingest], [detect]] = ab.airflow_stages(plan, ingest_iv, detect_iv)
    assert [f"ingest/cloudtrail/{t.isoformat()}" for t in ingest.logical_dates] == [
        s for s in in_process if s.startswith("ingest/")
    ]
    assert [f"detect/{t.isoformat()}" for t in detect.logical_dates] == [
        s for s in in_process if s.startswith("detect/")
    ]
    assert _airflow_logical_dates("ingest.py", "ingest_cloudtrail", ingest.body("failed")) == list(
        ingest.logical_dates
    )
    assert _airflow_logical_dates("detect.py", "detect", detect.body("failed")) == [
        datetime(2026, 11, 1, 19, tzinfo=UTC),
        datetime(2026, 11, 1, 20, tzinfo=UTC),
    ]
    assert detect.body("failed", page=True)["dag_run_conf"] == {"page": True}


def test_backfill_runs_do_not_page_unless_asked():
    from mamori.detect import pages

    assert pages("backfill", {"page": False}) is False and pages("backfill", None) is False
    assert pages("backfill", {"page": True}) is True
    assert pages("scheduled", None) is True and pages("manual", {}) is True and pages(None) is True


def test_which_airflow(tmp_path):
    remote = ab.find_airflow(
        {"MAMORI_AIRFLOW_URL": "https://airflow.example/", "MAMORI_AIRFLOW_TOKEN": "tok"}
    )
    assert remote is not None and remote.api.url == "https://airflow.example" and remote.api.token() == "tok"
    assert ab.find_airflow({"AIRFLOW_HOME": str(tmp_path)}) is None  # nothing running there: in-process
    assert ab.find_airflow({}) is None
    local.pid_file(tmp_path).write_text("999999999\nhttp://127.0.0.1:1\n")  # a stale pid file
    assert ab.find_airflow({"AIRFLOW_HOME": str(tmp_path)}) is None
    assert local.instance_url(tmp_path) == "http://127.0.0.1:1"


class FakeApi:
    """The two calls start_backfill makes, over a list of backfills (Airflow's answers, shape for shape)."""

    url = "http://airflow.test"

    def __init__(self, backfills: list[dict[str, Any]]) -> None:
        self.backfills = backfills
        self.posted: list[dict[str, Any]] = []
        self.puts: list[str] = []

    def call(self, method: str, path: str, body: Any = None) -> Any:
        if method == "PUT":
            self.puts.append(path)
            return {}
        assert method == "GET" and path.startswith("/api/v2/backfills?dag_id=")
        return {"backfills": [b for b in self.backfills if path.endswith(b["dag_id"])]}

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any, int]:
        self.posted.append(body)
        return 200, {"id": 7, **body}, 1


def _bf(
    id_: int, lo: datetime, hi: datetime, completed: bool = False, paused: bool = False
) -> dict[str, Any]:
    return {
        "id": id_,
        "dag_id": "detect",
        "from_date": lo.isoformat().replace("+00:00", "Z"),
        "to_date": hi.isoformat().replace("+00:00", "Z"),
        "completed_at": "2026-12-01T00:00:00Z" if completed else None,
        "is_paused": paused,
    }


def test_an_active_backfill_of_the_same_range_is_resumed_another_refused_a_finished_one_ignored():
    b = ab.DagBackfill("detect", (F, F + timedelta(hours=1)))
    done = _bf(3, F, F + timedelta(hours=1), completed=True)
    api = FakeApi([done])
    assert ab.start_backfill(api, b, "failed") == (7, False)  # type: ignore[arg-type]
    assert (
        api.posted[0]["from_date"] == F.isoformat()
        and api.posted[0]["to_date"] == (F + timedelta(hours=1)).isoformat()
    )

    same = FakeApi([done, _bf(5, F, F + timedelta(hours=1), paused=True)])
    assert ab.start_backfill(same, b, "failed") == (5, True)  # type: ignore[arg-type]
    assert same.posted == [] and same.puts == ["/api/v2/backfills/5/unpause"]

    other = FakeApi([_bf(6, F - timedelta(days=1), F)])
    with pytest.raises(ab.BackfillRefused, match="already runs backfill 6 over"):
        ab.start_backfill(other, b, "failed")  # type: ignore[arg-type]
    assert other.posted == []
