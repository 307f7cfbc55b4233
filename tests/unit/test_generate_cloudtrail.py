"""The generator is the test bed for every CloudTrail detection, so its own guarantees are pinned here:
byte-determinism, AWS's exact key layout, parser acceptance, and a ground truth that is exact (the attack
shapes occur where the story says, on the entities it names, and nowhere else, while the near-misses do occur)."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mamori.detections.lookups import load_lookup
from mamori.sources.cloudtrail import SOURCE
from mamori.sources.cloudtrail.generate import ATTACKER_IP, QUIET_REGIONS, AttackStep, generate_cloudtrail

START = datetime(2026, 3, 14, tzinfo=UTC)
END = START + timedelta(hours=24)
EVENTS_RE = re.compile(
    r"^AWSLogs/(?P<acct>\d{12})/CloudTrail/(?P<region>[a-z]{2}-[a-z]+-\d)/(?P<ymd>\d{4}/\d{2}/\d{2})/"
    r"(?P=acct)_CloudTrail_(?P=region)_(?P<ts>\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$"
)
DIGEST_RE = re.compile(
    r"^AWSLogs/(?P<acct>\d{12})/CloudTrail-Digest/(?P<region>[a-z]{2}-[a-z]+-\d)/(?P<ymd>\d{4}/\d{2}/\d{2})/"
    r"(?P=acct)_CloudTrail-Digest_(?P=region)_org-trail_us-east-1_(?P<ts>\d{8}T\d{6}Z)\.json\.gz$"
)
EVENT_NAME = {
    "cloudtrail_root_activity": "ConsoleLogin",
    "cloudtrail_console_login_brute_force": "ConsoleLogin",
    "cloudtrail_console_login_without_mfa": "ConsoleLogin",
    "cloudtrail_access_key_created_for_other_user": "CreateAccessKey",
    "cloudtrail_trail_stopped_or_changed": "StopLogging",
    "cloudtrail_guardduty_disabled": "DeleteDetector",
    "cloudtrail_vpc_flow_logs_deleted": "DeleteFlowLogs",
    "cloudtrail_security_group_opened_to_world": "AuthorizeSecurityGroupIngress",
}


def _run(**kw: Any) -> tuple[list[tuple[str, bytes, datetime]], list[AttackStep]]:
    calls: list[tuple[str, bytes, datetime]] = []
    steps = generate_cloudtrail(lambda k, d, t: calls.append((k, d, t)), **kw)
    return calls, steps


@pytest.fixture(scope="module")
def day() -> tuple[dict[str, tuple[bytes, datetime]], list[AttackStep]]:
    calls, steps = _run(start=START)
    objects = {k: (d, t) for k, d, t in calls}
    assert len(objects) == len(calls), "keys must be unique"
    return objects, steps


@pytest.fixture(scope="module")
def records(day: Any) -> list[tuple[str, dict[str, Any]]]:
    objects, _ = day
    return [
        (k, r)
        for k, (d, _) in objects.items()
        if "/CloudTrail/" in k
        for r in json.loads(gzip.decompress(d))["Records"]
    ]


def _t(s: str) -> datetime:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_deterministic_per_seed() -> None:
    a, steps_a = _run(start=START, hours=6)
    b, steps_b = _run(start=START, hours=6)
    assert a == b and steps_a == steps_b
    c, _ = _run(start=START, hours=6, seed=8)
    assert [k for k, _, _ in a] != [k for k, _, _ in c]
    assert [d for _, d, _ in a] != [d for _, d, _ in c]


def test_rejects_unaligned_start_and_short_ranges() -> None:
    with pytest.raises(ValueError):
        _run(start=START + timedelta(minutes=5))
    with pytest.raises(ValueError):
        _run(start=START, hours=2)


def test_single_account_and_region() -> None:
    calls, steps = _run(
        start=START,
        hours=6,
        accounts=("333333333333",),
        regions=("eu-central-1",),
        events_per_file=5,
        quiet_regions=(),
    )
    assert len(steps) == 10 and {(s.account, s.region) for s in steps} == {("333333333333", "eu-central-1")}
    assert all(s.time < START + timedelta(hours=6) for s in steps)
    assert all(k.startswith("AWSLogs/333333333333/") and "eu-central-1" in k for k, _, _ in calls)
    assert [c[2] for c in calls] == sorted(c[2] for c in calls)  # handed over in landing order


def test_event_keys_times_and_volume(day: Any) -> None:
    objects, _ = day
    total = 0
    for key, (data, landed) in objects.items():
        m = EVENTS_RE.match(key)
        if not m:
            assert DIGEST_RE.match(key), key
            continue
        t = datetime.strptime(m["ts"], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        assert m["ymd"] == f"{t:%Y/%m/%d}" and t.minute % 5 == 0
        assert timedelta(seconds=30) <= landed - t <= timedelta(seconds=240)
        recs = json.loads(gzip.decompress(data))["Records"]
        times = [_t(r["eventTime"]) for r in recs]
        assert recs and times == sorted(times)
        assert all(t - timedelta(minutes=5) <= x < t and START <= x < END for x in times)
        assert {(r["recipientAccountId"], r["awsRegion"]) for r in recs} == {(m["acct"], m["region"])}
        total += len(recs)
    assert 40_000 < total < 52_000


def test_digests_list_landed_files_and_chain(day: Any) -> None:
    objects, _ = day
    digests = sorted(k for k in objects if "/CloudTrail-Digest/" in k)
    assert len(digests) == 2 * (2 + len(QUIET_REGIONS)) * 25  # every enabled region, idle ones included
    listed, prev = set(), {}
    for key in digests:
        m = DIGEST_RE.match(key)
        assert m
        data, landed = objects[key]
        ts = datetime.strptime(m["ts"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        assert m["ymd"] == f"{ts:%Y/%m/%d}" and ts < landed < ts + timedelta(minutes=1)
        body = gzip.decompress(data)
        doc = json.loads(body)
        assert doc["digestSignatureAlgorithm"] == "SHA256withRSA" and doc["digestS3Object"] == key
        lo, hi = _t(doc["digestStartTime"]), _t(doc["digestEndTime"])
        assert hi - lo == timedelta(hours=1) and hi <= ts
        pair = (m["acct"], m["region"])
        assert doc["previousDigestS3Object"] == (prev[pair][0] if pair in prev else None)
        assert doc["previousDigestHashValue"] == (prev[pair][1] if pair in prev else None)
        prev[pair] = (key, hashlib.sha256(body).hexdigest())
        for f in doc["logFiles"]:
            log, log_landed = objects[f["s3Object"]]
            assert lo <= log_landed < hi
            assert f["hashValue"] == hashlib.sha256(gzip.decompress(log)).hexdigest()
            listed.add(f["s3Object"])
    assert listed == {k for k in objects if "/CloudTrail/" in k}


def test_parser_accepts_everything(day: Any) -> None:
    objects, _ = day
    rows = 0
    for key, (data, _) in objects.items():
        raw = SOURCE.classify(key)
        assert raw is not None, key
        res = SOURCE.parse_object(raw, data)
        if raw.kind == "digest":
            assert res.skipped_reason and not res.rows
        else:
            assert raw.kind == "events" and not res.quarantined and res.skipped_reason is None
            rows += len(res.rows)
    assert rows > 40_000


def _shapes(rec: dict[str, Any]) -> set[str]:
    """Naive versions of the detections: what an alert on this record would be, if any."""
    ui, name = rec["userIdentity"], rec["eventName"]
    params = rec.get("requestParameters") or {}
    out = set()
    if ui.get("type") == "Root" and not ui.get("invokedBy") and rec["eventType"] != "AwsServiceEvent":
        out.add("cloudtrail_root_activity")
    login_ok = name == "ConsoleLogin" and rec["responseElements"]["ConsoleLogin"] == "Success"
    if login_ok and ui["type"] == "IAMUser" and rec["additionalEventData"]["MFAUsed"] != "Yes":
        out.add("cloudtrail_console_login_without_mfa")
    if name == "CreateAccessKey" and params.get("userName") not in (None, ui.get("userName")):
        out.add("cloudtrail_access_key_created_for_other_user")
    if name in ("StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"):
        out.add("cloudtrail_trail_stopped_or_changed")
    if name == "DeleteDetector" or (name == "UpdateDetector" and params.get("enable") is False):
        out.add("cloudtrail_guardduty_disabled")
    if name == "DeleteFlowLogs":
        out.add("cloudtrail_vpc_flow_logs_deleted")
    if name == "AuthorizeSecurityGroupIngress" and re.search(r'"(0\.0\.0\.0/0|::/0)"', json.dumps(params)):
        out.add("cloudtrail_security_group_opened_to_world")
    return out


def _principal(ui: dict[str, Any]) -> str:
    """Who a record's caller is across sessions (the source's FieldModel.principal, written out again): the issuing
    role of a role session, except an IAM Identity Center role (its session name is the person), else the ARN."""
    issuer = ((ui.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
    if ui.get("type") == "AssumedRole" and issuer and "/aws-reserved/sso.amazonaws.com/" not in issuer:
        return str(issuer)
    return str(ui.get("arn") or ui.get("principalId"))


def _entities(det: str, rec: dict[str, Any]) -> frozenset[tuple[str, str]]:
    """What the rule's dedup keys (besides the account) read from the record: the step must name exactly these."""
    ui = rec["userIdentity"]
    if det in ("cloudtrail_root_activity", "cloudtrail_guardduty_disabled"):
        return frozenset()  # keyed on the account alone
    if det in ("cloudtrail_console_login_brute_force", "cloudtrail_console_login_after_failures"):
        return frozenset({("actor", ui.get("userName") or ui["arn"])})
    out = {("principal", _principal(ui))}
    if det == "cloudtrail_access_key_created_for_other_user":
        out.add(("target_user", rec["requestParameters"]["userName"]))
    return frozenset(out)


