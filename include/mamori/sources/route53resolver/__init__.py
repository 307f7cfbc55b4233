"""Route 53 Resolver query logs delivered through CloudWatch Logs: one row per DNS query a VPC resolved.

Resolver query logging writes one JSON record per query (AWS "Values that appear in VPC Resolver query logs")
to a CloudWatch Logs log group; a subscription filter forwards the group to a Firehose delivery stream of its
own, which lands in S3 under mamori's key convention for CloudWatch-delivered formats (the transport,
:mod:`mamori.sources.formats.cloudwatch_logs`, reads the envelopes)::

    AWSLogs/<acct>/CloudWatchLogs-Route53Resolver/<region>/YYYY/MM/DD/HH/<delivery-stream>-<n>-YYYY-MM-DD-HH-MM-SS-<uuid>.gz

and export tasks of the log group under ``AWSLogs/<acct>/CloudWatchLogsExport-Route53Resolver/<region>/<log
group, percent-encoded>/<task-id>/<log-stream>/000000.gz``. The segment differs from the syslog source's
``CloudWatchLogs``, so neither source claims or lists the other's objects; the same convention
(``CloudWatchLogs-<Format>``) holds for every later CloudWatch-delivered format.

Record policy: every field is attacker-influenced (a query name is chosen by whoever sends the query, and a
forged record can say anything), so each is type-checked and kept as text; nothing here is evaluated. A record
is quarantined, with a reason naming the field, when the message is not a JSON object, when a field has the
wrong type, when it lacks what identifies a query (query_timestamp, query_name, query_type, srcaddr), when
query_timestamp is not an ISO 8601 time, when srcport is not a port, or when query_name is longer than any DNS
name can be written (1024 characters: 255 octets, each at most a 4-character ``\\DDD`` escape). Fields AWS only
writes sometimes (firewall_*, srcids.*) are NULL when absent; unknown fields are ignored (a minor version adds
fields). Non-ASCII text is kept as written.

Columns: the transport's (owner, log_group, log_stream, subscription_filters, event_id), the record's fields
(``region`` is stored as ``vpc_region`` because ``region`` is a hive partition key; ``srcids`` is flattened to
``srcids_instance`` / ``srcids_resolver_endpoint``; ``answers`` keeps its list of {rdata, type, class}), then
the common ones: event_time is the CloudWatch timestamp (the record's own time is ``query_time``), account_id
the record's ``account_id`` (the VPC owner) when it is an account number, else the log group's; related_ips
the source address and every answer that is an IP address.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

from mamori.sources.base import COMMON_FIELDS, is_ip, unique
from mamori.sources.formats.cloudwatch_logs import (
    TRANSPORT_FIELDS,
    CloudWatchLogsSource,
    Envelope,
    Layout,
    Reject,
)

NAME = "route53resolver"

_S = pa.string()
ANSWER = pa.struct([pa.field("rdata", _S), pa.field("type", _S), pa.field("class", _S)])
NATIVE_FIELDS: list[pa.Field] = [
    *TRANSPORT_FIELDS,
    pa.field("version", _S),
    pa.field("vpc_id", _S),
    pa.field("vpc_region", _S),
    pa.field("query_timestamp", _S),  # as written
    pa.field("query_time", pa.timestamp("us")),  # the same, as UTC
    pa.field("query_name", _S),
    pa.field("query_type", _S),
    pa.field("query_class", _S),
    pa.field("rcode", _S),
    pa.field("answers", pa.list_(ANSWER)),
    pa.field("srcaddr", _S),
    pa.field("srcport", pa.int32()),
    pa.field("transport", _S),
    pa.field("srcids_instance", _S),
    pa.field("srcids_resolver_endpoint", _S),
    pa.field("firewall_rule_action", _S),
    pa.field("firewall_rule_group_id", _S),
    pa.field("firewall_domain_list_id", _S),
]
SCHEMA = pa.schema(NATIVE_FIELDS + COMMON_FIELDS)

# Record field -> column, for the plain text fields.
_TEXT = {
    "version": "version",
    "vpc_id": "vpc_id",
    "region": "vpc_region",
    "query_timestamp": "query_timestamp",
    "query_name": "query_name",
    "query_type": "query_type",
    "query_class": "query_class",
    "rcode": "rcode",
    "srcaddr": "srcaddr",
    "transport": "transport",
    "firewall_rule_action": "firewall_rule_action",
    "firewall_rule_group_id": "firewall_rule_group_id",
    "firewall_domain_list_id": "firewall_domain_list_id",
}
REQUIRED = ("query_timestamp", "query_name", "query_type", "srcaddr")
MAX_QUERY_NAME = 1024


def _type(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _parse_time(ts: str) -> datetime | None:
    """ISO 8601 → aware UTC; zone-less text is UTC; >6 fractional digits are cut; garbage → None."""
    if len(ts) > 40:
        return None
    text = ts[:-1] + "+00:00" if ts.endswith(("Z", "z")) else ts
    head, dot, frac = text.partition(".")
    if dot:
        digits = len(frac) - len(frac.lstrip("0123456789"))
        text = head + "." + frac[: min(digits, 6)] + frac[digits:]
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    if t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    try:
        return t.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def parse_record(message: str, env: Envelope) -> dict[str, Any] | Reject:
    """One query log record (the log event's message) → the format's columns, or why it is not one."""
    try:
        doc = orjson.loads(message)
    except orjson.JSONDecodeError:
        return Reject("message is not JSON")
    if not isinstance(doc, dict):
        return Reject(f"message is a JSON {_type(doc)}, not a query log record")
    row: dict[str, Any] = {}
    for field, column in _TEXT.items():
        v = doc.get(field)
        if v is not None and not isinstance(v, str):
            return Reject(f"{field} is {_type(v)}, not text")
        row[column] = v
    for field in REQUIRED:
        if not doc.get(field):
            return Reject(f"record without {field}")
    name: str = row["query_name"]
    if len(name) > MAX_QUERY_NAME:
        return Reject(f"query_name longer than {MAX_QUERY_NAME} characters: not a DNS name")
    row["query_time"] = _parse_time(row["query_timestamp"])
    if row["query_time"] is None:
        return Reject("query_timestamp is not an ISO 8601 time")

    port = doc.get("srcport")
    if isinstance(port, str) and port.isascii() and port.isdigit() and len(port) <= 5:
        port = int(port)
    if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535):
        return Reject("srcport is not a port number")
    row["srcport"] = port

    srcids = doc.get("srcids")
    if srcids is not None and not isinstance(srcids, dict):
        return Reject(f"srcids is {_type(srcids)}, not an object")
    for key in ("instance", "resolver_endpoint"):
        v = srcids.get(key) if srcids else None
        if v is not None and not isinstance(v, str):
            return Reject(f"srcids.{key} is {_type(v)}, not text")
        row[f"srcids_{key}"] = v

    answers = doc.get("answers")
    out: list[dict[str, str | None]] | None = None
    if answers is not None:
        if not isinstance(answers, list):
            return Reject(f"answers is {_type(answers)}, not a list")
        out = []
        for a in answers:
            if not isinstance(a, dict):
                return Reject(f"answer is {_type(a)}, not an object")
            item = {"rdata": a.get("Rdata"), "type": a.get("Type"), "class": a.get("Class")}
            if any(v is not None and not isinstance(v, str) for v in item.values()):
                return Reject("answer field (Rdata, Type, Class) is not text")
            out.append(item)
    row["answers"] = out

    acct = doc.get("account_id")
    if acct is not None and not isinstance(acct, str):
        return Reject(f"account_id is {_type(acct)}, not text")
    is_acct = acct is not None and len(acct) == 12 and acct.isascii() and acct.isdigit()
    row["account_id"] = acct if is_acct else env.account_id
    row["related_accounts"] = unique([acct if is_acct else None, env.owner if env.owner_is_account else None])
    ips = [row["srcaddr"], *(a["rdata"] for a in out or ())]
    row["related_ips"] = unique(ip for ip in ips if is_ip(ip))
    row["related_users"] = []
    row["related_arns"] = []
    row["source"] = NAME
    return row


class Route53ResolverSource(CloudWatchLogsSource):
    """Route 53 Resolver query logs from Firehose deliveries and export tasks of their CloudWatch log group."""

    name = NAME
    table = "route53resolver"
    schema = SCHEMA
    layout = Layout(firehose="CloudWatchLogs-Route53Resolver", export="CloudWatchLogsExport-Route53Resolver")

    def row(self, message: str, event_time: datetime, env: Envelope) -> dict[str, Any] | Reject:
        return parse_record(message, env)


SOURCE = Route53ResolverSource()
