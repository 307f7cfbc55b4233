"""CloudTrail: delivery files `{"Records": [...]}` under AWSLogs/[o-org/]<acct>/CloudTrail/<region>/Y/M/D/.

The table mirrors the CloudTrail table AWS documents for Athena (lower-case top-level columns, a
`useridentity` struct, volatile objects as JSON text) so detection authors reuse what they already know and
the same SQL runs on Athena. Keys are matched case-insensitively, as Athena's Hive JSON SerDe does, so a
producer that lower-cases keys still lands in the same columns.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from mamori.sources.base import (
    ACCOUNT,
    COMMON_FIELDS,
    FLUSH_ROWS,
    LARGE_OBJECT_BYTES,
    REGION,
    ColumnarResult,
    Emit,
    LargeObject,
    ObjectResult,
    Partition,
    Quarantined,
    RawKey,
    RowBuffer,
    is_ip,
    split_rows,
    unique,
)

NAME = "cloudtrail"

_S = pa.string()
_SESSION_ISSUER = pa.struct(
    [("type", _S), ("principalid", _S), ("arn", _S), ("accountid", _S), ("username", _S)]
)
USERIDENTITY = pa.struct(
    [
        ("type", _S),
        ("principalid", _S),
        ("arn", _S),
        ("accountid", _S),
        ("invokedby", _S),
        ("accesskeyid", _S),
        ("username", _S),
        ("onbehalfof", pa.struct([("userid", _S), ("identitystorearn", _S)])),
        (
            "sessioncontext",
            pa.struct(
                [
                    ("attributes", pa.struct([("mfaauthenticated", _S), ("creationdate", _S)])),
                    ("sessionissuer", _SESSION_ISSUER),
                    ("ec2roledelivery", _S),
                    ("sourceidentity", _S),
                ]
            ),
        ),
        ("identityprovider", _S),
    ]
)
RESOURCES = pa.list_(pa.struct([("arn", _S), ("accountid", _S), ("type", _S)]))
ADDENDUM = pa.struct(
    [("reason", _S), ("updatedfields", _S), ("originalrequestid", _S), ("originaleventid", _S)]
)
TLSDETAILS = pa.struct([("tlsversion", _S), ("ciphersuite", _S), ("clientprovidedhostheader", _S)])

# (column, arrow type, kind) where kind says how a raw value becomes the column:
#   str  - scalar as text (booleans as 'true'/'false', as the SerDe does); objects as JSON text
#   json - any value as JSON text (free-form per API, type-unstable: requestParameters & co.)
#   struct/list - nested, field names lower-cased
NATIVE_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    ("eventversion", _S, "str"),
    ("useridentity", USERIDENTITY, "struct"),
    ("eventtime", _S, "str"),
    ("eventsource", _S, "str"),
    ("eventname", _S, "str"),
    ("awsregion", _S, "str"),
    ("sourceipaddress", _S, "str"),
    ("useragent", _S, "str"),
    ("errorcode", _S, "str"),
    ("errormessage", _S, "str"),
    ("requestparameters", _S, "json"),
    ("responseelements", _S, "json"),
    ("additionaleventdata", _S, "json"),
    ("requestid", _S, "str"),
    ("eventid", _S, "str"),
    ("resources", RESOURCES, "list"),
    ("eventtype", _S, "str"),
    ("apiversion", _S, "str"),
    ("readonly", _S, "str"),
    ("recipientaccountid", _S, "str"),
    ("serviceeventdetails", _S, "json"),
    ("sharedeventid", _S, "str"),
    ("vpcendpointid", _S, "str"),
    ("vpcendpointaccountid", _S, "str"),
    ("eventcategory", _S, "str"),
    ("managementevent", _S, "str"),
    ("insightdetails", _S, "json"),
    ("addendum", ADDENDUM, "struct"),
    ("sessioncredentialfromconsole", _S, "str"),
    ("edgedevicedetails", _S, "json"),
    ("tlsdetails", TLSDETAILS, "struct"),
]

SCHEMA = pa.schema([pa.field(n, t) for n, t, _ in NATIVE_COLUMNS] + COMMON_FIELDS)

# ASCII only (base.REGION says why); a key of another shape under these prefixes is unclaimed and alerted.
_KEY_RE = re.compile(
    rf"(?:^|/)AWSLogs/(?:(?P<org>o-[a-z0-9]{{10,32}})/)?(?P<account>{ACCOUNT})/(?P<kind>CloudTrail"
    rf"|CloudTrail-Digest|CloudTrail-Insight)/(?P<region>{REGION})/[0-9]{{4}}/[0-9]{{2}}/[0-9]{{2}}/"
    r"[^/]+\.json(?:\.gz)?$",
    re.ASCII,
)
_KIND = {"CloudTrail": "events", "CloudTrail-Digest": "digest", "CloudTrail-Insight": "insight"}
_MAX_RAW = 256 * 1024  # quarantine keeps the record text up to this size; the raw object keeps the rest


class CloudTrailSource:
    """CloudTrail management/data events; digests are routed away, Insights kept out of the event table."""

    name = NAME
    table = "cloudtrail"
    schema = SCHEMA

    def classify(self, key: str) -> RawKey | None:
        m = _KEY_RE.search(key)
        if not m:
            return None
        return RawKey(key=key, account=m["account"], region=m["region"], kind=_KIND[m["kind"]])

    def list_prefixes(self, start: datetime, end: datetime) -> list[str]:
        # Objects are keyed by delivery date; one day of slack before the window covers files that land just
        # after midnight and keys whose timestamp precedes their landing. `*` segments are listed one level at
        # a time (accounts, regions), never as a recursive listing of the bucket.
        days = []
        day = (start - timedelta(days=1)).date()
        while day <= end.date():
            days.append(day)
            day += timedelta(days=1)
        out = []
        for d in days:
            # Digest and Insights prefixes are listed too, so what lands there is counted as routed away
            # (skipped with a reason in the manifest) instead of being invisible.
            for kind in ("CloudTrail", "CloudTrail-Digest", "CloudTrail-Insight"):
                tail = f"{kind}/*/{d:%Y/%m/%d}/"
                out.append(f"AWSLogs/*/{tail}")
                out.append(f"AWSLogs/o-*/*/{tail}")
        return out

    def parse_object(self, raw: RawKey, data: bytes) -> ObjectResult:
        result = ObjectResult(key=raw.key)
        records = _open(raw, data, result)
        for i, rec in enumerate(records or ()):
            row, reason = normalize_record(rec, raw, self.name)
            if row is None:
                result.quarantined.append(Quarantined(raw.key, reason, i, _raw_text(rec)))
            else:
                part = Partition.for_event(raw.account, raw.region, row["event_time"])
                result.rows.append((part, row))
        return result

    def columnar(self, emit: Emit) -> CloudTrailColumns:
        """The batch's columnar parser: parse_object's rows as Arrow tables (see "columnar path" below)."""
        return CloudTrailColumns(emit, self.name)


def _open(raw: RawKey, data: bytes, result: ObjectResult) -> list[Any] | None:
    """The object's Records list, or None with the object-level outcome (skip or quarantine) in `result`."""
    return _decode(raw, data, result)[0]