def test_ground_truth_is_exact(day: Any, records: Any) -> None:
    _, steps = day
    assert len(steps) == 10
    assert [s.time for s in steps] == sorted(s.time for s in steps)
    assert all(START <= s.time < END and s.time.tzinfo is not None for s in steps)
    gaps = [b.time - a.time for a, b in itertools.pairwise(steps)]
    assert sum(g < timedelta(minutes=20) for g in gaps) == 2  # failures -> login; new key -> first call
    expected = {
        (d, s.time, s.account, s.region, frozenset(s.entities[d].items()))
        for s in steps
        for d in s.detections
    }
    assert all(s.expected_dedup_values(d)["account_id"] == s.account for s in steps for d in s.detections)

    found = set()
    failures: dict[tuple[str, str, datetime], list[datetime]] = {}
    fails_by_user: dict[tuple[str, str], list[datetime]] = {}
    first_call: dict[tuple[str, str], datetime] = {}  # (account, principal) -> first GetCallerIdentity
    for key, r in records:
        t = _t(r["eventTime"])
        ui, acct = r["userIdentity"], r["recipientAccountId"]
        if r["eventName"] == "GetCallerIdentity":
            principal = _principal(ui)
            first_call.setdefault((acct, principal), t)
        if r["eventName"] == "ConsoleLogin" and ui["type"] == "IAMUser":
            if r["responseElements"]["ConsoleLogin"] == "Failure":
                fails_by_user.setdefault((acct, ui["userName"]), []).append(t)
            elif (
                len(
                    [
                        f
                        for f in fails_by_user.get((acct, ui["userName"]), [])
                        if t - f <= timedelta(minutes=30)
                    ]
                )
                >= 5
            ):
                after = "cloudtrail_console_login_after_failures"
                found.add((after, t, acct, r["awsRegion"], _entities(after, r)))
        for det in _shapes(r):
            found.add((det, t, r["recipientAccountId"], r["awsRegion"], _entities(det, r)))
            assert r["eventName"] == EVENT_NAME[det]
        if r["eventName"] == "ConsoleLogin" and r["responseElements"]["ConsoleLogin"] == "Failure":
            bucket = t.replace(minute=t.minute // 15 * 15, second=0)
            who = (r["recipientAccountId"], r["userIdentity"]["userName"], bucket)
            failures.setdefault(who, []).append(t)
    brute = {k: v for k, v in failures.items() if len(v) >= 3}
    assert len(brute) == 1 and [len(v) for v in brute.values()] == [8]
    (((acct, user, _), times),) = brute.items()
    assert user == "alice" and max(times) - min(times) <= timedelta(minutes=6)
    found.add(
        ("cloudtrail_console_login_brute_force", min(times), acct, "us-east-1", frozenset({("actor", user)}))
    )
    # first-seen: a principal's first call once its account has >= 6 h of GetCallerIdentity history
    since = {a: min(t for (a2, _), t in first_call.items() if a2 == a) for a, _ in first_call}
    for (a, principal), t in first_call.items():
        if t - since[a] >= timedelta(hours=6):
            region = next(
                r["awsRegion"]
                for _, r in records
                if _t(r["eventTime"]) == t and r["eventName"] == "GetCallerIdentity"
            )
            found.add(
                ("cloudtrail_first_seen_caller_identity", t, a, region, frozenset({("principal", principal)}))
            )
    assert found == expected
    assert all(r["sourceIPAddress"] in (ATTACKER_IP, "2001:db8::23") for _, r in records if _shapes(r))


def test_near_misses_present(records: Any) -> None:
    seen: Counter[str] = Counter()
    for _, r in records:
        ui, name, extra = r["userIdentity"], r["eventName"], r.get("additionalEventData") or {}
        params = r.get("requestParameters") or {}
        if name == "ConsoleLogin" and r["responseElements"]["ConsoleLogin"] == "Success":
            seen[f"login {ui['type']} mfa={extra['MFAUsed']}"] += 1
        if name == "ConsoleLogin" and r["responseElements"]["ConsoleLogin"] == "Failure":
            seen["failed login" if r["sourceIPAddress"] != ATTACKER_IP else "attack failure"] += 1
        if name == "CreateAccessKey" and params.get("userName") in (None, ui.get("userName")):
            seen["own key"] += 1
        if name == "AuthorizeSecurityGroupIngress" and "10.0.0.0/8" in json.dumps(params):
            seen["private ingress"] += 1
        if name == "UpdateDetector" and params.get("enable") is True:
            seen["guardduty enable"] += 1
        if name in ("DescribeTrails", "GetTrailStatus", "LookupEvents", "DescribeFlowLogs", "CreateFlowLogs"):
            seen[name] += 1
        if ui.get("type") == "Root" and r["eventType"] == "AwsServiceEvent":
            seen["root service event"] += 1
        if ui.get("type") == "AWSService" and ui.get("invokedBy"):
            seen["service call"] += 1
        if r.get("errorCode") in ("AccessDenied", "Client.UnauthorizedOperation", "AccessDeniedException"):
            seen["denied"] += 1
    for what in (
        "login IAMUser mfa=Yes",
        "login AssumedRole mfa=No",
        "failed login",
        "own key",
        "private ingress",
        "guardduty enable",
        "DescribeTrails",
        "GetTrailStatus",
        "LookupEvents",
        "DescribeFlowLogs",
        "CreateFlowLogs",
        "root service event",
        "service call",
        "denied",
    ):
        assert seen[what] > 0, (what, seen)
    assert seen["login IAMUser mfa=No"] == 1 and seen["attack failure"] == 8


def _busiest_hour(events: list[tuple[datetime, str, int]]) -> tuple[int, int, int]:
    """(calls, distinct items, summed weight) at their maxima over every 60 minutes ending at an event: the
    sliding period the threshold rules count over."""
    events.sort()
    inside: Counter[str] = Counter()
    lo = calls = items = weight = total = 0
    for t, item, w in events:
        inside[item] += 1
        total += w
        while events[lo][0] < t - timedelta(hours=1):
            old = events[lo]
            inside[old[1]] -= 1
            total -= old[2]
            if not inside[old[1]]:
                del inside[old[1]]
            lo += 1
        calls, items, weight = max(calls, sum(inside.values())), max(items, len(inside)), max(weight, total)
    return calls, items, weight


def _principal(ui: dict[str, Any]) -> str:
    return (ui.get("sessionContext") or {}).get("sessionIssuer", {}).get("arn") or ui.get("arn", "")


def test_automation_background_is_there_and_below_the_rules_limits(records: Any) -> None:
    """The background's attack look-alikes (infrastructure-as-code create/destroy, cross-account CI, a nightly
    backup, KMS by applications and services, denied automation, SAML sign-ins) occur, and the counting ones
    come close to the thresholds of the rules that must ignore them without reaching them: a demo with
    "0 alerts from background" then measures precision (naive versions of the rules' limits, as above)."""
    seen: Counter[str] = Counter()
    reads: dict[tuple[str, str], list[tuple[datetime, str, int]]] = {}
    keys: dict[tuple[str, str], list[tuple[datetime, str, int]]] = {}
    denials: dict[tuple[str, str], list[tuple[datetime, str, int]]] = {}
    sensitive: dict[tuple[str, str, str], list[tuple[datetime, str, int]]] = {}
    for _, r in records:
        ui, name, acct, t = r["userIdentity"], r["eventName"], r["recipientAccountId"], _t(r["eventTime"])
        params, extra = r.get("requestParameters") or {}, r.get("additionalEventData") or {}
        tf = r["userAgent"].startswith("APN/1.0 HashiCorp")
        if tf and name in (
            "DeleteSecurityGroup",
            "DeleteRole",
            "DeleteBucket",
            "AuthorizeSecurityGroupEgress",
        ):
            seen[f"terraform {name}"] += 1
        if ui.get("invokedBy") == "cloudformation.amazonaws.com" and name in ("CreateRole", "DeleteRole"):
            seen[f"cloudformation {name}"] += 1
        if name == "AssumeRole" and ui.get("accountId") not in (None, acct):
            seen["cross-account assume role"] += 1
        if name == "ConsoleLogin" and "SamlProviderArn" in extra:
            seen["saml sign-in"] += 1
        if r["eventSource"] == "kms.amazonaws.com" and ui.get("type") == "AWSService":
            seen["kms by a service"] += 1
        if ui.get("type") == "AWSService":
            continue  # every rule below ignores AWS service principals
        who = _principal(ui)
        if name == "GetObject":
            obj = f"{params['bucketName']}/{params['key']}"
            reads.setdefault((acct, who), []).append((t, obj, extra.get("bytesTransferredOut", 0)))
        if r["eventSource"] == "kms.amazonaws.com" and name in ("Decrypt", "GenerateDataKey"):
            keys.setdefault((acct, who), []).append((t, r["resources"][0]["ARN"], 0))
        if r.get("errorCode") in ("AccessDenied", "AccessDeniedException", "Client.UnauthorizedOperation"):
            denials.setdefault((acct, ui["arn"]), []).append((t, name, 0))
            attempt = params["secretId"] if name == "GetSecretValue" else r["eventID"]  # as the rule counts
            if name in ("GetSecretValue", "GetPasswordData") or params.get("attribute") == "userData":
                sensitive.setdefault((acct, ui["arn"], name), []).append((t, attempt, 0))
    for what in (
        "terraform DeleteSecurityGroup",
        "terraform AuthorizeSecurityGroupEgress",
        "terraform DeleteRole",
        "terraform DeleteBucket",
        "cloudformation CreateRole",
        "cloudformation DeleteRole",
        "cross-account assume role",
        "saml sign-in",
        "kms by a service",
    ):
        assert seen[what] > 0, (what, seen)

    backup = {
        k: _busiest_hour(v) for k, v in reads.items() if k[1].endswith("role/service-role/backup-runner")
    }
    assert len(backup) == 2 and all(200 < objects < 300 for _, objects, _ in backup.values()), backup
    assert all(_busiest_hour(v)[1] < 300 and _busiest_hour(v)[2] < 20 * 2**30 for v in reads.values())
    most_keys = {k: _busiest_hour(v)[1] for k, v in keys.items()}
    assert max(most_keys.values()) == 4 and all(n < 5 for n in most_keys.values()), most_keys
    for k, v in denials.items():
        calls, actions, _ = _busiest_hour(v)
        assert calls < 20 or actions < 10, k
    assert max(_busiest_hour(v)[0] for v in denials.values()) >= 12  # the scanner: many denials, few APIs
    attempts = {k: _busiest_hour(v) for k, v in sensitive.items()}
    assert max(calls for calls, _, _ in attempts.values()) >= 12  # one secret retried: one attempt
    assert max(n for _, n, _ in attempts.values()) == 2, attempts  # "Get Windows password" tried twice


def test_identities_are_created_only_by_the_listed_iac_pipelines(records: Any) -> None:
    """cloudtrail_iam_principal_created_outside_iac reports a user or role created by anyone not on
    sql/lookups/iac_principals.yaml; the background's Terraform and CloudFormation create roles, so the shipped
    list must name the pipeline that does it, or the demo day alerts on its own automation. Counted as the rule
    does: CreateUser/CreateRole from an IP address (not a service's name), by the role behind the session."""
    listed = set(load_lookup(Path(__file__).resolve().parents[2] / "sql", "iac_principals"))
    creators = Counter(
        _principal(r["userIdentity"])
        for _, r in records
        if r["eventSource"] == "iam.amazonaws.com"
        and r["eventName"] in ("CreateUser", "CreateRole")
        and not r["sourceIPAddress"].endswith(".amazonaws.com")
    )
    assert creators, "the background creates roles as infrastructure-as-code"
    assert set(creators) <= listed, {p: n for p, n in creators.items() if p not in listed}


def test_identity_access_background_is_made_by_the_listed_pipelines(records: Any) -> None:
    """The identity rules that trust sql/lookups/iac_principals.yaml (policy default versions, admin group
    members, permissions boundaries, OIDC providers, key pairs, instance profiles, EKS cluster admin, Identity
    Center assignments) must stay quiet on the background's Terraform, which makes each of those changes: so
    they occur, and every one is made by a listed pipeline role. The routine administration beside them (a new
    hire added to a read-only group, an EKS view policy) is there too, by people."""
    listed = set(load_lookup(Path(__file__).resolve().parents[2] / "sql", "iac_principals"))
    watched = {
        "CreatePolicyVersion",
        "DeleteRolePermissionsBoundary",
        "CreateOpenIDConnectProvider",
        "ImportKeyPair",
        "AssociateIamInstanceProfile",
        "CreateAccountAssignment",
    }
    makers: dict[str, set[str]] = {}
    routine: Counter[str] = Counter()
    for _, r in records:
        name, params = r["eventName"], r.get("requestParameters") or {}
        if name in watched or (name == "AddUserToGroup" and "admin" in params["groupName"].lower()):
            makers.setdefault(name, set()).add(_principal(r["userIdentity"]))
        if name == "AssociateAccessPolicy" and params["policyArn"].endswith("AmazonEKSClusterAdminPolicy"):
            makers.setdefault(name, set()).add(_principal(r["userIdentity"]))
        if name == "AddUserToGroup" and params["groupName"] == "readonly":
            routine["readonly group"] += 1
        if name == "AssociateAccessPolicy" and params["policyArn"].endswith("AmazonEKSViewPolicy"):
            routine["eks view"] += 1
    assert set(makers) == watched | {"AddUserToGroup", "AssociateAccessPolicy"}, makers
    assert all(who <= listed for who in makers.values()), makers
    assert routine["readonly group"] > 0 and routine["eks view"] > 0, routine
