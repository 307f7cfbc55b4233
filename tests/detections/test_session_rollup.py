"""Entity roll-up (issue 17): actor-keyed CloudTrail rules open one alert per *principal*, not per session.

One run of a tool under an assumed role makes a new session per process (`botocore-session-<epoch>`), and each
session has its own ARN (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`). Rules keyed on that ARN opened
one alert per session for one run of one tool, and a threshold counted per session could be dodged by spreading
calls over sessions. The rules key on the source's principal instead: the role for role sessions, the person
for IAM Identity Center (SSO) sessions, whose session name is the person, and the ARN for users and root.

Records go through the real parser (case_table), the rule on DuckDB (run_detection), grouping (group_hits) and
the ledger (record_window), as a detect run does; the count is of alerts the ledger holds at the threshold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from mamori.alerts.ledger import Ledger
from mamori.config import load_settings
from mamori.detections.dedup import group_hits
from mamori.detections.loader import get_detection
from mamori.detections.runner import run_detection
from mamori.detections.testing import case_table
from mamori.engines.duckdb import DuckDBEngine

SQL = Path(__file__).resolve().parents[2] / "sql"
ACCOUNT = "111122223333"
START = datetime(2026, 11, 1, 10, tzinfo=UTC)
END = START + timedelta(hours=1)
PACU = "Boto3/1.34.40 md/Botocore#1.34.40 ua/2.0 os/linux#6.1 lang/python#3.11.8 Botocore/1.34.40 Pacu/1.5.3"
SSO_ROLE = "AWSReservedSSO_AdministratorAccess_0123456789abcdef"
SSO_PATH = "aws-reserved/sso.amazonaws.com/eu-west-1/"


def _role_identity(role: str, session: str, path: str = "") -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": f"AROAQEXAMPLEROLE0001:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAQEXAMPLEROLEKEY1",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAQEXAMPLEROLE0001",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{path}{role}",
                "accountId": ACCOUNT,
                "userName": role,
            },
            "attributes": {"creationDate": "2026-11-01T09:45:00Z", "mfaAuthenticated": "false"},
        },
    }


def _root_identity() -> dict[str, Any]:
    return {
        "type": "Root",
        "principalId": ACCOUNT,
        "arn": f"arn:aws:iam::{ACCOUNT}:root",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAQEXAMPLEROOTKEY1",
        "sessionContext": {
            "attributes": {"creationDate": "2026-11-01T09:45:00Z", "mfaAuthenticated": "true"}
        },
    }


def _event(i: int, identity: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.10",
        "userIdentity": identity,
        "eventTime": (START + timedelta(minutes=5 + i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "sts.amazonaws.com",
        "eventName": "GetCallerIdentity",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.23",
        "userAgent": PACU,
        "requestParameters": None,
        "responseElements": None,
        "requestID": f"b7c2353f-f051-34b8-87a5-{i:012d}",
        "eventID": f"2568afea-d1c1-fa56-cbd9-{i:012d}",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    } | fields


def _decrypt(i: int, identity: dict[str, Any]) -> dict[str, Any]:
    """An SSM SecureString read with decryption from a console session (cloudtrail_ssm_parameter_decrypted)."""
    return _event(
        i,
        identity,
        eventSource="ssm.amazonaws.com",
        eventName="GetParameter",
        userAgent="aws-internal/3 aws-sdk-java/1.12.0",
        requestParameters={"name": f"/prod/db/password-{i}", "withDecryption": True},
        sessionCredentialFromConsole="true",
    )


def _alerts(tmp_path: Path, rule: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The dedup values of the alerts one detect run of `rule` over [START, END) opens for the records."""
    det = get_detection(SQL, rule)
    table, quarantined = case_table("cloudtrail", orjson.dumps({"Records": records}))
    assert quarantined == 0
    engine = DuckDBEngine(load_settings({"MAMORI_HOME": "/nonexistent"}), threads=1, create_views=False)
    try:
        engine.register_table("cloudtrail", table)
        hits = run_detection(det, engine, START, END)
    finally:
        engine.close()
    assert len(hits) == len(records)  # every record is a hit: only the grouping is under test
    ledger = Ledger(f"sqlite:///{tmp_path / rule}.db")
    ledger.record_window(det, START, END, group_hits(det, hits), page=False)
    return [a.dedup_values for a in ledger.alerts()]


def _sessions(n: int) -> list[dict[str, Any]]:
    """One run of a tool under one role: a session of its own per process."""
    return [_role_identity("ci-deployer", f"botocore-session-17620{i:05d}") for i in range(n)]


def test_one_tool_run_under_one_role_is_one_alert(tmp_path: Path) -> None:
    """Three sessions of one role (before: three alerts, one per session ARN)."""
    alerts = _alerts(
        tmp_path, "cloudtrail_credential_recon_tool", [_event(i, s) for i, s in enumerate(_sessions(3))]
    )
    assert alerts == [{"account_id": ACCOUNT, "principal": f"arn:aws:iam::{ACCOUNT}:role/ci-deployer"}]


def test_a_threshold_counts_the_role_not_each_session(tmp_path: Path) -> None:
    """Three decrypts from three console sessions of one role reach the threshold of 3 (before: no alert, each
    session stayed at one: spreading calls over sessions dodged the threshold)."""
    rule = "cloudtrail_ssm_parameter_decrypted"
    assert get_detection(SQL, rule).header.threshold == 3
    alerts = _alerts(tmp_path, rule, [_decrypt(i, s) for i, s in enumerate(_sessions(3))])
    assert alerts == [{"account_id": ACCOUNT, "principal": f"arn:aws:iam::{ACCOUNT}:role/ci-deployer"}]


def test_two_people_in_one_sso_permission_set_stay_two_alerts(tmp_path: Path) -> None:
    """An IAM Identity Center role is shared by everyone given the permission set; its session name is the
    person, so rolling up to the role would merge people. Each person's sessions stay one alert each."""
    people = ["alice@example.com", "bob@example.com", "alice@example.com"]
    records = [_event(i, _role_identity(SSO_ROLE, p, SSO_PATH)) for i, p in enumerate(people)]
    alerts = _alerts(tmp_path, "cloudtrail_credential_recon_tool", records)
    assert sorted(a["principal"] for a in alerts) == [
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{SSO_ROLE}/alice@example.com",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{SSO_ROLE}/bob@example.com",
    ]


@pytest.mark.parametrize("n", [1, 4])
def test_root_sessions_are_one_alert(tmp_path: Path, n: int) -> None:
    alerts = _alerts(
        tmp_path, "cloudtrail_credential_recon_tool", [_event(i, _root_identity()) for i in range(n)]
    )
    assert alerts == [{"account_id": ACCOUNT, "principal": f"arn:aws:iam::{ACCOUNT}:root"}]


def test_an_iam_user_is_its_own_principal(tmp_path: Path) -> None:
    user = {
        "type": "IAMUser",
        "principalId": "AIDAQEXAMPLEUSER0001",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/jdoe",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAQEXAMPLEUSERKEY1",
        "userName": "jdoe",
    }
    alerts = _alerts(tmp_path, "cloudtrail_credential_recon_tool", [_event(i, user) for i in range(2)])
    assert alerts == [{"account_id": ACCOUNT, "principal": f"arn:aws:iam::{ACCOUNT}:user/jdoe"}]
