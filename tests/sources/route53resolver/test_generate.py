"""The Route 53 Resolver generator is the test bed for DNS rules: byte-determinism, the transport's Firehose key
layout, parser acceptance, and an exact ground truth (the tunnel occurs where the story says; the noise holds
the look-alikes, long hashed labels, and stays below the rule's threshold)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from mamori.sources.route53resolver import SOURCE
from mamori.sources.route53resolver.generate import EXFIL_DOMAIN, IN_DEMO, generate_route53resolver

START = datetime(2026, 3, 14, tzinfo=UTC)
KEY_RE = re.compile(
    r"^AWSLogs/\d{12}/CloudWatchLogs-Route53Resolver/[a-z]{2}-[a-z]+-\d/\d{4}/\d{2}/\d{2}/\d{2}/"
    r"mamori-route53resolver-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}\.gz$"
)


def _run(**kw: Any) -> tuple[list[tuple[str, bytes, datetime]], list[Any]]:
    calls: list[tuple[str, bytes, datetime]] = []
    steps = generate_route53resolver(lambda k, d, t: calls.append((k, d, t)), **kw)
    return calls, steps


@pytest.fixture(scope="module")
def day() -> tuple[list[tuple[str, bytes, datetime]], list[Any], list[dict[str, Any]]]:
    calls, steps = _run(start=START)
    rows = []
    for key, data, _ in calls:
        assert KEY_RE.match(key), key
        raw = SOURCE.classify(key)
        assert raw is not None and raw.kind == "events", key
        res = SOURCE.parse_object(raw, data)
        assert not res.quarantined, (key, res.quarantined[:1])
        rows += [r for _, r in res.rows]
    return calls, steps, rows


def test_deterministic_per_seed() -> None:
    a, steps_a = _run(start=START, hours=3)
    b, steps_b = _run(start=START, hours=3)
    assert a == b and steps_a == steps_b
    c, _ = _run(start=START, hours=3, seed=8)
    assert [d for _, d, _ in a] != [d for _, d, _ in c]


def test_not_part_of_the_demo_story() -> None:
    assert IN_DEMO is False


def test_objects_are_handed_over_in_landing_order(day) -> None:
    calls, _, _ = day
    assert [(t, k) for k, _, t in calls] == sorted((t, k) for k, _, t in calls)


def _hits(row: dict[str, Any]) -> bool:
    """The rule's row condition (sql/detections/route53resolver/route53resolver_dns_tunneling.sql)."""
    first = row["query_name"].split(".")[0]
    return len(first) >= 30 and any(c.isdigit() for c in first) and ".amazonaws.com" not in row["query_name"]


def test_the_tunnel_is_the_only_thing_over_the_threshold(day) -> None:
    _, steps, rows = day
    (step,) = steps
    per_key = Counter(
        (
            r["account_id"],
            r["srcaddr"],
            ".".join(r["query_name"].rstrip(".").split(".")[-2:]),
            r["event_time"].hour,
        )
        for r in rows
        if _hits(r)
    )
    over = {k: n for k, n in per_key.items() if n >= 10}
    assert over == {(step.account, "10.0.1.15", EXFIL_DOMAIN, step.time.hour): 60}
    # The look-alikes are there: hashed labels on AWS names and the telemetry vendor, below the threshold.
    assert any(len(r["query_name"].split(".")[0]) >= 30 and "amazonaws" in r["query_name"] for r in rows)
    assert 0 < max(n for k, n in per_key.items() if k[2] != EXFIL_DOMAIN) < 10


def test_no_step_outside_the_generated_hours() -> None:
    _, steps = _run(start=START, hours=2)
    assert steps == []
