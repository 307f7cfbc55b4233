"""The cloudwatch source, declared: key layout, field model, quality rules, quarantine classes.

Its rules read the syslog/auth lines the log groups carry, so they are named `syslog_*` (detection_prefixes):
renaming them would change their alert keys.
"""

from __future__ import annotations

from datetime import timedelta

from mamori.sources.cloudwatch import SOURCE
from mamori.sources.rules import UNREADABLE_GZIP, SourceRules, account, between, in_set, ips, reason
from mamori.sources.spec import FieldModel, SourceSpec

SPEC = SourceSpec(
    parser=SOURCE,
    # exports through a subscription's delivery stream buffer up to ~5 minutes before writing to S3.
    delivery_lag=timedelta(minutes=10),
    example_key=(
        "AWSLogs/222222222222/CloudWatchLogs/eu-west-1/2026/11/01/00/"
        "mamori-cloudwatch-logs-1-2026-11-01-00-05-15-a4a569cb-bef0-442c-bb63-4350b6d61f31.gz"
    ),
    fields=FieldModel(
        actor="coalesce(ssh_user, sudo_user, hostname)",
        principal="coalesce(ssh_user, sudo_user, hostname)",  # a host account is itself across logins
        ip="ssh_src_ip",
        event_name="coalesce(ssh_event, app_name)",
        detail="concat_ws(' ', log_group, coalesce(msg, message))",
    ),
    rules=SourceRules(
        required=("message",),
        expected=("owner", "log_group", "log_stream", "event_id"),
        checks=(
            account("owner"),
            account(),
            in_set("syslog_format", ["rfc3164", "rfc5424", "json"], "the formats the syslog parser emits"),
            *ips("ssh_src_ip"),
            between("ssh_src_port", 0, 65535, "a TCP port"),
        ),
        # CloudWatch Logs accepts events up to 14 days old and 2 hours ahead; the subscription delivers them.
        late=timedelta(days=14),
        skew=timedelta(hours=2),
    ),
    quarantine_classes=(
        UNREADABLE_GZIP,
        reason(
            "not_json",
            "message",
            "a subscription message that does not decode as JSON",
            r"undecodable JSON object at offset \d+: ",
        ),
        reason(
            "not_a_data_message",
            "message",
            "JSON that is not a DATA_MESSAGE with a `logEvents` list",
            r"(?:JSON value is \w+, not a subscription message$|not a DATA_MESSAGE with a logEvents list$)",
        ),
        reason(
            "event_not_an_object",
            "event",
            "a log event that is not a JSON object",
            r"log event is \w+, not an object$",
        ),
        reason(
            "invalid_time",
            "event",
            "a log event without a valid epoch-ms timestamp, or an export line without a leading timestamp",
            r"(?:log event without a valid epoch-ms timestamp$|export line without a leading timestamp$)",
        ),
        reason(
            "missing_message",
            "event",
            "a log event whose message is not text",
            r"log event without a string message$",
        ),
    ),
    detection_prefixes=("syslog",),
)
