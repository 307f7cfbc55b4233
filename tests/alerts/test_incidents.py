"""Incidents: alerts that share an entity (principal, IP, access key, instance, account resource) within the
horizon become one incident, deterministically, whatever order and however often windows are run.

Alerts are recorded the way a detect run records them (`group_hits` → `Ledger.record_window` with the real
rules' headers), then each window is grouped the way `detect.summarize_window` groups it."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mamori.alerts import incidents
from mamori.alerts.ledger import Ledger
from mamori.config import Settings, load_settings
from mamori.detections.dedup import group_hits
from mamori.detections.loader import get_detection

ACCT = "111111111111"
ATTACKER = "198.51.100.23"
T0 = datetime(2026, 11, 1, 1, 10, tzinfo=UTC)
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOB = f"arn:aws:iam::{ACCT}:user/admin-bob"
KEY = "AKIAMDIJU50OOSNMCJ8E"
INSTANCE = "i-0abc1234def567890"
HOUR = timedelta(hours=1)

Hit = tuple[str, datetime, dict[str, Any]]  # (detection id, event time, columns of the hit row)


def hit(det_id: str, t: datetime, **cols: Any) -> Hit:
    """One rule's row; an IAM user's or a service's actor is also its principal (what `{{ principal() }}`
    selects for them), which CloudTrail rules key their alerts on."""
    if "actor" in cols and "principal" not in cols:
        cols["principal"] = cols["actor"]
    return det_id, t, {"account_id": ACCT, **cols}


def run_window(ledger: Ledger, s: Settings, start: datetime, hits: list[Hit]) -> dict[str, Any]:
    """One hourly detect run: every rule's hits of [start, start + 1h) recorded, then the window grouped."""
    end = start + timedelta(hours=1)
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for det_id, t, cols in hits:
        assert start <= t < end, (det_id, t)
        by_rule.setdefault(det_id, []).append({"event_time": t, **cols})
    for det_id, rows in sorted(by_rule.items()):
        det = get_detection(s.sql_dir, det_id)
        ledger.record_window(det, start, end, group_hits(det, rows))
    return incidents.record_incidents(start, end, s)


def run_all(ledger: Ledger, s: Settings, hits: list[Hit]) -> None:
    """Hourly windows in time order over the hits, as the detect DAG (or a backfill) would run them."""
    hours = sorted({t.replace(minute=0, second=0, microsecond=0) for _, t, _ in hits})
    for h in hours:
        run_window(ledger, s, h, [x for x in hits if h <= x[1] < h + timedelta(hours=1)])


def groups(ledger: Ledger) -> list[list[str]]:
    """Each live (not merged) incident as the sorted detection ids of its members, sorted."""
    return sorted(sorted(a.detection_id for a in inc.members) for inc in incidents.list_incidents(ledger))


def snapshot(ledger: Ledger) -> dict[str, list[str]]:
    return {inc.incident_id: sorted(a.key for a in inc.members) for inc in incidents.list_incidents(ledger)}


@pytest.fixture
def ledger(settings: Settings) -> Ledger:
    return Ledger(settings.ledger_url)


# -- entities ------------------------------------------------------------------------------------------------


