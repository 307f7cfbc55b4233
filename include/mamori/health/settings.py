"""sql/health/streams.yaml: health thresholds and declared stream cadences, as a strict model."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from mamori.detections.errors import FileLineError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Known(_Strict):
    event_versions: list[str] = Field(default_factory=list)
    vpc_headers: list[str] = Field(default_factory=list)


class DriftSettings(_Strict):
    min_history_windows: int = Field(default=3, ge=1)
    parse_failure_rate: float = Field(default=0.01, gt=0, le=1)
    parse_failure_min_records: int = Field(default=100, ge=1)
    all_null_min_rows: int = Field(default=100, ge=1)
    all_null_baseline_share: float = Field(default=0.5, gt=0, le=1)
    known: Known = Field(default_factory=Known)


class StreamRule(_Strict):
    """A declared cadence for the streams matching (source, account glob, region glob)."""

    source: str
    account: str = "*"
    region: str = "*"
    expect: Literal["learned", "none"] = "learned"  # none: never alert on silence or volume
    max_silence_windows: int | None = Field(
        default=None, ge=0
    )  # fixed allowed gap instead of the learned one

    def matches(self, source: str, account: str, region: str) -> bool:
        return (
            self.source == source
            and fnmatch.fnmatchcase(account, self.account)
            and fnmatch.fnmatchcase(region, self.region)
        )


class HealthSettings(_Strict):
    lookback_hours: int = Field(default=48, ge=2, le=24 * 31)
    min_history_windows: int = Field(default=6, ge=1)
    min_presence: float = Field(default=0.5, gt=0, le=1)
    volume_drop_ratio: float = Field(default=0.2, gt=0, lt=1)
    volume_min_median: int = Field(default=100, ge=1)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    streams: list[StreamRule] = Field(default_factory=list)

    def rule_for(self, source: str, account: str, region: str) -> StreamRule | None:
        """The first declared rule matching the stream (order in the file is precedence)."""
        return next((r for r in self.streams if r.matches(source, account, region)), None)


class HealthSettingsError(FileLineError):
    """`sql/health/streams.yaml` does not load: `<path>:<line>: why`, one line at the command line."""


def load_health_settings(sql_dir: Path) -> HealthSettings:
    from pydantic import ValidationError

    from mamori.detections.loader import yaml_file_problem

    path = sql_dir / "health" / "streams.yaml"
    if not path.is_file():
        return HealthSettings()
    text = path.read_text(encoding="utf-8")
    try:
        return HealthSettings.model_validate(yaml.safe_load(text) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        line, why = yaml_file_problem(text, exc)
        raise HealthSettingsError(f"{path}:{line}: {why}", line) from exc
