"""What each log source promises, declared once: the expectations every converted batch is held to.

Plain data, no Great Expectations import: the suite is built from these at validation time (validate.py), and
docs/data-quality.md explains each decision. Every check has an *action*:

- ``flag``: rows stay in the lake, the batch is marked failed and a data-quality alert is raised. Used where the
  value may be a real event in a shape we did not foresee (a new AWS value, an old but genuine delivery): hiding
  it from detections would be worse than alerting about it.
- ``quarantine``: the offending rows leave the lake for ``quarantine/`` (with the check as reason) and an alert
  is raised. Used where a row cannot be placed or matched correctly: no identity, or a time in the future.
  Quarantine is never silent, so a record shaped to be quarantined (evasion) still produces an alert.
- ``quarantine_batch``: the whole batch goes to quarantine (schema/type mismatch: writing it would break every
  reader of the table).
- ``fail``: the batch raises (a row count that does not match the manifest means rows were lost in our code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from mamori.sources.base import PLAUSIBLE_SINCE, REGION

Action = Literal["flag", "quarantine", "quarantine_batch", "fail"]

IPV4 = (
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)
# Hex groups around at least two colons, optionally ending in a dotted quad (::ffff:1.2.3.4). No lookarounds:
# pandas' Arrow-backed strings evaluate regexes with RE2.
_HEX_GROUPS = r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4})"
IP_REGEX = rf"^(?:{IPV4}|{_HEX_GROUPS}{{2,7}}|{_HEX_GROUPS}{{1,6}}:{IPV4})$"
ACCOUNT_REGEX = r"^[0-9]{12}$"
REGION_REGEX = rf"^{REGION}$"  # every AWS partition's region names (eusc-de-east-1, us-isob-east-1, ...)
# The derived column holding event_time as epoch microseconds: GX compares numbers vectorised, datetimes per row.
EVENT_TIME_US = "event_time_us"


@dataclass(frozen=True)
class Check:
    """One expectation: `kind` names the GX expectation family, `params` its arguments."""

    id: str
    kind: Literal["not_null", "in_set", "regex", "between", "event_time_after", "event_time_before"]
    column: str
    action: Action
    why: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceRules:
    """A source's promises. `late`/`skew` bound event time against the landing window: events may arrive up to
    `late` after they happened (older ones are flagged), and no event may claim a time more than `skew` after
    the window closed (quarantined). [`earliest`, window end + `skew`) is the plausible range: a row before
    `earliest` is quarantined too (a corrupt or forged time, which would otherwise be written under a
    partition such as dt=1970-01-01 that Athena's projection never reads)."""

    required: tuple[str, ...]  # identity: a row without these cannot be matched (quarantine)
    expected: tuple[str, ...]  # always present in real deliveries; absence is flagged, the row kept
    checks: tuple[Check, ...]
    late: timedelta
    skew: timedelta
    earliest: datetime = PLAUSIBLE_SINCE


COMMON_REQUIRED = ("event_time", "source", "account_id")


def _not_null(cols: tuple[str, ...]) -> tuple[Check, ...]:
    return tuple(
        Check(
            f"not_null:{c}", "not_null", c, "quarantine", "a row without it cannot be matched by detections"
        )
        for c in cols
    )


def _present(cols: tuple[str, ...]) -> tuple[Check, ...]:
    return tuple(
        Check(
            f"not_null:{c}", "not_null", c, "flag", "every real delivery carries it; the row is still usable"
        )
        for c in cols
    )


def _ips(*cols: str) -> tuple[Check, ...]:
    return tuple(
        Check(f"ip:{c}", "regex", c, "flag", "the format promises an IP address here", {"regex": IP_REGEX})
        for c in cols
    )


def _in(col: str, values: list[str], why: str) -> Check:
    return Check(f"in_set:{col}", "in_set", col, "flag", why, {"value_set": values})


def _range(col: str, lo: int, hi: int, why: str) -> Check:
    return Check(f"between:{col}", "between", col, "flag", why, {"min_value": lo, "max_value": hi})


def _account(col: str = "account_id") -> Check:
    return Check(
        f"regex:{col}", "regex", col, "flag", "AWS account ids are 12 digits", {"regex": ACCOUNT_REGEX}
    )


_CT_REQUIRED = ("eventtime", "eventsource", "eventname")
_CT_EXPECTED = ("eventversion", "eventid", "eventtype", "awsregion", "recipientaccountid")
_EVENT_SOURCE = Check(
    "regex:eventsource",
    "regex",
    "eventsource",
    "flag",
    "every AWS service logs as <service>.amazonaws.com",
    {"regex": r"^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.amazonaws\.com$"},
)
_AWS_REGION = Check(
    "regex:awsregion", "regex", "awsregion", "flag", "an AWS region name", {"regex": REGION_REGEX}
)
_EVENT_VERSION = Check(
    "regex:eventversion",
    "regex",
    "eventversion",
    "flag",
    "versions look like 1.09",
    {"regex": r"^[0-9]+\.[0-9]+$"},
)

RULES: dict[str, SourceRules] = {
    "cloudtrail": SourceRules(
        required=_CT_REQUIRED,
        expected=(*_CT_EXPECTED, "useridentity"),
        checks=(
            _EVENT_SOURCE,
            _AWS_REGION,
            _EVENT_VERSION,
            _account(),
            _in(
                "eventtype",
                ["AwsApiCall", "AwsServiceEvent", "AwsConsoleAction", "AwsConsoleSignIn", "AwsVpceEvent"],
                "CloudTrail's documented event types",
            ),
            _in("eventcategory", ["Management", "Data", "NetworkActivity"], "CloudTrail's event categories"),
            _in("readonly", ["true", "false"], "a boolean rendered as text"),
            _in("managementevent", ["true", "false"], "a boolean rendered as text"),
        ),
        late=timedelta(days=1),
        skew=timedelta(minutes=15),
    ),
    "cloudtrail_insights": SourceRules(
        required=_CT_REQUIRED,
        expected=(*_CT_EXPECTED, "insightdetails"),
        checks=(
            _EVENT_SOURCE,
            _AWS_REGION,
            _account(),
            _in("eventtype", ["AwsCloudTrailInsight"], "Insights events have one type"),
            _in("eventcategory", ["Insight"], "Insights events have one category"),
        ),
        late=timedelta(days=1),
        skew=timedelta(minutes=15),
    ),
    "alb": SourceRules(
        required=("client_ip",),
        expected=("type", "time", "elb"),
        checks=(
            _in("type", ["http", "https", "h2", "grpcs", "ws", "wss"], "ALB's documented request types"),
            _range("elb_status_code", 100, 599, "an HTTP status"),
            _range("target_status_code", 100, 599, "an HTTP status"),
            _range("client_port", 0, 65535, "a TCP port"),
            *_ips("client_ip", "target_ip"),
            _account(),
        ),
        late=timedelta(days=1),
        skew=timedelta(minutes=15),
    ),
    "cloudwatch": SourceRules(
        required=("message",),
        expected=("owner", "log_group", "log_stream", "event_id"),
        checks=(
            _account("owner"),
            _account(),
            _in("syslog_format", ["rfc3164", "rfc5424", "json"], "the formats the syslog parser emits"),
            *_ips("ssh_src_ip"),
            _range("ssh_src_port", 0, 65535, "a TCP port"),
        ),
        # CloudWatch Logs accepts events up to 14 days old and 2 hours ahead; the subscription delivers them.
        late=timedelta(days=14),
        skew=timedelta(hours=2),
    ),
    "s3access": SourceRules(
        required=("bucket_name", "operation"),
        expected=("bucketowner", "requestdatetime", "requestid"),
        checks=(
            Check(
                "regex:operation",
                "regex",
                "operation",
                "flag",
                "operations look like REST.GET.OBJECT or S3.EXPIRE.OBJECT",
                {"regex": r"^[A-Z][A-Z0-9]*\.[A-Z0-9_]+\.[A-Z0-9_]+$"},
            ),
            _range("httpstatus", 100, 599, "an HTTP status"),
            *_ips("remoteip"),
            _account(),
        ),
        # Server access logging is best effort: AWS documents deliveries hours late.
        late=timedelta(days=2),
        skew=timedelta(minutes=15),
    ),
    "vpcflow": SourceRules(
        # Custom formats may leave out any field (they are NULL then): only the common identity is required.
        required=(),
        expected=(),
        checks=(
            _in("action", ["ACCEPT", "REJECT"], "flow log actions"),
            _in("log_status", ["OK", "NODATA", "SKIPDATA"], "flow log record statuses"),
            _in("type", ["IPv4", "IPv6", "EFA"], "flow log traffic types"),
            _in("flow_direction", ["ingress", "egress"], "flow directions"),
            _range("version", 2, 10, "flow log format versions"),
            _range("protocol", 0, 255, "an IANA protocol number"),
            _range("srcport", 0, 65535, "a port"),
            _range("dstport", 0, 65535, "a port"),
            *_ips("srcaddr", "dstaddr", "pkt_srcaddr", "pkt_dstaddr"),
            _account(),
        ),
        late=timedelta(days=1),
        skew=timedelta(minutes=15),
    ),
}


def rules_for(source: str) -> SourceRules:
    """A registered source without rules still gets the common checks (schema, identity, time window)."""
    return RULES.get(source, SourceRules((), (), (), late=timedelta(days=1), skew=timedelta(minutes=15)))


def _epoch_us(t: datetime) -> int:
    """Exact epoch microseconds (integer arithmetic: a float loses the last digits of year-9999 instants)."""
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def checks_for(source: str) -> list[Check]:
    """Every row-level check of a source, in suite order (time window last: it needs the derived column)."""
    r = rules_for(source)
    out = list(_not_null(tuple(dict.fromkeys((*COMMON_REQUIRED, *r.required)))))
    out += _present(r.expected)
    out += r.checks
    earliest = _epoch_us(r.earliest)
    out.append(
        Check(
            "event_time:not_before_earliest",
            "between",
            EVENT_TIME_US,
            "quarantine",
            f"no {source} event happened before {r.earliest:%Y-%m-%d}: a corrupt or forged time, which would sit "
            "in a partition no detection window or Athena projection reads",
            {"min_value": earliest},
        )
    )
    out.append(
        Check(
            "event_time:not_older_than_late",
            "event_time_after",
            EVENT_TIME_US,
            "flag",
            f"events land within {r.late} of happening; older ones are genuine but late (re-evaluated)",
            # Rows before `earliest` are quarantined by the check above, not kept as merely late.
            {"row_condition": f"{EVENT_TIME_US} >= {earliest}", "condition_parser": "pandas"},
        )
    )
    out.append(
        Check(
            "event_time:not_after_window_plus_skew",
            "event_time_before",
            EVENT_TIME_US,
            "quarantine",
            f"no event can happen more than {r.skew} after the window it landed in closed",
        )
    )
    return out