def _decode(raw: RawKey, data: bytes, result: ObjectResult) -> tuple[list[Any] | None, bool]:
    """`_open`'s records, and whether they come from one parse of the whole document (not record by record
    after that parse failed): only those are the records drift sampling would decode from the object itself."""
    if raw.kind != "events":
        result.skipped_reason = f"{raw.kind} file (not event records)"
        return None, False
    try:
        text = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (EOFError, OSError, zlib.error) as exc:
        result.quarantined.append(Quarantined(raw.key, f"unreadable gzip: {type(exc).__name__}: {exc}"))
        return None, False
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        # One record the parser refuses (nested deeper than its 1024 levels, a raw NUL, a byte that is not
        # UTF-8) must not hide the others: if the container is intact, each record is parsed on its own.
        split = split_records(text)
        if split is None:
            result.quarantined.append(Quarantined(raw.key, f"not JSON: {exc}"))
        return split, False
    del text
    if not isinstance(doc, dict):
        result.quarantined.append(Quarantined(raw.key, "not a JSON object with Records"))
        return None, False
    records = _get_ci(doc, "records")
    if records is None:
        # A digest or other JSON that strayed under CloudTrail/: not events, nothing lost.
        result.skipped_reason = "JSON object without Records (digest or non-event file)"
        return None, False
    if not isinstance(records, list):
        result.quarantined.append(Quarantined(raw.key, "Records is not a list"))
        return None, False
    return records, True


class Unparsed:
    """A record of an intact Records array that the JSON parser refused: quarantined alone, as its own text."""

    __slots__ = ("reason", "text")

    def __init__(self, reason: str, text: str) -> None:
        self.reason, self.text = reason, text


# Bytes that matter to the structure of JSON text. None of them occurs inside a multi-byte UTF-8 sequence, so
# the splitter below can scan bytes that are not valid UTF-8 (or hold a raw NUL) without misreading them.
_STRUCTURE = re.compile(rb'[\[\]{}",]')
_STRING_TAIL = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # from after an opening quote to its closer
_SPACE = re.compile(rb"[ \t\n\r]*")  # JSON's whitespace
_SCALAR = re.compile(rb"[-+.0-9A-Za-z]+")  # numbers, true, false, null (orjson judges which)
_CLOSER = {ord("["): ord("]"), ord("{"): ord("}")}


