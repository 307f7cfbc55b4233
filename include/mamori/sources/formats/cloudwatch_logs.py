"""CloudWatch Logs delivered to S3: the transport every log type that travels through CloudWatch Logs shares.

CloudWatch Logs is a *transport*: it carries EC2 syslog lines, Route 53 Resolver query logs (JSON), VPC Flow
Logs, application logs... in the same envelopes. This module reads the envelopes and nothing else; a source
built on it (:class:`CloudWatchLogsSource`) adds one *format*, which turns one log event's message into that
source's columns. So a second log type delivered through CloudWatch Logs is one more source folder.

Two landings, both under mamori's documented key conventions (the prefixes are user-configured in AWS, so
mamori fixes them; the account and region must be in the key because the payload carries no region). Each
format has its own Firehose delivery stream and its own key segment (:class:`Layout`), so a key says which
format its events are in without opening it:

1. Subscription filter → Kinesis Data Firehose → S3 (the continuous path). Firehose prefix
   ``AWSLogs/<acct>/<segment>/<region>/`` followed by its default ``YYYY/MM/DD/HH/`` (UTC arrival time):
   ``AWSLogs/<acct>/<segment>/<region>/YYYY/MM/DD/HH/<delivery-stream>-<n>-YYYY-MM-DD-HH-MM-SS-<uuid>.gz``.
   CloudWatch gzips each record it hands Firehose and Firehose concatenates records, so an object is a
   multi-member gzip whose text is JSON objects back to back with no separator (``}{``). Each is a
   DATA_MESSAGE ``{"messageType", "owner", "logGroup", "logStream", "subscriptionFilters", "logEvents": [{"id",
   "timestamp" (epoch ms), "message"}]}`` or a CONTROL_MESSAGE (a health check: skipped, not data). When
   Firehose is also set to GZIP the object is gzip twice; both layers are removed.

2. CreateExportTask → S3 (backfills / one-off investigations). AWS writes
   ``<destinationPrefix>/<task-id>/<log-stream>/000000.gz`` with lines ``<ISO-8601 timestamp> <message>``; mamori's
   destinationPrefix is ``AWSLogs/<acct>/<export segment>/<region>/<log-group>`` where the log group is
   percent-encoded (``urllib.parse.quote(name, safe="")``: ``/ec2/var/log/secure`` → ``%2Fec2%2Fvar%2Flog%2Fsecure``)
   so it is one key segment and decodes back exactly (``%`` cannot occur in a log group name). Export keys carry
   no date, so the lister walks every task folder of every exported group on each window (one LIST per group
   plus one per task folder); the cost grows with export history, so expire or move old exports with a
   lifecycle rule. Lines that do not start with a timestamp continue the previous event's message (an exported
   multi-line message); a continuation line that itself starts with a timestamp is indistinguishable from a
   new event, a limit of the export format.

Unit policy: every log event becomes exactly one row or one quarantine entry (the format decides which, with a
reason: :class:`Reject`). The transport itself quarantines, each as one unit, events that are not objects or
lack a usable timestamp or a string message, and a Firehose JSON object that cannot be decoded (earlier and
later objects in the stream are kept); a whole object that is not gzip is one unit without an index. Quarantine
``index`` counts units in object order (log events, and undecodable JSON objects as one unit each).

Invalid UTF-8 (an agent reading a binary or Latin-1 file) would make the whole stream undecodable: bytes are
decoded with ``errors="replace"`` first, so the bad bytes become U+FFFD in that message and every event is kept.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import orjson
import pyarrow as pa

from mamori.sources.base import ACCOUNT, REGION, ObjectResult, Partition, Quarantined, RawKey

_S = pa.string()
# Columns the transport fills for every format, first in each such table: where the event came from.
TRANSPORT_FIELDS: list[pa.Field] = [
    pa.field("owner", _S),
    pa.field("log_group", _S),
    pa.field("log_stream", _S),
    pa.field("subscription_filters", pa.list_(_S)),
    pa.field("event_id", _S),
]

_MAX_RAW = 256 * 1024  # quarantine keeps the unit's text up to this size; the raw object keeps the rest
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MS = 253402300799999  # 9999-12-31T23:59:59.999Z
_WS = " \t\n\r"
_EXPORT_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)? ")
_DECODER = json.JSONDecoder()
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


@dataclass(frozen=True)
class Layout:
    """Where one format's CloudWatch Logs deliveries land: the key segment after ``AWSLogs/<acct>/`` of its
    Firehose deliveries and (optionally) of its export tasks.

    Key patterns are ASCII only, ``\\d`` included (base.REGION says why).
    """

    firehose: str  # e.g. "CloudWatchLogs"
    export: str | None = None  # e.g. "CloudWatchLogsExport"; None = this format is not read from exports

    @functools.cached_property
    def firehose_re(self) -> re.Pattern[str]:
        return re.compile(
            rf"(?:^|/)AWSLogs/(?P<account>{ACCOUNT})/{re.escape(self.firehose)}/(?P<region>{REGION})"
            r"/\d{4}/\d{2}/\d{2}/\d{2}/[^/]+-\d+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[^/]+$",
            re.ASCII,
        )

    @functools.cached_property
    def export_re(self) -> re.Pattern[str] | None:
        if self.export is None:
            return None
        return re.compile(
            rf"(?:^|/)AWSLogs/(?P<account>{ACCOUNT})/{re.escape(self.export)}/(?P<region>{REGION})"
            rf"/(?P<group>[^/]+)/(?:(?P<task>{_UUID})/(?P<stream>.+)/\d{{6}}\.gz|(?P<probe>aws-logs-write-test))$",
            re.ASCII,
        )

    def classify(self, key: str) -> RawKey | None:
        m = self.firehose_re.search(key)
        if m is not None:
            return RawKey(key=key, account=m["account"], region=m["region"], kind="events")
        m = self.export_re.search(key) if self.export_re is not None else None
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
            out.append(f"AWSLogs/*/{self.firehose}/*/{day:%Y/%m/%d}/")
            day += timedelta(days=1)
        if self.export is not None:
            # Exports are not date-keyed: expand account / region / log group / task folder one level at a
            # time, and let the landing-time filter pick the window's objects (the module docstring: cost).
            out.append(f"AWSLogs/*/{self.export}/*/*/*/")
        return out

    def export_origin(self, key: str) -> tuple[str, str] | None:
        """(log group, log stream) of an export-task key, None for a Firehose delivery."""
        m = self.export_re.search(key) if self.export_re is not None else None
        if m is None or m["probe"]:
            return None
        return unquote(m["group"]), m["stream"]  # percent-decoded exactly (see the module docstring)


@dataclass(frozen=True)
class Envelope:
    """What every event of one subscription message (or one export file) shares: who delivered it, from where.

    `owner` is the message's claim (text, attacker-influenced like everything in the object); `account_id` is
    the owner when it is a 12-digit account, else the key's account.
    """

    owner: str | None
    log_group: str | None
    log_stream: str | None
    subscription_filters: list[str] | None
    account_id: str

    @property
    def owner_is_account(self) -> bool:
        o = self.owner
        return o is not None and len(o) == 12 and o.isdigit()

    @functools.cached_property
    def columns(self) -> dict[str, Any]:
        """The transport's columns of each row (a format may override account_id / related_accounts)."""
        return {
            "owner": self.owner,
            "log_group": self.log_group,
            "log_stream": self.log_stream,
            "subscription_filters": self.subscription_filters,
            "account_id": self.account_id,
            "related_accounts": [self.owner] if self.owner_is_account else [],
        }


