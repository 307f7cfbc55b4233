"""`make new-detection ID=<source>_<name>`: a rule file and its case folders, ready to be filled in.

The SELECT lists plain columns before computed ones (sqlfluff ST06), so the new file passes `make lint`.

The scaffold is deliberately incomplete (status experimental, placeholder condition, TODO runbook) and its
cases are empty, so the catalog test fails until the author has written a real positive and negative case.
"""

from __future__ import annotations

from pathlib import Path

from mamori.sources import SOURCES

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
  keys: [account_id, actor]
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
    {actor} AS actor
FROM {table}
WHERE
    {{{{ window() }}}}
    AND FALSE  -- TODO the condition
"""

# Per source: the native columns that best fill the required output columns.
COLUMNS = {
    "cloudtrail": ("coalesce(useridentity.arn, useridentity.principalid)", "sourceipaddress", "eventname"),
    "cloudtrail_insights": ("eventsource", "sourceipaddress", "eventname"),
    "s3access": ("requester", "remoteip", "operation"),
    "alb": ("client_ip", "client_ip", "request_verb"),
    "vpcflow": ("srcaddr", "srcaddr", "action"),
    "cloudwatch": ("coalesce(ssh_user, sudo_user, hostname)", "ssh_src_ip", "app_name"),
}


def scaffold(repo: Path, detection_id: str) -> list[Path]:
    """Create sql/detections/<source>/<id>.sql and tests/detections/<id>/{positive,negative}/."""
    source = next(
        (s for s in sorted(SOURCES, key=len, reverse=True) if detection_id.startswith(s + "_")), None
    )
    if source is None:
        raise ValueError(f"id must start with a log source and an underscore: one of {sorted(SOURCES)}")
    path = repo / "sql" / "detections" / source / f"{detection_id}.sql"
    if path.exists():
        raise FileExistsError(path)
    actor, ip, name = COLUMNS.get(source, ("NULL", "NULL", "NULL"))
    path.parent.mkdir(parents=True, exist_ok=True)
    table = SOURCES[source].table
    path.write_text(
        TEMPLATE.format(
            id=detection_id, source=source, table=table, actor=actor, source_ip=ip, event_name=name
        )
    )
    made = [path]
    for kind in ("positive", "negative"):
        d = repo / "tests" / "detections" / detection_id / kind
        d.mkdir(parents=True, exist_ok=True)
        (d / ".gitkeep").touch()
        made.append(d)
    return made