def split_records(text: bytes) -> list[Any] | None:
    """The elements of the top-level `Records` array, each parsed on its own (an `Unparsed` for one the JSON
    parser refuses), or None when the container itself is broken: not one object, a member without its value,
    brackets or quotes that do not close, a second `Records` key, or bytes after the object.

    Only the container's structure is checked here (quotes, escapes, brackets, commas, colons, all counted
    iteratively so depth costs nothing); each element's JSON is judged by orjson, exactly as a whole-object
    parse would have judged it. Used only after that whole-object parse failed.
    """
    pos = _skip(text, 0)
    if text[pos : pos + 1] != b"{":
        return None
    pos = _skip(text, pos + 1)
    records: list[Any] | None = None
    if text[pos : pos + 1] == b"}":
        pos += 1
    else:
        while True:
            if text[pos : pos + 1] != b'"':
                return None
            end = _string_end(text, pos)
            if end is None:
                return None
            try:
                name = orjson.loads(text[pos:end])
            except orjson.JSONDecodeError:
                return None
            pos = _skip(text, end)
            if text[pos : pos + 1] != b":":
                return None
            pos = _skip(text, pos + 1)
            if name.lower() == "records":
                if records is not None or text[pos : pos + 1] != b"[":
                    return None  # two spellings of Records, or Records not a list: the whole object decides
                spans = _elements(text, pos)
                if spans is None:
                    return None
                pos, elements = spans
                records = [_parse_element(text[a:b]) for a, b in elements]
            else:
                end = _value_end(text, pos)
                if end is None:
                    return None
                pos = end
            pos = _skip(text, pos)
            sep = text[pos : pos + 1]
            pos = _skip(text, pos + 1)
            if sep == b"}":
                break
            if sep != b",":
                return None
    if records is None or _skip(text, pos) != len(text):
        return None
    return records


def _skip(text: bytes, pos: int) -> int:
    """Position of the first byte from `pos` on that is not whitespace."""
    m = _SPACE.match(text, pos)
    return pos if m is None else m.end()


def _string_end(text: bytes, pos: int) -> int | None:
    """Position after the string opening at `pos` (a quote), or None when it never closes."""
    m = _STRING_TAIL.match(text, pos + 1)
    return None if m is None else m.end()


def _value_end(text: bytes, pos: int) -> int | None:
    """Position after the value starting at `pos`: a string, a bracketed value (closers must match), a scalar."""
    first = text[pos : pos + 1]
    if first == b'"':
        return _string_end(text, pos)
    if first not in (b"[", b"{"):
        m = _SCALAR.match(text, pos)
        return None if m is None else m.end()
    stack = [_CLOSER[text[pos]]]
    pos += 1
    while stack:
        m = _STRUCTURE.search(text, pos)
        if m is None:
            return None
        c, pos = text[m.start()], m.end()
        if c == 0x22:  # '"'
            end = _string_end(text, m.start())
            if end is None:
                return None
            pos = end
        elif c in _CLOSER:
            stack.append(_CLOSER[c])
        elif c != 0x2C and stack.pop() != c:  # a closer that does not match (commas separate nothing here)
            return None
    return pos


def _elements(text: bytes, pos: int) -> tuple[int, list[tuple[int, int]]] | None:
    """(position after the array, each element's span) for the array opening at `pos`, or None if broken."""
    spans: list[tuple[int, int]] = []
    pos = _skip(text, pos + 1)
    if text[pos : pos + 1] == b"]":
        return pos + 1, spans
    while True:
        end = _value_end(text, pos)
        if end is None or end == pos:
            return None
        spans.append((pos, end))
        pos = _skip(text, end)
        sep = text[pos : pos + 1]
        if sep == b"]":
            return pos + 1, spans
        if sep != b",":
            return None
        pos = _skip(text, pos + 1)


def _parse_element(piece: bytes) -> Any:
    try:
        return orjson.loads(piece)
    except orjson.JSONDecodeError as exc:
        text = piece[: _MAX_RAW + 4].decode("utf-8", "backslashreplace")  # invalid bytes shown as \xNN
        if len(text) > _MAX_RAW or len(piece) > _MAX_RAW + 4:
            text = text[:_MAX_RAW] + "…[truncated; full record in raw object]"
        return Unparsed(f"record is not valid JSON: {str(exc)[:200]}", text)


