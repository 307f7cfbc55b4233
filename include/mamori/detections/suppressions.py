"""Suppressions as code: reviewed allowlist entries with an owner, a reason and an expiry date.

`sql/suppressions.yaml` is a list of entries; each hides the hits of one detection (or `"*"`) whose output
columns equal every value in `match`. An entry suppresses only while the run's window ends before its
expiry, so an exception granted "until the migration is done" cannot outlive its reason silently: once
expired it stops suppressing, and the run logs it and `mamori suppressions report` lists it. What each
entry hid in each window is recorded in the ledger, so a suppression never hides without a trace.
Expiry is compared with the window, not the wall clock: re-running a window gives the same result.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mamori.detections.errors import FileLineError

log = logging.getLogger(__name__)


class Suppression(BaseModel):
    """One allowlist entry; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{2,80}$")
    detection: str = Field(min_length=1)  # a detection id, or "*" for every detection
    match: dict[str, str] = Field(min_length=1)  # output column → exact value
    owner: str = Field(min_length=1)
    reason: str = Field(min_length=10)
    expires: date

    def active_at(self, window_end: datetime) -> bool:
        return window_end <= datetime.combine(self.expires, time.max, tzinfo=UTC)

    def matches(self, detection_id: str, hit: dict[str, Any]) -> bool:
        if self.detection not in ("*", detection_id):
            return False
        return all(str(hit.get(col)) == value for col, value in self.match.items())


class SuppressionError(FileLineError):
    """The suppressions file is malformed: fail the run rather than suppress the wrong thing."""


def load_suppressions(sql_dir: Path) -> list[Suppression]:
    path = sql_dir / "suppressions.yaml"
    if not path.exists():
        return []
    from mamori.detections.loader import yaml_file_problem

    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text) or []
        if not isinstance(raw, list):
            raise SuppressionError(f"{path}:1: must be a YAML list of entries", 1)
        entries = [Suppression.model_validate(e) for e in raw]
    except (yaml.YAMLError, ValidationError) as exc:
        line, why = yaml_file_problem(text, exc)
        raise SuppressionError(f"{path}:{line}: {why}", line) from exc
    ids = [e.id for e in entries]
    if len(ids) != len(set(ids)):
        raise SuppressionError(f"{path}: duplicate suppression ids")
    return entries


@dataclass
class Applied:
    kept: list[dict[str, Any]]
    hidden: Counter[str]  # suppression id → hits hidden in this window
    expired: list[str]  # entries for this detection that have expired as of the window


def apply(
    detection_id: str, hits: list[dict[str, Any]], entries: list[Suppression], window_end: datetime
) -> Applied:
    """Drop hits matched by an active entry; count them per entry; list this detection's expired entries."""
    relevant = [e for e in entries if e.detection in ("*", detection_id)]
    active = [e for e in relevant if e.active_at(window_end)]
    lapsed = [e for e in relevant if not e.active_at(window_end)]
    for e in lapsed:
        log.warning(
            "suppression %s (owner %s) expired on %s and no longer hides %s hits",
            e.id,
            e.owner,
            e.expires,
            detection_id,
        )
    kept, hidden = [], Counter[str]()
    for hit in hits:
        entry = next((e for e in active if e.matches(detection_id, hit)), None)
        if entry is None:
            kept.append(hit)
        else:
            hidden[entry.id] += 1
    return Applied(kept, hidden, [e.id for e in lapsed])
