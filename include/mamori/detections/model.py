"""The detection header: a strict model, so a typo in a rule's YAML fails review instead of silently paging."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from mamori.windows import HOUR

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITY_ORDER: dict[str, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}

_DURATION = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
MAX_LOOKBACK = timedelta(days=30)


def parse_duration(text: str) -> timedelta:
    """`15m`, `1h`, `7d`: the only forms a header may use, so periods are unambiguous in review."""
    m = _DURATION.match(text)
    if not m or int(m[1]) == 0:
        raise ValueError(f"duration {text!r} must look like 15m, 1h or 7d")
    return timedelta(**{_UNITS[m[2]]: int(m[1])})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dedup(_Strict):
    """Hits with the same key values inside one aligned period become one alert (one ticket, one page)."""

    keys: list[str] = Field(min_length=1)
    period: str = "1h"

    @field_validator("period")
    @classmethod
    def _period(cls, v: str) -> str:
        d = parse_duration(v)
        if timedelta(days=1) % d:
            raise ValueError("dedup period must divide a day evenly (aligned windows)")
        return v

    @property
    def period_td(self) -> timedelta:
        return parse_duration(self.period)


class EquivalentMutant(_Strict):
    """A mutant (`mamori detections mutate`) that no case can kill because it does not change what the rule
    means, e.g. dropping `eventsource = 'iam.amazonaws.com'` when `eventname` already implies it."""

    mutant: str = Field(min_length=5)
    reason: str = Field(min_length=15)


class DetectionHeader(_Strict):
    """Fields of the leading /* YAML */ block of a detection file; unknown keys are rejected."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{2,80}$")
    title: str = Field(min_length=3, max_length=120)
    description: str = Field(min_length=10)
    severity: Severity
    status: Literal["experimental", "stable", "deprecated"]
    log_source: str
    mitre: list[str] = Field(min_length=1)
    dedup: Dedup
    threshold: int = Field(default=1, ge=1)
    # First-seen rules: the baseline {{ lookback() }} covers [window start - lookback, window start).
    lookback: str | None = None
    outputs: list[str] | None = None  # None = the default routing for the severity
    enrichments: list[str] | None = None  # ids in sql/enrichments/; None = the default enrichments
    # Per-output options, e.g. `github: {repo: acme/cloud-team, assignees: [octo-cat]}`. Passed through as
    # plain data: each output validates its own section strictly (mamori.alerts.outputs.routing_problems,
    # run by the catalog test and `mamori detections test`), so this model names no output.
    output_options: dict[str, dict[str, JsonValue]] = Field(default_factory=dict)
    runbook: str = Field(min_length=10)
    false_positives: list[str] = Field(min_length=1)
    references: list[str] = Field(default_factory=list)
    owner: str = Field(min_length=1)
    # Mutants that survive every case because they are equivalent to the rule; each needs a reason.
    equivalent_mutants: list[EquivalentMutant] = Field(default_factory=list)

    @field_validator("mitre")
    @classmethod
    def _mitre(cls, v: list[str]) -> list[str]:
        for item in v:
            if not re.fullmatch(r"TA\d{4}:T\d{4}(\.\d{3})?", item):
                raise ValueError(f"mitre entry {item!r} must look like TA0005:T1562.008")
        return v

    @field_validator("lookback")
    @classmethod
    def _lookback(cls, v: str | None) -> str | None:
        if v is not None and not HOUR <= parse_duration(v) <= MAX_LOOKBACK:
            # Every run scans the baseline again: past 30 days the bill grows faster than the signal.
            raise ValueError(f"lookback must be between 1h and {MAX_LOOKBACK.days}d")
        return v

    @property
    def lookback_td(self) -> timedelta | None:
        return parse_duration(self.lookback) if self.lookback else None

    @field_validator("references")
    @classmethod
    def _refs(cls, v: list[str]) -> list[str]:
        for item in v:
            if not item.startswith("https://"):
                raise ValueError(f"reference {item!r} must be an https URL")
        return v