def normalize_record(rec: Any, raw: RawKey, source: str = NAME) -> tuple[dict[str, Any] | None, str]:
    """One CloudTrail record → one row of SCHEMA, or (None, reason) when it cannot be trusted as an event."""
    if type(rec) is Unparsed:
        return None, rec.reason
    if not isinstance(rec, dict):
        return None, f"record is {type(rec).__name__}, not an object"
    lowered: dict[str, Any] = {}
    for k, v in rec.items():
        lk = k.lower()
        if lk in lowered and lowered[lk] != v:
            return None, f"ambiguous keys: {lk!r} appears twice with different values"
        lowered[lk] = v
    details = lowered.get("insightdetails")
    if isinstance(details, dict):
        # Insights events name the API they are about only inside insightDetails; lift the names to the
        # top-level columns so the insights table is queried like the event table.
        for col, key in (("eventsource", "eventSource"), ("eventname", "eventName")):
            if lowered.get(col) is None and isinstance(details.get(key), str):
                lowered[col] = details[key]
    for required in ("eventtime", "eventname", "eventsource"):
        if not isinstance(lowered.get(required), str) or not lowered[required]:
            return None, f"missing or non-string {required}"
    event_time = parse_event_time(lowered["eventtime"])
    if event_time is None:
        return None, f"invalid eventTime {str(lowered['eventtime'])[:64]!r}"

    row: dict[str, Any] = {}
    try:
        for col, convert in _PLAN:
            v = lowered.get(col)
            row[col] = None if v is None else convert(v)
    except orjson.JSONEncodeError as exc:  # orjson reads deeper nesting than it writes
        return None, f"value cannot be stored as JSON text: {exc}"
    ui = row["useridentity"] or {}
    sc = ui.get("sessioncontext") or {}
    issuer = sc.get("sessionissuer") or {}
    params = lowered.get("requestparameters")
    params = {k.lower(): v for k, v in params.items()} if isinstance(params, dict) else {}
    resources = row["resources"] or []
    row.update(
        event_time=event_time,
        source=source,
        account_id=row["recipientaccountid"] or ui.get("accountid") or raw.account,
        related_ips=unique([row["sourceipaddress"]] if is_ip(row["sourceipaddress"]) else []),
        related_users=unique([ui.get("username"), issuer.get("username"), params.get("username")]),
        related_arns=unique([ui.get("arn"), issuer.get("arn"), *(r.get("arn") for r in resources if r)]),
        related_accounts=unique(
            [ui.get("accountid"), row["recipientaccountid"], *(r.get("accountid") for r in resources if r)]
        ),
    )
    return row, ""


def parse_event_time(value: str) -> datetime | None:
    """CloudTrail writes `2026-11-01T10:00:00Z`; accept fractional seconds and offsets, normalise to UTC."""
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        return None
    try:
        return t.astimezone(UTC)
    except OverflowError:  # year 1 at +01:00, year 9999 at -01:00: an invalid record, not a failed batch
        return None


def _get_ci(d: dict[str, Any], key: str) -> Any:
    for k, v in d.items():
        if k.lower() == key:
            return v
    return None


def _as_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    return orjson.dumps(v).decode()


def _converter(typ: pa.DataType) -> Callable[[Any], Any]:
    """Build, once per Arrow type, the function that shapes a JSON value to it (struct fields matched
    case-insensitively, scalars as text). Walking pyarrow's type objects per value costs ~4x the parse."""
    if pa.types.is_struct(typ):
        fields = [(typ.field(i).name, _converter(typ.field(i).type)) for i in range(typ.num_fields)]

        def struct(v: Any) -> Any:
            if not isinstance(v, dict):
                return None
            lv = {k.lower(): x for k, x in v.items()}
            out = {}
            for name, conv in fields:
                x = lv.get(name)
                out[name] = None if x is None else conv(x)
            return out

        return struct
    if pa.types.is_list(typ):
        item = _converter(typ.value_type)

        def listing(v: Any) -> Any:
            return [item(x) for x in (v if isinstance(v, list) else [v]) if x is not None]

        return listing
    return _as_text


def _json_text(v: Any) -> str:
    return orjson.dumps(v).decode()


def _raw_text(rec: Any) -> str:
    if type(rec) is Unparsed:
        return rec.text  # already bounded
    try:
        text = orjson.dumps(rec).decode()
    except orjson.JSONEncodeError:  # deeper than orjson writes: the stdlib encoder has no such limit
        text = json.dumps(rec, ensure_ascii=False)
    return text if len(text) <= _MAX_RAW else text[:_MAX_RAW] + "…[truncated; full record in raw object]"


# (column, converter) built once: per-record work is then dict lookups and plain function calls.
_PLAN: list[tuple[str, Callable[[Any], Any]]] = [
    (col, _json_text if kind == "json" else _converter(typ)) for col, typ, kind in NATIVE_COLUMNS
]


# -- columnar path ------------------------------------------------------------------------------------------------
# parse_object defines the semantics; the columnar parser produces the same rows without one dict per record.
# Most objects are written exactly as AWS writes them: camelCase keys, text scalars (readOnly and
# managementEvent as booleans), objects in the JSON columns. For an object whose records all have that shape,
# values are gathered column by column (list comprehensions, no per-record dict), nested columns are converted
# once per distinct value (a trail repeats the same few principals), and Arrow arrays are built once per
# ~8k rows across objects, since Arrow's per-call cost would dominate a 40-record delivery file. Anything else
# (keys in another case, a record to quarantine, Insights' lifted names, values too deep to serialize) sends
# that object, or that piece of a streamed object, through normalize_record: correct first, fast where the
# input is ordinary. tests/sources/test_columnar.py compares both paths on generated, documented and hostile
# input.

