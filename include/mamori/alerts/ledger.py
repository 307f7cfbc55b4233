"""The alert ledger: what fired, in which window, and what was delivered where.

Idempotency lives here. Each run window's contribution to an alert is one `alert_hits` row keyed by
(alert key, window start) and is replaced, not added, when the window re-runs; the alert row is recomputed
from those contributions. So re-running a window leaves the ledger byte-for-byte as it was, while a later
window inside the same dedup period adds to the same alert (and a threshold can be crossed across windows).
Deliveries are one row per (alert, output): an output is never asked twice for a delivered alert, and
never by two dispatchers at once: a dispatcher sends only what it has claimed, with one conditional UPDATE
that sets a lease on the row (`claim`), so of several processes exactly one wins; a killed holder's lease
expires (see `Ledger.claim` and docs/adr/0003-windows-and-idempotency.md).
No wall clock in what is detected: every alert timestamp is an event time or a window bound. The one
exception is delivery scheduling (`next_attempt_at`, `failing_since`, the lease), which is about the outputs'
uptime and the dispatchers' liveness, not about the data, and never takes part in an alert key. The other is
`detect_windows` (when each detection window's result was first recorded), which is about the pipeline's
liveness (`mamori.health.deadline`), is kept from the first evaluation on, and is not alert state (not in `dump`).
The schema is under migrations (`mamori.alerts.migrations`), applied when a ledger is opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from mamori.alerts.alert import Alert, IncidentTicket
from mamori.alerts.routing import Routing, load_routing
from mamori.config import load_settings
from mamori.detections.dedup import MAX_SAMPLES, Candidate
from mamori.detections.loader import Detection

META = sa.MetaData()

ALERTS = sa.Table(
    "alerts",
    META,
    sa.Column("alert_key", sa.String(32), primary_key=True),
    sa.Column("detection_id", sa.String(100), nullable=False, index=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open | resolved
    sa.Column("log_source", sa.String(40), nullable=False),
    sa.Column("dedup_values", sa.Text, nullable=False),
    sa.Column("bucket_start", sa.String(40), nullable=False),
    sa.Column("bucket_end", sa.String(40), nullable=False),
    sa.Column("first_seen", sa.String(40), nullable=False),
    sa.Column("last_seen", sa.String(40), nullable=False),
    sa.Column("hit_count", sa.Integer, nullable=False),
    sa.Column("samples", sa.Text, nullable=False),
    sa.Column(
        "routes", sa.Text, nullable=False
    ),  # requested outputs, resolved against connections at dispatch
    sa.Column("opened_window_end", sa.String(40), nullable=False),
    sa.Column(
        "resolution", sa.String(60)
    ),  # true-positive / benign-true-positive / false-positive (triage.VERDICTS) or duplicate: the closed
    # ticket's label (detect.sync_alerts) or the verdict of its closed incident (mamori incidents close)
    sa.Column(
        "enrichment", sa.Text
    ),  # JSON results of the enrichment queries, computed once at first dispatch
)

ALERT_HITS = sa.Table(
    "alert_hits",
    META,
    sa.Column("alert_key", sa.String(32), primary_key=True),
    sa.Column("window_start", sa.String(40), primary_key=True),
    sa.Column("window_end", sa.String(40), nullable=False),
    sa.Column("detection_id", sa.String(100), nullable=False, index=True),
    sa.Column("dedup_values", sa.Text, nullable=False),
    sa.Column("bucket_start", sa.String(40), nullable=False),
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Column("first_seen", sa.String(40), nullable=False),
    sa.Column("last_seen", sa.String(40), nullable=False),
    sa.Column("samples", sa.Text, nullable=False),
)

# One row per (alert, output); and, for outputs that deliver per incident (routing `deliver_per: incident`),
# one row per (incident, output) keyed by the incident id in `alert_key` (an incident id is never an alert
# key): its lease makes one dispatcher at a time write to the incident's ticket, its external_ref is the
# incident's issue / dedup key / message, delivered_hits the rank of the severity it last notified at
# (NOTIFIED_RANK), and its state `merged` once its incident was folded into another (`Ledger.mark_folded`).
DELIVERIES = sa.Table(
    "deliveries",
    META,
    sa.Column("alert_key", sa.String(32), primary_key=True),
    sa.Column("output", sa.String(40), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),  # pending | delivered | failed | cancelled
    sa.Column("failures", sa.Integer, nullable=False),  # consecutive failed attempts; reset by a success
    sa.Column("delivered_hits", sa.Integer, nullable=False),  # alert.hit_count the output last saw
    sa.Column("external_ref", sa.Text),  # issue URL, dedup key, ... kept across failed updates
    sa.Column("last_error", sa.Text),
    sa.Column("next_attempt_at", sa.String(40)),  # wall clock: not retried before (backoff after a failure)
    sa.Column("failing_since", sa.String(40)),  # wall clock: first failure of the current failing episode
    sa.Column("lease_owner", sa.String(200)),  # the dispatcher sending it now: host:run:pid
    sa.Column("lease_until", sa.String(40)),  # wall clock: past it the lease is void (its holder was killed)
    # Incident rows only: the last incident_actions row (close / reopen) the incident's ticket on this output
    # reflects (detect.sync_triage mirrors newer ones; detect.sync_alerts records a verdict closed there).
    sa.Column("synced_action", sa.Integer),
)

SUPPRESSED = sa.Table(
    "suppressed",
    META,
    sa.Column("suppression_id", sa.String(100), primary_key=True),
    sa.Column("detection_id", sa.String(100), primary_key=True),
    sa.Column("window_start", sa.String(40), primary_key=True),
    sa.Column("window_end", sa.String(40), nullable=False),
    sa.Column("hits", sa.Integer, nullable=False),
)

# When each detection window's result was first recorded (wall clock), and first by a scheduled detect run:
# what the detect deadline (mamori.health.deadline) judges. Insert-once: re-runs and backfills keep the first.
DETECT_WINDOWS = sa.Table(
    "detect_windows",
    META,
    sa.Column("window_start", sa.String(40), primary_key=True),
    sa.Column("window_end", sa.String(40), nullable=False),
    sa.Column("first_recorded_at", sa.String(40), nullable=False),
    sa.Column("first_scheduled_at", sa.String(40)),  # None: only manual/backfill runs evaluated it so far
)

# Incidents (mamori.alerts.incidents): alerts that share an entity within the horizon. Written by the grouping
# that runs after a detect window is recorded (derived from the alerts, so a re-run rewrites the same), and by
# triage (mamori.alerts.triage: status and verdict, each change one incident_actions row).
INCIDENTS = sa.Table(
    "incidents",
    META,
    sa.Column("incident_id", sa.String(32), primary_key=True),  # hash of the founding (earliest) alert's key
    # open | acknowledged | closed (triage) | merged (into another: see incident_merges)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("severity_reason", sa.Text, nullable=False),
    sa.Column("tactics", sa.Text, nullable=False),  # JSON: ATT&CK tactic ids of the members' rules
    sa.Column("entities", sa.Text, nullable=False),  # JSON: the entities its alerts share, most shared first
    sa.Column("alert_count", sa.Integer, nullable=False),
    sa.Column("first_seen", sa.String(40), nullable=False),
    sa.Column("last_seen", sa.String(40), nullable=False),
    sa.Column("opened_window_end", sa.String(40), nullable=False),
    # true-positive | benign-true-positive | false-positive while closed (triage.VERDICTS), else NULL
    sa.Column("verdict", sa.String(40)),
)

INCIDENT_ALERTS = sa.Table(
    "incident_alerts",
    META,
    sa.Column("alert_key", sa.String(32), primary_key=True),  # an alert belongs to one incident
    sa.Column("incident_id", sa.String(32), nullable=False, index=True),
    sa.Column("joined_window_end", sa.String(40), nullable=False),
)

INCIDENT_MERGES = sa.Table(
    "incident_merges",
    META,
    sa.Column("merged_id", sa.String(32), primary_key=True),  # an incident is merged away once
    sa.Column("into_id", sa.String(32), nullable=False, index=True),
    sa.Column("bridge_alert", sa.String(32)),  # the alert whose arrival connected them
    sa.Column("window_end", sa.String(40), nullable=False),
)


# Triage (mamori.alerts.triage): who did what to an incident, when. Append-only: a row is never updated or
# deleted; the incident's status and verdict are the outcome of its rows.
INCIDENT_ACTIONS = sa.Table(
    "incident_actions",
    META,
    sa.Column("action_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.String(32), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),  # acknowledge | close | reopen
    sa.Column("verdict", sa.String(40)),  # a close's verdict
    sa.Column("note", sa.Text),
    sa.Column("actor", sa.String(100), nullable=False),  # $USER or --as; "mamori" for its own reopen
    sa.Column("at", sa.String(40), nullable=False),  # wall clock (UTC): when it was done, not event time
)


def lock_detection(conn: Connection, detection_id: str) -> None:
    """One writer of a detection's window contributions and alerts at a time across processes, held to the end of
    the transaction: an advisory lock on PostgreSQL (keyed by the detection id's hash; a collision only
    serializes two rules), the write lock on SQLite. Two detect runs at once (max_active_runs=2) record the same
    (detection, window) when one run's own window is the next run's re-read; unserialized, both replaced
    nothing, both inserted, and one failed with a UniqueViolation."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"mamori_alerts:{detection_id}"}
        )
    elif dialect == "sqlite":
        conn.execute(ALERT_HITS.update().where(sa.false()).values(hits=ALERT_HITS.c.hits))