def test_entities_come_from_dedup_values_and_samples_by_column_name(ledger, settings) -> None:
    run_window(
        ledger,
        settings,
        T0.replace(minute=0),
        [
            hit("cloudtrail_root_activity", T0, actor=f"arn:aws:iam::{ACCT}:root", source_ip=ATTACKER),
            hit("cloudtrail_console_login_after_failures", T0, actor="alice", source_ip="10.1.2.3"),
            hit("syslog_sudo_root_shell", T0, log_stream=INSTANCE, actor="ec2-user", source_ip=None),
            hit("vpcflow_large_egress", T0, source_ip="10.0.1.15", target=ATTACKER, actor="10.0.1.15"),
            hit(
                "cloudtrail_security_group_opened_to_world",
                T0,
                actor=BOB,
                source_ip="ec2.amazonaws.com",
                target="sg-0123456789abcdef0",
                access_key_id=KEY,
                cidr="0.0.0.0/0",
            ),
        ],
    )
    by_rule = {a.detection_id: incidents.alert_entities(a) for a in ledger.alerts()}
    assert by_rule["cloudtrail_root_activity"] == {
        ("principal", f"arn:aws:iam::{ACCT}:root"),
        ("ip", ATTACKER),  # from the samples: the rule's dedup key is the account alone
    }
    # A bare user name in CloudTrail is the IAM user of the alert's account: it meets the same user's ARN.
    assert by_rule["cloudtrail_console_login_after_failures"] == {
        ("principal", ALICE),
        ("ip", "10.1.2.3"),
    }
    # A local Unix user (root, ec2-user) exists on every host: the host is the entity, not the name.
    assert by_rule["syslog_sudo_root_shell"] == {("instance", INSTANCE)}
    assert by_rule["vpcflow_large_egress"] == {("ip", "10.0.1.15"), ("ip", ATTACKER)}
    # A service name where an address goes is no address; a resource is named within its account.
    assert by_rule["cloudtrail_security_group_opened_to_world"] == {
        ("principal", BOB),
        ("resource", f"{ACCT}/sg-0123456789abcdef0"),
        ("access_key", KEY),
    }


# -- grouping ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(  # web attack and a port scan from the same address: ALB and VPC flow logs
            hit("alb_sql_injection", T0, source_ip=ATTACKER),
            hit("vpcflow_port_scan", T0 + timedelta(hours=3), source_ip=ATTACKER, target="10.0.1.15"),
            id="ip",
        ),
        pytest.param(  # a console login (user name) and the same user's bulk download (ARN), other addresses
            hit("cloudtrail_console_login_after_failures", T0, actor="alice", source_ip="203.0.113.10"),
            hit(
                "cloudtrail_trail_stopped_or_changed",
                T0 + timedelta(hours=5),
                actor=ALICE,
                source_ip="203.0.113.99",
            ),
            id="principal",
        ),
        pytest.param(  # a key created for another user, then used by that user from elsewhere
            hit(
                "cloudtrail_access_key_created_for_other_user",
                T0,
                actor=ALICE,
                target_user="carol",
                source_ip="203.0.113.10",
                new_access_key_id=KEY,
            ),
            hit(
                "cloudtrail_sts_session_token_by_iam_user",
                T0 + timedelta(hours=2),
                actor=BOB,
                source_ip="203.0.113.77",
                access_key_id=KEY,
            ),
            id="access-key",
        ),
        pytest.param(  # root shell on a host (CloudWatch syslog), then its user data changed (CloudTrail)
            hit("syslog_sudo_root_shell", T0, log_stream=INSTANCE, actor="ec2-user"),
            hit(
                "cloudtrail_ec2_user_data_modified",
                T0 + timedelta(hours=1),
                actor=BOB,
                target=INSTANCE,
                source_ip="203.0.113.77",
            ),
            id="instance",
        ),
    ],
)
def test_alerts_sharing_an_entity_across_sources_form_one_incident(ledger, settings, first, second) -> None:
    unrelated = hit(
        "cloudtrail_console_login_without_mfa",
        T0 + timedelta(minutes=5),
        actor=f"arn:aws:iam::{ACCT}:user/dave",
        source_ip="203.0.113.200",
    )
    run_all(ledger, settings, [first, second, unrelated])

    assert groups(ledger) == sorted([sorted([first[0], second[0]]), [unrelated[0]]])


