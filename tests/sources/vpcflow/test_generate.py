"""The flow-log generator is the test bed for network detections, so its guarantees are pinned here:
byte-determinism, AWS's key layouts and headers, parser acceptance, and an exact ground truth (the attack
shapes occur where the story says, and the background never reaches them)."""

from __future__ import annotations

import bisect
import gzip
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mamori.ingest import list_landed
from mamori.lake import Store
from mamori.sources.vpcflow import SOURCE
from mamori.sources.vpcflow.generate import (
    ATTACKER_IP,
    EXFIL_BYTES,
    SCAN_PORTS,
    V2_FORMAT,
    V5_FORMAT,
    WEB_IP,
    generate_vpcflow,
)

START = datetime(2026, 3, 14, tzinfo=UTC)
END = START + timedelta(hours=24)
NAME = r"(?P=acct)_vpcflowlogs_(?P=region)_fl-[0-9a-f]{17}_(?P<ts>\d{8}T\d{4}Z)_[0-9a-f]{8}\.log\.gz"
PLAIN_RE = re.compile(
    rf"^AWSLogs/(?P<acct>111111111111)/vpcflowlogs/(?P<region>[a-z]{{2}}-[a-z]+-\d)/(?P<ymd>\d{{4}}/\d{{2}}/\d{{2}})/"
    rf"{NAME}$"
)
HIVE_RE = re.compile(
    r"^AWSLogs/aws-account-id=(?P<acct>222222222222)/aws-service=vpcflowlogs/aws-region=(?P<region>[a-z]{2}-[a-z]+-\d)/"
    rf"year=(?P<y>\d{{4}})/month=(?P<m>\d{{2}})/day=(?P<d>\d{{2}})/hour=(?P<h>\d{{2}})/{NAME}$"
)


def _run(**kw: Any) -> tuple[list[tuple[str, bytes, datetime]], list[Any]]:
    calls: list[tuple[str, bytes, datetime]] = []
    steps = generate_vpcflow(lambda k, d, t: calls.append((k, d, t)), **kw)
    return calls, steps


@pytest.fixture(scope="module")
def day() -> tuple[list[tuple[str, bytes, datetime]], list[Any]]:
    return _run(start=START)


@pytest.fixture(scope="module")
def rows(day: Any) -> list[tuple[str, dict[str, Any]]]:
    calls, _ = day
    out = []
    for key, data, _ in calls:
        res = SOURCE.parse_object(SOURCE.classify(key), data)
        assert not res.quarantined, (key, res.quarantined[:3])
        assert res.records_in == len(res.rows)
        out += [(key, r) for _, r in res.rows]
    return out


def test_deterministic_per_seed() -> None:
    a, steps_a = _run(start=START, hours=3)
    b, steps_b = _run(start=START, hours=3)
    assert a == b and steps_a == steps_b
    c, _ = _run(start=START, hours=3, seed=8)
    assert [d for _, d, _ in a] != [d for _, d, _ in c]


def test_rejects_unaligned_start() -> None:
    with pytest.raises(ValueError):
        _run(start=START + timedelta(minutes=5))


def test_short_ranges_keep_only_the_steps_inside() -> None:
    _, all_steps = _run(start=START, hours=2, accounts=("333333333333",), regions=("eu-central-1",))
    steps = [s for s in all_steps if s.detections != ("vpcflow_skipdata",)]
    assert [s.time - START for s in steps] == [timedelta(hours=1), timedelta(hours=1, minutes=40)]
    assert {(s.account, s.region) for s in steps} == {("333333333333", "eu-central-1")}


