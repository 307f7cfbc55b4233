"""The route53resolver source, declared: key layout, field model, quality rules, quarantine classes.

Route 53 Resolver query logs arrive through CloudWatch Logs (sources/formats/cloudwatch_logs.py), so the
envelope's quarantine reasons are the cloudwatch source's; the record's own reasons name the field at fault.
"""

from __future__ import annotations

from datetime import timedelta

from mamori.sources.cloudwatch.spec import SPEC as CLOUDWATCH
from mamori.sources.route53resolver import SOURCE
from mamori.sources.rules import SourceRules, account, between, in_set, ips, reason
from mamori.sources.spec import FieldModel, SourceSpec

SPEC = SourceSpec(
    parser=SOURCE,
    # Resolver query logs reach S3 in files written every few minutes.
    delivery_lag=timedelta(minutes=10),
    example_key=(
        "AWSLogs/111111111111/CloudWatchLogs-Route53Resolver/us-east-1/2026/11/01/00/"
        "mamori-route53resolver-1-2026-11-01-00-05-15-a4a569cb-bef0-442c-bb63-4350b6d61f31.gz"
    ),
    fields=FieldModel(
        actor="coalesce(srcids_instance, srcaddr)",
        principal="coalesce(srcids_instance, srcaddr)",  # the instance (or address) asking
        ip="srcaddr",
        event_name="query_type",
        detail="concat_ws(' ', query_name, rcode, vpc_id)",
    ),
    rules=SourceRules(
        required=("query_name",),
        expected=("vpc_id", "query_type", "rcode", "srcaddr"),
        checks=(
            account(),
            *ips("srcaddr"),
            between("srcport", 0, 65535, "a UDP/TCP port"),
            in_set("transport", ["UDP", "TCP", "DoH"], "the transports Resolver query logging documents"),
        ),
        # The records travel through CloudWatch Logs, which accepts events up to 14 days old and 2 hours ahead.
        late=timedelta(days=14),
        skew=timedelta(hours=2),
    ),
    quarantine_classes=(
        *CLOUDWATCH.quarantine_classes,
        reason(
            "not_a_query_record",
            "event",
            "a message that is not a JSON query log record",
            r"(?:message is not JSON$|message is a JSON \w+, not a query log record$)",
        ),
        reason(
            "bad_field",
            "event",
            "a record field missing, of the wrong type, or out of range (the reason names the field)",
            r"(?:record without |\S+ is \w+, not |query_name longer than |query_timestamp is not |srcport is not |"
            r"answer field )",
        ),
    ),
    detection_prefixes=("route53resolver",),
)
