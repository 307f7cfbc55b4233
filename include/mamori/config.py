"""Settings from the environment, with embedded defaults that need no cloud at all.

Everything that changes between a laptop and AWS is a setting here (URLs, connection ids, engine), so the
pipeline code never branches on "am I local". Secrets are never settings: they live in Airflow connections.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from mamori.windows import HOUR, interval_problem, poke_interval

# The default cadence of ingest and detect, in minutes (issue 19: landing → ticket p95 within 15 minutes). A
# landed object waits for the end of its ingest window, then ingest, the sensor, the rules and dispatch: at 5
# minutes the window wait is 2.5 on average and 5 at worst, leaving the rest of the 15 to the tasks on a loaded
# machine (10 would leave 5). It costs 288 runs a day per DAG: 6 ingest DAGs + detect + health = 2,304 runs
# (plus dispatch_alerts, asset-triggered, at most one per detect run), mostly of empty or small windows. Lake
# partitions stay hourly and dedup buckets keep their periods: only how often the windows close changes.
DEFAULT_CADENCE = "5"

# The repo's sql/ when running from a checkout (pip install -e .); containers set MAMORI_SQL_DIR.
_REPO_SQL = Path(__file__).resolve().parents[2] / "sql"


class ConfigError(ValueError):
    """A MAMORI_* variable with a value mamori cannot use; `.setting` names the variable to fix."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class Settings:
    """One place for every knob; built once per task from the environment."""

    home: Path
    raw_url: str  # where AWS delivers logs (read-only for mamori)
    lake_url: str  # curated Parquet, quarantine, manifests
    raw_conn_id: str | None  # Airflow connection for s3:// raw (None = default credentials chain)
    lake_conn_id: str | None
    engine: str  # "duckdb" (embedded) or "athena"
    athena_conn_id: str
    athena_database: str
    ledger_url: str  # SQLAlchemy URL of the alert ledger
    outbox_url: str  # local output: Markdown tickets + JSONL
    sql_dir: Path
    ingest_interval: timedelta  # the ingest (and health) DAGs' schedule; detection waits for these windows
    # The detect run's own detection window = data interval shifted back by this: MAMORI_DETECT_LAG_MINUTES,
    # 60 when unset. Set, it is every source's delivery lag too; unset (`source_lags`), each source's events are
    # evaluated with the delivery lag its folder declares (mamori.sources.delivery_lag), none longer than this.
    detect_lag: timedelta
    batch_max_objects: int
    # Days of key dates before a landing window's own (its day and the one before) that each day's first ingest
    # window lists for objects landed in the last day (an archive copied in): warned about, counted, not read.
    archive_check_days: int
    batch_max_bytes: int
    # Athena partition projection enumerates these (the lake's account=/region= values); no crawler needed.
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    projection_start: str = "2024-01-01"  # first dt= Athena projects
    # Arrow bytes a convert task holds before it spills sorted runs to local disk (mamori.lake.convert): with the
    # interpreter and one object's parse this bounds a task's memory, whatever the batch's size.
    convert_budget_bytes: int = 128 * 1024 * 1024
    # How long after an hour partition (and the ingest windows that wrote into it) ended compaction waits before
    # merging its files (mamori.lake.compact): detections and reconciliation only read younger hours and windows.
    compact_settle: timedelta = timedelta(hours=48)
    # How long a dispatcher holds the one right to send an (alert, output) (mamori.alerts.ledger.Ledger.claim):
    # longer than one delivery with the output's own retries (GitHub: 4 tries, waits capped at 60 s, ~6 min
    # at worst), because an expired lease lets another dispatcher send too; a killed dispatcher's deliveries
    # wait this long before another one takes them over.
    delivery_lease: timedelta = timedelta(minutes=15)
    # Alerts sharing an entity (principal, address, access key, instance) at most this far apart in event time
    # join one incident (mamori.alerts.incidents): long enough to hold an intrusion's day, from the first scan
    # to the exfiltration, short enough that a principal's alert next week opens a new incident.
    incident_horizon: timedelta = timedelta(hours=24)
    # Cardinality guard: an entity already seen in more than this many alerts of the horizon is shared
    # infrastructure (a NAT address, a bastion, a scanner everyone sees) and stops joining alerts. One intrusion
    # rarely raises more than a few dozen alerts a day (the demo's story: 26, 23 of them on the attacker's IP).
    incident_max_entity_alerts: int = 50
    # An offline IP reputation list (CSV `ip_or_cidr,label,source`) for ticket enrichment
    # (mamori.alerts.lookups); None = the lookup is off.
    ip_reputation_file: Path | None = None
    # The detect DAG's schedule: how long a detection window is (mamori.windows); the ingest interval unless set.
    # Each detect run waits for the ingest windows covering its data interval, whatever their length.
    detect_interval: timedelta = HOUR
    # How long after its data interval ends a detect run has to record its window's result before the window
    # counts as not evaluated in time (`mamori_detect_deadline`): the ingest wait plus the rules, with room.
    # The detect DAG's Airflow DeadlineAlert uses it too (from the run's queue time).
    detect_deadline: timedelta = timedelta(minutes=30)
    # Executor queues of the ingest_* and detect DAGs' tasks (Celery: one worker pool per workload, see
    # docs/scale.md); None = Airflow's [operators] default_queue, which LocalExecutor ignores anyway.
    ingest_queue: str | None = None
    detect_queue: str | None = None
    # True when MAMORI_DETECT_LAG_MINUTES is unset: each source trails by its declared delivery lag.
    source_lags: bool = False
    # Each detect run evaluates again the detection windows of this much time before its own (rounded up to
    # whole windows, mamori.windows.reread_windows), so deliveries later than the lag by up to this much are
    # evaluated by the next run; the ledger replaces a re-read window's contribution, so nothing counts twice.
    detect_overlap: timedelta = timedelta(0)
    # How far each source's own (first) detection window trails the run's data interval
    # (MAMORI_DETECT_FIRST_LAG_MINUTES; mamori.windows.first_lag): 0 by default with per-source lags, so a
    # window is first evaluated as soon as the ingest window covering its end is in, and re-read by the next
    # runs up to its source's delivery lag plus the overlap (late deliveries alert at the first run after they
    # land, once). None (MAMORI_DETECT_LAG_MINUTES set, this unset): the one lag, as before.
    detect_first_lag: timedelta | None = None
    # Rules per mapped `run_detections` task (rules of one source per task, so they share its scans): each task
    # is a process that parses the DAG file and opens the engine and ledger, a cost of seconds that the rules'
    # own queries (tenths of a second each on an hour of data) do not amortize when it is small. `mamori up`
    # runs 30 (one task for each small source, CloudTrail's 100+ rules in four that its workers share); 10 keeps
    # a big deployment's rules spread over workers.
    detect_chunk_size: int = 10
    # How often detect's `wait_for_ingest` sensor (reschedule mode: a task process per poke) checks the lake.
    # Unset: a tenth of the detect interval between 30 s and 2 min (mamori.windows.poke_interval), so the
    # wait it adds stays a small share of a short window.
    detect_poke: timedelta = timedelta(minutes=2)
    # How many of a detect run's `run_detections` tasks run at once. `mamori up` sets its executor's worker count
    # (4), so the sample's first detect run takes every worker and the next run's chunks wait for it.
    detect_parallel_chunks: int = 2
    # An SQS queue receiving the raw bucket's s3:ObjectCreated notifications (MAMORI_INGEST_SQS_URL; AWS mode
    # only): set, the ingest DAGs also run when it has messages, on the most recent closed window if nobody has
    # finalized it yet (ADR 0003, issue 19), the cadence staying the safety net. None = the cadence alone.
    ingest_sqs_url: str | None = None


