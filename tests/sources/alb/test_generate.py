"""ALB generator: byte-identical by seed, every object classifies and parses clean, and the attack story is in
the data as the ground truth claims (so future ALB detections are tested against what really is there)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pyarrow as pa
import pytest

from mamori.sources.alb import SCHEMA, SOURCE
from mamori.sources.alb.generate import ATTACK_OFFSET, generate_alb
from mamori.sources.cloudtrail.generate import ATTACKER_IP

START = datetime(2026, 11, 1, tzinfo=UTC)


def run(hours: int = 6, seed: int = 7, **kw):
    out: list[tuple[str, bytes, datetime]] = []
    steps = generate_alb(lambda k, d, t: out.append((k, d, t)), START, hours=hours, seed=seed, **kw)
    return steps, out


@pytest.fixture(scope="module")
def generated():
    steps, out = run()
    rows, quarantined = [], []
    for key, data, _ in out:
        raw = SOURCE.classify(key)
        assert raw is not None, key
        res = SOURCE.parse_object(raw, data)
        assert res.records_in == len(res.rows) + len(res.quarantined)
        rows += [(raw, part, row) for part, row in res.rows]
        quarantined += res.quarantined
    return steps, out, rows, quarantined


def test_deterministic_by_seed():
    a, b, c = run(hours=3), run(hours=3), run(hours=3, seed=8)
    assert a == b
    assert [k for k, _, _ in a[1]] != [k for k, _, _ in c[1]]


def test_objects_parse_clean_and_fit_the_schema(generated):
    _, out, rows, quarantined = generated
    assert quarantined == []
    assert len(rows) > 10_000
    pa.Table.from_pylist([r for _, _, r in rows[:5000]], schema=SCHEMA)
    assert all(d[4:8] == b"\0\0\0\0" for _, d, _ in out)  # gzip mtime=0: reproducible bytes


def test_keys_and_landing_follow_alb_delivery(generated):
    _, out, rows, _ = generated
    assert [(t, k) for k, _, t in out] == sorted((t, k) for k, _, t in out)  # landing order
    per_slot = Counter()
    for key, _, landed in out:
        name = key.rsplit("/", 1)[1]
        end = datetime.strptime(name.split("_")[4], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        assert timedelta(minutes=1) <= landed - end <= timedelta(minutes=5)
        assert key.split("/")[4:7] == [f"{end:%Y}", f"{end:%m}", f"{end:%d}"]
        per_slot[(key.split("/")[1], key.split("/")[3], end)] += 1
    assert set(per_slot.values()) == {2}  # two nodes, one file each per 5 minutes
    # every line of a file lies in the 5 minutes before the file's end time
    by_key = {}
    for raw, _, row in rows:
        by_key.setdefault(raw.key, []).append(row["event_time"])
    for key, times in by_key.items():
        end = datetime.strptime(key.rsplit("/", 1)[1].split("_")[4], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        assert end - timedelta(minutes=5) <= min(times) and max(times) < end


def test_background_is_realistic_noise(generated):
    _, _, rows, _ = generated
    noise = [r for _, _, r in rows if r["client_ip"] != ATTACKER_IP]
    assert not any(r["client_ip"].startswith("198.51.100.") for r in noise)
    uas = Counter(r["user_agent"].split("/")[0] for r in noise)
    assert uas["Mozilla"] > len(noise) / 2 and uas["okhttp"] > 0
    assert any(r["user_agent"].startswith("Amazon-Route53-Health-Check-Service") for r in noise)
    assert not any("ELB-HealthChecker" in r["user_agent"] for r in noise)  # never in access logs
    lam = [r for r in noise if r["target_group_arn"] and "/web-prod-fn/" in r["target_group_arn"]]
    assert lam and all(r["target_ip"] is None for r in lam)
    assert any(r["lambda_error_reason"] == "LambdaInvalidResponse" for r in lam)
    codes = Counter(r["elb_status_code"] // 100 for r in noise)
    assert codes[2] > 0.8 * len(noise) and codes[3] > 0 and codes[4] > 0 and codes[5] > 0
    assert any(r["target_processing_time"] == -1.0 for r in noise)
    assert any(r["client_ip"].startswith("2001:db8:") for r in noise)
    assert {r["classification"] for r in noise} == {None, "Ambiguous"}  # near-miss: no Severe in noise
    assert any("select+chair" in (r["request_url"] or "") for r in noise)  # near-miss for SQLi rules


def test_attack_story_is_in_the_data(generated):
    steps, _, rows, _ = generated
    assert [s.detections for s in steps] == [
        ("alb_scanner_user_agent", "alb_error_burst"),
        ("alb_path_traversal", "alb_scanner_user_agent"),
        ("alb_sql_injection", "alb_scanner_user_agent"),
        ("alb_desync_severe",),
    ]
    assert {(s.account, s.region) for s in steps} == {("111111111111", "us-east-1")}
    assert steps[0].time >= START + ATTACK_OFFSET and steps[-1].time < START + ATTACK_OFFSET + timedelta(
        hours=1
    )
    attack = [(raw, r) for raw, _, r in rows if r["client_ip"] == ATTACKER_IP]
    assert {(raw.account, raw.region) for raw, _ in attack} == {("111111111111", "us-east-1")}
    atk = [r for _, r in attack]

    burst = [r for r in atk if r["user_agent"].startswith("Mozilla/5.0") and "Nikto/2.5.0" in r["user_agent"]]
    t0 = min(r["event_time"] for r in burst)
    in_10 = [
        r
        for r in burst
        if r["event_time"] < t0 + timedelta(minutes=10) and r["elb_status_code"] in (403, 404)
    ]
    assert len(in_10) >= 200 and t0 == steps[0].time

    urls = [unquote(unquote(r["request_url"])) for r in atk]
    assert any("../../etc/passwd" in u for u in urls)
    assert any("%2e%2e%2f" in r["request_url"] for r in atk)
    sqli = [r for r in atk if r["user_agent"].startswith("sqlmap/1.7.2")]
    assert any("' OR 1=1--" in unquote(r["request_url"]).replace("+", " ") for r in sqli)
    union = [r for r in sqli if "UNION SELECT" in unquote(r["request_url"]).replace("+", " ")]
    assert any(r["elb_status_code"] == 200 and r["sent_bytes"] > 40_000 for r in union)

    severe = [r for r in rows if r[2]["classification"] == "Severe"]
    assert len(severe) == 2
    for _, _, r in severe:
        assert r["client_ip"] == ATTACKER_IP and r["classification_reason"] == "BothTeClPresent"
        assert r["elb_status_code"] == 400 and r["target_ip"] is None


def test_start_must_be_aligned_utc_hour():
    with pytest.raises(ValueError, match="aligned"):
        generate_alb(lambda *a: None, START + timedelta(minutes=5))
    with pytest.raises(ValueError, match="hours"):
        generate_alb(lambda *a: None, START, hours=1)
