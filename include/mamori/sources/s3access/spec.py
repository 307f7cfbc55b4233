"""The s3access source, declared: key layout, field model, quality rules, quarantine classes, capabilities."""

from __future__ import annotations

from datetime import timedelta

from mamori.sources.rules import (
    TOO_FEW_FIELDS,
    UNREADABLE_GZIP,
    Check,
    SourceRules,
    account,
    between,
    ips,
    reason,
)
from mamori.sources.s3access import SOURCE
from mamori.sources.spec import Capabilities, FieldModel, SourceSpec

SPEC = SourceSpec(
    parser=SOURCE,
    # server access logging is best effort: most records within the hour, some hours later (late data).
    delivery_lag=timedelta(minutes=60),
    example_key=(
        "AWSLogs/222222222222/us-east-1/app-artifacts-222222222222-us-east-1/2026/11/01/"
        "2026-11-01-00-06-20-2835E417A5D7CB7C"
    ),
    fields=FieldModel(
        actor="requester",
        principal="requester",  # as logged: no session issuer in the log, so role sessions stay apart
        ip="remoteip",
        event_name="operation",
        detail="concat_ws(' ', remoteip, bucket_name, key, CAST(httpstatus AS VARCHAR))",
    ),
    rules=SourceRules(
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
            between("httpstatus", 100, 599, "an HTTP status"),
            *ips("remoteip"),
            account(),
        ),
        # Server access logging is best effort: AWS documents deliveries hours late.
        late=timedelta(days=2),
    ),
    quarantine_classes=(
        UNREADABLE_GZIP,
        reason("quote_error", "line", "an unterminated double quote", r"unterminated quote$"),
        TOO_FEW_FIELDS,
        reason(
            "invalid_time",
            "line",
            "a request time that is not `[dd/Mon/yyyy:HH:MM:SS +0000]`",
            r"bad time (?:field |\[)",
        ),
        reason(
            "misaligned_fields",
            "line",
            "a quoted field in the wrong place, or an empty field",
            r"(?:\w+ is not a quoted field: |empty field \(two consecutive spaces\)$)",
        ),
        reason(
            "invalid_number", "line", "a status, size or time field that is not a number", r"non-numeric \w+ "
        ),
        reason(
            "unrecognised_line",
            "line",
            "any other line that does not have the server access log's shape",
            r"line does not match the server access log format$",
        ),
    ),
    detection_prefixes=("s3access",),
    capabilities=Capabilities(columnar=True),
)