def _url(e: Mapping[str, str], name: str, default: Path) -> str:
    """A store URL: `file://` or `s3://<bucket>[/prefix]` (what the stores and both engines read), or a plain
    local path. Checked here, so a typo is one line naming the variable instead of a storage library's
    traceback at the first read, which never says where the URL came from."""
    value = e.get(name)
    if not value:
        return default.resolve().as_uri()
    scheme, sep, rest = value.partition("://")
    bad_url = bool(sep) and not (scheme == "file" or (scheme == "s3" and rest.strip("/")))
    lost_slashes = not sep and ":" in value.split("/", 1)[0]  # `s3:/bucket`, `s3:bucket`
    if bad_url or lost_slashes:
        raise ConfigError(
            name, f"{name} must be a file:// or s3://<bucket> URL (or a local path), not {value!r}"
        )
    return value.rstrip("/")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read MAMORI_* variables; every one is optional (see .env.example for what each does)."""
    e = os.environ if env is None else env
    home = Path(e.get("MAMORI_HOME") or Path.home() / ".mamori")
    engine = e.get("MAMORI_ENGINE", "duckdb")
    if engine not in ("duckdb", "athena"):
        raise ConfigError("MAMORI_ENGINE", f"MAMORI_ENGINE must be duckdb or athena, not {engine!r}")
    return Settings(
        home=home,
        raw_url=_url(e, "MAMORI_RAW_URL", home / "raw"),
        lake_url=_url(e, "MAMORI_LAKE_URL", home / "lake"),
        raw_conn_id=e.get("MAMORI_RAW_CONN_ID") or None,
        lake_conn_id=e.get("MAMORI_LAKE_CONN_ID") or None,
        engine=engine,
        athena_conn_id=e.get("MAMORI_ATHENA_CONN_ID", "mamori_athena"),
        athena_database=e.get("MAMORI_ATHENA_DATABASE", "mamori"),
        ledger_url=e.get("MAMORI_LEDGER_URL") or f"sqlite:///{(home / 'ledger.db').resolve()}",
        outbox_url=_url(e, "MAMORI_OUTBOX_URL", home / "outbox"),
        sql_dir=Path(e.get("MAMORI_SQL_DIR") or _REPO_SQL),
        ingest_interval=_cadence(e, "MAMORI_INGEST_INTERVAL_MINUTES", DEFAULT_CADENCE),
        detect_lag=timedelta(
            minutes=_int(_set(e, "MAMORI_DETECT_LAG_MINUTES"), "MAMORI_DETECT_LAG_MINUTES", "60")
        ),
        source_lags=not e.get("MAMORI_DETECT_LAG_MINUTES"),
        detect_overlap=timedelta(minutes=_non_negative_int(e, "MAMORI_DETECT_OVERLAP_MINUTES", 15)),
        batch_max_objects=_int(e, "MAMORI_BATCH_MAX_OBJECTS", "500"),
        archive_check_days=_int(e, "MAMORI_ARCHIVE_CHECK_DAYS", "35"),
        batch_max_bytes=_int(e, "MAMORI_BATCH_MAX_BYTES", str(256 * 1024 * 1024)),
        accounts=_csv(e.get("MAMORI_ACCOUNTS", "")),
        regions=_csv(e.get("MAMORI_REGIONS", "")),
        projection_start=e.get("MAMORI_PROJECTION_START", "2024-01-01"),
        convert_budget_bytes=_int(e, "MAMORI_CONVERT_BUDGET_MB", "128") * 1024 * 1024,
        compact_settle=timedelta(hours=_int(e, "MAMORI_COMPACT_SETTLE_HOURS", "48")),
        delivery_lease=_positive_seconds(e, "MAMORI_DELIVERY_LEASE_SECONDS", 15 * 60),
        incident_horizon=timedelta(hours=_positive_int(e, "MAMORI_INCIDENT_HORIZON_HOURS", 24)),
        incident_max_entity_alerts=_positive_int(e, "MAMORI_INCIDENT_MAX_ENTITY_ALERTS", 50),
        ip_reputation_file=Path(e["MAMORI_IP_REPUTATION_FILE"])
        if e.get("MAMORI_IP_REPUTATION_FILE")
        else None,
        # Unset: detect at the ingest cadence (one knob changes the whole pipeline's rhythm).
        detect_interval=_cadence(
            e, "MAMORI_DETECT_INTERVAL_MINUTES", e.get("MAMORI_INGEST_INTERVAL_MINUTES") or DEFAULT_CADENCE
        ),
        detect_first_lag=_first_lag(e),
        detect_deadline=timedelta(minutes=_positive_int(e, "MAMORI_DETECT_DEADLINE_MINUTES", 30)),
        ingest_queue=_queue(e, "MAMORI_INGEST_QUEUE"),
        detect_queue=_queue(e, "MAMORI_DETECT_QUEUE"),
        detect_chunk_size=_positive_int(e, "MAMORI_DETECT_CHUNK_SIZE", 10),
        detect_poke=_positive_seconds(
            e,
            "MAMORI_DETECT_POKE_SECONDS",
            int(
                poke_interval(
                    _cadence(e, "MAMORI_DETECT_INTERVAL_MINUTES", _ingest_minutes(e))
                ).total_seconds()
            ),
        ),
        detect_parallel_chunks=_positive_int(e, "MAMORI_DETECT_PARALLEL_CHUNKS", 2),
        ingest_sqs_url=_sqs_url(e, "MAMORI_INGEST_SQS_URL", _url(e, "MAMORI_RAW_URL", home / "raw")),
    )


# Two settings are read by the one command that uses them, not by load_settings: a bad value must cost that
# command only, never every task that loads settings. They are defined here all the same, so this module and
# .env.example name every MAMORI_* variable (tests/unit/test_env_contract.py).


def query_budget(env: Mapping[str, str] | None = None) -> str | None:
    """MAMORI_QUERY_BUDGET_BYTES as written (`500M`, `10G`, a byte count): the default scan budget of
    `mamori query`/`hunt`/`search` on Athena, parsed by the CLI exactly like `--max-bytes`."""
    e = os.environ if env is None else env
    return e.get("MAMORI_QUERY_BUDGET_BYTES") or None


def local_port(env: Mapping[str, str] | None = None) -> int:
    """MAMORI_LOCAL_PORT: the port of the Airflow UI/API that `mamori up` starts (default 8080)."""
    e = os.environ if env is None else env
    return _int(e, "MAMORI_LOCAL_PORT", "8080")


def remote_airflow(env: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """MAMORI_AIRFLOW_URL and MAMORI_AIRFLOW_TOKEN: the Airflow deployment `mamori backfill` drives through
    its REST API (a bearer token from its /auth/token); unset, the local instance of `mamori up` if running."""
    e = os.environ if env is None else env
    return e.get("MAMORI_AIRFLOW_URL") or None, e.get("MAMORI_AIRFLOW_TOKEN") or None


def _int(e: Mapping[str, str], name: str, default: str) -> int:
    """A whole-number setting; a typo names its variable instead of surfacing as int()'s bare complaint."""
    value = e.get(name, default)
    try:
        return int(value)
    except ValueError:
        raise ConfigError(name, f"{name} must be a whole number, not {value!r}") from None


