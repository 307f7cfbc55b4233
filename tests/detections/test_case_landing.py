"""A detection case lands under its source's declared example key (sources/<name>/spec.py), so every source's
cases can run without a generator, and they land exactly where they did when the key came from one."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mamori.detections.testing import case_raw_key
from mamori.dev.generate import get_generator
from mamori.sources import SPECS


def first_generated_event_key(source: str) -> str | None:
    """The key testing.py took from the source's generator before specs declared one (seed 1, 6 hours)."""
    gen = get_generator(source)
    keys: list[str] = []
    if gen is not None:
        gen(lambda k, d, t: keys.append(k), datetime(2026, 11, 1, tzinfo=UTC), hours=6, seed=1)
    parser = SPECS[source].parser
    return next((k for k in keys if (raw := parser.classify(k)) is not None and raw.kind == "events"), None)


@pytest.mark.parametrize("source", sorted(SPECS))
def test_every_source_can_land_a_case(source: str) -> None:
    """cloudtrail_insights had no generator key (its generator writes Insight keys only from 08:00), so a
    case of an Insights rule could not run at all."""
    data = json.dumps(
        {"Records": [{"recipientAccountId": "210987654321", "awsRegion": "eu-west-1"}]}
    ).encode()
    raw = case_raw_key(source, data)
    assert raw.kind == "events"
    claimed = SPECS[source].parser.classify(raw.key)
    assert claimed is not None and claimed.kind == "events", (
        f"{source}: {raw.key} is not one of its event keys"
    )


@pytest.mark.parametrize("source", ["alb", "cloudwatch", "s3access", "vpcflow"])
def test_cases_land_under_the_key_the_generator_gave(source: str) -> None:
    """Parsers read facts from the key (ALB's load balancer, a flow log's id), so case rows, and outcomes,
    depend on it: the declared key is the one cases were parsed under when it came from the generator."""
    raw = case_raw_key(source, b"")
    assert (raw.key, raw.account, raw.region) == (
        first_generated_event_key(source),
        "123456789012",
        "us-east-1",
    )


@pytest.mark.parametrize("source", ["cloudtrail", "cloudtrail_insights"])
def test_cloudtrail_cases_land_in_the_account_and_region_their_records_name(source: str) -> None:
    data = json.dumps(
        {"Records": [{"recipientAccountId": "210987654321", "awsRegion": "eu-west-1"}]}
    ).encode()
    raw = case_raw_key(source, data)
    assert (raw.account, raw.region) == ("210987654321", "eu-west-1")
    assert (case_raw_key(source, b'{"Records": []}').account, case_raw_key(source, b"{}").region) == (
        "123456789012",
        "us-east-1",
    )
