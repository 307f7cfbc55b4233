"""The demo's verdict (`compare_ground_truth`) is exact: an alert explains an injected step only when its rule,
its dedup values (the entities the step names: principal, IP, target, ...) and its dedup window all match.
An alert that shares rule, account and time bucket with a real step but names another principal is noise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mamori.alerts.ledger import Alert
from mamori.detections.dedup import alert_key
from mamori.dev.demo import compare_ground_truth
from mamori.dev.generate import AttackStep

ACCT = "111111111111"
T = datetime(2026, 11, 1, 5, 23, 38, tzinfo=UTC)
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
CAROL = f"arn:aws:iam::{ACCT}:user/carol"  # innocent: logs in without MFA from the office the same hour
ATTACKER = "198.51.100.23"


def alert(det: str, values: dict[str, Any], t: datetime = T, period: timedelta = timedelta(hours=1)) -> Alert:
    start = datetime.fromtimestamp(t.timestamp() // period.total_seconds() * period.total_seconds(), UTC)
    key = alert_key(det, list(values.values()), start)
    return Alert(
        key=key,
        detection_id=det,
        title=det,
        severity="high",
        status="open",
        log_source="cloudtrail",
        dedup_values=values,
        bucket_start=start.isoformat(),
        bucket_end=(start + period).isoformat(),
        first_seen=t.isoformat(),
        last_seen=t.isoformat(),
        hit_count=1,
        samples=[],
        routes=["local"],
    )


def login_step() -> AttackStep:
    return AttackStep(
        T,
        ACCT,
        "us-east-1",
        ("cloudtrail_console_login_without_mfa", "cloudtrail_console_login_after_failures"),
        "alice console login without MFA after 8 failures",
        entities={
            "cloudtrail_console_login_without_mfa": {"actor": ALICE},
            "cloudtrail_console_login_after_failures": {"actor": "alice"},
        },
    )


def test_innocent_principal_sharing_rule_account_and_bucket_is_noise() -> None:
    real = alert("cloudtrail_console_login_without_mfa", {"account_id": ACCT, "actor": ALICE})
    innocent = alert(
        "cloudtrail_console_login_without_mfa",
        {"account_id": ACCT, "actor": CAROL},
        T + timedelta(minutes=20),
    )
    sequence = alert("cloudtrail_console_login_after_failures", {"account_id": ACCT, "actor": "alice"})
    assert real.key != innocent.key and real.bucket_start == innocent.bucket_start

    missed, noise = compare_ground_truth([login_step()], [real, innocent, sequence])
    assert missed == []
    assert [a.key for a in noise] == [innocent.key]


def test_an_alert_on_the_wrong_entity_does_not_detect_the_step() -> None:
    """Only the innocent principal alerted: the step is missed and that alert is noise, not a detection."""
    innocent = alert("cloudtrail_console_login_without_mfa", {"account_id": ACCT, "actor": CAROL})
    sequence = alert("cloudtrail_console_login_after_failures", {"account_id": ACCT, "actor": "alice"})
    missed, noise = compare_ground_truth([login_step()], [innocent, sequence])
    assert len(missed) == 1 and missed[0].startswith("cloudtrail_console_login_without_mfa @ 05:23")
    assert [a.key for a in noise] == [innocent.key]


@pytest.mark.parametrize(
    "values",
    [
        {"account_id": ACCT},  # the rule's dedup keys changed: fewer entities than the step names
        {"account_id": ACCT, "actor": ALICE, "source_ip": ATTACKER},  # more entities than the step names
        {"account_id": "222222222222", "actor": ALICE},  # same principal name in another account
    ],
)
def test_dedup_values_must_equal_the_named_entities(values: dict[str, str]) -> None:
    odd = alert("cloudtrail_console_login_without_mfa", values)
    sequence = alert("cloudtrail_console_login_after_failures", {"account_id": ACCT, "actor": "alice"})
    missed, noise = compare_ground_truth([login_step()], [odd, sequence])
    assert len(missed) == 1 and [a.key for a in noise] == [odd.key]


def test_same_entities_outside_the_steps_dedup_window_is_noise() -> None:
    later = alert(
        "cloudtrail_console_login_without_mfa", {"account_id": ACCT, "actor": ALICE}, T + timedelta(hours=3)
    )
    sequence = alert("cloudtrail_console_login_after_failures", {"account_id": ACCT, "actor": "alice"})
    missed, noise = compare_ground_truth([login_step()], [later, sequence])
    assert len(missed) == 1 and [a.key for a in noise] == [later.key]


def test_account_only_rules_name_no_other_entity() -> None:
    step = AttackStep(
        T,
        ACCT,
        "us-east-1",
        ("cloudtrail_root_activity",),
        "root login",
        entities={"cloudtrail_root_activity": {}},
    )
    ok = alert("cloudtrail_root_activity", {"account_id": ACCT})
    other_account = alert("cloudtrail_root_activity", {"account_id": "222222222222"})
    missed, noise = compare_ground_truth([step], [ok, other_account])
    assert missed == [] and [a.key for a in noise] == [other_account.key]


def test_a_step_must_name_the_entities_of_each_of_its_rules() -> None:
    with pytest.raises(ValueError, match="cloudtrail_console_login_after_failures"):
        AttackStep(
            T,
            ACCT,
            "us-east-1",
            ("cloudtrail_console_login_without_mfa", "cloudtrail_console_login_after_failures"),
            "entities of one rule only",
            entities={"cloudtrail_console_login_without_mfa": {"actor": ALICE}},
        )
    with pytest.raises(ValueError, match="cloudtrail_root_activity"):
        AttackStep(
            T,
            ACCT,
            "us-east-1",
            (),
            "entities of a rule it does not expect",
            {"cloudtrail_root_activity": {}},
        )