_CANONICAL = {
    c.lower(): c
    for c in (
        "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
        "userAgent", "errorCode", "errorMessage", "requestParameters", "responseElements", "additionalEventData",
        "requestID", "eventID", "resources", "eventType", "apiVersion", "readOnly", "recipientAccountId",
        "serviceEventDetails", "sharedEventID", "vpcEndpointId", "vpcEndpointAccountId", "eventCategory",
        "managementEvent", "insightDetails", "addendum", "sessionCredentialFromConsole", "edgeDeviceDetails",
        "tlsDetails",
    )
}  # fmt: skip
assert set(_CANONICAL) == {c for c, _, _ in NATIVE_COLUMNS}
_TEXT = [(c, _CANONICAL[c]) for c, _, kind in NATIVE_COLUMNS if kind == "str"]
_JSON = [(c, _CANONICAL[c]) for c, _, kind in NATIVE_COLUMNS if kind == "json"]
_NESTED = [
    (c, _CANONICAL[c], typ, _converter(typ)) for c, typ, kind in NATIVE_COLUMNS if kind in ("struct", "list")
]
_STR = {str}
_STR_OR_NONE = frozenset({str, type(None)})
_BOOL_OR_NONE = frozenset({bool, type(None)})
_REQUIRED = ("eventtime", "eventname", "eventsource")  # non-empty text, or the record is quarantined
_SHAPES: dict[frozenset[str], bool] = {}
_HOUR_US = 3_600_000_000
_EPOCH_NAIVE = datetime(1970, 1, 1)
_DUMPS = orjson.dumps
_UNSEEN: Any = object()
_SECOND_US = {f"{sec:02d}": sec * 1_000_000 for sec in range(60)}  # a leap second (60) takes the slow path
_STRINGS = pa.list_(_S)


def _plain_shape(keys: set[str]) -> bool:
    """True when every key is AWS's spelling of a column or names no column at all, no two keys of the object
    fold to the same lower-case name, and there are no Insights details to lift (normalize_record handles
    those cases, whose results depend on key case and values)."""
    frozen = frozenset(keys)
    ok = _SHAPES.get(frozen)
    if ok is None:
        lowered = [k.lower() for k in frozen]
        ok = (
            len(set(lowered)) == len(frozen)
            and all(_CANONICAL.get(low, k) == k for k, low in zip(frozen, lowered, strict=True))
            and "insightdetails" not in lowered
        )
        if len(_SHAPES) > 4096:  # producers vary the key set a little; do not grow without bound
            _SHAPES.clear()
        _SHAPES[frozen] = ok
    return ok


class _Distinct:
    """One nested column's distinct values (keyed by their exact JSON text), converted once each."""

    def __init__(self, convert: Callable[[Any], Any]) -> None:
        self.convert = convert
        self.seen: dict[bytes, int] = {}
        self.values: list[Any] = []
        self.derived: list[Any] = []  # per distinct value: what the entity arrays need from it


