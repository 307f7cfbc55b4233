"""The alb source, declared: key layout, field model, quality rules, quarantine classes, capabilities."""

from __future__ import annotations

from datetime import timedelta

from mamori.sources.alb import SOURCE
from mamori.sources.rules import (
    TOO_FEW_FIELDS,
    UNREADABLE_GZIP,
    SourceRules,
    account,
    between,
    in_set,
    ips,
    reason,
)
from mamori.sources.spec import Capabilities, FieldModel, SourceSpec

SPEC = SourceSpec(
    parser=SOURCE,
    # ALB publishes a log file per node every 5 minutes: an event waits up to 5 minutes, then its upload.
    delivery_lag=timedelta(minutes=10),
    example_key=(
        "AWSLogs/111111111111/elasticloadbalancing/eu-west-1/2026/11/01/111111111111_elasticloadbalancing_"
        "eu-west-1_app.web-prod.1a2b8f1ff1fd42a2_20261101T0005Z_10.0.17.16_5b4firwt.log.gz"
    ),
    fields=FieldModel(
        actor="client_ip",  # an HTTP request has no authenticated principal in the log
        principal=None,  # a request names an address, not an identity
        ip="client_ip",
        event_name="request_verb",
        detail="concat_ws(' ', client_ip, CAST(elb_status_code AS VARCHAR), request_url)",
    ),
    rules=SourceRules(
        required=("client_ip",),
        expected=("type", "time", "elb"),
        checks=(
            in_set("type", ["http", "https", "h2", "grpcs", "ws", "wss"], "ALB's documented request types"),
            between("elb_status_code", 100, 599, "an HTTP status"),
            between("target_status_code", 100, 599, "an HTTP status"),
            between("client_port", 0, 65535, "a TCP port"),
            *ips("client_ip", "target_ip"),
            account(),
        ),
    ),
    quarantine_classes=(
        UNREADABLE_GZIP,
        reason(
            "quote_error",
            "line",
            "an unterminated or misplaced double quote",
            r"unterminated or misplaced quote",
        ),
        TOO_FEW_FIELDS,
        reason(
            "invalid_time",
            "line",
            "time missing, not ISO 8601, without a zone, or out of range",
            r"(?:missing time$|invalid time |time without zone |time out of range )",
        ),
        reason(
            "invalid_address",
            "line",
            "client or target not `host:port`",
            r"(?:malformed host:port |missing client:port$)",
        ),
        reason(
            "invalid_number",
            "line",
            "a processing time, status code or byte count that is not a number in range",
            r"(?:non-numeric processing time |invalid (?:elb_status_code|target_status_code|received_bytes"
            r"|sent_bytes) )",
        ),
    ),
    detection_prefixes=("alb",),
    capabilities=Capabilities(columnar=True),
)