def test_keys_headers_and_landing(day: Any) -> None:
    calls, _ = day
    assert len({k for k, _, _ in calls}) == len(calls) == 2 * 2 * 144
    assert [c[2] for c in calls] == sorted(c[2] for c in calls)  # handed over in landing order
    for key, data, landed in calls:
        m = PLAIN_RE.match(key) or HIVE_RE.match(key)
        assert m, key
        t = datetime.strptime(m["ts"], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        assert t.minute % 10 == 0 and START < t <= END
        assert timedelta(minutes=1) <= landed - t <= timedelta(minutes=5)
        text = gzip.decompress(data).decode()
        header = text.split("\n", 1)[0].split()
        if m["acct"] == "111111111111":
            assert m["ymd"] == f"{t:%Y/%m/%d}" and header == list(V2_FORMAT)
        else:
            assert (m["y"], m["m"], m["d"], m["h"]) == (f"{t:%Y}", f"{t:%m}", f"{t:%d}", f"{t:%H}")
            assert header == list(V5_FORMAT)
        raw = SOURCE.classify(key)
        assert raw is not None and (raw.account, raw.region) == (m["acct"], m["region"])


def test_every_record_parses_into_its_file_interval(day: Any, rows: Any) -> None:
    calls, _ = day
    ends = {
        k: datetime.strptime(k.rsplit("_", 2)[1], "%Y%m%dT%H%MZ").replace(tzinfo=UTC) for k, _, _ in calls
    }
    for key, r in rows:
        assert ends[key] - timedelta(minutes=10) <= r["event_time"] < ends[key]
        assert r["account_id"] == SOURCE.classify(key).account
    assert 40_000 < len(rows) < 70_000
    statuses = {r["log_status"] for _, r in rows}
    assert {"OK", "NODATA"} <= statuses
    assert any(":" in (r["srcaddr"] or "") for _, r in rows)  # IPv6 clients
    custom = [r for k, r in rows if "aws-account-id=" in k and r["log_status"] == "OK"]
    assert all(r["flow_region"] and r["flow_direction"] and r["type"] for r in custom)
    assert {r["pkt_dst_aws_service"] for r in custom} >= {"S3", None}


def test_background_never_uses_the_attacker_range_nor_sweeps_ports(rows: Any) -> None:
    by_src: dict[tuple[str, str, str], list[tuple[datetime, int]]] = defaultdict(list)
    for key, r in rows:
        if r["srcaddr"] == ATTACKER_IP:
            continue
        assert not (r["srcaddr"] or "").startswith("198.51.100.")
        assert not (r["dstaddr"] or "").startswith("198.51.100.") or r["srcaddr"] == WEB_IP
        # Connection attempts from outside the VPC (a response comes FROM a well-known port).
        src = r["srcaddr"]
        if src and not src.startswith("10.") and (r["srcport"] or 0) >= 1024 and r["dstport"] is not None:
            by_src[r["account_id"], SOURCE.classify(key).region, src].append((r["event_time"], r["dstport"]))
    worst = 0
    for hits in by_src.values():
        hits.sort()
        times = [t for t, _ in hits]
        for i, (t, _) in enumerate(hits):
            j = bisect.bisect_left(times, t + timedelta(minutes=10))
            worst = max(worst, len({p for _, p in hits[i:j]}))
    assert 1 < worst < 10  # scanners exist, but never sweep


def test_skipdata_health_steps_match_the_records(day: Any, rows: Any) -> None:
    _, steps = day
    health = [s for s in steps if s.detections == ("vpcflow_skipdata",)]
    skipped = {r["account_id"] for _, r in rows if r["log_status"] == "SKIPDATA"}
    assert {s.account for s in health} == skipped  # one health step per account (per day) with SKIPDATA
    assert all(s.summary.startswith("health:") for s in health)


def test_attack_story(day: Any, rows: Any) -> None:
    _, all_steps = day
    steps = [s for s in all_steps if s.detections != ("vpcflow_skipdata",)]
    assert [s.time - START for s in steps] == [
        timedelta(hours=1),
        timedelta(hours=1, minutes=40),
        timedelta(hours=17, minutes=40),
    ]
    assert all(s.account == "111111111111" and s.region == "us-east-1" for s in steps)
    assert [s.detections for s in steps] == [
        ("vpcflow_port_scan",),
        ("vpcflow_ssh_from_internet_accepted",),
        ("vpcflow_large_egress",),
    ]
    attacker = [(k, r) for k, r in rows if ATTACKER_IP in (r["srcaddr"], r["dstaddr"])]
    assert {k.split("/")[1] + "/" + k.split("/")[3] for k, _ in attacker} == {"111111111111/us-east-1"}

    scan = [
        r
        for _, r in attacker
        if r["srcaddr"] == ATTACKER_IP and r["event_time"] < START + timedelta(hours=1.5)
    ]
    assert {r["dstaddr"] for r in scan} == {WEB_IP}
    assert len({r["dstport"] for r in scan}) == SCAN_PORTS
    times = [r["event_time"] for r in scan]
    assert START + timedelta(hours=1) <= min(times) and max(times) - min(times) < timedelta(minutes=5)
    accepted = {r["dstport"] for r in scan if r["action"] == "ACCEPT"}
    assert accepted == {22, 443}
    assert all(r["action"] == "REJECT" for r in scan if r["dstport"] not in accepted)

    ssh = [
        r
        for _, r in attacker
        if r["srcaddr"] == ATTACKER_IP
        and r["dstport"] == 22
        and r["event_time"] >= START + timedelta(hours=1.5)
    ]
    assert len(ssh) == 1 and ssh[0]["action"] == "ACCEPT" and 2_000 < ssh[0]["bytes"] < 100_000
    assert abs(ssh[0]["event_time"] - (START + timedelta(hours=1, minutes=40))) < timedelta(minutes=5)

    exfil = [r for _, r in attacker if r["srcaddr"] == WEB_IP and r["dstport"] == 443]
    assert len(exfil) == 1 and exfil[0]["bytes"] == EXFIL_BYTES and exfil[0]["action"] == "ACCEPT"
    assert abs(exfil[0]["event_time"] - (START + timedelta(hours=17, minutes=40))) < timedelta(minutes=5)
    big = [r for _, r in rows if (r["bytes"] or 0) > 100_000_000 and r["dstaddr"] != ATTACKER_IP]
    assert big  # near-misses: nightly backup to S3 and a patch download
    assert all(not (r["dstaddr"] or "").startswith("198.51.100.") for r in big)


def test_the_lister_finds_every_generated_object(tmp_path: Any) -> None:
    """list_prefixes + the one-level-at-a-time lister reach both key layouts, hourly folders included."""
    calls, _ = _run(start=START, hours=3)
    store = Store(f"file://{tmp_path}")
    for key, data, landed in calls:
        store.write_atomic(key, data)
        store.set_landed(key, landed)
    lo, hi = START + timedelta(hours=1), START + timedelta(hours=2)
    found, unclaimed = list_landed(SOURCE, store, lo, hi)
    assert not unclaimed
    assert sorted(o.key for o in found) == sorted(k for k, _, t in calls if lo <= t < hi)
    assert any("hour=" in o.key for o in found) and any("/vpcflowlogs/" in o.key for o in found)
