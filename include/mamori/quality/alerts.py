"""Health and data-quality alerts through the normal alert path: the ledger, then dispatch_alerts.

Each kind of problem is a pseudo-detection: a header-only definition in sql/health/<id>.yaml, validated by
the same DetectionHeader model as a SQL rule (severity, routing, runbook, owner are reviewed the same way).
An alert is recorded with `Ledger.record_window`, so it gets the ledger's guarantees for free: a stable alert
key (detection id, dedup values, aligned bucket), one ticket per key, and a window's contribution replaced, not
added, when that window is evaluated again.

One writer per (pseudo-detection, window): the ledger replaces a window's whole contribution for a detection,
so each function here records all of its candidates for a window in a single call.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined
from pydantic import ValidationError

from mamori.alerts.ledger import Ledger
from mamori.alerts.routing import load_routing
from mamori.config import Settings
from mamori.detections.dedup import Candidate, alert_key
from mamori.detections.loader import Detection, DetectionError
from mamori.detections.model import DetectionHeader
from mamori.lake import layout
from mamori.lake.manifests import BatchManifest, FailedCheck, QuarantineClass
from mamori.quality.quarantine import CHECK_PREFIX, what
from mamori.sources import SPECS, get_spec
from mamori.windows import TICK, bucket_start, window_tag

log = logging.getLogger(__name__)

SILENCE = "mamori_health_silence"
VOLUME_DROP = "mamori_health_volume_drop"
DRIFT = "mamori_schema_drift"
RECONCILIATION = "mamori_reconciliation_gap"
RULE_ERROR = "mamori_rule_error"
DELIVERY_FAILING = "mamori_delivery_failing"


def dq_id(source: str) -> str:
    return f"mamori_dq_{source}"


def health_dir(sql_dir: Path) -> Path:
    return sql_dir / "health"


def load_definition(path: Path) -> Detection:
    """One sql/health/<id>.yaml as a Detection with an empty body (it is evaluated in Python, not SQL)."""
    return _parse_definition(path, path.read_text(encoding="utf-8"), path.stem)


def _parse_definition(path: Path, text: str, expected_id: str) -> Detection:
    try:
        raw = yaml.safe_load(text)
        header = DetectionHeader.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise DetectionError(f"{path}: invalid health definition:\n{exc}") from exc
    if header.id != expected_id:
        raise DetectionError(f"{path}: id {header.id!r} differs from {expected_id!r}")
    return Detection(header=header, body="", path=path)


# One data-quality definition for every source, rendered per source from its spec (name, dq_severity): the six
# files it replaces differed only by those, and a new source must not need a copy.
DQ_TEMPLATE = "data_quality.yaml.j2"
# YAML, not HTML; the values rendered come from the source specs, never from logs.
_ENV = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)  # noqa: S701


def dq_definition(sql_dir: Path, source: str) -> Detection:
    """The `mamori_dq_<source>` definition: sql/health/data_quality.yaml.j2 rendered for a registered source."""
    spec = get_spec(source)
    path = health_dir(sql_dir) / DQ_TEMPLATE
    try:
        text = _ENV.from_string(path.read_text(encoding="utf-8")).render(
            source=spec.name, severity=spec.dq_severity
        )
    except OSError as exc:
        raise DetectionError(f"no data-quality template {path}: {exc}") from exc
    return _parse_definition(path, text, dq_id(spec.name))


def definitions(sql_dir: Path) -> dict[str, Detection]:
    """Every health/data-quality definition by id (the catalog test loads them all)."""
    out = {d.id: d for d in (load_definition(p) for p in sorted(health_dir(sql_dir).glob("mamori_*.yaml")))}
    out.update((dq_id(name), dq_definition(sql_dir, name)) for name in SPECS)
    return out


@lru_cache(maxsize=64)
def _cached(path: str, mtime: float) -> Detection:
    return load_definition(Path(path))


@lru_cache(maxsize=64)
def _cached_dq(sql_dir: str, source: str, mtime: float) -> Detection:
    return dq_definition(Path(sql_dir), source)


def _dq_source(detection_id: str) -> str | None:
    """The registered source whose data-quality alert this id is, if it is one."""
    return next((name for name in SPECS if dq_id(name) == detection_id), None)


def health_detection(sql_dir: Path, detection_id: str) -> Detection:
    """A health definition by id (what dispatch needs to render a health alert's runbook)."""
    source = _dq_source(detection_id)
    if source is not None:
        template = health_dir(sql_dir) / DQ_TEMPLATE
        if template.is_file():
            return _cached_dq(str(sql_dir), source, template.stat().st_mtime)
    path = health_dir(sql_dir) / f"{detection_id}.yaml"
    if not path.is_file():
        raise DetectionError(f"no health definition {detection_id!r} in {health_dir(sql_dir)}")
    return _cached(str(path), path.stat().st_mtime)


def candidate(
    det: Detection,
    values: dict[str, Any],
    anchor: datetime,
    hits: int,
    first_seen: datetime,
    last_seen: datetime,
    samples: list[dict[str, Any]],
) -> Candidate:
    """An alert candidate whose key is stable for the same problem: (id, dedup values, bucket of `anchor`).

    `anchor` is what identifies the episode (a silence's onset, a gap's window): every later evaluation of
    the same episode computes the same key, so it updates one alert instead of opening another.
    """
    ordered = [values[k] for k in det.header.dedup.keys]
    bucket = bucket_start(anchor, det.header.dedup.period_td)
    return Candidate(
        key=alert_key(det.id, ordered, bucket),
        detection_id=det.id,
        dedup_values={k: values[k] for k in det.header.dedup.keys},
        bucket_start=bucket,
        hits=max(1, hits),
        first_seen=first_seen,
        last_seen=last_seen,
        samples=samples[:5],
    )


def record(
    detection_id: str, start: datetime, end: datetime, candidates: list[Candidate], settings: Settings
) -> list[str]:
    """Replace the window's contribution of one pseudo-detection; keys of the alerts it holds."""

    det = health_detection(settings.sql_dir, detection_id)
    routing = load_routing(settings.sql_dir)
    fired = Ledger(settings.ledger_url).record_window(det, start, end, candidates, routing=routing)
    if fired:
        log.warning("%s [%s, %s): %d alert(s): %s", detection_id, start, end, len(fired), fired)
    return fired


def record_dq(
    source: str,
    start: datetime,
    end: datetime,
    manifests: list[BatchManifest],
    settings: Settings,
    unclaimed: list[str] | None = None,
) -> list[str]:
    """The window's data-quality alerts: one candidate per failed check, hits = rows it rejected or flagged,
    and one per class of parser quarantine (`quarantine:<class>`), hits = units the parsers quarantined.

    Called by ingest's finalize once per window (also with no failures, so a re-run that now passes
    withdraws its contribution). `unclaimed` (the plan's keys under the source's prefixes that its key
    pattern does not recognise) adds one `unclaimed_key` candidate naming them.
    """
    try:
        det = health_detection(settings.sql_dir, dq_id(source))
    except DetectionError:
        log.warning("no data-quality definition for source %s (sql/health/%s)", source, DQ_TEMPLATE)
        return []
    by_check: dict[str, list[tuple[int, FailedCheck]]] = {}
    for m in manifests:
        for f in m.dq.failed:
            by_check.setdefault(f.id, []).append((m.batch, f))
    tag = window_tag(start)
    cands = []
    for check, fails in sorted(by_check.items()):
        samples = [
            {
                "source": source,
                "check": check,
                "action": f.action,
                "window": tag,
                "batch": batch,
                "unexpected": f.unexpected_count,
                "of_rows": f.element_count,
                "examples": f.examples,
                "error": f.error,
                "full_result": layout.dq_batch_key(source, start, batch),
            }
            for batch, f in fails
        ]
        hits = sum(int(f.unexpected_count or 1) for _, f in fails)
        cands.append(
            candidate(det, {"source": source, "check": check}, start, hits, start, end - TICK, samples)
        )
    cands += _parser_quarantine_candidates(det, source, start, end, manifests)
    cands += _unclaimed_candidates(det, source, start, end, unclaimed or [])
    return record(det.id, start, end, cands, settings)


UNCLAIMED = "unclaimed_key"


def _unclaimed_candidates(
    det: Detection, source: str, start: datetime, end: datetime, keys: list[str]
) -> list[Candidate]:
    """One candidate for the window's unclaimed keys, hits = how many, samples naming the first of them.

    An object under a prefix the source lists (e.g. `AWSLogs/<acct>/CloudTrail/`) that its key pattern does not
    recognise is a layout nobody reads: a region or partition AWS added since the pattern was written, or an
    object someone put there. Either must reach a person. The key is attacker-controlled text (anyone who can
    write to the bucket chooses it): it travels as a sample value, rendered inert like any log field, never
    as a dedup value, and the full list is in the window's plan.
    """
    if not keys:
        return []
    tag = window_tag(start)
    samples = [
        {
            "source": source,
            "check": UNCLAIMED,
            "action": "unclaimed",
            "window": tag,
            "key": k,
            "unclaimed_in_window": len(keys),
            "plan": layout.plan_key(source, start),
        }
        for k in keys[:5]
    ]
    values = {"source": source, "check": UNCLAIMED}
    return [candidate(det, values, start, len(keys), start, end - TICK, samples)]


def _parser_quarantine_candidates(
    det: Detection, source: str, start: datetime, end: datetime, manifests: list[BatchManifest]
) -> list[Candidate]:
    """One candidate per reason class the parsers quarantined in the window (batch manifests' summaries).

    A quarantine is never silent: a record shaped to be refused (an evasion attempt) costs its author an alert.
    The samples carry the count, the class and references (quarantine file, line, raw object, position), never
    the record itself: its text is attacker-controlled and stays in the quarantine file.
    """

    by_class: dict[str, list[tuple[int, QuarantineClass]]] = {}
    for m in manifests:
        for cls, agg in m.parser_quarantine.items():
            by_class.setdefault(cls, []).append((m.batch, agg))
    tag = window_tag(start)
    cands = []
    for cls, aggs in sorted(by_class.items()):
        check = CHECK_PREFIX + cls
        unit, description = what(source, cls)
        samples = [
            {
                "source": source,
                "check": check,
                "action": "quarantine",
                "window": tag,
                "batch": batch,
                "unit": unit,
                "what": description,
                "quarantined": a.count,
                "quarantine_file": a.file,
                "examples": [x.to_dict() for x in a.samples],
            }
            for batch, a in aggs
        ]
        hits = sum(a.count for _, a in aggs)
        cands.append(
            candidate(det, {"source": source, "check": check}, start, hits, start, end - TICK, samples)
        )
    return cands
