"""The vpcflow source, declared: key layout, field model, quality rules, quarantine classes, capabilities."""

from __future__ import annotations

import io
import zlib
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from mamori.sources.rules import UNREADABLE_GZIP, SourceRules, account, between, in_set, ips, reason
from mamori.sources.spec import Capabilities, DriftHints, FieldModel, SourceSpec
from mamori.sources.vpcflow import SOURCE

MAX_HEADER = 2000  # a v8 flow log header with every field is ~600 characters
NO_HEADER = "(no header line: default v2 format)"


def declared_layout(data: bytes) -> str:
    """The layout an object declares: its header line, its Parquet columns, or the implied default. Read for
    drift (a flow log re-created with another format), bounded: the header is log-derived text."""
    if data[:4] == b"PAR1":
        try:
            return "parquet: " + " ".join(pq.read_schema(io.BytesIO(data)).names)
        except (pa.ArrowException, OSError):
            return "(unreadable Parquet)"
    head = data[:65536]
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 65536)
        except zlib.error:
            return "(unreadable gzip)"
    line = next((ln for ln in head.decode("utf-8", "replace").split("\n") if ln.strip()), "")
    tokens = line.split()
    if not tokens or not all(t[:1].isalpha() or t.startswith("${") for t in tokens):
        return NO_HEADER
    text = " ".join(tokens)
    return text if len(text) <= MAX_HEADER else text[:MAX_HEADER] + "…"


SPEC = SourceSpec(
    parser=SOURCE,
    # records aggregate for up to 10 minutes (the default interval), then publish to S3 every 5 minutes.
    delivery_lag=timedelta(minutes=15),
    example_key=(
        "AWSLogs/aws-account-id=222222222222/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=11/"
        "day=01/hour=00/222222222222_vpcflowlogs_eu-west-1_fl-8678a5aa33b6fe507_20261101T0010Z_ba2ed757.log.gz"
    ),
    fields=FieldModel(
        actor="srcaddr",  # a flow has no principal: the address that opened it
        principal=None,  # a flow names addresses, not identities
        ip="srcaddr",
        event_name="action",
        detail=(
            "concat_ws(' ', srcaddr, CAST(srcport AS VARCHAR), '->', dstaddr, CAST(dstport AS VARCHAR), "
            "CAST(protocol AS VARCHAR), CAST(bytes AS VARCHAR))"
        ),
    ),
    rules=SourceRules(
        # Custom formats may leave out any field (they are NULL then): only the common identity is required.
        required=(),
        expected=(),
        checks=(
            in_set("action", ["ACCEPT", "REJECT"], "flow log actions"),
            in_set("log_status", ["OK", "NODATA", "SKIPDATA"], "flow log record statuses"),
            in_set("type", ["IPv4", "IPv6", "EFA"], "flow log traffic types"),
            in_set("flow_direction", ["ingress", "egress"], "flow directions"),
            between("version", 2, 10, "flow log format versions"),
            between("protocol", 0, 255, "an IANA protocol number"),
            between("srcport", 0, 65535, "a port"),
            between("dstport", 0, 65535, "a port"),
            *ips("srcaddr", "dstaddr", "pkt_srcaddr", "pkt_dstaddr"),
            account(),
        ),
    ),
    quarantine_classes=(
        UNREADABLE_GZIP,
        reason(
            "unreadable_parquet", "object", "a Parquet delivery that does not open", r"unreadable Parquet: "
        ),
        reason("invalid_utf8", "line", "bytes that are not UTF-8", r"invalid UTF-8$"),
        reason(
            "field_count", "line", "a field count other than the header's", r"field count \d+ != header \d+$"
        ),
        reason(
            "untimed",
            "line",
            "no start and no end (in the record, or in the header's fields)",
            r"(?:header has neither start nor end|neither start nor end)",
        ),
        reason(
            "invalid_time",
            "line",
            "`start` or `end` outside the plausible range (2010..2100)",
            r"(?:start/end|start|end) -?\d+ outside ",
        ),
        reason(
            "invalid_number",
            "line",
            "an integer field that is not one, or out of range",
            r"\w+ .* is not an integer in ",
        ),
    ),
    detection_prefixes=("vpcflow",),
    capabilities=Capabilities(columnar=True),
    drift=DriftHints(object_layout=declared_layout),
    tamper_detections=("cloudtrail_vpc_flow_logs_deleted",),
)
