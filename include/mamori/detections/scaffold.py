"""`make new-detection ID=<source>_<name>`: a rule file and its case folders, ready to be filled in.

The SELECT lists plain columns before computed ones (sqlfluff ST06), so the new file passes `make lint`.

The scaffold is deliberately incomplete (status experimental, placeholder condition, TODO runbook) and its
cases are empty, so the catalog test fails until the author has written a real positive and negative case.
"""

from __future__ import annotations

from pathlib import Path

from mamori.sources import SPECS
from mamori.sources.spec import SourceSpec

TEMPLATE = """/*
id: {id}
title: TODO one-line title
description: >-
  TODO what behaviour this catches and why it matters.
severity: medium
status: experimental
log_source: {source}
mitre:
  - TA0005:T1562.001
dedup:
  keys: [account_id, {entity}]
  period: 1h
threshold: 1
runbook: |-
  1. TODO what to look at first (the alert's actor, source IP, the related-activity table in the ticket).
  2. TODO how to confirm or dismiss it.
  3. TODO containment.
false_positives:
  - TODO known benign causes
references:
  - https://attack.mitre.org/
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    {source_ip} AS source_ip,
    {event_name} AS event_name,
    {actor} AS actor{principal_column}
FROM {table}
WHERE
    {{{{ window() }}}}
    AND FALSE  -- TODO the condition
"""


def source_of(detection_id: str) -> SourceSpec:
    """The source a new rule id belongs to, by the longest declared prefix it starts with."""
    prefixes = sorted(
        ((p, s) for s in SPECS.values() for p in s.detection_prefixes), key=lambda ps: -len(ps[0])
    )
    for prefix, spec in prefixes:
        if detection_id.startswith(prefix + "_"):
            return spec
    known = sorted(p for p, _ in prefixes)
    raise ValueError(f"id must start with a log source's rule prefix and an underscore: one of {known}")


def scaffold(repo: Path, detection_id: str) -> list[Path]:
    """Create sql/detections/<source>/<id>.sql and tests/detections/<id>/{positive,negative}/.

    The source is the one whose declared detection prefix the id starts with (the longest, so
    `cloudtrail_insights_x` is an Insights rule); its field model fills the output columns.
    """
    spec = source_of(detection_id)
    path = repo / "sql" / "detections" / spec.name / f"{detection_id}.sql"
    if path.exists():
        raise FileExistsError(path)
    f = spec.fields
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        TEMPLATE.format(
            id=detection_id,
            source=spec.name,
            table=spec.table,
            actor=f.actor,
            # A source with a principal keys new rules on it: one alert per role or person, not per session.
            entity="principal" if f.principal else "actor",
            principal_column=",\n    {{ principal() }} AS principal" if f.principal else "",
            source_ip=f.ip,
            event_name=f.event_name or "NULL",
        )
    )
    made = [path]
    for kind in ("positive", "negative"):
        d = repo / "tests" / "detections" / detection_id / kind
        d.mkdir(parents=True, exist_ok=True)
        (d / ".gitkeep").touch()
        made.append(d)
    return made