@pytest.mark.parametrize(
    ("column", "value", "det_a", "det_b"),
    [
        ("source_ip", "10.0.1.15", "alb_sql_injection", "vpcflow_ssh_from_internet_accepted"),  # RFC 1918
        ("source_ip", "169.254.169.254", "alb_sql_injection", "alb_path_traversal"),  # link-local (IMDS)
        ("source_ip", "fd00:ec2::254", "alb_sql_injection", "alb_path_traversal"),  # IPv6 unique local
        (
            "actor",
            "cloudtrail.amazonaws.com",
            "cloudtrail_trail_stopped_or_changed",
            "cloudtrail_vpc_flow_logs_deleted",
        ),
        ("actor", "AWS Internal", "cloudtrail_trail_stopped_or_changed", "cloudtrail_vpc_flow_logs_deleted"),
        (  # the shared CI role: every deploy of every team
            "actor",
            f"arn:aws:sts::{ACCT}:assumed-role/ci-deploy/GitHubActions",
            "cloudtrail_security_group_opened_to_world",
            "cloudtrail_trail_stopped_or_changed",
        ),
    ],
)
def test_stop_listed_entities_never_bridge(ledger, settings, column, value, det_a, det_b) -> None:
    a = hit(det_a, T0, **{column: value}, target="10.0.1.15" if det_a.startswith("vpcflow") else None)
    b = hit(
        det_b,
        T0 + timedelta(minutes=20),
        **{column: value},
        target="10.0.1.16" if det_b.startswith("vpcflow") else None,
    )
    run_all(ledger, settings, [a, b])

    assert groups(ledger) == sorted([[det_a], [det_b]])
    assert all(inc.entities == [] for inc in incidents.list_incidents(ledger))


def test_an_entity_in_more_alerts_than_the_guard_stops_joining(ledger, settings, monkeypatch) -> None:
    """A NAT address behind which five unrelated users log in: past 3 alerts in the horizon it is noise."""
    monkeypatch.setenv("MAMORI_INCIDENT_MAX_ENTITY_ALERTS", "3")
    nat = "203.0.113.1"
    users = ["u1", "u2", "u3", "u4", "u5"]
    logins = [
        hit(
            "cloudtrail_console_login_without_mfa",
            T0 + timedelta(minutes=10 * i),
            actor=f"arn:aws:iam::{ACCT}:user/{u}",
            source_ip=nat,
        )
        for i, u in enumerate(users)
    ]
    # u5 then stops a trail from a home address: joins u5's login through the principal, not the NAT.
    later = hit(
        "cloudtrail_trail_stopped_or_changed", T0 + timedelta(hours=2), actor=f"arn:aws:iam::{ACCT}:user/u5"
    )
    run_all(ledger, load_settings(), [*logins, later])

    sizes = sorted(len(inc.members) for inc in incidents.list_incidents(ledger))
    assert sizes == [1, 2, 3]  # u1-u3 through the address; u4 alone; u5's login + its trail change
    by_member = {a.key: inc for inc in incidents.list_incidents(ledger) for a in inc.members}
    u5 = next(inc for inc in by_member.values() if len(inc.members) == 2)
    assert {a.detection_id for a in u5.members} == {
        "cloudtrail_console_login_without_mfa",
        "cloudtrail_trail_stopped_or_changed",
    }


def test_a_bridging_alert_merges_two_incidents_once(ledger, settings) -> None:
    h = T0.replace(minute=0)
    web = hit("alb_sql_injection", T0, source_ip=ATTACKER)
    login = hit(
        "cloudtrail_console_login_without_mfa", T0 + timedelta(hours=2), actor=ALICE, source_ip="203.0.113.10"
    )
    bridge = hit(
        "cloudtrail_trail_stopped_or_changed", T0 + timedelta(hours=4), actor=ALICE, source_ip=ATTACKER
    )
    run_window(ledger, settings, h, [web])
    run_window(ledger, settings, h + timedelta(hours=2), [login])
    assert len(snapshot(ledger)) == 2
    older, newer = incident_of(ledger, web[0]), incident_of(ledger, login[0])

    summary = run_window(ledger, settings, h + timedelta(hours=4), [bridge])

    assert summary["merged"] == 1
    after = snapshot(ledger)
    assert list(after) == [older]  # the older incident survives, under its id
    assert len(after[older]) == 3
    merges = incidents.merges(ledger)
    assert [(m["merged_id"], m["into_id"]) for m in merges] == [(newer, older)]
    assert merges[0]["bridge_alert"] == next(a.key for a in ledger.alerts() if a.detection_id == bridge[0])

    dump = ledger.dump()
    for start in (h + timedelta(hours=4), h, h + timedelta(hours=2)):  # every window again, in any order
        run_window(ledger, settings, start, [x for x in (web, login, bridge) if start <= x[1] < start + HOUR])
    assert ledger.dump() == dump  # one merge, the same incidents, nothing else written
    assert len(incidents.merges(ledger)) == 1