def _cadence(e: Mapping[str, str], name: str, default: str) -> timedelta:
    """A schedule interval in minutes: one that tiles hours and days, so windows stay aligned to the epoch
    and to the lake's hour partitions (mamori.windows.interval_problem says which those are)."""
    minutes = _int({name: e.get(name) or default}, name, default)  # empty (compose's `${VAR:-}`) = unset
    problem = interval_problem(minutes)
    if problem is not None:
        raise ConfigError(name, f"{name} {problem}, not {minutes}")
    return timedelta(minutes=minutes)


def _ingest_minutes(e: Mapping[str, str]) -> str:
    return e.get("MAMORI_INGEST_INTERVAL_MINUTES") or DEFAULT_CADENCE


def _first_lag(e: Mapping[str, str]) -> timedelta | None:
    """MAMORI_DETECT_FIRST_LAG_MINUTES when set; else 0 with per-source lags (MAMORI_DETECT_LAG_MINUTES unset)
    and None (the one lag, no early look) when MAMORI_DETECT_LAG_MINUTES is set."""
    if e.get("MAMORI_DETECT_FIRST_LAG_MINUTES"):
        return timedelta(minutes=_non_negative_int(e, "MAMORI_DETECT_FIRST_LAG_MINUTES", 0))
    return None if e.get("MAMORI_DETECT_LAG_MINUTES") else timedelta(0)


