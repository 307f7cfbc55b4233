"""Enrichment: related activity from the lake, attached to the ticket so triage starts with context.

An enrichment is one file `sql/enrichments/<id>.sql`: a strict YAML header in a leading /* */ block, then one
Athena SELECT that uses `{{ window() }}` (the alert's first/last seen widened by `lookback`) and `{{ entity }}`
(the entity value as an escaped SQL string literal: log-derived values never reach SQL any other way).
It runs once per alert, when the alert is first dispatched; the result is stored in the ledger, so every later
delivery renders the same ticket. A failing enrichment is recorded as such and never blocks delivery.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2 import Environment, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field

from mamori.alerts.ledger import Alert
from mamori.alerts.lookups import Lookup
from mamori.detections.loader import Detection
from mamori.detections.model import parse_duration
from mamori.detections.render import window_predicate
from mamori.engines import Engine
from mamori.search_literals import sql_string

log = logging.getLogger(__name__)
_FILE = re.compile(r"\A\s*/\*(?P<header>.*?)\*/(?P<body>.*)\Z", re.S)
_ENV = Environment(undefined=StrictUndefined, autoescape=False)  # noqa: S701 - renders SQL, not HTML
MAX_VALUES = 3  # entity values enriched per alert (e.g. the first three actors of a grouped alert)
MAX_CELL = 300


class EnrichmentHeader(BaseModel):
    """Header of an enrichment file; unknown keys are rejected like detection headers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{2,80}$")
    title: str = Field(min_length=3, max_length=120)
    description: str = Field(min_length=10)
    entity: Literal["actor", "source_ip", "account_id"]
    lookback: str = "2h"
    limit: int = Field(default=25, ge=1, le=200)
    default: bool = False  # attached to every detection that does not list its own enrichments


@dataclass(frozen=True)
class Enrichment:
    header: EnrichmentHeader
    body: str

    @property
    def id(self) -> str:
        return self.header.id


def load_enrichments(sql_dir: Path) -> dict[str, Enrichment]:
    """Every enrichment by id; a malformed file fails loudly (it is reviewed code, like a detection)."""
    out: dict[str, Enrichment] = {}
    for path in sorted((sql_dir / "enrichments").glob("*.sql")):
        m = _FILE.match(path.read_text(encoding="utf-8"))
        if not m:
            raise ValueError(f"{path}: must start with a /* YAML header */ block")
        header = EnrichmentHeader.model_validate(yaml.safe_load(m["header"]))
        if header.id != path.stem:
            raise ValueError(f"{path}: id {header.id!r} differs from the filename")
        out[header.id] = Enrichment(header, m["body"].strip())
    return out


def applicable(det: Detection | None, enrichments: dict[str, Enrichment]) -> list[Enrichment]:
    """The detection's own list when it has one, else the default enrichments."""
    wanted = det.header.enrichments if det is not None else None
    if wanted is None:
        return [e for e in enrichments.values() if e.header.default]
    return [enrichments[i] for i in wanted if i in enrichments]


def render_enrichment(enr: Enrichment, value: str, first_seen: datetime, last_seen: datetime) -> str:
    """The Athena SQL for one entity value; the value enters only as a string literal."""
    lookback = parse_duration(enr.header.lookback)
    predicate = window_predicate(first_seen - lookback, last_seen + lookback)
    sql = _ENV.from_string(enr.body).render(window=lambda: predicate, entity=sql_string(value))
    return f"{sql.strip()}\nLIMIT {enr.header.limit}"


def entity_values(alert: Alert, column: str) -> list[str]:
    """Distinct values of an entity column from the dedup values first, then the samples."""
    values = [alert.dedup_values.get(column)] + [s.get(column) for s in alert.samples]
    seen: dict[str, None] = {}
    for v in values:
        if isinstance(v, str) and v and v not in seen:
            seen[v] = None
    return list(seen)[:MAX_VALUES]


def run_enrichments(
    alert: Alert, det: Detection | None, engine: Engine, enrichments: dict[str, Enrichment]
) -> list[dict[str, Any]]:
    """Results as plain data for the ledger: one entry per (enrichment, entity value)."""
    first = datetime.fromisoformat(alert.first_seen)
    last = datetime.fromisoformat(alert.last_seen)
    results: list[dict[str, Any]] = []
    for enr in applicable(det, enrichments):
        for value in entity_values(alert, enr.header.entity):
            entry: dict[str, Any] = {"id": enr.id, "title": enr.header.title, "entity": value}
            try:
                table = engine.query(render_enrichment(enr, value, first, last))
            except Exception as exc:  # an enrichment is context, not the alert: record and go on
                log.warning("enrichment %s for %s failed: %s", enr.id, alert.key, type(exc).__name__)
                entry["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            else:
                entry["columns"] = table.column_names
                entry["rows"] = [
                    [_bounded(v) for v in row.values()] for row in table.to_pylist()[: enr.header.limit]
                ]
            results.append(entry)
    return results


RELATED_ALERT_DAYS = 30


def related_alerts(alert: Alert, history: list[Alert]) -> list[dict[str, Any]]:
    """Other alerts in the last 30 days that share the actor or source IP: is this entity a repeat visitor?

    Computed from the ledger, not the lake: alerts are what responders already looked at."""
    first = datetime.fromisoformat(alert.first_seen)
    since = first - timedelta(days=RELATED_ALERT_DAYS)
    results = []
    for column in ("actor", "source_ip"):
        for value in entity_values(alert, column):
            rows = [
                [a.first_seen, a.detection_id, a.severity, a.status]
                for a in history
                if a.key != alert.key
                and since <= datetime.fromisoformat(a.first_seen) <= first
                and value in entity_values(a, column)
            ]
            results.append(
                {
                    "id": "related_alerts",
                    "title": f"Other alerts with this {column} in the last 30 days",
                    "entity": value,
                    "columns": ["first_seen", "detection", "severity", "status"],
                    "rows": sorted(rows)[-MAX_RELATED:],
                }
            )
    return results


def run_lookups(alert: Alert, lookups: list[Lookup]) -> list[dict[str, Any]]:
    """External lookups (configured ones only); answers are data for an inert table, failures are recorded."""
    results: list[dict[str, Any]] = []
    for lk in lookups:
        for value in entity_values(alert, lk.entity):
            entry: dict[str, Any] = {"id": f"lookup:{lk.name}", "title": f"Lookup {lk.name}", "entity": value}
            try:
                facts = lk.lookup(value)
            except Exception as exc:  # context, not the alert: record and go on
                entry["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            else:
                entry["columns"] = ["fact", "value"]
                entry["rows"] = [[k, _bounded(v)] for k, v in (facts or {"result": "no match"}).items()]
            results.append(entry)
    return results


MAX_RELATED = 20


def _bounded(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if v is None or isinstance(v, int | float | bool):
        return v
    text = v if isinstance(v, str) else str(v)
    return text if len(text) <= MAX_CELL else text[:MAX_CELL] + "…"