def incident_of(ledger: Ledger, detection_id: str) -> str:
    return next(
        inc.incident_id
        for inc in incidents.list_incidents(ledger)
        if any(a.detection_id == detection_id for a in inc.members)
    )


STORY = [
    hit("vpcflow_port_scan", T0, source_ip=ATTACKER, target="10.0.1.15"),
    hit("alb_sql_injection", T0 + timedelta(minutes=30), source_ip=ATTACKER),
    hit("syslog_sudo_root_shell", T0 + timedelta(minutes=40), log_stream=INSTANCE, actor="ec2-user"),
    hit(
        "syslog_ssh_login_after_failures",
        T0 + timedelta(minutes=35),
        log_stream=INSTANCE,
        source_ip=ATTACKER,
        actor="ec2-user",
    ),
    hit(
        "cloudtrail_console_login_after_failures", T0 + timedelta(hours=4), actor="alice", source_ip=ATTACKER
    ),
    hit(
        "cloudtrail_access_key_created_for_other_user",
        T0 + timedelta(hours=7),
        actor=ALICE,
        target_user="admin-bob",
        source_ip=ATTACKER,
        new_access_key_id=KEY,
    ),
    hit(
        "cloudtrail_trail_stopped_or_changed",
        T0 + timedelta(hours=9),
        actor=BOB,
        source_ip="203.0.113.77",
        access_key_id=KEY,
    ),
    hit("vpcflow_large_egress", T0 + timedelta(hours=16), source_ip="10.0.1.15", target=ATTACKER),
    hit(
        "cloudtrail_console_login_without_mfa",
        T0 + timedelta(hours=3),
        actor=f"arn:aws:iam::{ACCT}:user/dave",
        source_ip="203.0.113.200",
    ),
    hit(
        "cloudtrail_security_group_opened_to_world",
        T0 + timedelta(hours=20),
        account_id="222222222222",
        actor="arn:aws:sts::222222222222:assumed-role/ci-deploy/GitHubActions",
        source_ip="2001:db8::23",
    ),
]


def test_reruns_and_a_backfill_give_the_same_incidents(settings, tmp_path, monkeypatch) -> None:
    live = Ledger(settings.ledger_url)
    run_all(live, settings, STORY)
    first = snapshot(live)
    assert (
        groups(live)
        == sorted(
            [
                ["cloudtrail_console_login_without_mfa"],  # dave, from another address: unrelated
                ["cloudtrail_security_group_opened_to_world"],  # the CI role in the other account
                sorted(d for d, *_ in STORY[:8]),  # the attacker: address, host, alice, the key, admin-bob
            ]
        )
    )
    dump = live.dump()
    run_all(live, settings, STORY[4:])  # windows re-run (a retried task, a partial backfill)
    run_all(live, settings, STORY)
    assert live.dump() == dump

    # The same windows into an empty ledger, as `mamori backfill` replays them: same ids, same members.
    monkeypatch.setenv("MAMORI_LEDGER_URL", f"sqlite:///{tmp_path / 'backfill.db'}")
    s2 = load_settings()
    replay = Ledger(s2.ledger_url)
    run_all(replay, s2, STORY)
    assert snapshot(replay) == first
    assert replay.dump()["incidents"] == dump["incidents"]