@dataclass(frozen=True)
class Reject:
    """A format's verdict that an event's message is not a record of its log type: quarantined with `reason`."""

    reason: str


@dataclass
class _Units:
    """Rows and quarantine entries of one object, in unit order; caches the partition per hour."""

    raw: RawKey
    result: ObjectResult
    row_of: Any  # CloudWatchLogsSource.row, bound
    parts: dict[int, Partition] = field(default_factory=dict)
    index: int = 0  # unit counter for quarantine positions

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

    def envelope(
        self, owner: str | None, group: str | None, stream: str | None, filters: list[str] | None
    ) -> Envelope:
        is_acct = owner is not None and len(owner) == 12 and owner.isdigit()
        return Envelope(
            owner, group, stream, filters, owner if owner is not None and is_acct else self.raw.account
        )

    def event(self, ms: int, message: str, env: Envelope, event_id: str | None, unit: Any) -> None:
        event_time = _EPOCH + timedelta(milliseconds=ms)
        row = self.row_of(message, event_time, env)
        if isinstance(row, Reject):
            self.quarantine(row.reason, unit)
            return
        out = env.columns.copy()
        out.update(row)
        out["event_id"] = event_id
        out["event_time"] = event_time
        hour = ms // 3_600_000
        part = self.parts.get(hour)
        if part is None:
            part = self.parts[hour] = Partition.for_event(self.raw.account, self.raw.region, event_time)
        self.result.rows.append((part, out))
        self.index += 1


