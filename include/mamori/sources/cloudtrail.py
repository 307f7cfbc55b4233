"""CloudTrail: delivery files `{"Records": [...]}` under AWSLogs/[o-org/]<acct>/CloudTrail/<region>/Y/M/D/.

The table mirrors the CloudTrail table AWS documents for Athena (lower-case top-level columns, a
`useridentity` struct, volatile objects as JSON text) so detection authors reuse what they already know and
the same SQL runs on Athena. Keys are matched case-insensitively, as Athena's Hive JSON SerDe does, so a
producer that lower-cases keys still lands in the same columns.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa

from mamori.sources.base import (
    COMMON_FIELDS,
    ObjectResult,
    Partition,
    Quarantined,
    RawKey,
    is_ip,
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

_KEY_RE = re.compile(
    r"(?:^|/)AWSLogs/(?:(?P<org>o-[a-z0-9]{10,32})/)?(?P<account>\d{12})/(?P<kind>CloudTrail|CloudTrail-Digest"
    r"|CloudTrail-Insight)/(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)/\d{4}/\d{2}/\d{2}/[^/]+\.json(?:\.gz)?$"
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
        if raw.kind != "events":
            result.skipped_reason = f"{raw.kind} file (not event records)"
            return result
        try:
            text = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        except (EOFError, OSError, zlib.error) as exc:
            result.quarantined.append(Quarantined(raw.key, f"unreadable gzip: {type(exc).__name__}: {exc}"))
            return result
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            result.quarantined.append(Quarantined(raw.key, f"not JSON: {exc}"))
            return result
        if not isinstance(doc, dict):
            result.quarantined.append(Quarantined(raw.key, "not a JSON object with Records"))
            return result
        records = _get_ci(doc, "records")
        if records is None:
            # A digest or other JSON that strayed under CloudTrail/: not events, nothing lost.
            result.skipped_reason = "JSON object without Records (digest or non-event file)"
            return result
        if not isinstance(records, list):
            result.quarantined.append(Quarantined(raw.key, "Records is not a list"))
            return result
        for i, rec in enumerate(records):
            row, reason = normalize_record(rec, raw, self.name)
            if row is None:
                result.quarantined.append(Quarantined(raw.key, reason, i, _raw_text(rec)))
            else:
                part = Partition.for_event(raw.account, raw.region, row["event_time"])
                result.rows.append((part, row))
        return result


def normalize_record(rec: Any, raw: RawKey, source: str = NAME) -> tuple[dict[str, Any] | None, str]:
    """One CloudTrail record → one row of SCHEMA, or (None, reason) when it cannot be trusted as an event."""
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
    for col, convert in _PLAN:
        v = lowered.get(col)
        row[col] = None if v is None else convert(v)
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
        related_arns=unique([ui.get("arn"), issuer.get("arn"), *(r.get("arn") for r in resources)]),
        related_accounts=unique(
            [ui.get("accountid"), row["recipientaccountid"], *(r.get("accountid") for r in resources)]
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
    return t.astimezone(UTC)


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
    text = orjson.dumps(rec).decode()
    return text if len(text) <= _MAX_RAW else text[:_MAX_RAW] + "…[truncated; full record in raw object]"


# (column, converter) built once: per-record work is then dict lookups and plain function calls.
_PLAN: list[tuple[str, Callable[[Any], Any]]] = [
    (col, _json_text if kind == "json" else _converter(typ)) for col, typ, kind in NATIVE_COLUMNS
]

SOURCE = CloudTrailSource()