def test_severity_is_the_highest_member_raised_a_level_across_three_tactics(
    ledger, settings, tmp_path, monkeypatch
) -> None:
    # port scan (medium; reconnaissance, discovery) and a brute force (medium; credential access): 3 tactics
    scan = hit("vpcflow_port_scan", T0, source_ip=ATTACKER, target="10.0.1.15")
    brute = [
        hit(
            "syslog_ssh_brute_force",
            T0 + timedelta(minutes=20, seconds=i),
            source_ip=ATTACKER,
            log_stream=INSTANCE,
        )
        for i in range(12)
    ]
    run_all(ledger, settings, [scan, *brute])

    (inc,) = incidents.list_incidents(ledger)
    assert inc.tactics == ["TA0006", "TA0007", "TA0043"]
    assert inc.severity == "high"
    assert inc.severity_reason == (
        "medium (highest of its alerts), raised to high: the alerts span 3 ATT&CK tactics "
        "(TA0006, TA0007, TA0043; 3 or more raise it one level)"
    )

    # Configurable: at 4 tactics the same incident stays at its members' highest severity.
    sql = shutil.copytree(settings.sql_dir, tmp_path / "sql")
    policy = sql / "incidents.yaml"
    policy.write_text(policy.read_text().replace("escalate_at_tactics: 3", "escalate_at_tactics: 4"))
    monkeypatch.setenv("MAMORI_SQL_DIR", str(sql))
    run_window(ledger, load_settings(), T0.replace(minute=0), [scan, *brute])
    (inc,) = incidents.list_incidents(ledger)
    assert (inc.severity, inc.severity_reason) == ("medium", "medium (highest of its alerts)")


def test_a_critical_incident_stays_critical(ledger, settings) -> None:
    run_all(
        ledger,
        settings,
        [
            hit("vpcflow_port_scan", T0, source_ip=ATTACKER, target="10.0.1.15"),
            hit(
                "syslog_ssh_login_after_failures",
                T0 + timedelta(minutes=5),
                source_ip=ATTACKER,
                log_stream=INSTANCE,
            ),
        ],
    )
    (inc,) = incidents.list_incidents(ledger)
    assert inc.severity == "critical" and "span 4 ATT&CK tactics" in inc.severity_reason


def test_alerts_a_horizon_and_a_second_apart_do_not_join(ledger, settings, monkeypatch) -> None:
    scan = hit("vpcflow_port_scan", T0, source_ip=ATTACKER, target="10.0.1.15")
    at_horizon = hit("alb_sql_injection", T0 + timedelta(hours=24), source_ip=ATTACKER)
    past_horizon = hit("alb_path_traversal", T0 + timedelta(hours=48, seconds=1), source_ip=ATTACKER)
    run_all(ledger, settings, [scan, at_horizon, past_horizon])

    assert groups(ledger) == [["alb_path_traversal"], ["alb_sql_injection", "vpcflow_port_scan"]]


def test_the_horizon_is_a_setting(ledger, monkeypatch) -> None:
    monkeypatch.setenv("MAMORI_INCIDENT_HORIZON_HOURS", "1")
    s = load_settings()
    scan = hit("vpcflow_port_scan", T0, source_ip=ATTACKER, target="10.0.1.15")
    web = hit("alb_sql_injection", T0 + timedelta(hours=1, seconds=1), source_ip=ATTACKER)
    run_all(ledger, s, [scan, web])
    assert groups(ledger) == [["alb_sql_injection"], ["vpcflow_port_scan"]]


def test_health_alerts_are_not_incidents(ledger, settings) -> None:
    from mamori.detect import record_rule_errors

    error = {
        "detection": "x",
        "window_start": T0.isoformat(),
        "error": {"kind": "E", "file": "f", "line": 1, "reason": "r"},
    }
    start = T0.replace(minute=0)
    record_rule_errors(
        [error], start + settings.detect_lag, start + settings.detect_lag + timedelta(hours=1), settings
    )
    run_window(ledger, settings, start, [hit("alb_sql_injection", T0, source_ip=ATTACKER)])
    assert groups(ledger) == [["alb_sql_injection"]]