class CloudWatchLogsSource:
    """A log source whose events arrive through CloudWatch Logs: the transport, with one format on top.

    A subclass sets name / table / schema (TRANSPORT_FIELDS first, then its own, then the common columns) and
    `layout`, and implements :meth:`row`. Everything about envelopes, keys and broken deliveries is here.
    """

    name: str
    table: str
    schema: pa.Schema
    layout: Layout

    def row(self, message: str, event_time: datetime, env: Envelope) -> dict[str, Any] | Reject:
        """The format's columns of one event (without the transport's: they are added), or a Reject.

        `event_time` is the event's CloudWatch timestamp (UTC); the row's event_time is always that instant.
        Keys the format returns override the transport's (account_id, related_accounts)."""
        raise NotImplementedError

    def classify(self, key: str) -> RawKey | None:
        return self.layout.classify(key)

    def list_prefixes(self, start: datetime, end: datetime) -> list[str]:
        return self.layout.list_prefixes(start, end)

    def parse_object(self, raw: RawKey, data: bytes) -> ObjectResult:
        result = ObjectResult(key=raw.key)
        if raw.kind != "events":
            result.skipped_reason = f"{raw.kind} file (not log events)"
            return result
        try:
            body = gunzip(data)
        except (EOFError, OSError, zlib.error) as exc:
            result.quarantined.append(Quarantined(raw.key, f"unreadable gzip: {type(exc).__name__}: {exc}"))
            return result
        units = _Units(raw, result, self.row)
        origin = self.layout.export_origin(raw.key)
        if origin is not None:
            _parse_export(body, origin[0], origin[1], units)
        else:
            _parse_firehose(body, units)
        if not result.records_in and result.skipped_reason is None:
            result.skipped_reason = "no log events (empty object, or control messages only)"
        return result


def gunzip(data: bytes) -> bytes:
    """Remove up to two gzip layers (CloudWatch's own, plus Firehose's when its compression is also GZIP)."""
    for _ in range(2):
        if data[:2] != b"\x1f\x8b":
            break
        data = gzip.decompress(data)
    return data


def _parse_firehose(body: bytes, units: _Units) -> None:
    docs = _split_fast(body)
    if docs is None:
        _parse_stream(body.decode("utf-8", errors="replace"), units)
        return
    for doc in docs:
        _message(doc, units)


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


def _parse_stream(text: str, units: _Units) -> None:
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
            units.quarantine(f"undecodable JSON object at offset {pos}: {why}", text[pos:stop])
            pos = stop
            continue
        _message(doc, units)
        pos = end


def _message(doc: Any, units: _Units) -> None:
    """One subscription message: skip control messages, hand each event to the format or quarantine it."""
    if not isinstance(doc, dict):
        units.quarantine(f"JSON value is {type(doc).__name__}, not a subscription message", doc)
        return
    mtype = doc.get("messageType")
    if mtype == "CONTROL_MESSAGE":
        return
    events = doc.get("logEvents")
    if mtype != "DATA_MESSAGE" or not isinstance(events, list):
        units.quarantine("not a DATA_MESSAGE with a logEvents list", doc)
        return
    sf = doc.get("subscriptionFilters")
    filters = [f for f in sf if isinstance(f, str)] if isinstance(sf, list) else None
    env = units.envelope(
        _str(doc.get("owner")), _str(doc.get("logGroup")), _str(doc.get("logStream")), filters
    )
    for ev in events:
        if not isinstance(ev, dict):
            units.quarantine(f"log event is {type(ev).__name__}, not an object", ev)
            continue
        ms, message = ev.get("timestamp"), ev.get("message")
        if isinstance(ms, float) and ms.is_integer():
            ms = int(ms)
        if not isinstance(ms, int) or isinstance(ms, bool) or not 0 <= ms <= _MAX_MS:
            units.quarantine("log event without a valid epoch-ms timestamp", ev)
            continue
        if not isinstance(message, str):
            units.quarantine("log event without a string message", ev)
            continue
        eid = ev.get("id")
        units.event(ms, message, env, eid if isinstance(eid, str) else _str(eid), ev)


def _str(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _parse_export(body: bytes, group: str, stream: str, units: _Units) -> None:
    """Export-task lines `<ISO-8601 timestamp> <message>`; untimestamped lines continue the previous event."""
    env = units.envelope(units.raw.account, group, stream, None)
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
                units.quarantine("export line without a leading timestamp", line)
            else:
                pending[1].append(line)
            continue
        if pending is not None:
            message = "\n".join(pending[1])
            units.event(pending[0], message, env, None, message)
        pending = (ms, [line[m.end() :]])
    if pending is not None:
        message = "\n".join(pending[1])
        units.event(pending[0], message, env, None, message)


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
