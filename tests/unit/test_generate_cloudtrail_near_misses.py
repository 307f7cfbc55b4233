"""The generated day's background holds a near-miss of each newer CloudTrail rule, and the real rule stays quiet on it.

The demo's "alerts from background: 0" only measures precision if the background does what each rule must
ignore: infrastructure as code creating and destroying what the rule watches (below a burst limit, or in the way
the rule allows), AWS services and service-linked roles acting for the account, console sessions, sweeps just
under the discovery limits. Per rule, the near-miss is named and found in the generated records (the rule's
naive version, without the exclusion that spares it, would report it, or its count is one short of the limit),
and the real rule, run over the background on DuckDB, opens no alert.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from mamori.config import load_settings
from mamori.detections.dedup import group_hits
from mamori.detections.loader import get_detection
from mamori.detections.lookups import load_lookup
from mamori.detections.runner import run_detection
from mamori.engines.duckdb import DuckDBEngine
from mamori.sources.base import PARTITION_KEYS
from mamori.sources.cloudtrail import SOURCE
from mamori.sources.cloudtrail.generate import ATTACKER_IP, ATTACKER_IPV6, generate_cloudtrail

SQL = Path(__file__).resolve().parents[2] / "sql"
START = datetime(2026, 11, 1, tzinfo=UTC)  # the demo's day
HOURS = 24
HOUR = timedelta(hours=1)
Rec = dict[str, Any]


def _t(r: Rec) -> datetime:
    return datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _principal(r: Rec) -> str:
    ui = r["userIdentity"]
    return str((ui.get("sessionContext") or {}).get("sessionIssuer", {}).get("arn") or ui.get("arn", ""))


def _by_service(r: Rec) -> bool:
    """An AWS service acting for a principal: its name as source address (what several rules exclude)."""
    return str(r["sourceIPAddress"]).endswith(".amazonaws.com")


@pytest.fixture(scope="module")
def day() -> tuple[list[Rec], pa.Table]:
    """The demo day's CloudTrail background (the attack's records, from the attacker's addresses, left out):
    its records, and the table the rules read, through the real parser."""
    objects: list[tuple[str, bytes]] = []
    generate_cloudtrail(lambda k, d, _: objects.append((k, d)), START, hours=HOURS)
    attacker = (ATTACKER_IP, ATTACKER_IPV6)
    records: list[Rec] = []
    rows: list[Rec] = []
    for key, data in objects:
        raw = SOURCE.classify(key)
        assert raw is not None
        if raw.kind != "events":
            continue
        records += [
            r for r in json.loads(gzip.decompress(data))["Records"] if r["sourceIPAddress"] not in attacker
        ]
        result = SOURCE.parse_object(raw, data)
        assert not result.quarantined
        rows += [
            row | {k: getattr(part, k) for k in PARTITION_KEYS}
            for part, row in result.rows
            if row["sourceipaddress"] not in attacker
        ]
    schema = SOURCE.schema
    for k in PARTITION_KEYS:
        schema = schema.append(pa.field(k, pa.string()))
    return records, pa.Table.from_pylist(rows, schema=schema)


@pytest.fixture(scope="module")
def engine(day: tuple[list[Rec], pa.Table]) -> Iterator[DuckDBEngine]:
    eng = DuckDBEngine(
        load_settings({"MAMORI_HOME": "/nonexistent-near-miss-home"}), threads=1, create_views=False
    )
    eng.register_table("cloudtrail", day[1])
    try:
        yield eng
    finally:
        eng.close()


def _day_hits(detection_id: str, engine: DuckDBEngine) -> list[dict[str, Any]]:
    """The rule's hits over one window covering the day: a rule's hits do not depend on how its runs cut the
    day (tests/detections/test_window_boundaries.py); the demo runs its own cadence over the same day."""
    return run_detection(get_detection(SQL, detection_id), engine, START, START + HOURS * HOUR)


def _count(records: list[Rec], pick: Callable[[Rec], bool]) -> int:
    return sum(1 for r in records if pick(r))


def _busiest_hour(
    records: list[Rec], pick: Callable[[Rec], bool], item: Callable[[Rec], str]
) -> dict[str, int]:
    """Per principal, the most distinct items among its picked records within any 60 minutes (inclusive, as
    the rules' RANGE windows count)."""
    events: dict[str, list[tuple[datetime, str]]] = {}
    for r in records:
        if pick(r):
            events.setdefault(_principal(r), []).append((_t(r), item(r)))
    out = {}
    for who, evs in events.items():
        evs.sort()
        inside: Counter[str] = Counter()
        lo = most = 0
        for t, i in evs:
            inside[i] += 1
            while evs[lo][0] < t - HOUR:
                inside[evs[lo][1]] -= 1
                if not inside[evs[lo][1]]:
                    del inside[evs[lo][1]]
                lo += 1
            most = max(most, len(inside))
        out[who] = most
    return out


# Each rule's near-miss: its name, and the records of the background that make it (what the rule, without the
# exclusion or the limit that spares them, would report).
def _ev(source: str, *names: str) -> Callable[[Rec], bool]:
    return lambda r: r["eventSource"] == f"{source}.amazonaws.com" and r["eventName"] in names


NEAR_MISSES: dict[str, tuple[str, Callable[[Rec], bool]]] = {
    "cloudtrail_security_tooling_disabled": (
        "Inspector's service-linked role removes a closed member; Terraform enables Inspector, creates an analyzer",
        lambda r: (
            _ev("inspector2", "DisassociateMember", "Enable")(r)
            or _ev("access-analyzer", "CreateAnalyzer", "DeleteArchiveRule")(r)
        ),
    ),
    "cloudtrail_elb_access_logging_disabled": (
        "Terraform creates an ALB and writes its attributes, access logs off, a minute later",
        lambda r: (
            _ev("elasticloadbalancing", "ModifyLoadBalancerAttributes")(r)
            and '"access_logs.s3.enabled","value":"false"'
            in json.dumps(r["requestParameters"], separators=(",", ":"))
        ),
    ),
    "cloudtrail_snapshot_block_public_access_disabled": (
        "Terraform turns the snapshot and AMI public sharing guards on",
        _ev("ec2", "EnableSnapshotBlockPublicAccess", "EnableImageBlockPublicAccess"),
    ),
    "cloudtrail_organizations_policy_removed": (
        "Control Tower detaches and deletes a control's SCP (service source); Terraform creates and attaches SCPs",
        _ev("organizations", "DetachPolicy", "DeletePolicy", "CreatePolicy", "AttachPolicy"),
    ),
    "cloudtrail_efs_deleted": (
        "CloudFormation deletes a stack's mount target and file system; Terraform creates one",
        _ev("elasticfilesystem", "DeleteFileSystem", "DeleteMountTarget", "CreateFileSystem"),
    ),
    "cloudtrail_dynamodb_deleted_burst": (
        "Terraform replaces two tables; CloudFormation deletes four, AWS Backup expires three backups",
        _ev("dynamodb", "DeleteTable", "DeleteBackup"),
    ),
    "cloudtrail_ebs_deleted_burst": (
        "Terraform destroys nine volumes; Data Lifecycle Manager expires twelve snapshots",
        _ev("ec2", "DeleteVolume", "DeleteSnapshot"),
    ),
    "cloudtrail_secrets_deleted_burst": (
        "Terraform deletes two secrets with a recovery window; CloudFormation force-deletes five",
        _ev("secretsmanager", "DeleteSecret"),
    ),
    "cloudtrail_kms_external_key_material": (
        "Terraform creates a key with KMS-generated material",
        lambda r: _ev("kms", "CreateKey")(r) and r["requestParameters"].get("origin") == "AWS_KMS",
    ),
    "cloudtrail_ses_sending_enabled": (
        "Terraform turns a configuration set's sending on; the inventory reads the sending quota",
        _ev("ses", "UpdateConfigurationSetSendingEnabled", "GetSendQuota"),
    ),
    "cloudtrail_dynamodb_table_exported": (
        "A Glue zero-ETL integration exports the orders table (service source); Terraform reads export status",
        _ev("dynamodb", "ExportTableToPointInTime", "ListExports"),
    ),
    "cloudtrail_sns_subscription_external_account": (
        "Terraform subscribes the account's own queue, a known account's queue and an e-mail address",
        _ev("sns", "Subscribe"),
    ),
    "cloudtrail_discovery_breadth": (
        "a CMDB inventory reads 29 APIs in 16 services; Config, a Terraform plan and a console session read 38",
        lambda r: _principal(r).endswith("/asset-inventory"),
    ),
    "cloudtrail_region_enumeration": (
        "a report job lists 10 regions, 7 minutes apart; Config, a Terraform plan and the Global View list 10 at once",
        lambda r: _principal(r).endswith("/finops-report"),
    ),
    "cloudtrail_s3_public_access_block_removed": (
        "Terraform destroys a bucket's Block Public Access, then the bucket; it puts the block all true on"
        " apply; the inventory reads it",
        _ev(
            "s3", "DeleteBucketPublicAccessBlock", "PutBucketPublicAccessBlock", "GetBucketPublicAccessBlock"
        ),
    ),
}


@pytest.mark.parametrize("detection_id", sorted(NEAR_MISSES))
def test_the_near_miss_is_in_the_background_and_the_rule_stays_quiet(
    detection_id: str, day: tuple[list[Rec], pa.Table], engine: DuckDBEngine
) -> None:
    records, _ = day
    what, pick = NEAR_MISSES[detection_id]
    assert _count(records, pick) > 0, f"no near-miss in the background: {what}"
    det = get_detection(SQL, detection_id)
    hits = _day_hits(detection_id, engine)
    candidates = group_hits(det, hits)
    if det.header.threshold == 1:
        assert hits == [], (what, hits[:3])
    else:  # a counting rule through the ledger: the near-miss comes one short of its limit, and opens nothing
        assert max(c.hits for c in candidates) == det.header.threshold - 1, (what, candidates)
    assert [c for c in candidates if c.hits >= det.header.threshold] == []


def test_the_excluded_near_misses_would_be_reported_without_their_exclusion(
    day: tuple[list[Rec], pa.Table],
) -> None:
    """Each rule above is spared by one condition; the background has records that only that condition spares
    (a service's source address, a service-linked role, a console session, the reviewed IaC role), so dropping
    the condition would open an alert: the near-misses are near."""
    records, _ = day
    by_service = Counter(
        (r["eventSource"].split(".")[0], r["eventName"])
        for r in records
        if _by_service(r) and r["eventName"].startswith("Delete")
    )
    assert (
        by_service[("ec2", "DeleteSnapshot")] >= 10
    )  # Data Lifecycle Manager: ebs_deleted_burst's limit is 10
    assert by_service[("dynamodb", "DeleteTable")] + by_service[("dynamodb", "DeleteBackup")] >= 3
    assert by_service[("secretsmanager", "DeleteSecret")] >= 3
    assert by_service[("elasticfilesystem", "DeleteFileSystem")] >= 1
    assert by_service[("organizations", "DeletePolicy")] >= 1
    assert _count(records, lambda r: _by_service(r) and _ev("inspector2", "DisassociateMember")(r)) >= 1
    assert _count(records, lambda r: _by_service(r) and _ev("dynamodb", "ExportTableToPointInTime")(r)) >= 1

    # The Terraform destroy removes the Block Public Access, and the same principal deletes that bucket seconds
    # later: only the bucket deletion spares the removal.
    removals = [r for r in records if _ev("s3", "DeleteBucketPublicAccessBlock")(r)]
    assert removals
    gone = {
        (_principal(r), r["requestParameters"]["bucketName"]): _t(r)
        for r in records
        if _ev("s3", "DeleteBucket")(r) and not r.get("errorCode")
    }
    for r in removals:
        deleted = gone.get((_principal(r), r["requestParameters"]["bucketName"]))
        assert deleted is not None and _t(r) <= deleted <= _t(r) + timedelta(minutes=10), r

    listed = set(load_lookup(SQL, "iac_principals"))
    known = set(load_lookup(SQL, "known_accounts"))
    endpoints = [r["requestParameters"]["endpoint"] for r in records if _ev("sns", "Subscribe")(r)]
    owners = {e.split(":")[4] for e in endpoints if e.startswith("arn:")}
    assert owners & known and any(not e.startswith("arn:") for e in endpoints), endpoints

    reads = lambda r: r["eventName"].startswith(("List", "Describe", "Get"))  # noqa: E731
    apis = _busiest_hour(records, reads, lambda r: f"{r['eventSource']}:{r['eventName']}")
    services = _busiest_hour(records, reads, lambda r: r["eventSource"])
    listing = lambda r: r["eventName"].startswith(("List", "Describe"))  # noqa: E731
    regions = _busiest_hour(records, listing, lambda r: r["awsRegion"])
    broad = {p for p in apis if apis[p] >= 30 and services[p] >= 10}
    wide = {p for p, n in regions.items() if n >= 10}
    for spared in (broad, wide):
        assert any("/aws-service-role/config.amazonaws.com/" in p for p in spared), spared
        assert spared & listed, spared  # the Terraform plan of the reviewed pipeline
        assert any("/AWSReservedSSO_" in p for p in spared), spared  # console sessions
        assert not any(p.endswith(("asset-inventory", "finops-report")) for p in spared), spared
    # Just under: the inventory reads 29 APIs in more than 10 services; the report job lists 10 regions, 9 an hour.
    inventories = [p for p in apis if p.endswith("/asset-inventory")]
    assert inventories and all(apis[p] == 29 and services[p] >= 10 for p in inventories)
    reports = [p for p in regions if p.endswith("/finops-report")]
    assert reports and all(regions[p] == 9 for p in reports)
    assert all(len({r["awsRegion"] for r in records if _principal(r) == p}) == 10 for p in reports)