class CloudTrailColumns:
    """The columnar parser of one batch (see the section comment); emits in input order."""

    streams_large_objects = True  # parse() takes a LargeObject and reads it as a stream (twice)

    def __init__(self, emit: Emit, source: str = NAME) -> None:
        self.emit, self.source = emit, source
        self.rows = RowBuffer(SCHEMA, emit)  # rows of the objects the row path converts
        self.origin = 0  # the current object's origin number
        self._times: dict[str, int | None] = {}  # eventTime text -> epoch µs (None: not an instant)
        self._minutes: dict[str, int | None] = {}  # `2026-11-01T10:00` of AWS's form -> epoch µs (or None)
        self._parts: dict[tuple[str, str, int], int] = {}
        self._part_list: list[Partition] = []
        self._reset()

    def _reset(self) -> None:
        self.n = 0
        self.text: dict[str, list[Any]] = {c: [] for c, _ in _TEXT}
        self.json: dict[str, list[bytes | None]] = {c: [] for c, _ in _JSON}
        self.nested: dict[str, list[int | None]] = {c: [] for c, _, _, _ in _NESTED}
        self.distinct = {c: _Distinct(conv) for c, _, _, conv in _NESTED}
        self.users: list[Any] = []  # requestParameters' userName (any case), for related_users
        self.origins: list[int] = []
        self.us: list[int] = []
        self.part: list[int] = []

    def parse(self, raw: RawKey, data: bytes | LargeObject, origin: int = 0) -> ColumnarResult:
        result = ColumnarResult(key=raw.key)
        self.origin = origin
        if isinstance(data, LargeObject):
            big = raw.kind == "events" and data.head(2) == b"\x1f\x8b"
        else:
            big = raw.kind == "events" and len(data) > STREAM_MIN_BYTES and data[:2] == b"\x1f\x8b"
        if big and _validate_stream(data):
            # Larger than the Python objects of a whole-object parse should be: convert it piece by piece.
            base = 0
            for piece in _record_pieces(data):
                self._add(piece, base, raw, result)
                base += len(piece)
            return result
        if isinstance(data, LargeObject):  # not streamable: the whole-object path decides (quarantine, rows)
            data = data.read_all()
        obj = ObjectResult(key=raw.key)
        records, whole = _decode(raw, data, obj)
        result.quarantined, result.skipped_reason = obj.quarantined, obj.skipped_reason
        if whole:
            result.records = records  # read only from here on: drift sampling sees the records as decoded
        if records:
            self._add(records, 0, raw, result)
        return result

    def flush(self) -> None:
        self.rows.flush()
        self._flush_columns()

    def _flush_columns(self) -> None:
        if self.n:
            tables = self._tables()
            self._reset()
            for part, table, origin in tables:
                self.emit(part, table, origin)

    def _add(self, records: list[Any], base: int, raw: RawKey, result: ColumnarResult) -> None:
        # At most one of the row buffer and the gathered columns holds rows, so emission keeps input order.
        self.rows.flush()
        if self._gather(records, raw):
            result.rows_out += len(records)
            if self.n >= FLUSH_ROWS:
                self._flush_columns()
            return
        self._flush_columns()
        rows: list[tuple[Partition, dict[str, Any]]] = []
        for i, rec in enumerate(records):
            row, reason = normalize_record(rec, raw, self.source)
            if row is None:
                result.quarantined.append(Quarantined(raw.key, reason, base + i, _raw_text(rec)))
            else:
                rows.append((Partition.for_event(raw.account, raw.region, row["event_time"]), row))
        result.rows_out += len(rows)
        self.rows.add(rows, self.origin)

    def _gather(self, records: list[Any], raw: RawKey) -> bool:
        """Append the records' values to the columns if they take the fast path; else leave nothing behind.

        Values that need Python to become text (and may fail to) are converted here, before anything is
        appended, so an object takes the fast path whole or not at all.
        """
        if not records or not all(type(r) is dict for r in records):
            return False
        keys = set().union(*records)
        if not _plain_shape(keys):
            return False
        n = len(records)
        text: dict[str, list[Any] | None] = {}
        json_: dict[str, list[bytes | None] | None] = {}
        nested: dict[str, list[int | None] | None] = {}
        try:
            for col, name in _TEXT:
                if name not in keys:
                    text[col] = None  # absent from every record: a run of nulls
                    continue
                vals = [r.get(name) for r in records]
                types = set(map(type, vals))
                if col in _REQUIRED:
                    if types != _STR or "" in vals:  # missing, null, empty or not text: the row path decides
                        return False
                elif not _STR_OR_NONE.issuperset(types):
                    if _BOOL_OR_NONE.issuperset(types):
                        vals = [None if v is None else ("true" if v else "false") for v in vals]
                    else:
                        vals = [None if v is None else _as_text(v) for v in vals]
                text[col] = vals
            if any(text[col] is None for col in _REQUIRED):
                return False
            for col, name in _JSON:
                json_[col] = (
                    [None if (v := r.get(name)) is None else _DUMPS(v) for r in records]
                    if name in keys
                    else None
                )
            for col, name, _, _ in _NESTED:
                if name not in keys:
                    nested[col] = None
                    continue
                d = self.distinct[col]
                seen, values, convert = d.seen, d.values, d.convert
                idx: list[int | None] = []
                for r in records:
                    v = r.get(name)
                    if v is None:
                        idx.append(None)
                        continue
                    k = _DUMPS(v)
                    i = seen.get(k)
                    if i is None:
                        converted = convert(v)
                        i = seen[k] = len(values)
                        values.append(converted)
                    idx.append(i)
                nested[col] = idx
        except orjson.JSONEncodeError:
            return False
        times, minutes = self._times, self._minutes
        us: list[int] = []
        for t in text["eventtime"] or ():
            # AWS's own form, `2026-11-01T10:00:05Z`: its minute is parsed once (events seldom share a second,
            # often a minute), its seconds looked up. Exactly parse_event_time's value: the date, hour and
            # minute are the same characters in both strings, and 00-59 are valid seconds in any minute.
            sec = (
                _SECOND_US.get(t[17:19])
                if len(t) == 20 and t[19] == "Z" and t[16] == ":" and t[13] == ":" and t[10] == "T"
                else None
            )
            if sec is not None:
                minute = minutes.get(t[:16], _UNSEEN)
                if minute is _UNSEEN:
                    parsed = parse_event_time(t[:16] + ":00Z")
                    minute = None if parsed is None else (parsed - _EPOCH) // _ONE_US
                    if len(minutes) > 100_000:
                        minutes.clear()
                    minutes[t[:16]] = minute
                v = None if minute is None else minute + sec
            else:
                v = times.get(t, _UNSEEN)
                if v is _UNSEEN:
                    parsed = parse_event_time(t)
                    v = None if parsed is None else (parsed - _EPOCH) // _ONE_US
                    if len(times) > 100_000:
                        times.clear()
                    times[t] = v
            if v is None:
                return False
            us.append(v)
        users: list[str | None] = [None] * n
        params_text = json_["requestparameters"]
        if params_text is not None:
            for j, jt in enumerate(params_text):
                if jt is not None and b'"username":' in jt.lower():  # cheap test first (keys are ASCII)
                    user = None
                    for k, v in records[j]["requestParameters"].items():
                        if k.lower() == "username":  # the last spelling wins, as in the row path's copy
                            user = v
                    users[j] = user if type(user) is str and user else None  # unique() keeps only text

        # Everything checked: append.
        hours = [v // _HOUR_US for v in us]
        first = hours[0]
        if all(h == first for h in hours):
            self.part += [self._partition(raw, first)] * n
        else:
            self.part += [self._partition(raw, h) for h in hours]
        self.us += us
        nulls: list[Any] = [None] * n
        for col, tv in text.items():
            self.text[col] += nulls if tv is None else tv
        for col, jv in json_.items():
            self.json[col] += nulls if jv is None else jv
        for col, nv in nested.items():
            self.nested[col] += nulls if nv is None else nv
        self.users += users
        self.origins += [self.origin] * n
        self.n += n
        return True

    def _partition(self, raw: RawKey, hour: int) -> int:
        pk = (raw.account, raw.region, hour)
        p = self._parts.get(pk)
        if p is None:
            p = self._parts[pk] = len(self._part_list)
            t = _EPOCH_NAIVE + timedelta(hours=hour)
            self._part_list.append(Partition.for_event(raw.account, raw.region, t))
        return p

    def _tables(self) -> list[tuple[Partition, pa.Table, np.ndarray[Any, Any]]]:
        n = self.n
        cols: dict[str, pa.Array] = {}
        for col, _ in _TEXT:
            cols[col] = pa.array(self.text[col], _S)
        for col, _ in _JSON:
            cols[col] = pa.array(self.json[col], _S)
        for col, _, typ, _ in _NESTED:
            cols[col] = pa.array(self.distinct[col].values, typ).take(pa.array(self.nested[col], pa.int32()))
        part = np.asarray(self.part, dtype=np.int32)
        # account_id: recipientAccountId, else the identity's account, else the key's (the row path's `or`s)
        key_account = pa.array([p.account for p in self._part_list], _S).take(pa.array(part))
        account_id = key_account
        for candidate in (cols["useridentity"].field("accountid"), cols["recipientaccountid"]):
            given = pc.fill_null(pc.greater(pc.utf8_length(candidate), 0), False)
            account_id = pc.if_else(given, candidate, account_id)
        cols.update(
            event_time=pa.array(self.us, pa.int64()).cast(pa.timestamp("us")),
            source=pa.array([self.source] * n, _S),
            account_id=account_id,
            **self._entities(),
        )
        table = pa.Table.from_arrays([cols[name] for name in SCHEMA.names], schema=SCHEMA)
        origin = np.asarray(self.origins, dtype=np.int64)
        return [(self._part_list[p], t, o) for p, t, o in split_rows(table, part, origin)]

    def _entities(self) -> dict[str, pa.Array]:
        """The related_* arrays: each distinct combination of inputs is computed once, then expanded by take."""
        uis = self.distinct["useridentity"]
        for u in uis.values[len(uis.derived) :]:
            u = u or {}
            issuer = (u.get("sessioncontext") or {}).get("sessionissuer") or {}
            uis.derived.append(
                (
                    u.get("username"),
                    issuer.get("username"),
                    u.get("arn"),
                    issuer.get("arn"),
                    u.get("accountid"),
                )
            )
        res = self.distinct["resources"]
        for rs in res.values[len(res.derived) :]:
            rs = [r for r in rs or () if r]
            res.derived.append(([r.get("arn") for r in rs], [r.get("accountid") for r in rs]))
        nobody = (None, None, None, None, None)
        none: tuple[list[Any], list[Any]] = ([], [])
        out: dict[str, pa.Array] = {}
        ip_lists: dict[Any, int] = {}
        distinct: list[list[str]] = []
        index: list[int] = []
        for ip in self.text["sourceipaddress"]:
            i = ip_lists.get(ip)
            if i is None:
                i = ip_lists[ip] = len(distinct)
                distinct.append([ip] if is_ip(ip) else [])
            index.append(i)
        out["related_ips"] = _expand(distinct, index)
        cache: dict[Any, int] = {}
        distinct, index = [], []
        for ui, user in zip(self.nested["useridentity"], self.users, strict=True):
            k = (ui, user)
            i = cache.get(k)
            if i is None:
                who = nobody if ui is None else uis.derived[ui]
                i = cache[k] = len(distinct)
                distinct.append(unique((who[0], who[1], user)))
            index.append(i)
        out["related_users"] = _expand(distinct, index)
        cache, distinct, index = {}, [], []
        for ui, rs in zip(self.nested["useridentity"], self.nested["resources"], strict=True):
            k = (ui, rs)
            i = cache.get(k)
            if i is None:
                who = nobody if ui is None else uis.derived[ui]
                i = cache[k] = len(distinct)
                distinct.append(unique([who[2], who[3], *(none if rs is None else res.derived[rs])[0]]))
            index.append(i)
        out["related_arns"] = _expand(distinct, index)
        cache, distinct, index = {}, [], []
        for ui, recipient, rs in zip(
            self.nested["useridentity"],
            self.text["recipientaccountid"],
            self.nested["resources"],
            strict=True,
        ):
            k3 = (ui, recipient, rs)
            i = cache.get(k3)
            if i is None:
                who = nobody if ui is None else uis.derived[ui]
                i = cache[k3] = len(distinct)
                distinct.append(unique([who[4], recipient, *(none if rs is None else res.derived[rs])[1]]))
            index.append(i)
        out["related_accounts"] = _expand(distinct, index)
        return out


def _expand(distinct: list[list[str]], index: list[int]) -> pa.Array:
    return pa.array(distinct, _STRINGS).take(pa.array(index, pa.int32()))


# -- objects larger than memory -------------------------------------------------------------------------------------
# A delivery file is normally a few MB; one of hundreds of MB (compressed) would take several times its
# decompressed size as Python objects. Such an object is decompressed as a stream and cut into pieces of
# records at `},{"eventVersion"` (CloudTrail writes eventVersion first). Each piece is parsed as a JSON
# array: if every piece parses, the pieces are exactly the Records array's elements (JSON parses one way
# only), so the rows equal those of the whole-object path. Anything unexpected (another top-level key, a cut
# inside a nested array, a gzip error) falls back to the whole-object path, which then reports it as before.
# The object is read twice (validate, then convert), so nothing is emitted for an object that turns out to
# need the fallback.

STREAM_MIN_BYTES = LARGE_OBJECT_BYTES  # compressed object size from which the stream path is tried
# decompressed bytes per piece (a few times that as Python objects; 4 MB peaked ~50 MB higher)
_PIECE = 1024 * 1024
_FEED = 1024 * 1024  # compressed bytes handed to zlib at a time
_MAX_RECORD = 64 * 1024 * 1024  # one record larger than this: not streamable, let the fallback decide
_HEAD = re.compile(rb'\s*\{\s*"Records"\s*:\s*\[\s*')
_TAIL = re.compile(rb"\s*\]\s*\}\s*$")
_CUT = b'},{"eventVersion"'
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


class _NotStreamable(Exception):
    pass


def _chunks(data: bytes | LargeObject) -> Iterator[bytes | memoryview]:
    """The compressed input _FEED bytes at a time, from memory or read from the store as a stream."""
    if isinstance(data, LargeObject):
        with data.open() as f:
            while chunk := f.read(_FEED):
                yield chunk
        return
    view = memoryview(data)
    for pos in range(0, len(data), _FEED):
        yield view[pos : pos + _FEED]


def _gunzip_blocks(data: bytes | LargeObject) -> Iterator[bytes]:
    """Decompressed blocks of at most _PIECE bytes; multi-member gzip as gzip.decompress reads it.

    Input is fed 1 MB at a time: zlib's unconsumed_tail is a copy of the rest of the input, which for a
    256 MB object would copy it again for every block.
    """
    chunks = _chunks(data)
    d = zlib.decompressobj(wbits=31)
    pending: bytes | memoryview = b""
    while True:
        if not pending:
            pending = next(chunks, b"")
            if not pending:
                if not d.eof:
                    raise _NotStreamable  # truncated (or empty)
                return
        try:
            block = d.decompress(pending, _PIECE)
        except zlib.error as exc:
            raise _NotStreamable from exc
        if block:
            yield block
        if not d.eof:
            pending = d.unconsumed_tail
            continue
        # A member ended: what follows must be another member (or nothing at all).
        rest: bytes | memoryview = d.unused_data
        if not rest:
            rest = next(chunks, b"")
            if not rest:
                return
        if rest[:2] != b"\x1f\x8b":
            raise _NotStreamable  # trailing bytes that are not another member
        d = zlib.decompressobj(wbits=31)
        pending = rest


def _record_pieces(data: bytes | LargeObject) -> Iterator[list[Any]]:
    buf = b""
    head = False
    for block in _gunzip_blocks(data):
        buf += block
        if not head:
            m = _HEAD.match(buf)
            if m is None:
                if len(buf) < 1024:
                    continue
                raise _NotStreamable
            buf, head = buf[m.end() :], True
        cut = buf.rfind(_CUT)
        if cut < 0:
            if len(buf) > _MAX_RECORD:
                raise _NotStreamable
            continue
        piece, buf = buf[: cut + 1], buf[cut + 2 :]
        yield _loads_array(piece)
    m = _TAIL.search(buf)
    if not head or m is None:
        raise _NotStreamable
    yield _loads_array(buf[: m.start()])


def _loads_array(piece: bytes) -> list[Any]:
    try:
        records = orjson.loads(b"[" + piece + b"]")
    except orjson.JSONDecodeError as exc:
        raise _NotStreamable from exc
    assert isinstance(records, list)
    return records


def first_records(data: bytes | LargeObject) -> list[Any] | None:
    """The records of a big object's first piece (a few MB), or None when it is not streamable.

    For observers that sample records (drift): loading a 256 MB delivery whole costs several GB.
    """
    try:
        return next(_record_pieces(data), [])
    except _NotStreamable:
        return None


def _validate_stream(data: bytes | LargeObject) -> bool:
    """True if the object can be converted piece by piece (first of the two reads)."""
    try:
        for _ in _record_pieces(data):
            pass
    except _NotStreamable:
        return False
    return True


SOURCE = CloudTrailSource()
