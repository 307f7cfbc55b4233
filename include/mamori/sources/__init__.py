"""Registry of log sources. Adding a source = one module + one line here (plus its DDL and samples)."""

from __future__ import annotations

from mamori.sources import (
    alb,
    cloudtrail,
    cloudtrail_insights,
    cloudwatch,
    route53resolver,
    s3access,
    vpcflow,
)
from mamori.sources.base import Source

SOURCES: dict[str, Source] = {
    cloudtrail.NAME: cloudtrail.SOURCE,
    cloudtrail_insights.NAME: cloudtrail_insights.SOURCE,
    alb.NAME: alb.SOURCE,
    cloudwatch.NAME: cloudwatch.SOURCE,
    s3access.NAME: s3access.SOURCE,
    vpcflow.NAME: vpcflow.SOURCE,
    route53resolver.NAME: route53resolver.SOURCE,
}


def get_source(name: str) -> Source:
    """Look a source up by name, failing with the list of known ones (a typo in a DAG or CLI flag)."""
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown log source {name!r}; known: {', '.join(sorted(SOURCES))}") from None


def classify(key: str) -> tuple[Source, object] | None:
    """Find the source that owns a landed key, so unclaimed objects can be reported instead of ignored."""
    for src in SOURCES.values():
        raw = src.classify(key)
        if raw is not None:
            return src, raw
    return None
