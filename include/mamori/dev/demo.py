"""`make demo`: a day of generated logs of every source, through the real DAGs, checked against the generators' truth.

The DAGs run through Airflow (`dag.test()` per window at the configured cadence: a real DagRun in the SQLite
metadata DB, tasks executed by Airflow, XComs, mapped tasks, sensors), not by calling pipeline functions
directly. Airflow's own log goes to <home>/airflow-runs.log so the terminal shows the summary a user wants.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from mamori.config import load_settings
from mamori.sources import SOURCES
from mamori.windows import HOUR

SEV_ORDER = ["critical", "high", "medium", "low", "info"]


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send fd 1/2 (Airflow's structlog and task logs) to a file; restore them even on error."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _say(msg: str) -> None:
    print(msg, flush=True)


@contextlib.contextmanager
def without_deadline(dag: Any) -> Iterator[Any]:
    """The DAG with no `deadline` while inside, restored after.

    Airflow 3.3.2's `dag.test()` cannot finish a run of a DAG that declares a `DeadlineAlert` (detect does): the
    run's success prunes its deadlines with the test-mode DAG, which carries the alert definitions where the
    scheduler's DAG carries their ids, and the lookup fails (`'dict' object has no attribute 'hex'`;
    tests/dags/test_detect_deadline_dag.py pins it, so the day it is fixed the test says to drop this). The
    runs `dag.test()` makes are replays (manual runs of past windows), which the deadline never judges anyway
    (`mamori.health.deadline.on_detect_deadline_missed`).
    """
    saved = dag.deadline
    dag.deadline = None
    try:
        yield dag
    finally:
        dag.deadline = saved


@contextlib.contextmanager
def dag_folder_synced_once() -> Iterator[None]:
    """While inside, `dag.test()` parses the DAG folder and writes it to the metadata DB once per bundle, not
    once per call.

    Airflow 3.3's `dag.test()` re-parses every file of the DAG's bundle and re-syncs all its DAGs on each call,
    so that sibling DAGs a run triggers are in the DB (apache/airflow#64884); the sync is idempotent per DAG
    hash, so every call after the first writes nothing and only pays for it (parsing 6 files, serializing 12
    DAGs: about a quarter of a second a run, ~20 runs in the demo). The demo's folder does not change while it
    runs, so the first parse and sync stand for the rest; the runs themselves (DagRun, task instances, XComs,
    mapped tasks, sensors) are Airflow's as before. Patched where `dag.test()` imports them, at call time.
    """
    from unittest import mock

    from airflow.dag_processing import dagbag as dagbag_module

    real_bag, real_sync = dagbag_module.BundleDagBag, dagbag_module.sync_bag_to_db
    bags: dict[tuple[str, str], Any] = {}
    synced: set[tuple[str, str | None]] = set()

    def bag_once(*args: Any, **kwargs: Any) -> Any:
        key = (str(kwargs.get("bundle_name")), str(kwargs.get("dag_folder")))
        if key not in bags:
            bags[key] = real_bag(*args, **kwargs)
        return bags[key]

    def sync_once(bag: Any, bundle_name: str, bundle_version: str | None, **kwargs: Any) -> None:
        if (bundle_name, bundle_version) not in synced:
            real_sync(bag, bundle_name, bundle_version, **kwargs)
            synced.add((bundle_name, bundle_version))

    with (
        mock.patch.object(dagbag_module, "BundleDagBag", bag_once),
        mock.patch.object(dagbag_module, "sync_bag_to_db", sync_once),
    ):
        yield


def run_windows(dag: Any, logical_dates: list[datetime], log_path: Path) -> list[str]:
    """dag.test() for each logical date; returns the failed run ids (empty = all succeeded)."""
    failed = []
    for i, ld in enumerate(logical_dates, 1):
        with _output_to(log_path), without_deadline(dag):
            run = dag.test(logical_date=ld)
        state = str(getattr(run, "state", "unknown"))
        if "success" not in state:
            failed.append(f"{dag.dag_id}@{ld.isoformat()} ({state})")
        print(f"\r  {dag.dag_id:18} {i:3}/{len(logical_dates)} windows", end="", flush=True)
    print()
    return failed


# Settings the demo replays with when the environment leaves them unset (see run_demo): one landing window for the
# day (and one for its last deliveries), detect runs of six hours each trailing their data by one window, no
# lookback re-reads, one run_detections task per source. That is 14 ingest runs and 4 detect runs instead of
# 175 and 24: hourly, the demo spent most of its time on what every dag.test() run pays whatever its data (it
# re-parses and re-syncs the DAG folder, starts each task's supervisor, opens DuckDB over the lake; an empty
# source's run even sleeps a second), not on the day's logs. The lake's rows are the same at any ingest cadence;
# detection stays at six hours because a first-seen rule's baseline ends where its window starts (a whole-day
# window has no baseline for the day's first calls, and cloudtrail_first_seen_caller_identity went quiet).
# What follows the windows: the lake's file layout (one batch per window), the per-window ledger rows,
# `opened_window_end`, and the freshness table, whose streams are "learning" with fewer than
# `min_history_windows` windows behind them (docs/operations.md, Cadence).
DEMO_CADENCE = {
    "MAMORI_INGEST_INTERVAL_MINUTES": "1440",
    "MAMORI_DETECT_INTERVAL_MINUTES": "360",
    "MAMORI_DETECT_OVERLAP_MINUTES": "0",
    "MAMORI_DETECT_CHUNK_SIZE": "200",
}
INTERVALS = ("MAMORI_INGEST_INTERVAL_MINUTES", "MAMORI_DETECT_INTERVAL_MINUTES")


def demo_env(env: Mapping[str, str]) -> dict[str, str]:
    """The settings the demo adds to `env`: DEMO_CADENCE's, for those `env` leaves unset; its two intervals only
    when `env` sets neither (one set by hand keeps config's default for the other). An unset lag is one detect
    window (the detect interval in effect, or else the ingest interval, as config derives it), so each detect run
    evaluates exactly its own data interval (`demo_run_dates`)."""
    by_hand = any(env.get(name) for name in INTERVALS)
    added = {
        name: value
        for name, value in DEMO_CADENCE.items()
        if not env.get(name) and not (by_hand and name in INTERVALS)
    }
    if not env.get("MAMORI_DETECT_LAG_MINUTES"):
        merged = {**env, **added}
        added["MAMORI_DETECT_LAG_MINUTES"] = (
            merged.get("MAMORI_DETECT_INTERVAL_MINUTES")
            or merged.get("MAMORI_INGEST_INTERVAL_MINUTES")
            or "60"
        )
    return added


def demo_run_dates(start: datetime, end: datetime, s: Any) -> tuple[list[datetime], list[datetime]]:
    """The logical dates (run_after) of the demo's ingest runs and detect runs for the events of [start, end).

    Ingest windows are landing windows: the last deliveries land up to ~40 minutes after the last event
    (CloudTrail Insights), so ingest runs on for an hour (or one window, if longer) past the data, and at least
    to the end of the last detect run's data interval, which its sensor waits for. A detect run is dated one lag
    after its data interval, so that its detection window (the interval shifted back by the lag) is the
    interval itself: with a lag that is a whole number of detect windows, the detection windows tile
    [start, end) exactly (tests/unit/test_demo_cadence.py).
    """
    from mamori.windows import run_dates

    tail = max(s.ingest_interval, HOUR, s.detect_lag)
    ingest_dates = run_dates(start, end + tail, s.ingest_interval)
    detect_dates = [t + s.detect_lag for t in run_dates(start, end, s.detect_interval)]
    return ingest_dates, detect_dates


def run_demo(start: datetime, hours: int, seed: int, keep: bool = False) -> int:
    """Generate, ingest, detect, dispatch; print the summary; non-zero when alerts ≠ ground truth or the
    incidents fail their gate (`incident_gate`)."""
    from mamori.dev.generate import demo_sources, write_samples

    # The demo replays its day in DEMO_CADENCE's windows unless the environment says otherwise: the fastest
    # replay, with the story's alerts as hourly windows give them (docs/operations.md).
    os.environ.update(demo_env(os.environ))
    s = load_settings()
    s.home.mkdir(parents=True, exist_ok=True)
    if not keep:
        for name in ("raw", "lake", "outbox"):
            shutil.rmtree(s.home / name, ignore_errors=True)
        (s.home / "ledger.db").unlink(missing_ok=True)
    log_path = s.home / "airflow-runs.log"
    log_path.unlink(missing_ok=True)
    t0 = time.monotonic()

    _say(f"mamori demo — home {s.home}")
    story = demo_sources()
    steps = write_samples(start, hours, seed, story, workers=os.cpu_count() or 1)
    (s.home / "ground_truth.json").write_bytes(
        orjson.dumps([st.__dict__ for st in steps], option=orjson.OPT_INDENT_2, default=str)
    )
    _say(
        f"1. generated {hours}h of logs ({len(story)} sources) from {start:%Y-%m-%d %H:%M}Z into {s.raw_url} "
        f"({len(steps)} attack steps injected)"
    )

    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    with _output_to(log_path):
        db.initdb()
        bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        _say(f"DAG import errors: {bag.import_errors}")
        return 2
    # What is loaded by now (Airflow, GX, DuckDB, sqlglot, the DAGs) lives as long as the process: frozen, the
    # collector's full passes stop walking it (one took ~1 s, docs/benchmarks.md, End to end), as a long-lived
    # worker would do.
    gc.freeze()
    end = start + HOUR * hours
    ingest_dates, detect_dates = demo_run_dates(start, end, s)
    _say(
        f"2. running Airflow DAGs with dag.test() (AIRFLOW_HOME={os.environ.get('AIRFLOW_HOME')}); "
        f"Airflow log: {log_path}"
    )
    failed = []
    with dag_folder_synced_once():
        for name in SOURCES:  # every source's: detect waits for each source with rules, generated or not
            failed += run_windows(bag.dags[f"ingest_{name}"], ingest_dates, log_path)
        failed += run_windows(bag.dags["detect"], detect_dates, log_path)
        # Health checks (freshness, drift, reconciliation, late data) for the last full ingest window; the last
        # ingest window only holds the stragglers of the generated day, which would read as a volume drop.
        failed += run_windows(bag.dags["health"], [end], log_path)
        # detect emits the ledger asset; in a scheduler that triggers dispatch_alerts, here we run it once.
        failed += run_windows(bag.dags["dispatch_alerts"], detect_dates[-1:], log_path)
    if failed:
        _say(f"FAILED runs: {failed} — see {log_path}")
        return 1
    return _summary(s, steps, len(detect_dates), time.monotonic() - t0, health_end=end)


ATTACKER = "198.51.100.23"  # the generators' shared attacker


def pivot(settings: Any, ip: str) -> list[tuple[str, int]]:
    """Events per source mentioning an IP, through the common columns of the all_events view."""
    from mamori.engines import get_engine
    from mamori.search_literals import sql_string

    engine = get_engine(settings)
    try:
        rows = engine.query(
            "SELECT source, count(*) AS n FROM all_events "
            f"WHERE contains(related_ips, {sql_string(ip)}) GROUP BY source ORDER BY source"
        ).to_pylist()
    finally:
        engine.close()
    return [(r["source"], int(r["n"])) for r in rows]


def compare_ground_truth(steps: list[Any], alerts: list[Any]) -> tuple[list[str], list[Any]]:
    """(missed steps, unexplained alerts), matched exactly: a step is detected by an alert of each expected
    detection whose dedup values are the entities the step names (`AttackStep.expected_dedup_values`: the
    account plus principal, IP, target, ... as the rule keys on them) and whose dedup window covers the step's
    time. Every alert must be such a match for some step: an alert on the same rule, account and window about
    another principal or address is background noise, and background activity must stay quiet."""
    missed: list[str] = []
    explained: set[str] = set()
    for st in steps:
        for det_id in st.detections:
            match = own_alerts(st, det_id, alerts)
            if match:
                explained.update(a.key for a in match)
            else:
                expected = st.expected_dedup_values(det_id)
                missed.append(f"{det_id} @ {st.time:%H:%M} {expected} ({st.summary})")
    return missed, [a for a in alerts if a.key not in explained]


def own_alerts(st: Any, det_id: str, alerts: list[Any]) -> list[Any]:
    """The alerts of `det_id` that are the step's own: its dedup values are exactly the ones the step names and
    its dedup window covers the step's time (also how bench/latency.py finds the alert whose ticket it times)."""
    expected = st.expected_dedup_values(det_id)
    return [
        a
        for a in alerts
        if a.detection_id == det_id
        and a.dedup_values == expected
        and datetime.fromisoformat(a.bucket_start) <= st.time < datetime.fromisoformat(a.bucket_end)
    ]


def _quality_summary(s: Any, health_end: datetime) -> None:
    """Data quality per source (every window) and freshness per stream (the health DAG's window)."""
    from mamori.health import freshness, report

    _say("\n   data quality (Great Expectations, every ingest batch)")
    for line in report.dq_lines(report.dq_by_source(s)):
        _say(line)
    _say(f"\n   freshness per stream (ingest window ending {health_end:%Y-%m-%d %H:%M}Z)")
    for line in report.freshness_lines(freshness.evaluate(health_end - s.ingest_interval, health_end, s)):
        _say(line)
    _say("")


MAX_STORY_INCIDENTS = 3  # one attacker should read as a few incidents, not as its couple of dozen alerts


def incident_gate(found: list[Any], noise: set[str]) -> str | None:
    """The demo's bar for grouping, as one line when it fails (None: passed): the attack story yields at most
    MAX_STORY_INCIDENTS incidents, and the benign background none (an incident whose alerts are all
    background noise). `noise` holds the keys of the alerts no injected step explains."""
    background = [i for i in found if all(a.key in noise for a in i.members)]
    story = len(found) - len(background)
    problems = []
    if story > MAX_STORY_INCIDENTS:
        problems.append(f"the attack story gave {story} incidents (at most {MAX_STORY_INCIDENTS})")
    if background:
        problems.append(f"the background gave {len(background)} (none allowed)")
    return "FAILED incidents: " + "; ".join(problems) if problems else None


def incident_lines(inc: Any) -> list[str]:
    """An incident as the demo prints it: its summary (severity and why, shared entities, rules), then each
    member alert (time, rule, key), oldest first, so which alerts each incident holds is on screen."""
    from mamori.alerts.incidents import describe

    lines = list(describe(inc, members=False))
    lines += [
        f"    {a.first_seen[:19].replace('T', ' ')}Z  {a.detection_id:45}  {a.key}" for a in inc.members
    ]
    return lines


def _incidents_summary(ledger: Any, noise: set[str]) -> str | None:
    """The alerts as a responder gets them: incidents (alerts sharing an entity), each with its severity and
    why, the entities its alerts share, its rules and its alerts. Returns the gate's failure line, if any."""
    from mamori.alerts.incidents import list_incidents

    found = list_incidents(ledger)
    background = [i for i in found if all(a.key in noise for a in i.members)]
    _say(
        f"   incidents          {len(found)} from {sum(len(i.members) for i in found)} alerts: "
        f"{len(found) - len(background)} from the attack story, {len(background)} from background"
    )
    for inc in found:
        for line in incident_lines(inc):
            _say(f"     {line}")
    return incident_gate(found, noise)


def _summary(
    s: Any, steps: list[Any], detect_windows: int, elapsed: float, health_end: datetime | None = None
) -> int:
    from mamori.alerts.ledger import Ledger
    from mamori.detect import enabled_detections
    from mamori.ingest import window_summaries

    _say("\n3. summary")
    _say(
        f"   {'source':20} {'windows':>7} {'objects':>8} {'skipped':>8} {'records in':>11} {'rows':>9} "
        f"{'quarantined':>11} {'files':>6}"
    )
    for name in SOURCES:
        wins = window_summaries(name, s)
        tot = Counter[str]()
        for w in wins:
            tot.update(w.totals())
        _say(
            f"   {name:20} {len(wins):>7} {tot['objects']:>8} {tot['skipped_objects']:>8} {tot['records_in']:>11} "
            f"{tot['rows_out']:>9} {tot['quarantined']:>11} {tot['files']:>6}"
        )
    if health_end is not None:
        _quality_summary(s, health_end)
    ledger = Ledger(s.ledger_url)  # opened once: each open logs the migration check
    alerts = ledger.alerts()
    by_sev = Counter(a.severity for a in alerts)
    _say(f"   detections run     {len(enabled_detections(s))} rules × {detect_windows} windows")
    _say("   alerts by severity " + ", ".join(f"{sev} {by_sev[sev]}" for sev in SEV_ORDER if by_sev[sev]))
    _say(f"   tickets            {s.outbox_url}/tickets/  (index: {s.outbox_url}/alerts.jsonl)")
    _say(f"   pivot on {ATTACKER}: " + ", ".join(f"{src} {n}" for src, n in pivot(s, ATTACKER)) + " events")
    missed, noise = compare_ground_truth(steps, alerts)
    gate = _incidents_summary(ledger, {a.key for a in noise})

    _say("\n4. ground truth")
    for st in steps:
        rules = ", ".join(st.detections) or "(story context: no rule for this source yet)"
        _say(f"   {st.time:%H:%M}Z {st.account} {st.summary[:60]:60} → {rules}")
    _say(
        f"   injected steps detected: {sum(len(st.detections) for st in steps) - len(missed)}"
        f"/{sum(len(st.detections) for st in steps)};  alerts from background: {len(noise)}"
    )
    for m in missed:
        _say(f"   MISSED {m}")
    for a in noise:
        _say(f"   NOISE  {a.detection_id} {a.dedup_values} {a.first_seen}")
    if gate:
        _say(f"   {gate}")
    _say(f"\ndone in {elapsed:.0f}s")
    return 1 if missed or noise or gate else 0