def test_cli_lists_incidents_with_their_members(ledger, settings, capsys) -> None:
    from mamori.cli import main

    run_all(ledger, settings, STORY)
    assert main(["incidents", "list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 incidents")
    assert "critical" in out and "cloudtrail_access_key_created_for_other_user" in out
    assert f"ip {ATTACKER}" in out

    ledger.resolve(
        next(a.key for a in ledger.alerts() if a.detection_id == "cloudtrail_console_login_without_mfa"),
        "false-positive",
    )
    assert main(["incidents", "list", "--open"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 open incidents") and "cloudtrail_console_login_without_mfa" not in out


def test_the_detect_runs_record_task_groups_its_window(ledger, settings) -> None:
    """`summarize_window` (the detect DAG's `record` task, given the run's data interval) groups the window."""
    from mamori import detect

    start = T0.replace(minute=0)
    hits = [
        hit("alb_sql_injection", T0, source_ip=ATTACKER),
        hit("alb_path_traversal", T0, source_ip=ATTACKER),
    ]
    results = []
    for det_id, t, cols in hits:
        det = get_detection(settings.sql_dir, det_id)
        fired = ledger.record_window(det, start, start + HOUR, group_hits(det, [{"event_time": t, **cols}]))
        results.append({"detection": det_id, "hits": 1, "alerts": fired})

    lag = settings.detect_lag
    summary = detect.summarize_window([results], start + lag, start + HOUR + lag, settings)

    assert summary["incidents"] == {"alerts": 2, "incidents": 1, "opened": 1, "merged": 0}
    assert groups(ledger) == [["alb_path_traversal", "alb_sql_injection"]]


def test_groupings_of_one_window_at_once_place_each_alert_once(ledger, settings) -> None:
    """Two detect runs may record at once (the DAG's max_active_runs=2, a backfill beside it): their groupings
    are serialized, so the second sees the first's incident instead of opening a duplicate."""
    import threading

    start = T0.replace(minute=0)
    hits = [
        hit("alb_sql_injection", T0, source_ip=ATTACKER),
        hit("alb_path_traversal", T0, source_ip=ATTACKER),
    ]
    for det_id, t, cols in hits:
        det = get_detection(settings.sql_dir, det_id)
        ledger.record_window(det, start, start + HOUR, group_hits(det, [{"event_time": t, **cols}]))
    barrier, errors, opened = threading.Barrier(4), [], []

    def group() -> None:
        try:
            barrier.wait()
            opened.append(incidents.record_incidents(start, start + HOUR, settings)["opened"])
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=group) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == [] and sorted(opened) == [0, 0, 0, 1]
    assert groups(ledger) == [["alb_path_traversal", "alb_sql_injection"]]


def test_an_incident_stays_together_when_what_joined_it_is_past_the_horizon(ledger, settings) -> None:
    """p and q share nothing but joined through r. A day later c bridges p to an older incident while c2, in the
    same window, touches q; r is past the horizon by then. The incident moves whole: c2 lands in the survivor
    too, not in the incident that was just merged away."""
    ip1, ip2, ip3 = "203.0.113.1", "203.0.113.2", "203.0.113.3"
    r_user, c_user = f"arn:aws:iam::{ACCT}:user/r", f"arn:aws:iam::{ACCT}:user/c"
    s0 = hit("alb_path_traversal", T0 - HOUR, source_ip=ip3)
    r = hit("cloudtrail_trail_stopped_or_changed", T0, actor=r_user, source_ip=ip1)
    p = hit("alb_sql_injection", T0 + 20 * HOUR, source_ip=ip1)
    q = hit("cloudtrail_vpc_flow_logs_deleted", T0 + 20 * HOUR, actor=r_user, source_ip=ip2)
    s = hit("alb_desync_severe", T0 + 20 * HOUR, source_ip=ip3)
    c_from_ip1 = hit("cloudtrail_console_login_without_mfa", T0 + 40 * HOUR, actor=c_user, source_ip=ip1)
    c_from_ip3 = hit("cloudtrail_console_login_without_mfa", T0 + 40 * HOUR, actor=c_user, source_ip=ip3)
    c2 = hit("vpcflow_ssh_from_internet_accepted", T0 + 40 * HOUR, source_ip=ip2, target="10.0.1.15")
    run_all(ledger, settings, [s0, r, p, q, s])
    assert groups(ledger) == sorted(
        [
            ["alb_desync_severe", "alb_path_traversal"],
            ["alb_sql_injection", "cloudtrail_trail_stopped_or_changed", "cloudtrail_vpc_flow_logs_deleted"],
        ]
    )
    older = incident_of(ledger, "alb_path_traversal")

    run_all(ledger, settings, [c_from_ip1, c_from_ip3, c2])

    (inc,) = incidents.list_incidents(ledger)
    assert inc.incident_id == older and len(inc.members) == 7
    assert [m["into_id"] for m in incidents.merges(ledger)] == [older]
