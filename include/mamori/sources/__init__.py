"""Registry of log sources. Adding a source = its folder `sources/<name>/` + one line here (plus its DDL,
samples and tests); everything else about it is derived from its spec (see mamori.sources.spec)."""

from __future__ import annotations

from datetime import timedelta

from mamori.config import Settings
from mamori.sources.alb.spec import SPEC as ALB
from mamori.sources.base import Source
from mamori.sources.cloudtrail.spec import SPEC as CLOUDTRAIL
from mamori.sources.cloudtrail_insights.spec import SPEC as CLOUDTRAIL_INSIGHTS
from mamori.sources.cloudwatch.spec import SPEC as CLOUDWATCH
from mamori.sources.route53resolver.spec import SPEC as ROUTE53RESOLVER
from mamori.sources.s3access.spec import SPEC as S3ACCESS
from mamori.sources.spec import SourceSpec
from mamori.sources.vpcflow.spec import SPEC as VPCFLOW
from mamori.windows import first_lag, reread_span

SPECS: dict[str, SourceSpec] = {
    s.name: s
    for s in (
        CLOUDTRAIL,
        CLOUDTRAIL_INSIGHTS,
        ALB,
        CLOUDWATCH,
        S3ACCESS,
        VPCFLOW,
        ROUTE53RESOLVER,
    )
}
# The parsers by name (what ingest, conversion and the engines need of a source).
SOURCES: dict[str, Source] = {name: s.parser for name, s in SPECS.items()}


def get_spec(name: str) -> SourceSpec:
    """A source's spec by name, failing with the list of known ones (a typo in a DAG, a CLI flag, a rule)."""
    try:
        return SPECS[name]
    except KeyError:
        raise KeyError(f"unknown log source {name!r}; known: {', '.join(sorted(SPECS))}") from None


def get_source(name: str) -> Source:
    """Look a source's parser up by name, failing with the list of known ones."""
    return get_spec(name).parser


def delivery_lag(name: str, settings: Settings) -> timedelta:
    """How far the detect run trails for this source's events: MAMORI_DETECT_LAG_MINUTES when set (one lag
    for every source, as before per-source lags), else the delivery lag the source's folder declares."""
    return get_spec(name).delivery_lag if settings.source_lags else settings.detect_lag


def detection_trail(name: str, settings: Settings) -> tuple[timedelta, timedelta]:
    """(first lag, re-read span) of the source's detection (mamori.windows.detection_windows): a detect run
    evaluates its events from `first + span` to `first` before its data interval, so rows older than that when
    they are ingested are late data (mamori.windows.late_horizon)."""
    lag = delivery_lag(name, settings)
    early = settings.detect_first_lag
    span = reread_span(lag, settings.detect_overlap, settings.detect_interval, early)
    return first_lag(lag, early), span


def classify(key: str) -> tuple[Source, object] | None:
    """Find the source that owns a landed key, so unclaimed objects can be reported instead of ignored."""
    for src in SOURCES.values():
        raw = src.classify(key)
        if raw is not None:
            return src, raw
    return None
