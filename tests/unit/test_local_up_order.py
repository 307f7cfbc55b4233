"""`mamori up` triggers the sample's runs so the first ticket comes soonest, oldest windows first: the REST calls
it makes, in order, against a recording stand-in for Airflow's API on 127.0.0.1 (the real instance is
tests/e2e/test_scheduler.py; the time it saves is measured in docs/operations.md)."""

from __future__ import annotations

import http.server
import json
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mamori.dev import local

INGEST = sorted(d for d in local.mamori_dag_ids() if d.startswith("ingest_"))
DAGS = ["compact_lake", "detect", "dispatch_alerts", "health", *INGEST]


class _RecordingAirflow:
    """Airflow's REST API as `mamori up` uses it, recording every call in order: (method, path, body)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                n = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(n)) if n else None

            def do_GET(self) -> None:
                if self.path == "/auth/token":
                    self._send(201, {"access_token": "t"})
                elif self.path.startswith("/api/v2/dags?"):
                    self._send(200, {"dags": [{"dag_id": d} for d in DAGS]})
                elif self.path.startswith("/api/v2/dags/"):  # a DAG's details: its file, as a token
                    dag_id = self.path.rsplit("/", 1)[-1]
                    file = "ingest.py" if dag_id.startswith("ingest_") else f"{dag_id}.py"
                    self._send(200, {"dag_id": dag_id, "file_token": f"token-{file}"})
                else:
                    self._send(404, {})

            def do_PUT(self) -> None:
                outer.calls.append(("PUT", self.path, self._body()))
                self._send(201, None)

            def do_PATCH(self) -> None:
                outer.calls.append(("PATCH", self.path, self._body()))
                if self.path.startswith("/api/v2/dags?"):
                    self._send(200, {"dags": [{"dag_id": d} for d in DAGS], "total_entries": len(DAGS)})
                else:
                    self._send(200, {"dag_id": self.path.rsplit("/", 1)[-1]})

            def do_POST(self) -> None:
                body = self._body()
                outer.calls.append(("POST", self.path, body))
                self._send(200, {"dag_run_id": body["dag_run_id"]})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _instance_answered_by(fake: _RecordingAirflow, monkeypatch: Any) -> None:
    """`local.up` with its processes replaced: the instance is the recording fake, healthy at once, with every
    DAG parsed (the tests look at the calls up() makes, not at the processes)."""

    def start(airflow_home: Path, mamori_home: Path, port: int, *args: Any, **kwargs: Any) -> local.Instance:
        return local.Instance(0, fake.url, airflow_home, mamori_home, airflow_home / local.LOG_DIR)

    monkeypatch.setattr(local, "start", start)
    monkeypatch.setattr(local, "stop", lambda *a, **k: [])
    monkeypatch.setattr(local.local_pg, "running", lambda root: None)
    monkeypatch.setattr(local, "wait_healthy", lambda *a, **k: {})
    monkeypatch.setattr(local, "warm_execution_api", lambda *a, **k: 0.0)
    monkeypatch.setattr(local, "wait_dags", lambda *a, **k: DAGS)


def test_up_triggers_the_sample_oldest_first_and_unpauses_after_the_first_detect_windows(
    tmp_path, monkeypatch
):
    """The defect (measured start to first ticket, docs/operations.md): `mamori up` unpaused every DAG before it
    triggered the sample's runs, and each run was due "now". The scheduler's own run of the latest hour,
    created on unpause and due at that hour, was started first: detect's took one of its two active-run
    slots (its sensor waiting for the last ingest hour) and every ingest DAG's latest hour ran beside the
    first ones. Now the runs are due at the end of their windows, as scheduled runs are, the detect runs and
    the ingest windows the first detect run waits for exist before anything is unpaused, and the other
    ingest windows follow oldest first across sources."""
    fake = _RecordingAirflow()
    af = tmp_path / "airflow"
    monkeypatch.delenv("MAMORI_DETECT_LAG_MINUTES", raising=False)
    for name in ("MAMORI_INGEST_INTERVAL_MINUTES", "MAMORI_DETECT_INTERVAL_MINUTES"):
        monkeypatch.delenv(name, raising=False)

    _instance_answered_by(fake, monkeypatch)
    # The generator (it imports the lake, and with it Airflow) is not this test's subject.
    monkeypatch.setitem(sys.modules, "mamori.dev.generate", SimpleNamespace(write_samples=lambda *a, **k: []))
    now = datetime(2026, 11, 1, 6, 20, tzinfo=UTC)
    try:
        local.up(af, tmp_path / "mamori", 1, now, hours=6, say=lambda *a: None)
    finally:
        fake.close()

    posts = [(i, path.split("/")[4], body) for i, (m, path, body) in enumerate(fake.calls) if m == "POST"]
    unpauses = [
        i for i, (m, _, body) in enumerate(fake.calls) if m == "PATCH" and body == {"is_paused": False}
    ]
    assert posts and unpauses
    # Every run is due when its window ends, as the scheduler's own run of that window would be.
    assert all(body.get("run_after") == body["data_interval_end"] for _, _, body in posts), posts[0]
    # Nothing is unpaused before the detect runs and the ingest windows the first detect run waits for exist:
    # detect [01:00, 02:00) (lag 60 min) waits for the ingest windows of [00:00, 02:00).
    first_unpause = min(unpauses)
    detect = [i for i, dag, _ in posts if dag == "detect"]
    assert len(detect) == 4 and max(detect) < first_unpause
    first_end = datetime(2026, 11, 1, 2, tzinfo=UTC).isoformat()
    needed = [i for i, dag, b in posts if dag != "detect" and b["data_interval_end"] <= first_end]
    later = [i for i, dag, b in posts if dag != "detect" and b["data_interval_end"] > first_end]
    assert len(needed) == 2 * len(INGEST) and max(needed) < first_unpause < min(later)
    # Oldest first across sources: the ingest runs are triggered in window order.
    starts = [b["data_interval_start"] for _, dag, b in posts if dag != "detect"]
    assert starts == sorted(starts) and len(starts) == 5 * len(INGEST)
    # One call unpauses every DAG.
    assert len(unpauses) == 1


def test_up_waits_for_components_that_take_more_than_three_minutes_to_start(tmp_path, monkeypatch):
    """The defect (two `mamori up` started together from fresh clones beside other work, load average 19-35):
    both failed with "the api-server did not answer ... within 180s" while the api-server was alive and had
    just printed its banner; up() gave the components a fixed 180 s. A stand-in clock: the api-server answers
    only 400 s after up() starts waiting and the DAGs are parsed 400 s after that, and up() still succeeds."""
    fake = _RecordingAirflow()
    af = tmp_path / "airflow"
    clock = [0.0]
    monkeypatch.setattr(local.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(local.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))

    def start(airflow_home: Path, mamori_home: Path, port: int, *args: Any, **kwargs: Any) -> local.Instance:
        return local.Instance(0, fake.url, airflow_home, mamori_home, airflow_home / local.LOG_DIR)

    def health(self: local.Api) -> dict[str, Any]:
        if clock[0] < 400:
            raise ConnectionRefusedError(111, "Connection refused")
        return {p: {"status": "healthy"} for p in ("metadatabase", "scheduler", "dag_processor", "triggerer")}

    parsed_at = 800.0

    def dag_ids(self: local.Api) -> list[str]:
        return DAGS if clock[0] >= parsed_at else DAGS[:1]

    monkeypatch.setattr(local, "start", start)
    monkeypatch.setattr(local, "stop", lambda *a, **k: [])
    monkeypatch.setattr(local.local_pg, "running", lambda root: None)
    monkeypatch.setattr(local.Api, "health", health)
    monkeypatch.setattr(local.Api, "dag_ids", dag_ids)
    monkeypatch.setattr(local, "warm_execution_api", lambda *a, **k: 0.0)
    try:
        local.up(
            af, tmp_path / "mamori", 1, datetime(2026, 11, 1, 6, 20, tzinfo=UTC), generate=False, say=print
        )
    finally:
        fake.close()
    assert clock[0] >= parsed_at
    assert [m for m, _, body in fake.calls if body == {"is_paused": False}] == ["PATCH"]


def test_up_holds_the_triggerer_back_until_the_sample_is_triggered(tmp_path, monkeypatch):
    """No mamori task defers, so the first ticket needs no triggerer, and its start (the job and its trigger
    runner, two processes importing Airflow) competed with the api-server, scheduler and dag-processor on a
    loaded machine. up() starts the instance with the triggerer held (local.HELD_BY_UP), does not wait for its
    health, and releases it once every sample run is triggered and the DAGs are unpaused."""
    fake = _RecordingAirflow()
    af = tmp_path / "airflow"
    held: list[tuple[str, ...]] = []
    released: list[tuple[str, int]] = []

    def start(airflow_home: Path, mamori_home: Path, port: int, *args: Any, **kwargs: Any) -> local.Instance:
        held.append(kwargs.get("hold", ()))
        return local.Instance(0, fake.url, airflow_home, mamori_home, airflow_home / local.LOG_DIR)

    def health(self: local.Api) -> dict[str, Any]:  # the triggerer never started: no heartbeat
        parts: dict[str, Any] = {
            p: {"status": "healthy"} for p in ("metadatabase", "scheduler", "dag_processor")
        }
        return {**parts, "triggerer": {"status": None}}

    monkeypatch.setattr(local, "start", start)
    monkeypatch.setattr(local, "stop", lambda *a, **k: [])
    monkeypatch.setattr(local.local_pg, "running", lambda root: None)
    monkeypatch.setattr(local.Api, "health", health)
    monkeypatch.setattr(local, "warm_execution_api", lambda *a, **k: 0.0)
    monkeypatch.setattr(local, "wait_dags", lambda *a, **k: DAGS)
    monkeypatch.setattr(local, "release", lambda home, name: released.append((name, len(fake.calls))))
    monkeypatch.setattr(local, "START_TIMEOUT", 5.0)  # waiting for the triggerer's health fails fast
    monkeypatch.setitem(sys.modules, "mamori.dev.generate", SimpleNamespace(write_samples=lambda *a, **k: []))
    try:
        local.up(af, tmp_path / "mamori", 1, datetime(2026, 11, 1, 6, 20, tzinfo=UTC), say=lambda *a: None)
    finally:
        fake.close()
    assert held == [("triggerer",)]
    posts = [i for i, (m, _, _) in enumerate(fake.calls) if m == "POST"]
    assert posts and released == [("triggerer", len(fake.calls))] and max(posts) < len(fake.calls)


def test_up_triggers_the_sample_before_the_scheduler_is_healthy_and_then_waits_for_it(tmp_path, monkeypatch):
    """The scheduler is the last component up (its warm-up of the task processes' imports took 74 s of its
    126 s under load), and creating runs does not need it: up() triggers the sample once the API and the
    dag-processor are healthy, then waits for the scheduler (up still fails when it never comes up)."""
    fake = _RecordingAirflow()
    af = tmp_path / "airflow"

    def start(airflow_home: Path, mamori_home: Path, port: int, *args: Any, **kwargs: Any) -> local.Instance:
        return local.Instance(0, fake.url, airflow_home, mamori_home, airflow_home / local.LOG_DIR)

    def health(self: local.Api) -> dict[str, Any]:  # the scheduler heartbeats only once runs exist
        up = any(m == "POST" for m, _, _ in fake.calls)
        parts = {p: {"status": "healthy"} for p in ("metadatabase", "dag_processor", "triggerer")}
        return {**parts, "scheduler": {"status": "healthy" if up else None}}

    monkeypatch.setattr(local, "start", start)
    monkeypatch.setattr(local, "stop", lambda *a, **k: [])
    monkeypatch.setattr(local.local_pg, "running", lambda root: None)
    monkeypatch.setattr(local.Api, "health", health)
    monkeypatch.setattr(local, "warm_execution_api", lambda *a, **k: 0.0)
    monkeypatch.setattr(local, "wait_dags", lambda *a, **k: DAGS)
    monkeypatch.setattr(
        local, "START_TIMEOUT", 5.0
    )  # the old order waited for the scheduler first: fails fast
    monkeypatch.setitem(sys.modules, "mamori.dev.generate", SimpleNamespace(write_samples=lambda *a, **k: []))
    try:
        local.up(af, tmp_path / "mamori", 1, datetime(2026, 11, 1, 6, 20, tzinfo=UTC), say=lambda *a: None)
    finally:
        fake.close()
    assert [m for m, _, _ in fake.calls].count("POST") == 4 + 5 * len(INGEST)

    never = _RecordingAirflow()
    monkeypatch.setattr(local.Api, "health", lambda self: {**health(self), "scheduler": {"status": None}})
    monkeypatch.setattr(
        local, "start", lambda home, mh, port, *a, **k: local.Instance(0, never.url, home, mh, home / "logs")
    )
    try:
        with pytest.raises(local.LocalAirflowError, match="scheduler"):
            local.up(
                af, tmp_path / "mamori", 1, datetime(2026, 11, 1, 6, 20, tzinfo=UTC), say=lambda *a: None
            )
    finally:
        never.close()


@pytest.mark.parametrize("queue", [None, "https://sqs.eu-west-1.amazonaws.com/111122223333/mamori-landed"])
def test_up_has_the_ingest_file_parsed_again_after_unpausing_when_a_queue_is_set(
    tmp_path, monkeypatch, queue
):
    """The defect (tests/e2e/test_landed_watcher_scheduler.py): the dag-processor registers an asset's watcher
    only when it parses a file while a DAG scheduled on that asset is unpaused, and `mamori up` parses while
    every DAG is still paused (Airflow's default) and then unpauses them; a local instance parses a file again
    only when it changes (MIN_FILE_PROCESS_INTERVAL 600 s), so with MAMORI_INGEST_SQS_URL the SQS watcher
    started up to 10 minutes late. up() now asks for dags/ingest.py to be parsed again once it has unpaused
    (one request: every ingest DAG comes from that file), and only when a queue is set."""
    fake = _RecordingAirflow()
    monkeypatch.delenv("MAMORI_INGEST_SQS_URL", raising=False)
    monkeypatch.delenv("MAMORI_RAW_URL", raising=False)
    if queue:
        monkeypatch.setenv("MAMORI_RAW_URL", "s3://org-logs")
        monkeypatch.setenv("MAMORI_INGEST_SQS_URL", queue)

    _instance_answered_by(fake, monkeypatch)
    monkeypatch.setattr(local, "release", lambda *a: None)
    try:
        local.up(
            tmp_path / "af",
            tmp_path / "mamori",
            1,
            datetime(2026, 11, 1, 6, 20, tzinfo=UTC),
            generate=False,
            say=lambda *a: None,
        )
    finally:
        fake.close()
    unpause = [i for i, (m, _, b) in enumerate(fake.calls) if m == "PATCH" and b == {"is_paused": False}]
    parses = [(i, path) for i, (m, path, _) in enumerate(fake.calls) if m == "PUT"]
    assert len(unpause) == 1
    if queue is None:
        assert parses == []
    else:
        assert [path for _, path in parses] == ["/api/v2/parseDagFile/token-ingest.py"]
        assert parses[0][0] > unpause[0]