def lock_incidents(conn: Connection) -> None:
    """One writer of incident state at a time across processes (grouping and triage), held to the end of the
    transaction: an advisory lock on PostgreSQL, the write lock on SQLite."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('mamori_incidents'))"))
    elif dialect == "sqlite":
        # A write statement takes SQLite's write lock (even when it changes no row): every read after it sees
        # the ledger as no other writer can change it until this transaction ends.
        conn.execute(INCIDENTS.update().where(sa.false()).values(status=INCIDENTS.c.status))


def _dumps(v: Any) -> str:
    return orjson.dumps(v, option=orjson.OPT_SORT_KEYS, default=str).decode()


class Ledger:
    """SQLite by default (embedded), any SQLAlchemy URL by configuration (Postgres in docker-compose)."""

    def __init__(self, url: str) -> None:
        # SQLite: concurrent mapped tasks serialize on the file lock; wait instead of failing.
        connect_args = {"timeout": 60} if url.startswith("sqlite") else {}
        self.engine = sa.create_engine(url, connect_args=connect_args)
        database = self.engine.url.database
        if self.engine.url.get_backend_name() == "sqlite" and database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)  # a fresh MAMORI_HOME has no folder yet
        from mamori.alerts.migrations import upgrade  # Alembic (~1 s) only when a ledger is opened

        upgrade(self.engine)

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def record_window(
        self,
        det: Detection,
        start: datetime,
        end: datetime,
        candidates: list[Candidate],
        page: bool = True,
        routing: Routing | None = None,
    ) -> list[str]:
        """Replace this window's contribution for the detection; return keys of alerts at/over threshold.

        `page=False` opens new alerts without paging outputs; an alert that already exists keeps its routes.
        `routing` (sql/routing.yaml) says where a new alert goes; default: the configured sql/ directory's.
        """
        routing = routing or load_routing(load_settings().sql_dir)
        ws, we = start.isoformat(), end.isoformat()
        with self._tx() as conn:
            lock_detection(conn, det.id)
            previous = {
                r.alert_key
                for r in conn.execute(
                    sa.select(ALERT_HITS.c.alert_key).where(
                        ALERT_HITS.c.detection_id == det.id, ALERT_HITS.c.window_start == ws
                    )
                )
            }
            conn.execute(
                ALERT_HITS.delete().where(
                    ALERT_HITS.c.detection_id == det.id, ALERT_HITS.c.window_start == ws
                )
            )
            rows = []
            for c in candidates:
                assert c.first_seen is not None and c.last_seen is not None
                rows.append(
                    {
                        "alert_key": c.key,
                        "window_start": ws,
                        "window_end": we,
                        "detection_id": det.id,
                        "dedup_values": _dumps(c.dedup_values),
                        "bucket_start": c.bucket_start.isoformat(),
                        "hits": c.hits,
                        "first_seen": c.first_seen.isoformat(),
                        "last_seen": c.last_seen.isoformat(),
                        "samples": _dumps(c.samples),
                    }
                )
            if rows:  # one executemany: a count rule's window can hold thousands of groups under threshold
                conn.execute(ALERT_HITS.insert(), rows)
            keys = sorted(previous | {c.key for c in candidates})
            due = self._at_threshold(conn, keys, det.header.threshold)
            fired = []
            for key in keys:
                if key in due and self._refresh_alert(conn, det, key, we, routing.routes_for(det, page)):
                    fired.append(key)
        return fired

    @staticmethod
    def _at_threshold(conn: Connection, keys: list[str], threshold: int) -> set[str]:
        """The keys whose window contributions add up to `threshold` hits or more, in a few grouped queries:
        only those can be alerts (`_refresh_alert` leaves every other key untouched), and most groups a
        count rule records are below its threshold."""
        due: set[str] = set()
        for i in range(0, len(keys), 500):  # bounded IN lists (SQLite's bind limit)
            chunk = keys[i : i + 500]
            q = (
                sa.select(ALERT_HITS.c.alert_key)
                .where(ALERT_HITS.c.alert_key.in_(chunk))
                .group_by(ALERT_HITS.c.alert_key)
                .having(sa.func.sum(ALERT_HITS.c.hits) >= threshold)
            )
            due.update(conn.execute(q).scalars())
        return due

    def _refresh_alert(
        self, conn: Connection, det: Detection, key: str, window_end: str, routes: list[str]
    ) -> bool:
        """Recompute one alert from all its window contributions; True when it is at/over threshold."""
        parts = conn.execute(
            sa.select(ALERT_HITS).where(ALERT_HITS.c.alert_key == key).order_by(ALERT_HITS.c.window_start)
        ).all()
        total = sum(p.hits for p in parts)
        if not parts or total < det.header.threshold:
            return False
        existing = conn.execute(sa.select(ALERTS.c.alert_key).where(ALERTS.c.alert_key == key)).first()
        samples: list[Any] = []
        for p in parts:
            samples += orjson.loads(p.samples)
        values = {
            "hit_count": total,
            "first_seen": min(p.first_seen for p in parts),
            "last_seen": max(p.last_seen for p in parts),
            "samples": _dumps(samples[:MAX_SAMPLES]),
        }
        if existing is None:
            bucket = datetime.fromisoformat(parts[0].bucket_start)
            conn.execute(
                ALERTS.insert().values(
                    alert_key=key,
                    detection_id=det.id,
                    title=det.header.title,
                    severity=det.header.severity,
                    status="open",
                    log_source=det.header.log_source,
                    dedup_values=parts[0].dedup_values,
                    bucket_start=parts[0].bucket_start,
                    bucket_end=(bucket + det.header.dedup.period_td).isoformat(),
                    routes=_dumps(routes),
                    opened_window_end=window_end,
                    **values,
                )
            )
        else:
            conn.execute(ALERTS.update().where(ALERTS.c.alert_key == key).values(**values))
        return True

    def record_suppressed(
        self, detection_id: str, start: datetime, end: datetime, hidden: dict[str, int]
    ) -> None:
        """Replace this window's record of what suppressions hid for the detection (idempotent re-runs)."""
        ws = start.isoformat()
        with self._tx() as conn:
            lock_detection(conn, detection_id)  # two runs may replace this window at once (record_window)
            conn.execute(
                SUPPRESSED.delete().where(
                    SUPPRESSED.c.detection_id == detection_id, SUPPRESSED.c.window_start == ws
                )
            )
            for sid, n in sorted(hidden.items()):
                conn.execute(
                    SUPPRESSED.insert().values(
                        suppression_id=sid,
                        detection_id=detection_id,
                        window_start=ws,
                        window_end=end.isoformat(),
                        hits=n,
                    )
                )

    def suppressed(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Hits hidden per suppression and detection for windows starting in [start, end)."""
        q = (
            sa.select(SUPPRESSED.c.suppression_id, SUPPRESSED.c.detection_id, sa.func.sum(SUPPRESSED.c.hits))
            .where(
                SUPPRESSED.c.window_start >= start.isoformat(), SUPPRESSED.c.window_start < end.isoformat()
            )
            .group_by(SUPPRESSED.c.suppression_id, SUPPRESSED.c.detection_id)
            .order_by(SUPPRESSED.c.suppression_id, SUPPRESSED.c.detection_id)
        )
        with self.engine.connect() as conn:
            return [{"suppression": r[0], "detection": r[1], "hits": int(r[2])} for r in conn.execute(q)]

    def set_enrichment(self, key: str, results: list[dict[str, Any]]) -> None:
        with self._tx() as conn:
            conn.execute(ALERTS.update().where(ALERTS.c.alert_key == key).values(enrichment=_dumps(results)))

    def resolve(self, key: str, resolution: str) -> None:
        """Close an alert (its ticket was closed); later hits in the same dedup window do not reopen it."""
        with self._tx() as conn:
            conn.execute(
                ALERTS.update()
                .where(ALERTS.c.alert_key == key)
                .values(status="resolved", resolution=resolution)
            )

    # -- detect windows (liveness) -------------------------------------------------------------------------
    def record_evaluation(self, start: datetime, end: datetime, at: datetime, scheduled: bool) -> None:
        """Note that detection window [start, end) has its result recorded, at wall clock `at`: the first
        time is kept (a re-run or a backfill evaluates again, it does not make the first one earlier or later),
        and so is the first time a scheduled run did it."""
        ws, when = start.isoformat(), _lease_iso(at)
        values = {"window_start": ws, "window_end": end.isoformat(), "first_recorded_at": when}
        if scheduled:
            values["first_scheduled_at"] = when
        dialect = self.engine.dialect.name
        with self._tx() as conn:
            if dialect in ("sqlite", "postgresql"):
                insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
                conn.execute(
                    insert(DETECT_WINDOWS)
                    .values(**values)
                    .on_conflict_do_nothing(index_elements=["window_start"])
                )
            elif (
                conn.execute(
                    sa.select(DETECT_WINDOWS.c.window_start).where(DETECT_WINDOWS.c.window_start == ws)
                ).first()
                is None
            ):
                conn.execute(DETECT_WINDOWS.insert().values(**values))
            if scheduled:
                conn.execute(
                    DETECT_WINDOWS.update()
                    .where(DETECT_WINDOWS.c.window_start == ws, DETECT_WINDOWS.c.first_scheduled_at.is_(None))
                    .values(first_scheduled_at=when)
                )

    def evaluations(self, start: datetime, end: datetime) -> dict[datetime, datetime]:
        """Detection window start -> when its result was first recorded, for windows starting in [start, end)."""
        q = sa.select(DETECT_WINDOWS.c.window_start, DETECT_WINDOWS.c.first_recorded_at).where(
            DETECT_WINDOWS.c.window_start >= start.isoformat(),
            DETECT_WINDOWS.c.window_start < end.isoformat(),
        )
        with self.engine.connect() as conn:
            return {datetime.fromisoformat(r[0]): datetime.fromisoformat(r[1]) for r in conn.execute(q)}

    def live_since(self) -> datetime | None:
        """Start of the first detection window a scheduled detect run evaluated (None: none has yet)."""
        q = sa.select(sa.func.min(DETECT_WINDOWS.c.window_start)).where(
            DETECT_WINDOWS.c.first_scheduled_at.is_not(None)
        )
        with self.engine.connect() as conn:
            first = conn.execute(q).scalar()
        return None if first is None else datetime.fromisoformat(first)

    # -- reads ---------------------------------------------------------------------------------------------
    def alerts(self, status: str | None = None) -> list[Alert]:
        q = sa.select(ALERTS).order_by(ALERTS.c.first_seen, ALERTS.c.alert_key)
        if status:
            q = q.where(ALERTS.c.status == status)
        with self.engine.connect() as conn:
            return [Alert.from_row(r) for r in conn.execute(q)]

    def deliveries(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(
                    sa.select(DELIVERIES).order_by(DELIVERIES.c.alert_key, DELIVERIES.c.output)
                )
            ]

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every table, ordered: what 're-running changes nothing' is checked against."""
        out = {}
        with self.engine.connect() as conn:
            for t in (
                ALERTS,
                ALERT_HITS,
                DELIVERIES,
                SUPPRESSED,
                INCIDENTS,
                INCIDENT_ALERTS,
                INCIDENT_MERGES,
                INCIDENT_ACTIONS,
            ):
                out[t.name] = [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(*t.primary_key))]
        return out

    # -- deliveries ------------------------------------------------------------------------------------------
    def ensure_delivery(self, key: str, output: str) -> None:
        """A pending delivery row for (alert, output) unless there is one; safe when dispatchers race."""
        where = (DELIVERIES.c.alert_key == key, DELIVERIES.c.output == output)
        with self.engine.connect() as conn:  # the common case (it exists) costs a read, not a write
            if conn.execute(sa.select(DELIVERIES.c.state).where(*where)).first() is not None:
                return
        values = {"alert_key": key, "output": output, "state": "pending", "failures": 0, "delivered_hits": 0}
        dialect = self.engine.dialect.name
        with self._tx() as conn:
            if dialect in ("sqlite", "postgresql"):
                # Two dispatchers may both have found no row: the loser's insert becomes a no-op instead of
                # a unique-key error that would fail its run.
                insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
                conn.execute(
                    insert(DELIVERIES)
                    .values(**values)
                    .on_conflict_do_nothing(index_elements=["alert_key", "output"])
                )
            elif conn.execute(sa.select(DELIVERIES.c.state).where(*where)).first() is None:
                conn.execute(DELIVERIES.insert().values(**values))

    def due(self, now: datetime | None = None) -> list[Delivery]:
        """Deliveries with work to do: never delivered, failed, or the alert grew since (recurrence).

        A failed delivery waits out its backoff (`next_attempt_at`); a cancelled one is never due again.
        Leases are not looked at: a delivery another dispatcher is sending is listed (its claim will fail),
        so the caller knows the alert is in flight and keeps its later outputs for the holder (`claim`).
        """
        q = _DELIVERY_VIEW.where(*_has_work(_iso(now))).order_by(
            ALERTS.c.first_seen, ALERTS.c.alert_key, DELIVERIES.c.output
        )
        with self.engine.connect() as conn:
            return [
                Delivery(Alert.from_row(r), r.output, r.failures, r.external_ref) for r in conn.execute(q)
            ]

    def claim(
        self, key: str, output: str, owner: str, lease: timedelta, now: datetime | None = None
    ) -> Claim:
        """Take the one right to send (alert, output) for `lease`, if it still has work and nobody holds it.

        One conditional UPDATE: it sets the lease only on a row that is due (same test as `due`, at `now`)
        and unleased or whose lease has expired, so of any number of dispatcher processes exactly one sees
        rowcount 1, on SQLite (writers serialize on the file lock) and on PostgreSQL (the second UPDATE waits
        for the first's row lock, then re-checks the WHERE against the committed row). The winner gets the
        row as it is now, not as its earlier `due` listing saw it (another process may have delivered it
        since, or the alert may have grown). A loser learns who holds the row, if anyone: the alert is in
        flight elsewhere. Leases use this host's wall clock, not the injectable `now` (they are about
        processes, not about the retry schedule): hosts must agree within a small part of the lease (NTP).
        The lease must outlast one delivery attempt with the output's own retries (minutes), else an
        expired lease lets a second dispatcher in while the first is still sending.
        """
        held = datetime.now(UTC)
        this = (DELIVERIES.c.alert_key == key, DELIVERIES.c.output == output)
        with self._tx() as conn:
            won = _take_lease(conn, (*this, *_has_work(_iso(now))), owner, held, lease)
            if won == 1:
                r = conn.execute(_DELIVERY_VIEW.where(*this)).one()
                return Claim(Delivery(Alert.from_row(r), r.output, r.failures, r.external_ref), None)
            holder = conn.execute(
                sa.select(DELIVERIES.c.lease_owner).where(
                    *this, DELIVERIES.c.lease_owner != owner, DELIVERIES.c.lease_until >= _lease_iso(held)
                )
            ).scalar()
        return Claim(None, holder)

    def release(self, key: str, output: str, owner: str) -> None:
        """Give a claimed delivery back without an outcome (the dispatcher is stopping): due again at once."""
        with self._tx() as conn:
            conn.execute(
                DELIVERIES.update()
                .where(DELIVERIES.c.alert_key == key, DELIVERIES.c.output == output)
                .where(DELIVERIES.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    def refs(self, key: str) -> dict[str, str]:
        """Output name → external reference for an alert (e.g. the GitHub issue URL for PagerDuty's link)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(DELIVERIES.c.output, DELIVERIES.c.external_ref).where(DELIVERIES.c.alert_key == key)
            )
            return {r.output: r.external_ref for r in rows if r.external_ref}

    def mark_delivered(
        self, key: str, output: str, external_ref: str, hits: int, owner: str | None = None
    ) -> None:
        """Record a send and end `owner`'s lease. Recorded even if the lease was lost meanwhile: the output
        has the alert, whoever else also sent it; only someone else's live lease is left alone."""
        with self._tx() as conn:
            conn.execute(
                DELIVERIES.update()
                .where(DELIVERIES.c.alert_key == key, DELIVERIES.c.output == output)
                .values(
                    state="delivered",
                    failures=0,
                    delivered_hits=hits,
                    external_ref=external_ref,
                    last_error=None,
                    next_attempt_at=None,
                    failing_since=None,
                    **_lease_ended(owner),
                )
            )

    def mark_failed(
        self, key: str, output: str, error: str, now: datetime | None = None, owner: str | None = None
    ) -> int:
        """Record a failure and when to try again, ending the lease; returns the consecutive failures so far.

        A reference from an earlier success is kept (the issue still exists). The delivery stays due, after a
        growing backoff, until it succeeds, an operator cancels it, or the alert is resolved: an outage of any
        length delays a ticket but never loses it.
        With `owner`, the failure is recorded only while `owner` still holds the lease: a dispatcher whose
        lease expired and was taken over must not overwrite the newer holder's outcome (a success turned
        back into "failed" would be sent again). The count is incremented in SQL, read and written by one
        statement.
        """
        at = now or datetime.now(UTC)
        this = [DELIVERIES.c.alert_key == key, DELIVERIES.c.output == output]
        if owner is not None:
            this.append(DELIVERIES.c.lease_owner == owner)
        with self._tx() as conn:
            recorded = conn.execute(
                DELIVERIES.update()
                .where(*this)
                .values(
                    state="failed",
                    failures=DELIVERIES.c.failures + 1,
                    last_error=error[:2000],
                    failing_since=sa.func.coalesce(DELIVERIES.c.failing_since, _iso(at)),
                    lease_owner=None,
                    lease_until=None,
                )
            ).rowcount
            failures: int = conn.execute(sa.select(DELIVERIES.c.failures).where(*this[:2])).scalar_one()
            if recorded:
                conn.execute(
                    DELIVERIES.update()
                    .where(*this[:2])
                    .values(next_attempt_at=_iso(at + retry_backoff(failures)))
                )
        return failures

    def failing(self) -> list[dict[str, Any]]:
        """Deliveries in a failing episode (not cancelled), oldest first, for health alerts and status."""
        q = (
            sa.select(DELIVERIES, ALERTS.c.detection_id, ALERTS.c.title)
            .join(ALERTS, ALERTS.c.alert_key == DELIVERIES.c.alert_key)
            .where(DELIVERIES.c.state == "failed", ALERTS.c.status == "open")
            .order_by(DELIVERIES.c.failing_since, DELIVERIES.c.alert_key, DELIVERIES.c.output)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def cancel_delivery(self, key: str, output: str | None = None) -> int:
        """An operator stops retrying (the output is gone for good, or the ticket was made by hand)."""
        return self._set_deliveries(key, output, state="cancelled", next_attempt_at=None)

    def redeliver(self, key: str, output: str | None = None) -> int:
        """Due now: a cancelled or backing-off delivery is tried at the next dispatch (still idempotent)."""
        with self._tx() as conn:
            where = [DELIVERIES.c.alert_key == key, DELIVERIES.c.state.in_(("failed", "cancelled"))]
            if output:
                where.append(DELIVERIES.c.output == output)
            return conn.execute(
                DELIVERIES.update().where(*where).values(state="failed", next_attempt_at=None)
            ).rowcount

    def mark_stale(self, key: str, output: str) -> None:
        """Deliver again (an update in place): e.g. a page sent before its ticket existed gets the link."""
        with self._tx() as conn:
            conn.execute(
                DELIVERIES.update()
                .where(DELIVERIES.c.alert_key == key, DELIVERIES.c.output == output)
                .where(DELIVERIES.c.state == "delivered")
                .values(state="pending", next_attempt_at=None)
            )

    # -- incident deliveries (outputs with capabilities.per_incident) ---------------------------------------
    def claim_incident(self, incident_id: str, output: str, owner: str, lease: timedelta) -> IncidentClaim:
        """Take the one right to write to the incident's ticket/page/message on `output` for `lease`.

        The same conditional UPDATE as `claim` (exactly one of several dispatchers wins), on the incident's
        row, created pending on first use. Nothing is "due" about it: the members' own rows say what to send;
        this row serializes the sends, so two members delivered at once by two dispatchers cannot both open
        the incident's issue. A killed holder's lease expires like any delivery lease.
        """
        self.ensure_delivery(incident_id, output)
        held = datetime.now(UTC)
        this = (DELIVERIES.c.alert_key == incident_id, DELIVERIES.c.output == output)
        with self._tx() as conn:
            won = _take_lease(conn, this, owner, held, lease)
            r = conn.execute(sa.select(DELIVERIES).where(*this)).one()
        ticket = IncidentTicket(r.external_ref, _notified(r.delivered_hits))
        return IncidentClaim(won == 1, ticket, None if won == 1 else r.lease_owner)

    def record_incident(self, incident_id: str, output: str, ticket: IncidentTicket, owner: str) -> None:
        """Store the incident's delivery state after a member's send and end `owner`'s lease on it."""
        with self._tx() as conn:
            conn.execute(
                DELIVERIES.update()
                .where(DELIVERIES.c.alert_key == incident_id, DELIVERIES.c.output == output)
                .values(
                    state="delivered" if ticket.ref else "pending",
                    external_ref=ticket.ref,
                    delivered_hits=NOTIFIED_RANK.index(ticket.notified) + 1 if ticket.notified else 0,
                    **_lease_ended(owner),
                )
            )

    def incident_tickets(self, output: str) -> dict[str, tuple[str, IncidentTicket]]:
        """Incident id → (state, ticket) of every incident row of `output` (merged ones included)."""
        q = sa.select(DELIVERIES).where(
            DELIVERIES.c.output == output,
            DELIVERIES.c.alert_key.in_(sa.select(INCIDENTS.c.incident_id)),
        )
        with self.engine.connect() as conn:
            return {
                r.alert_key: (r.state, IncidentTicket(r.external_ref, _notified(r.delivered_hits)))
                for r in conn.execute(q)
            }

    def repoint(self, output: str, old_ref: str, new_ref: str) -> int:
        """Alert deliveries of `output` whose reference is `old_ref` (a merged incident's issue or page) now
        reference `new_ref` (its survivor's), so the lifecycle sync reads the ticket that stays open.
        Done before the merged ticket is closed: a crash in between leaves nothing pointing at a closed
        ticket of an open attack. Returns the deliveries re-pointed."""
        with self._tx() as conn:
            moved = conn.execute(
                DELIVERIES.update()
                .where(
                    DELIVERIES.c.output == output,
                    DELIVERIES.c.external_ref == old_ref,
                    DELIVERIES.c.alert_key.in_(sa.select(ALERTS.c.alert_key)),
                )
                .values(external_ref=new_ref)
            ).rowcount
        return int(moved)

    def mark_folded(self, merged_id: str, output: str, owner: str) -> None:
        """The merged incident's delivery on `output` was folded into its survivor's: done, lease ended."""
        with self._tx() as conn:
            conn.execute(
                DELIVERIES.update()
                .where(DELIVERIES.c.alert_key == merged_id, DELIVERIES.c.output == output)
                .values(state="merged", **_lease_ended(owner))
            )

    def triage_unsynced(
        self, output: str, actions: tuple[str, ...] = ("close", "reopen")
    ) -> list[TriageToSync]:
        """Incidents whose delivery on `output` does not show their latest triage yet: the incident has a
        delivered ticket or page there (not folded into another) and one of `actions` newer than the one it
        last reflected. Tickets mirror closes and reopens (an issue has no acknowledged state); pages take
        acknowledgements too."""
        latest = (
            sa.select(
                INCIDENT_ACTIONS.c.incident_id, sa.func.max(INCIDENT_ACTIONS.c.action_id).label("action_id")
            )
            .where(INCIDENT_ACTIONS.c.action.in_(actions))
            .group_by(INCIDENT_ACTIONS.c.incident_id)
            .subquery()
        )
        q = (
            sa.select(DELIVERIES.c.alert_key, DELIVERIES.c.external_ref, latest.c.action_id)
            .join(latest, latest.c.incident_id == DELIVERIES.c.alert_key)
            .where(
                DELIVERIES.c.output == output,
                DELIVERIES.c.external_ref.is_not(None),
                DELIVERIES.c.state != "merged",
                latest.c.action_id > sa.func.coalesce(DELIVERIES.c.synced_action, 0),
            )
            .order_by(DELIVERIES.c.alert_key)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
            rows_by_id = {
                r.action_id: r
                for r in conn.execute(
                    sa.select(INCIDENT_ACTIONS).where(INCIDENT_ACTIONS.c.action_id.in_([r[2] for r in rows]))
                )
            }
        return [TriageToSync(r[0], r[1], rows_by_id[r[2]]._asdict()) for r in rows]

    def mark_triage_synced(self, incident_id: str, output: str, action_id: int, owner: str | None) -> None:
        """The ticket on `output` shows the incident's action `action_id` now (never moves back); ends
        `owner`'s lease on the incident's row (None: holds none)."""
        with self._tx() as conn:
            conn.execute(
                DELIVERIES.update()
                .where(DELIVERIES.c.alert_key == incident_id, DELIVERIES.c.output == output)
                .values(
                    synced_action=sa.case(
                        (sa.func.coalesce(DELIVERIES.c.synced_action, 0) < action_id, action_id),
                        else_=DELIVERIES.c.synced_action,
                    ),
                    **(_lease_ended(owner) if owner is not None else {}),
                )
            )

    def _set_deliveries(self, key: str, output: str | None, **values: Any) -> int:
        with self._tx() as conn:
            where = [DELIVERIES.c.alert_key == key]
            if output:
                where.append(DELIVERIES.c.output == output)
            return conn.execute(DELIVERIES.update().where(*where).values(**values)).rowcount


RETRY_FIRST = timedelta(minutes=5)
RETRY_MAX = timedelta(hours=1)


def retry_backoff(failures: int) -> timedelta:
    """5, 10, 20, 40 minutes, then hourly: a short blip costs minutes, a long outage costs few requests."""
    return min(RETRY_MAX, RETRY_FIRST * 2 ** max(0, failures - 1))


def _iso(t: datetime | None) -> str:
    return (t or datetime.now(UTC)).astimezone(UTC).isoformat()


def _take_lease(
    conn: Connection, where: tuple[sa.ColumnElement[bool], ...], owner: str, held: datetime, lease: timedelta
) -> int:
    """Take the lease of the delivery row(s) `where` selects if free or expired: 1 when this owner won it.
    One conditional UPDATE, so two dispatchers racing for a row cannot both win (alert and incident rows)."""
    return conn.execute(
        DELIVERIES.update()
        .where(
            *where, sa.or_(DELIVERIES.c.lease_until.is_(None), DELIVERIES.c.lease_until < _lease_iso(held))
        )
        .values(lease_owner=owner, lease_until=_lease_iso(held + lease))
    ).rowcount


def _lease_iso(t: datetime) -> str:
    """Fixed width (always microseconds), so lease times compare correctly as text in any database."""
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def _has_work(at: str) -> list[sa.ColumnElement[bool]]:
    """A delivery has work at `at`: never delivered, failed, or its alert grew since; not cancelled, not
    backing off. One definition for `due` (what to try) and `claim` (what may be taken)."""
    hit_count = (
        sa.select(ALERTS.c.hit_count)
        .where(ALERTS.c.alert_key == DELIVERIES.c.alert_key)
        .correlate(DELIVERIES)
        .scalar_subquery()
    )
    return [
        sa.or_(DELIVERIES.c.state != "delivered", DELIVERIES.c.delivered_hits < hit_count),
        DELIVERIES.c.state != "cancelled",
        sa.or_(DELIVERIES.c.next_attempt_at.is_(None), DELIVERIES.c.next_attempt_at <= at),
    ]


def _lease_ended(owner: str | None) -> dict[str, Any]:
    """SET values ending `owner`'s lease and leaving anyone else's (None: end whatever lease there is)."""
    if owner is None:
        return {"lease_owner": None, "lease_until": None}
    mine = DELIVERIES.c.lease_owner == owner
    return {
        "lease_owner": sa.case((mine, sa.null()), else_=DELIVERIES.c.lease_owner),
        "lease_until": sa.case((mine, sa.null()), else_=DELIVERIES.c.lease_until),
    }


@dataclass(frozen=True)
class Delivery:
    """One (alert, output) pair with work to do; previous_ref is set when the output already has it."""

    alert: Alert
    output: str
    failures: int
    previous_ref: str | None


@dataclass(frozen=True)
class TriageToSync:
    """An incident whose ticket (`ref` on one output) lags its triage: `action` is the incident_actions row
    (as a dict: action_id, incident_id, action, verdict, note, actor, at) to mirror there."""

    incident_id: str
    ref: str
    action: dict[str, Any]


@dataclass(frozen=True)
class IncidentClaim:
    """What `Ledger.claim_incident` got: whether this dispatcher holds the incident's lease now, the
    incident's delivery so far, and who holds the lease when it is someone else."""

    won: bool
    ticket: IncidentTicket
    held_by: str | None = None


# Severities in rising order: an incident row's delivered_hits is 1 + the index of the severity it notified at.
NOTIFIED_RANK = ("info", "low", "medium", "high", "critical")


def _notified(rank: int | None) -> str | None:
    return NOTIFIED_RANK[rank - 1] if rank and 0 < rank <= len(NOTIFIED_RANK) else None


@dataclass(frozen=True)
class Claim:
    """What `Ledger.claim` got: the delivery to send (won), or who holds it (in flight elsewhere), or
    neither (nothing left to do: delivered meanwhile, backing off or cancelled)."""

    delivery: Delivery | None
    held_by: str | None = None


_DELIVERY_VIEW = sa.select(
    ALERTS, DELIVERIES.c.output, DELIVERIES.c.failures, DELIVERIES.c.external_ref
).join(DELIVERIES, DELIVERIES.c.alert_key == ALERTS.c.alert_key)


def schema_revision(url: str) -> str | None:
    """The schema revision of the ledger at `url` without migrating it (None: empty, or made before migrations)."""
    from mamori.alerts import migrations  # Alembic (~1 s) only when asked

    engine = sa.create_engine(url)
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)  # a fresh MAMORI_HOME has no folder yet
    return migrations.current(engine)


def migrate(url: str) -> tuple[str | None, str | None]:
    """Bring the ledger's schema to head, as every open does (under the migration lock): (before, after)."""
    before = schema_revision(url)
    Ledger(url)
    return before, schema_revision(url)
