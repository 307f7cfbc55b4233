"""CloudWatch Logs (EC2 syslog, auth/secure, JSON app logs) landed in S3, one row per log event.

Two landings, both under mamori's documented key conventions (the prefixes are user-configured in AWS, so
mamori fixes them; the account and region must be in the key because the payload carries no region):

1. Subscription filter → Kinesis Data Firehose → S3 (the continuous path). Firehose prefix
   ``AWSLogs/<acct>/CloudWatchLogs/<region>/`` followed by its default ``YYYY/MM/DD/HH/`` (UTC arrival time):
   ``AWSLogs/<acct>/CloudWatchLogs/<region>/YYYY/MM/DD/HH/<delivery-stream>-<n>-YYYY-MM-DD-HH-MM-SS-<uuid>.gz``.
   CloudWatch gzips each record it hands Firehose and Firehose concatenates records, so an object is a
   multi-member gzip whose text is JSON objects back to back with no separator (``}{``). Each is a
   DATA_MESSAGE ``{"messageType", "owner", "logGroup", "logStream", "subscriptionFilters", "logEvents": [{"id",
   "timestamp" (epoch ms), "message"}]}`` or a CONTROL_MESSAGE (a health check: skipped, not data). When
   Firehose is also set to GZIP the object is gzip twice; both layers are removed.

2. CreateExportTask → S3 (backfills / one-off investigations). AWS writes
   ``<destinationPrefix>/<task-id>/<log-stream>/000000.gz`` with lines ``<ISO-8601 timestamp> <message>``; mamori's
   destinationPrefix is ``AWSLogs/<acct>/CloudWatchLogsExport/<region>/<log-group>`` where the log group is
   percent-encoded (``urllib.parse.quote(name, safe="")``: ``/ec2/var/log/secure`` → ``%2Fec2%2Fvar%2Flog%2Fsecure``)
   so it is one key segment and decodes back exactly (``%`` cannot occur in a log group name). Export keys carry
   no date, so the lister walks every task folder of every exported group on each window (one LIST per group
   plus one per task folder); the cost grows with export history, so expire or move old exports with a
   lifecycle rule. Lines that do not start with a timestamp continue the previous event's message (an exported
   multi-line message); a continuation line that itself starts with a timestamp is indistinguishable from a
   new event, a limit of the export format.

Row policy: one row per log event; the raw message is always kept. Syslog parsing (:mod:`mamori.sources.formats.syslog`)
is best effort: text that does not parse leaves the parsed columns NULL, it is not quarantined. Only events
that are not objects or lack a usable timestamp or a string message are quarantined, each as one unit, as is a
Firehose JSON object that cannot be decoded (earlier and later objects in the stream are kept). Quarantine
``index`` counts units in object order (log events, and undecodable JSON objects as one unit each).

Invalid UTF-8 (an agent reading a binary or Latin-1 file) would make the whole stream undecodable: bytes are
decoded with ``errors="replace"`` first, so the bad bytes become U+FFFD in that message and every event is kept.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import orjson
import pyarrow as pa

from mamori.sources.base import (
    ACCOUNT,
    COMMON_FIELDS,
    REGION,
    ObjectResult,
    Partition,
    Quarantined,
    RawKey,
    unique,
)
from mamori.sources.formats.syslog import parse_message

NAME = "cloudwatch"

_S = pa.string()
NATIVE_FIELDS: list[pa.Field] = [
    pa.field("owner", _S),
    pa.field("log_group", _S),
    pa.field("log_stream", _S),
    pa.field("subscription_filters", pa.list_(_S)),
    pa.field("event_id", _S),
    pa.field("message", _S),
    pa.field("syslog_format", _S),  # 'rfc3164' | 'rfc5424' | 'json' | NULL (not parsed)
    pa.field("syslog_timestamp", _S),  # as written in the message
    pa.field("syslog_time", pa.timestamp("us")),  # the same, as UTC (year inferred for RFC 3164)
    pa.field("hostname", _S),
    pa.field("app_name", _S),
    pa.field("proc_id", _S),
    pa.field("msg", _S),
    pa.field("ssh_event", _S),
    pa.field("ssh_user", _S),
    pa.field("ssh_src_ip", _S),
    pa.field("ssh_src_port", pa.int32()),
    pa.field("sudo_user", _S),
    pa.field("sudo_run_as", _S),
    pa.field("sudo_command", _S),
    pa.field("sudo_error", _S),  # e.g. '3 incorrect password attempts': the command did NOT run
    pa.field("useradd_user", _S),
]
SCHEMA = pa.schema(NATIVE_FIELDS + COMMON_FIELDS)

# ASCII only, \d included (base.REGION says why).
_REGION = rf"(?P<region>{REGION})"
_FIREHOSE_RE = re.compile(
    rf"(?:^|/)AWSLogs/(?P<account>{ACCOUNT})/CloudWatchLogs/" + _REGION + r"/\d{4}/\d{2}/\d{2}/\d{2}/"
    r"[^/]+-\d+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[^/]+$",
    re.ASCII,
)
_EXPORT_RE = re.compile(
    rf"(?:^|/)AWSLogs/(?P<account>{ACCOUNT})/CloudWatchLogsExport/" + _REGION + r"/(?P<group>[^/]+)/"
    r"(?:(?P<task>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"/(?P<stream>.+)/\d{6}\.gz|(?P<probe>aws-logs-write-test))$",
    re.ASCII,
)
_MAX_RAW = 256 * 1024  # quarantine keeps the unit's text up to this size; the raw object keeps the rest
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MS = 253402300799999  # 9999-12-31T23:59:59.999Z
_WS = " \t\n\r"
_EXPORT_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)? ")
_DECODER = json.JSONDecoder()


class CloudWatchSource:
    """CloudWatch Logs events from Firehose deliveries and export tasks."""

    name = NAME
    table = "cloudwatch"
    schema = SCHEMA

    def classify(self, key: str) -> RawKey | None:
        m = _FIREHOSE_RE.search(key)
        if m is not None:
            return RawKey(key=key, account=m["account"], region=m["region"], kind="events")
        m = _EXPORT_RE.search(key)
        if m is not None:
            # The ingest pipeline only parses kind == "events"; the layout is re-read from the key when parsing.
            # AWS's export permission probe is routed away (counted as skipped, not reported as unclaimed).
            kind = "write-test" if m["probe"] else "events"
            return RawKey(key=key, account=m["account"], region=m["region"], kind=kind)
        return None

    def list_prefixes(self, start: datetime, end: datetime) -> list[str]:
        # Firehose keys carry the UTC arrival hour, which precedes landing by the buffer interval; one day of
        # slack before the window covers an object that lands just after midnight, as for CloudTrail.
        out = []
        day = (start - timedelta(days=1)).date()
        while day <= end.date():
            out.append(f"AWSLogs/*/CloudWatchLogs/*/{day:%Y/%m/%d}/")
            day += timedelta(days=1)
        # Exports are not date-keyed: expand account / region / log group / task folder one level at a time,
        # and let the landing-time filter pick the window's objects (see the module docstring for the cost).
        out.append("AWSLogs/*/CloudWatchLogsExport/*/*/*/")
        return out

    def parse_object(self, raw: RawKey, data: bytes) -> ObjectResult:
        result = ObjectResult(key=raw.key)
        if raw.kind != "events":
            result.skipped_reason = f"{raw.kind} file (not log events)"
            return result
        try:
            body = _gunzip(data)
        except (EOFError, OSError, zlib.error) as exc:
            result.quarantined.append(Quarantined(raw.key, f"unreadable gzip: {type(exc).__name__}: {exc}"))
            return result
        export = _EXPORT_RE.search(raw.key)
        if export is not None:
            _parse_export(raw, body, unquote(export["group"]), export["stream"], result)
        else:
            _parse_firehose(raw, body, result)
        if not result.records_in and result.skipped_reason is None:
            result.skipped_reason = "no log events (empty object, or control messages only)"
        return result


def _gunzip(data: bytes) -> bytes:
    """Remove up to two gzip layers (CloudWatch's own, plus Firehose's when its compression is also GZIP)."""
    for _ in range(2):
        if data[:2] != b"\x1f\x8b":
            break
        data = gzip.decompress(data)
    return data


class _Rows:
    """Builds rows for one object, caching the partition per hour (strftime per event is measurable)."""

    def __init__(self, raw: RawKey, result: ObjectResult) -> None:
        self.raw, self.result = raw, result
        self.parts: dict[int, Partition] = {}
        self.index = 0  # unit counter for quarantine positions

    def quarantine(self, reason: str, unit: Any) -> None:
        if isinstance(unit, str):
            text = unit
        else:
            try:
                text = orjson.dumps(unit, default=str).decode()
            except TypeError:  # ints beyond 64 bits, NaN, nesting deeper than orjson's limit: json copes
                text = json.dumps(unit, default=str, ensure_ascii=False)
        if len(text) > _MAX_RAW:
            text = text[:_MAX_RAW] + "…[truncated; full record in raw object]"
        self.result.quarantined.append(Quarantined(self.raw.key, reason, self.index, text))
        self.index += 1

    def context(
        self, owner: str | None, group: str | None, stream: str | None, filters: list[str] | None
    ) -> dict[str, Any]:
        """Columns shared by every event of one subscription message (or one export file)."""
        is_acct = owner is not None and len(owner) == 12 and owner.isdigit()
        return {
            "owner": owner,
            "log_group": group,
            "log_stream": stream,
            "subscription_filters": filters,
            "source": NAME,
            "account_id": owner if is_acct else self.raw.account,
            "related_arns": [],
            "related_accounts": [owner] if is_acct else [],
        }

    def add(self, ms: int, message: str, ctx: dict[str, Any], event_id: str | None) -> None:
        event_time = _EPOCH + timedelta(milliseconds=ms)
        row = parse_message(message, event_time)
        row.update(ctx)
        row["event_id"] = event_id
        row["message"] = message
        row["event_time"] = event_time
        ip = row["ssh_src_ip"]
        row["related_ips"] = [ip] if ip else []
        users = [u for u in (row["ssh_user"], row["sudo_user"], row["sudo_run_as"], row["useradd_user"]) if u]
        row["related_users"] = unique(users) if len(users) > 1 else users
        hour = ms // 3_600_000
        part = self.parts.get(hour)
        if part is None:
            part = self.parts[hour] = Partition.for_event(self.raw.account, self.raw.region, event_time)
        self.result.rows.append((part, row))
        self.index += 1


def _parse_firehose(raw: RawKey, body: bytes, result: ObjectResult) -> None:
    rows = _Rows(raw, result)
    docs = _split_fast(body)
    if docs is None:
        _parse_stream(body.decode("utf-8", errors="replace"), rows)
        return
    for doc in docs:
        _message(doc, rows)


def _split_fast(body: bytes) -> list[Any] | None:
    """The common case fast: split at `}{"messageType"`, parse each piece with orjson; None → use the slow path.

    Inside a JSON string a `"` is always escaped, so `}{"messageType"` can only be an object boundary in valid
    JSON (a string ending in `}{` followed by `"messageType"` would not be valid JSON either). CloudWatch writes
    messageType first; any other order, any invalid UTF-8 or any broken object fails a piece, and the slow
    path (json.raw_decode over the text) then decodes precisely, object by object.
    """
    body = body.strip()
    if not body:
        return []
    pieces = body.split(b'}{"messageType"')
    try:
        if len(pieces) == 1:
            return [orjson.loads(body)]
        docs = [orjson.loads(pieces[0] + b"}")]
        docs += [orjson.loads(b'{"messageType"' + p + b"}") for p in pieces[1:-1]]
        docs.append(orjson.loads(b'{"messageType"' + pieces[-1]))
    except orjson.JSONDecodeError:
        return None
    return docs


def _parse_stream(text: str, rows: _Rows) -> None:
    """Decode concatenated JSON values one at a time; a broken object is one quarantined unit, then resync.

    raw_decode reads exactly one value and reports where it ended, so `}{` inside a message string cannot
    confuse it. After a failure the decoder resumes at the next `{"messageType"` (a truncated last object
    simply has none), keeping every later object.
    """
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in _WS:
            pos += 1
        if pos >= n:
            return
        try:
            doc, end = _DECODER.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nesting too deep"
            nxt = text.find('{"messageType"', pos + 1)
            stop = n if nxt < 0 else nxt
            rows.quarantine(f"undecodable JSON object at offset {pos}: {why}", text[pos:stop])
            pos = stop
            continue
        _message(doc, rows)
        pos = end


def _message(doc: Any, rows: _Rows) -> None:
    """One subscription message: skip control messages, emit each event or quarantine it."""
    if not isinstance(doc, dict):
        rows.quarantine(f"JSON value is {type(doc).__name__}, not a subscription message", doc)
        return
    mtype = doc.get("messageType")
    if mtype == "CONTROL_MESSAGE":
        return
    events = doc.get("logEvents")
    if mtype != "DATA_MESSAGE" or not isinstance(events, list):
        rows.quarantine("not a DATA_MESSAGE with a logEvents list", doc)
        return
    sf = doc.get("subscriptionFilters")
    filters = [f for f in sf if isinstance(f, str)] if isinstance(sf, list) else None
    ctx = rows.context(_str(doc.get("owner")), _str(doc.get("logGroup")), _str(doc.get("logStream")), filters)
    for ev in events:
        if not isinstance(ev, dict):
            rows.quarantine(f"log event is {type(ev).__name__}, not an object", ev)
            continue
        ms, message = ev.get("timestamp"), ev.get("message")
        if isinstance(ms, float) and ms.is_integer():
            ms = int(ms)
        if not isinstance(ms, int) or isinstance(ms, bool) or not 0 <= ms <= _MAX_MS:
            rows.quarantine("log event without a valid epoch-ms timestamp", ev)
            continue
        if not isinstance(message, str):
            rows.quarantine("log event without a string message", ev)
            continue
        eid = ev.get("id")
        rows.add(ms, message, ctx, eid if isinstance(eid, str) else _str(eid))


def _str(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _parse_export(raw: RawKey, body: bytes, group: str, stream: str, result: ObjectResult) -> None:
    """Export-task lines `<ISO-8601 timestamp> <message>`; untimestamped lines continue the previous event."""
    rows = _Rows(raw, result)
    ctx = rows.context(raw.account, group, stream, None)
    text = body.decode("utf-8", errors="replace")
    if text.endswith("\n"):
        text = text[:-1]
    if not text:
        return
    pending: tuple[int, list[str]] | None = None
    for line in text.split("\n"):
        m = _EXPORT_TS.match(line)
        ms = _iso_ms(m.group()[:-1]) if m is not None else None
        if m is None or ms is None:
            if pending is None:
                rows.quarantine("export line without a leading timestamp", line)
            else:
                pending[1].append(line)
            continue
        if pending is not None:
            rows.add(pending[0], "\n".join(pending[1]), ctx, None)
        pending = (ms, [line[m.end() :]])
    if pending is not None:
        rows.add(pending[0], "\n".join(pending[1]), ctx, None)


def _iso_ms(ts: str) -> int | None:
    try:
        t = datetime.fromisoformat(ts[:-1] + "+00:00" if ts.endswith("Z") else ts)
    except ValueError:
        if "." not in ts:
            return None
        head, _, frac = ts.partition(".")
        digits = len(frac) - len(frac.lstrip("0123456789"))
        return _iso_ms(head + "." + frac[: min(digits, 6)] + frac[digits:])
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    ms = (t - _EPOCH) // timedelta(milliseconds=1)
    return ms if 0 <= ms <= _MAX_MS else None


SOURCE = CloudWatchSource()
