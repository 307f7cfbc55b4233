"""The S3 access log generator is the test bed for S3 detections: determinism, AWS key layouts, parser
acceptance (no quarantine), landing times, and an exact ground truth for the bulk-download story."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mamori.sources.cloudtrail.generate import ATTACKER_IP, AttackStep
from mamori.sources.s3access import SOURCE
from mamori.sources.s3access.generate import PAYROLL_BUCKET, generate_s3access, render_sample

START = datetime(2026, 3, 14, tzinfo=UTC)
BOB = "arn:aws:iam::111111111111:user/admin-bob"
KEY_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})-[0-9A-F]{16}$")


def _run(**kw: Any) -> tuple[list[tuple[str, bytes, datetime]], list[AttackStep]]:
    calls: list[tuple[str, bytes, datetime]] = []
    steps = generate_s3access(lambda k, d, t: calls.append((k, d, t)), **kw)
    return calls, steps


@pytest.fixture(scope="module")
def day() -> tuple[list[tuple[str, bytes, datetime]], list[AttackStep]]:
    return _run(start=START)


@pytest.fixture(scope="module")
def parsed(day: Any) -> list[tuple[str, datetime, dict[str, Any]]]:
    calls, _ = day
    out = []
    for key, data, landed in calls:
        raw = SOURCE.classify(key)
        assert raw is not None, key
        res = SOURCE.parse_object(raw, data)
        assert not res.quarantined, res.quarantined[:3]
        assert res.records_in == len(res.rows) == data.count(b"\n")
        out += [(key, landed, row) for _, row in res.rows]
    return out


def test_deterministic_per_seed() -> None:
    a, steps_a = _run(start=START, hours=3)
    b, steps_b = _run(start=START, hours=3)
    assert a == b and steps_a == steps_b
    c, _ = _run(start=START, hours=3, seed=8)
    assert [d for _, d, _ in a] != [d for _, d, _ in c]


def test_objects_are_plain_text_in_both_key_layouts(day: Any) -> None:
    calls, _ = day
    keys = [k for k, _, _ in calls]
    assert len(keys) == len(set(keys))
    assert all(not d.startswith(b"\x1f\x8b") and d.endswith(b"\n") for _, d, _ in calls)
    layouts = Counter(k.split("/")[0] for k in keys)
    assert layouts["AWSLogs"] > 100 and layouts["s3-access-logs"] > 100
    for k in keys:
        if k.startswith("AWSLogs/"):
            _, acct, region, _bucket, y, m, d, name = k.split("/")
            assert name.startswith(f"{y}-{m}-{d}-")  # date folders match the file's timestamp
        else:
            _, acct, region, _bucket, name = k.split("/")
        assert acct in ("111111111111", "222222222222") and region in ("us-east-1", "eu-west-1")


def test_landing_times_follow_the_lines(day: Any, parsed: Any) -> None:
    calls, _ = day
    landed = [t for _, _, t in calls]
    assert landed == sorted(landed)  # handed over in landing order
    last: dict[str, datetime] = {}
    for key, _, row in parsed:
        last[key] = max(last.get(key, row["event_time"]), row["event_time"])
    for key, _, t in calls:
        gap = t.replace(tzinfo=None) - last[key]
        assert timedelta(minutes=2) <= gap <= timedelta(minutes=7)
        written = datetime.strptime(KEY_TIME.search(key)[1], "%Y-%m-%d-%H-%M-%S")  # type: ignore[index]
        assert last[key] < written <= t.replace(tzinfo=None)


def test_one_object_per_bucket_per_five_minutes(parsed: Any) -> None:
    slots: dict[str, set[tuple[str, datetime]]] = {}
    for key, _, row in parsed:
        t = row["event_time"]
        slots.setdefault(key, set()).add((row["bucket_name"], t.replace(minute=t.minute // 5 * 5, second=0)))
    assert all(len(s) == 1 for s in slots.values())  # an object holds one bucket's 5 minutes
    per_slot = Counter(next(iter(s)) for s in slots.values())
    assert set(per_slot.values()) == {1}  # and each bucket's 5 minutes is in one object
    for key, s in slots.items():
        assert f"/{next(iter(s))[0]}/" in key


def test_background_has_the_look_alikes(parsed: Any) -> None:
    rows = [r for _, _, r in parsed]
    statuses = Counter(r["httpstatus"] for r in rows)
    assert statuses[403] > 20 and statuses[404] > 20 and statuses[None] > 20  # denied, missing, lifecycle
    ops = Counter(r["operation"] for r in rows)
    assert {
        "REST.GET.OBJECT",
        "REST.PUT.OBJECT",
        "REST.HEAD.OBJECT",
        "REST.GET.BUCKET",
        "S3.EXPIRE.OBJECT",
    } <= set(ops)
    assert any('"' in (r["useragent"] or "") for r in rows)  # escaped quotes round-trip
    assert any(r["useragent"] and r["useragent"].startswith("S3Console/") for r in rows)
    # the app role reads far more in 10 minutes than the attacker does: volume alone is not the signal
    app = Counter(
        r["event_time"].replace(minute=r["event_time"].minute // 10 * 10, second=0)
        for r in rows
        if r["related_users"] == ["app-backend"] and r["operation"] == "REST.GET.OBJECT"
    )
    assert max(app.values()) >= 20


def test_attack_story_ground_truth(day: Any, parsed: Any) -> None:
    _, steps = day
    assert len(steps) == 1
    step = steps[0]
    assert step.detections == ("s3access_bulk_object_download",)
    assert step.account == "111111111111" and step.region == "us-east-1"
    assert PAYROLL_BUCKET in step.summary and "admin-bob" in step.summary and ATTACKER_IP in step.summary
    story = [(k, r) for k, _, r in parsed if r["remoteip"] == ATTACKER_IP]
    assert story and all(r["requester"] == BOB for _, r in story)  # the attacker IP appears nowhere else
    assert [r for _, _, r in parsed if r["requester"] == BOB] == [r for _, r in story]
    gets = [r for _, r in story if r["operation"] == "REST.GET.OBJECT"]
    lists = [r for _, r in story if r["operation"] == "REST.GET.BUCKET"]
    assert len(gets) >= 60 and len(lists) == 3
    assert len({r["key"] for r in gets}) == len(gets)
    times = sorted(r["event_time"] for _, r in story)
    assert times[-1] - times[0] <= timedelta(minutes=10)
    around = (START + timedelta(hours=17, minutes=30)).replace(tzinfo=None)
    assert abs(times[0] - around) <= timedelta(minutes=5) and abs(times[-1] - around) <= timedelta(minutes=5)
    assert min(r["event_time"] for r in gets) == step.time.replace(tzinfo=None)
    for key, r in story:
        assert key.startswith(f"AWSLogs/111111111111/us-east-1/{PAYROLL_BUCKET}/")
        assert r["bucket_name"] == PAYROLL_BUCKET and r["httpstatus"] == 200
        assert r["useragent"].startswith("aws-cli/2.15.0 ")
        assert r["related_users"] == ["admin-bob"] and r["related_ips"] == [ATTACKER_IP]
        assert r["related_arns"] == [BOB] and "111111111111" in r["related_accounts"]


def test_story_scales_into_short_ranges() -> None:
    calls, steps = _run(start=START, hours=2, accounts=("111111111111",), regions=("eu-west-1",))
    assert steps[0].region == "eu-west-1"
    assert START < steps[0].time < START + timedelta(hours=2)
    assert any(PAYROLL_BUCKET in k for k, _, _ in calls)


def test_rejects_bad_ranges() -> None:
    with pytest.raises(ValueError, match="aligned"):
        _run(start=START + timedelta(minutes=1))
    with pytest.raises(ValueError, match="hours"):
        _run(start=START, hours=0)


def test_render_sample_is_deterministic_and_clean() -> None:
    body = render_sample(500, seed=3)
    assert body == render_sample(500, seed=3) and body.count(b"\n") == 500
    raw = SOURCE.classify(
        "AWSLogs/111111111111/us-east-1/b-1/2026/03/14/2026-03-14-12-00-00-0123456789ABCDEF"
    )
    assert raw is not None
    res = SOURCE.parse_object(raw, body)
    assert len(res.rows) == 500 and not res.quarantined


def test_bench_naive_parser_runs() -> None:
    """The benchmark pair other engineers build on: same sample, the naive parser counts records."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "bench" / "parsers" / "s3access.py"
    spec = importlib.util.spec_from_file_location("bench_s3access", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    body = mod.make_sample(2_000, seed=1)
    assert body.count(b"\n") == 2_000
    # the naive regex loses the lines whose User-Agent carries escaped quotes; mamori keeps them
    assert 1_900 < mod.naive_parse(body) < 2_000
