"""Run detections against their raw-event test cases, through the real parser and the real DuckDB path.

A case is a raw delivery document (`{"description": ..., "Records": [...]}` for CloudTrail) under
`tests/detections/<id>/positive|negative/`. It goes through the source's parser, becomes the source's table
(with partition columns), and the detection runs for a window covering the case; the alert builder then
applies dedup and threshold. Positive means at least one alert, negative means none. For first-seen rules
(header `lookback`) the window is the hour of the case's last event and the earlier events are the baseline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from mamori.config import load_settings
from mamori.detections.dedup import group_hits
from mamori.detections.loader import Detection, load_catalog
from mamori.detections.runner import run_detection
from mamori.engines.duckdb import DuckDBEngine
from mamori.sources import get_source, get_spec
from mamori.sources.base import PARTITION_KEYS, RawKey
from mamori.windows import HOUR, hour_floor

# A case file holding this key is a stub (`mamori sigma import` writes them from a rule's detection block):
# it fails until a reviewer replaces or confirms its records and deletes the key.
STUB_KEY = "mamoriCaseStub"

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class CaseResult:
    detection_id: str
    kind: str  # positive | negative
    case: str
    alerts: int
    quarantined: int
    missing: bool = False
    expected_hourly: Pinned | None = None  # pinned in expected.yaml: outcome over consecutive hourly runs
    hourly: Pinned | None = None
    stub: str | None = None  # the stub's own text: a generated case nobody has reviewed yet (STUB_KEY)

    @property
    def passed(self) -> bool:
        if self.missing or self.quarantined or self.stub is not None:
            return False  # a case the parser rejects tests the parser, not the rule
        if self.expected_hourly is not None and (
            self.hourly is None or not meets(self.hourly, self.expected_hourly)
        ):
            return False
        return self.alerts > 0 if self.kind == "positive" else self.alerts == 0


EXPECTATIONS_FILE = "expected.yaml"


@dataclass(frozen=True)
class Pinned:
    """What a case must give over consecutive hourly runs: its alerts, and optionally their hits in all."""

    alerts: int
    hits: int | None = None

    def __str__(self) -> str:
        return f"{self.alerts} alert(s)" + (f", {self.hits} hit(s)" if self.hits is not None else "")


def case_expectations(cases_dir: Path, det: Detection) -> dict[str, Pinned]:
    """`<kind>/<file>` → exact outcome when the case runs as production does: one hourly run after another,
    their hits adding up in one ledger. Optional, per rule, in `tests/detections/<id>/expected.yaml`:
    `positive/x.json: 1` (alerts) or `positive/x.json: {alerts: 1, hits: 1}`.

    A positive case says "at least one alert" over one window covering it; that cannot tell one alert from
    one per hour, one hit from the same burst counted in every run, nor see a burst lost at an hour edge.
    Pinning the outcome under hourly runs can, so window-edge behaviour (counting rules, sequence reach-back)
    is proven by cases, and so by mutants too.
    """
    path = cases_dir / det.id / EXPECTATIONS_FILE
    if not path.is_file():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: must map '<positive|negative>/<case file>' to a number of alerts")
    problems = []
    if det.header.lookback:
        problems.append("first-seen rules cannot pin hourly runs (their earlier hours are the baseline)")
    out: dict[str, Pinned] = {}
    for name, value in raw.items():
        kind = str(name).split("/", 1)[0]
        alerts, hits = (value.get("alerts"), value.get("hits")) if isinstance(value, dict) else (value, None)
        if not (cases_dir / det.id / str(name)).is_file():
            problems.append(f"{name}: no such case file")
        elif isinstance(value, dict) and set(value) - {"alerts", "hits"}:
            problems.append(f"{name}: only 'alerts' and 'hits' can be pinned")
        elif not isinstance(alerts, int) or alerts < 0 or (kind == "negative" and alerts != 0):
            problems.append(f"{name}: expected alerts must be an integer (0 for a negative case)")
        elif kind == "positive" and alerts < 1:
            problems.append(f"{name}: a positive case expects at least one alert")
        elif hits is not None and (not isinstance(hits, int) or hits < alerts):
            problems.append(f"{name}: hits must be an integer, at least the number of alerts")
        else:
            out[str(name)] = Pinned(alerts, hits)
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return out


def case_hours(table: pa.Table) -> list[tuple[datetime, datetime]]:
    """The hourly run windows a case spans, first to last, as the scheduler would run them."""
    times = [t.replace(tzinfo=UTC) for t in table.column("event_time").to_pylist()]
    t, last = hour_floor(min(times)), hour_floor(max(times))
    out = []
    while t <= last:
        out.append((t, t + HOUR))
        t += HOUR
    return out


def outcome_over_runs(det: Detection, engine: Any, windows: list[tuple[datetime, datetime]]) -> Pinned:
    """Alerts (and their hits) after running `det` once per window, every run's hits adding up as in the
    ledger: what a pinned case is compared with."""
    hits = [h for start, end in windows for h in run_detection(det, engine, start, end)]
    alerts = [c for c in group_hits(det, hits) if c.hits >= det.header.threshold]
    return Pinned(len(alerts), sum(c.hits for c in alerts))


def meets(outcome: Pinned, pinned: Pinned) -> bool:
    return outcome.alerts == pinned.alerts and (pinned.hits is None or outcome.hits == pinned.hits)


CASE_SUFFIXES = (".json", ".log", ".txt")


def case_files(cases_dir: Path, detection_id: str) -> dict[str, list[Path]]:
    """Case files: the raw object exactly as AWS delivers it (CloudTrail JSON, log lines, Firehose JSON)."""
    base = cases_dir / detection_id
    return {
        kind: sorted(p for p in (base / kind).glob("*") if p.suffix in CASE_SUFFIXES)
        for kind in ("positive", "negative")
    }


def case_stub(path: Path) -> str | None:
    """The stub text of a generated, unreviewed case file (a JSON document carrying STUB_KEY), else None."""
    if path.suffix != ".json" or STUB_KEY.encode() not in (data := path.read_bytes()):
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        return None  # not JSON: the parser's quarantine reports it
    return str(doc[STUB_KEY]) if isinstance(doc, dict) and STUB_KEY in doc else None


def case_raw_key(source: str, data: bytes) -> RawKey:
    """Where a case lands: under its source's declared example key (parsers read facts from the key), in the
    account/region its records name where the format names them (the spec's case_landing), else the defaults."""
    spec = get_spec(source)
    account, region = DEFAULT_ACCOUNT, DEFAULT_REGION
    if spec.case_landing is not None:
        account, region = spec.case_landing(data, account, region)
    return RawKey(key=spec.example_key, kind="events", account=account, region=region)


def case_table(source: str, data: bytes) -> tuple[pa.Table, int]:
    """A raw object through the source's real parser: the table a detection sees (partition columns
    included) and the number of quarantined records."""
    src = get_source(source)
    result = src.parse_object(case_raw_key(source, data), data)
    rows = [row | {k: getattr(part, k) for k in PARTITION_KEYS} for part, row in result.rows]
    schema = src.schema
    for k in PARTITION_KEYS:
        schema = schema.append(pa.field(k, pa.string()))
    return pa.Table.from_pylist(rows, schema=schema), len(result.quarantined)


def evaluate_case(det: Detection, path: Path) -> tuple[int, int]:
    """(alerts, quarantined records) for one case file."""
    alerts, quarantined, _ = evaluate_case_runs(det, path, hourly=False)
    return alerts, quarantined


def evaluate_case_runs(det: Detection, path: Path, hourly: bool) -> tuple[int, int, Pinned | None]:
    """(alerts over one covering window, quarantined records, outcome over hourly runs if asked)."""
    src = get_source(det.header.log_source)
    table, quarantined = case_table(det.header.log_source, path.read_bytes())
    if not table.num_rows:
        return 0, quarantined, Pinned(0, 0) if hourly else None
    # Zone-less in the table (as in Athena); the values are UTC.
    times = [t.replace(tzinfo=UTC) for t in table.column("event_time").to_pylist()]
    last_hour = hour_floor(max(times))
    # A first-seen rule's case is history plus one new hour: the hour of the last event is the run's window
    # and everything earlier is its baseline. Other rules run over one window covering the whole case.
    start = last_hour if det.header.lookback else hour_floor(min(times))
    end = last_hour + HOUR
    engine = DuckDBEngine(
        load_settings({"MAMORI_HOME": "/nonexistent-mamori-case-home"}), threads=1, create_views=False
    )
    try:
        engine.register_table(src.table, table)
        hits = run_detection(det, engine, start.astimezone(UTC), end.astimezone(UTC))
        runs = outcome_over_runs(det, engine, case_hours(table)) if hourly else None
    finally:
        engine.close()
    alerts = [c for c in group_hits(det, hits) if c.hits >= det.header.threshold]
    return len(alerts), quarantined, runs


def run_catalog_cases(
    sql_dir: Path, cases_dir: Path, only: str | None = None, detections: list[Detection] | None = None
) -> Iterator[CaseResult]:
    """Every case of every detection (or of one); a detection with no case yields a failing result.

    `detections` (default: the strict catalog, which raises on any broken file) lets the CLI test the rules
    that load while it reports the broken ones.
    """
    for det in load_catalog(sql_dir) if detections is None else detections:
        if only and det.id != only:
            continue
        files = case_files(cases_dir, det.id)
        pinned = case_expectations(cases_dir, det)
        for kind, paths in files.items():
            if not paths:  # every rule needs both: a rule with no negative case cannot prove it is quiet
                yield CaseResult(det.id, kind, "<missing>", 0, 0, missing=True)
            for p in paths:
                expected = pinned.get(f"{kind}/{p.name}")
                alerts, quarantined, runs = evaluate_case_runs(det, p, hourly=expected is not None)
                stub = case_stub(p)
                yield CaseResult(det.id, kind, p.name, alerts, quarantined, False, expected, runs, stub)