def _positive_seconds(e: Mapping[str, str], name: str, default: int) -> timedelta:
    value = e.get(name) or str(default)
    if not value.isdigit() or int(value) <= 0:
        raise ConfigError(name, f"{name} must be a positive number of seconds, not {value!r}")
    return timedelta(seconds=int(value))


def _set(e: Mapping[str, str], name: str) -> dict[str, str]:
    """{name: value} when the variable is set and not empty (compose's `${VAR:-}` means unset), else {}."""
    return {name: e[name]} if e.get(name) else {}


def _non_negative_int(e: Mapping[str, str], name: str, default: int) -> int:
    value = e.get(name) or str(default)
    if not value.isdigit():
        raise ConfigError(name, f"{name} must be a whole number of minutes (0 or more), not {value!r}")
    return int(value)


def _positive_int(e: Mapping[str, str], name: str, default: int) -> int:
    value = e.get(name) or str(default)
    if not value.isdigit() or int(value) <= 0:
        raise ConfigError(name, f"{name} must be a positive whole number, not {value!r}")
    return int(value)


def _queue(e: Mapping[str, str], name: str) -> str | None:
    """A Celery queue name, or None (unset/blank) for Airflow's default queue. Whitespace or a comma in it is a
    mistake (a worker's `-q a,b` lists queues; a task has exactly one), refused here with the variable's name
    instead of tasks that sit queued forever because no worker listens to a queue with a space in its name."""
    value = (e.get(name) or "").strip()
    if not value:
        return None
    if any(c.isspace() or c == "," for c in value):
        raise ConfigError(name, f"{name} must be one queue name (no spaces or commas), not {value!r}")
    return value


def _sqs_url(e: Mapping[str, str], name: str, raw_url: str) -> str | None:
    """An SQS queue URL (`https://sqs.<region>.amazonaws.com/<account>/<queue>`, or `http://` for a local
    server such as moto), or None when unset. Only with an `s3://` raw store: notifications come from S3, and
    a local raw directory has nobody to send them, so the combination is a mistake worth one line now rather
    than a watcher polling a queue that never fills."""
    value = (e.get(name) or "").strip()
    if not value:
        return None
    scheme, sep, rest = value.partition("://")
    host, _, path = rest.partition("/")
    if not sep or scheme not in ("https", "http") or not host or not path.strip("/"):
        raise ConfigError(
            name,
            f"{name} must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>), not {value!r}",
        )
    if not raw_url.startswith("s3://"):
        raise ConfigError(
            name,
            f"{name} needs MAMORI_RAW_URL to be an s3:// bucket (S3 sends the notifications), not {raw_url!r}",
        )
    return value


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())
