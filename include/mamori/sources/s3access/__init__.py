"""S3 server access logs: one request per line, space-delimited, with quoted and bracketed fields.

Line format (AWS "Amazon S3 server access log format"), fields in order::

    bucketowner bucket_name [requestdatetime] remoteip requester requestid operation key "request_uri"
    httpstatus errorcode bytessent objectsize totaltime turnaroundtime "referrer" "useragent" versionid
    hostid sigv ciphersuite authtype endpoint tlsversion [accesspointarn [aclrequired [sourceregion [...]]]]

- `-` means "unknown / not applicable" in every field (quoted `"-"` too) and becomes NULL.
- The time `[06/Feb/2019:00:00:38 +0000]` contains a space; it is one field, kept as text in
  `requestdatetime` (as AWS's Athena table does) and parsed to `event_time` (UTC, zone-less).
- Request-URI, Referer and User-Agent are quoted; a `\\"` inside them is an escaped quote and is unescaped.
  If a line only parses when backslashes are taken literally (a User-Agent ending in `\\`, when the writer
  did not escape backslashes), it is read that way instead of being quarantined: a client must not be able to
  drop its own requests from the table by choosing a User-Agent.
- 24 fields is the minimum (logs end at TLS version before access points existed); access point ARN,
  aclRequired and the trailing region (27th, added to AWS's examples in 2024; named `sourceregion` here, the
  exact AWS name is not confirmed) are read when present. AWS appends new fields at the end and tells parsers to
  ignore what they do not know: fields past the 27th are dropped (no column to hold them; the raw object stays
  in the raw store for replay).
- Typed columns: httpstatus INT; bytessent, objectsize, totaltime, turnaroundtime BIGINT. A non-numeric
  value in one of them means the line is misaligned, so the line is quarantined rather than half-trusted.
- request_uri is kept verbatim and also split into request_method / request_path / request_protocol
  (`GET /key?x=1 HTTP/1.1`).

Bytes: objects are plain text as AWS delivers them; gzip (a re-compressing copy job) is detected by magic.
Invalid UTF-8 (User-Agent and Referer are client-controlled header bytes) is decoded with
`backslashreplace`: the line still becomes a row and the offending bytes stay visible as `\\xNN`. Quarantining
such lines would let a client hide its requests with one bad byte. Lines are split on `\\n` only (never
`str.splitlines`, which also splits on \\x0b, \\x1c, U+2028... that a User-Agent may carry).

Key layouts (both under the raw root; account and region of the *source* bucket come from the key):

(a) AWS's partitioned-prefix format with mamori's documented destination prefix `AWSLogs/`:
    `AWSLogs/<SourceAccountId>/<SourceRegion>/<SourceBucket>/YYYY/MM/DD/YYYY-MM-DD-hh-mm-ss-<UniqueString>`
    Its third segment is a region (`base.REGION`: every AWS partition's, ASCII only), which never collides
    with the service folders CloudTrail, ELB or VPC Flow Logs put there (`AWSLogs/<acct>/CloudTrail/<region>/...`).
(b) AWS's simple format, which has no account/region of its own, under the documented destination prefix
    `s3-access-logs/<SourceAccountId>/<SourceRegion>/<SourceBucket>/`:
    `s3-access-logs/<acct>/<region>/<bucket>/YYYY-MM-DD-hh-mm-ss-<UniqueString>`
    There is no date folder in this layout, so a window lists the whole bucket folder; prefer (a).

Partitions: account/region from the key, dt/hour from each line's time.

parse_object is the reference; `columnar()` gives the same rows as Arrow tables several times faster on large
objects, converting whole columns and leaving every line it cannot prove equal to the line regex's reading to
the row parser (see "columnar path" at the end and mamori.sources.formats.textcols).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mamori.sources.base import (
    ACCOUNT,
    COMMON_FIELDS,
    REGION,
    Emit,
    ObjectResult,
    Partition,
    Quarantined,
    RawKey,
    is_ip,
    unique,
)
from mamori.sources.formats import textcols
from mamori.sources.formats.textcols import Fast, Group, LineColumns, LineParse, dash_null, nulls_as_false

NAME = "s3access"

_S = pa.string()
# Names are those of AWS's documented Athena table for server access logs, so its example queries carry over;
# unlike that table (all STRING but two), the numeric fields are typed here.
NATIVE_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("bucketowner", _S),
    ("bucket_name", _S),
    ("requestdatetime", _S),
    ("remoteip", _S),
    ("requester", _S),
    ("requestid", _S),
    ("operation", _S),
    ("key", _S),
    ("request_uri", _S),
    ("httpstatus", pa.int32()),
    ("errorcode", _S),
    ("bytessent", pa.int64()),
    ("objectsize", pa.int64()),
    ("totaltime", pa.int64()),
    ("turnaroundtime", pa.int64()),
    ("referrer", _S),
    ("useragent", _S),
    ("versionid", _S),
    ("hostid", _S),
    ("sigv", _S),
    ("ciphersuite", _S),
    ("authtype", _S),
    ("endpoint", _S),
    ("tlsversion", _S),
    ("accesspointarn", _S),
    ("aclrequired", _S),
    ("sourceregion", _S),
    ("request_method", _S),
    ("request_path", _S),
    ("request_protocol", _S),
]
SCHEMA = pa.schema([pa.field(n, t) for n, t in NATIVE_COLUMNS] + COMMON_FIELDS)

MIN_FIELDS = 24  # through tlsversion
KNOWN_FIELDS = 27  # through sourceregion; later fields are dropped
_FIELD_NAMES = [n for n, _ in NATIVE_COLUMNS[:KNOWN_FIELDS]]
_INTS = {9: 9, 11: 18, 12: 18, 13: 18, 14: 18}  # field position -> max digits (INT, BIGINT)

_REGION = REGION
_BUCKET = r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]"
_FILE = r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-Za-z]{16}"
_KEY_RE = re.compile(
    rf"^(?:AWSLogs/(?P<a1>{ACCOUNT})/(?P<r1>{_REGION})/{_BUCKET}/\d{{4}}/\d{{2}}/\d{{2}}/{_FILE}"
    rf"|s3-access-logs/(?P<a2>{ACCOUNT})/(?P<r2>{_REGION})/{_BUCKET}/{_FILE})$",
    re.ASCII,  # \d must not accept non-ASCII digits in an account id
)
# fnmatch patterns for one listing level: only 12-digit folders, only region-shaped folders.
_ACCOUNT_GLOB = "[0-9]" * 12
_REGION_GLOB = "[a-z][a-z]*-*[0-9]"  # us-east-1 and eusc-de-east-1; never CloudTrail, vpcflowlogs, ...

# One line, fields at the positions AWS writes them. Quoted fields use the unrolled form of
# "(?:[^"\\]|\\.)*" (linear on a 20 KB User-Agent); the lenient variant takes backslashes literally.
_Q_STRICT = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_Q_LENIENT = r'"[^"]*"'


def _line_re(quoted: str) -> re.Pattern[str]:
    # Fields are separated by one space and nothing else: [^ ], not \S, which would reject a field
    # holding a tab or a Unicode space (U+00A0, U+2028) and quarantine a well-formed line.
    f = r"([^ ]+)"
    q = rf"({quoted}|-)"
    int32 = r"([0-9]{1,9}|-)"  # fits INT; [0-9], not \d, which also matches non-ASCII digits
    int64 = r"([0-9]{1,18}|-)"  # fits BIGINT
    head = " ".join([f, f, r"\[([^\]]*)\]", f, f, f, f, f, q, int32, f, int64, int64, int64, int64, q, q])
    tail = " ".join([f] * 7)  # versionid .. tlsversion
    return re.compile(rf"{head} {tail}(?: ([^ ]+))?(?: ([^ ]+))?(?: ([^ ]+))?(?: .*)?", re.DOTALL)


_LINE_STRICT = _line_re(_Q_STRICT)
_LINE_LENIENT = _line_re(_Q_LENIENT)
# Tokenizer used only to explain why a line did not match.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"(?= |$)|\[[^\]]*\](?= |$)|"|[^ ]+')
_TIME_RE = re.compile(
    r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})", re.ASCII
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_ARN_RE = re.compile(r"arn:aws[a-z-]*:([a-z0-9-]+):[a-z0-9-]*:(\d{12})?:(.*)")


class S3AccessSource:
    """S3 server access logs (text delivery to a bucket), in either key layout."""

    name = NAME
    table = "s3access"
    schema = SCHEMA

    def classify(self, key: str) -> RawKey | None:
        m = _KEY_RE.match(key)
        if not m:
            return None
        return RawKey(key=key, account=m["a1"] or m["a2"], region=m["r1"] or m["r2"], kind="events")

    def list_prefixes(self, start: datetime, end: datetime) -> list[str]:
        # Layout (a) is keyed by date (event or delivery date, the bucket owner's choice); one day of slack
        # before the window covers both. The account and region levels only descend into folders of that shape,
        # so listing never walks into CloudTrail/ or elasticloadbalancing/ next door.
        out = []
        day = (start - timedelta(days=1)).date()
        while day <= end.date():
            out.append(f"AWSLogs/{_ACCOUNT_GLOB}/{_REGION_GLOB}/*/{day:%Y/%m/%d}/")
            day += timedelta(days=1)
        # Layout (b) has no date folder: the bucket folder itself is the narrowest prefix (see docstring).
        out.append(f"s3-access-logs/{_ACCOUNT_GLOB}/{_REGION_GLOB}/*/")
        return out

    def parse_object(self, raw: RawKey, data: bytes) -> ObjectResult:
        result = ObjectResult(key=raw.key)
        try:
            data = textcols.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            result.quarantined.append(Quarantined(raw.key, f"unreadable gzip: {type(exc).__name__}: {exc}"))
            return result
        # UTF-8 is self-synchronising: decoding the whole object with an error handler gives exactly what
        # decoding line by line would, at full speed on clean input.
        text = data.decode("utf-8", "backslashreplace")
        textcols.parse_lines(
            raw.key, enumerate(text.split("\n")), self.line_parser(raw), result.rows, result.quarantined
        )
        return result

    def line_parser(self, raw: RawKey) -> LineParse:
        """One line (`\\r` stripped, not blank) → (partition, row) or the reason it is quarantined."""
        return _LineParser(raw).row

    def columnar(self, emit: Emit) -> LineColumns:
        """The batch's columnar parser: parse_object's rows as Arrow tables (see "columnar path" below)."""
        return LineColumns(self, emit)

    def fast(self, raw: RawKey, group: Group) -> Fast | None:
        """A group of same-shaped lines converted on whole columns (see "columnar path" below)."""
        return _fast(raw, group)


class _LineParser:
    """Per-object state: time, IP and requester caches (a 5-minute file repeats the same few of each)."""

    def __init__(self, raw: RawKey) -> None:
        self.raw = raw
        self.partition = Partition(raw.account, raw.region, "", "")
        self._times: dict[str, tuple[datetime, Partition] | None] = {}
        self._ips: dict[str, bool] = {}
        self._principals: dict[tuple[str | None, str | None], tuple[list[str], list[str], list[str]]] = {}

    def row(self, line: str) -> tuple[Partition, dict[str, Any]] | str:
        row, reason = self.parse(line)
        return reason if row is None else (self.partition, row)

    def parse(self, line: str) -> tuple[dict[str, Any] | None, str]:
        """One line → one row of SCHEMA, or (None, reason). Sets self.partition for the row.

        Written out field by field rather than as a loop over names: this is the hot path (every line of
        every object), and the unrolled form is about twice as fast.
        """
        m = _LINE_STRICT.fullmatch(line)
        unescape = True
        if m is None:
            m = _LINE_LENIENT.fullmatch(line)
            unescape = False
            if m is None:
                return None, _why(line)
        (
            owner, bucket, tstr, ip, requester, reqid, op, key, uri, status, err, sent, size, total, turn,
            ref, ua, ver, host, sigv, cipher, auth, endpoint, tls, ap, acl, sregion,
        ) = m.groups()  # fmt: skip
        if tstr in self._times:
            cached = self._times[tstr]
        else:
            t = parse_request_time(tstr)
            cached = None if t is None else (t, Partition.for_event(self.raw.account, self.raw.region, t))
            self._times[tstr] = cached
        if cached is None:
            return None, f"bad time [{tstr[:64]}]"
        event_time, self.partition = cached

        method = path = protocol = None
        if uri == "-" or uri == '"-"':
            uri = None
        else:
            uri = uri[1:-1]
            if unescape and "\\" in uri:
                uri = uri.replace('\\"', '"')
            parts = uri.split(" ")
            if len(parts) >= 3 and parts[-1].startswith("HTTP/"):
                method, path, protocol = parts[0], " ".join(parts[1:-1]), parts[-1]
            elif len(parts) == 2:
                method, path = parts
            else:
                path = uri
        if ref == "-" or ref == '"-"':
            ref = None
        else:
            ref = ref[1:-1]
            if unescape and "\\" in ref:
                ref = ref.replace('\\"', '"')
        if ua == "-" or ua == '"-"':
            ua = None
        else:
            ua = ua[1:-1]
            if unescape and "\\" in ua:
                ua = ua.replace('\\"', '"')
        ip_ok: bool | None = False
        if ip == "-":
            ip = None
        else:
            ip_ok = self._ips.get(ip)
            if ip_ok is None:
                ip_ok = self._ips[ip] = is_ip(ip)
        if requester == "-":
            requester = None
        if ap == "-":
            ap = None
        who = self._principals.get((requester, ap))
        if who is None:
            who = self._principals[requester, ap] = _related(requester, ap, self.raw.account)
        return {
            "bucketowner": None if owner == "-" else owner,
            "bucket_name": None if bucket == "-" else bucket,
            "requestdatetime": tstr,
            "remoteip": ip,
            "requester": requester,
            "requestid": None if reqid == "-" else reqid,
            "operation": None if op == "-" else op,
            "key": None if key == "-" else key,
            "request_uri": uri,
            "httpstatus": None if status == "-" else int(status),
            "errorcode": None if err == "-" else err,
            "bytessent": None if sent == "-" else int(sent),
            "objectsize": None if size == "-" else int(size),
            "totaltime": None if total == "-" else int(total),
            "turnaroundtime": None if turn == "-" else int(turn),
            "referrer": ref,
            "useragent": ua,
            "versionid": None if ver == "-" else ver,
            "hostid": None if host == "-" else host,
            "sigv": None if sigv == "-" else sigv,
            "ciphersuite": None if cipher == "-" else cipher,
            "authtype": None if auth == "-" else auth,
            "endpoint": None if endpoint == "-" else endpoint,
            "tlsversion": None if tls == "-" else tls,
            "accesspointarn": ap,
            "aclrequired": None if acl == "-" else acl,  # None when absent (24/25 fields) too
            "sourceregion": None if sregion == "-" else sregion,
            "request_method": method,
            "request_path": path,
            "request_protocol": protocol,
            "event_time": event_time,
            "source": NAME,
            "account_id": self.raw.account,
            "related_ips": [ip] if ip_ok else [],
            # cached lists are shared between rows: each row gets its own copy
            "related_users": who[0][:],
            "related_arns": who[1][:],
            "related_accounts": who[2][:],
        }, ""


def parse_request_time(value: str) -> datetime | None:
    """`06/Feb/2019:00:00:38 +0000` (strftime `%d/%b/%Y:%H:%M:%S %z`) → zone-less UTC, or None.

    Parsed by hand: strptime costs ~10 µs a call, and the format is fixed; the offset is honoured even though
    AWS always writes +0000.
    """
    m = _TIME_RE.fullmatch(value)
    if m is None:
        return None
    d, mon, y, hh, mm, ss, sign, oh, om = m.groups()
    month = _MONTHS.get(mon)
    if month is None:
        return None
    try:
        t = datetime(int(y), month, int(d), int(hh), int(mm), int(ss))
    except ValueError:
        return None
    offset = timedelta(hours=int(oh), minutes=int(om))
    try:
        return t - offset if sign == "+" else t + offset
    except OverflowError:  # year 1 at +0100, year 9999 at -0100: this line, not the whole batch
        return None


def _related(
    requester: str | None, accesspoint: str | None, key_account: str
) -> tuple[list[str], list[str], list[str]]:
    """(related_users, related_arns, related_accounts) for a requester and access point ARN.

    Requester is an IAM/STS ARN, a canonical user id, a service name or `-`. Users follow the CloudTrail
    source: a user's name, or for an assumed role the role name (the session name is not a user), so one
    pivot value finds the principal in both tables. Accounts: the requester's, the access point's, and the
    logged bucket's (from the key).
    """
    users: list[str] = []
    arns: list[str] = []
    accounts: list[str] = []
    m = _ARN_RE.fullmatch(requester) if requester else None
    if m is not None:
        service, account, resource = m.groups()
        arns.append(m[0])
        accounts.append(account or "")
        if service in ("iam", "sts"):
            kind, _, rest = resource.partition("/")
            if kind == "assumed-role":
                users.append(rest.split("/", 1)[0])
            elif kind in ("user", "role", "federated-user") and rest:
                users.append(rest.rsplit("/", 1)[-1])
    m = _ARN_RE.fullmatch(accesspoint) if accesspoint else None
    if m is not None:
        arns.append(m[0])
        accounts.append(m[2] or "")
    accounts.append(key_account)
    return unique(users), unique(arns), unique(accounts)


def _why(line: str) -> str:
    """Name what is wrong with a line the line pattern rejected (only runs on bad lines)."""
    tokens = _TOKEN.findall(line)
    if any(t == '"' or (t.startswith('"') and (len(t) == 1 or not t.endswith('"'))) for t in tokens):
        return "unterminated quote"
    if len(tokens) < MIN_FIELDS:
        return f"too few fields: {len(tokens)} < {MIN_FIELDS}"
    if not (tokens[2].startswith("[") and tokens[2].endswith("]")):
        return f"bad time field {tokens[2][:64]!r} (expected [dd/Mon/yyyy:HH:MM:SS +0000])"
    checks: list[tuple[int, str, Callable[[str], bool]]] = [
        (8, "request_uri", lambda t: t == "-" or t.startswith('"')),
        (15, "referrer", lambda t: t == "-" or t.startswith('"')),
        (16, "useragent", lambda t: t == "-" or t.startswith('"')),
    ]
    for pos, name, ok in checks:
        if not ok(tokens[pos]):
            return f"{name} is not a quoted field: {tokens[pos][:64]!r}"
    for pos, digits in _INTS.items():
        t = tokens[pos]
        if t != "-" and not (t.isascii() and t.isdigit() and len(t) <= digits):
            return f"non-numeric {_FIELD_NAMES[pos]} {t[:64]!r}"
    if "  " in line or line.startswith(" "):
        return "empty field (two consecutive spaces)"
    return "line does not match the server access log format"


# -- columnar path ------------------------------------------------------------------------------------------------
# parse_object defines the semantics. textcols.LineColumns splits lines into fields (quoted fields whole,
# quotes removed) and hands groups of same-shaped lines to _fast. For such a line _LINE_STRICT can only match
# one way: fields hold no space and no quote, the time is the bracketed pair of fields, and each quoted field
# ends at its closing quote; so _fast takes the line's fields as the regex's groups, provided the line keeps
# to that grammar: quotes only around request_uri/referrer/useragent (or past the 27th field, which is
# dropped), `-` where those are not quoted, digits (or `-`) in the integer fields, a time that
# parse_request_time accepts, and a request_uri of at most three words. Any other line goes to the row
# parser, which decides. tests/sources/conftest.py compares both paths on every input of the parser tests.

_QUOTABLE = (9, 16, 17)  # request_uri, referrer, useragent as positions among the fields (the time is two)
_FIELD_AT = [0, 1, 2, *range(4, KNOWN_FIELDS + 1)]  # field k of _FIELD_NAMES → its position (time: 2, 3)
_INT_AT = {10: (9, pa.int32()), 12: (18, pa.int64()), 13: (18, pa.int64()), 14: (18, pa.int64()),
           15: (18, pa.int64())}  # fmt: skip


def _fast(raw: RawKey, g: Group) -> Fast | None:
    f, nf, n = g.fields, len(g.fields), len(g.lines)
    if nf < MIN_FIELDS + 1:
        return None  # too few fields: every line is quarantined, the row parser says why
    if any(q and k not in _QUOTABLE for k, q in enumerate(g.quoted[: KNOWN_FIELDS + 1])):
        return None  # a quoted field elsewhere: the regex would read its quotes as text, or split it
    ok = np.ones(n, dtype=bool)
    for k in _QUOTABLE:
        if not g.quoted[k]:
            ok &= nulls_as_false(pc.equal(f[k], "-"))
    # the time: `[` + date field, offset field + `]`, no other `]` (the regex's `\[([^\]]*)\]`)
    ok &= textcols.prefixed(f[2], "[") & ~nulls_as_false(pc.match_substring(f[2], "]"))
    ok &= nulls_as_false(pc.equal(pc.count_substring(f[3], "]"), 1)) & nulls_as_false(pc.ends_with(f[3], "]"))
    tstr = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(f[2], 1), pc.utf8_slice_codeunits(f[3], 0, -1), " "
    )
    event_time, good = _times(textcols.masked(tstr, ok))
    ok &= good
    vals = [dash_null(f[0]), dash_null(f[1]), tstr] + [dash_null(f[i]) for i in _FIELD_AT[3:] if i < nf]
    vals += [pa.nulls(n, _S)] * (KNOWN_FIELDS - len(vals))
    ints = {}
    for at, (most, typ) in _INT_AT.items():
        v = vals[at - 1]
        ok &= textcols.digits(v, most) | np.asarray(v.is_null())
        ints[at - 1] = textcols.masked(v, ok).cast(typ)
    method, path, protocol, good = _request(vals[8])
    ok &= good

    ip, requester, ap = vals[3], vals[4], vals[24]
    users, arns, accounts = _related_cols(requester, ap, raw.account)
    columns = {name: ints.get(k, vals[k]) for k, name in enumerate(_FIELD_NAMES)}
    columns.update(
        request_method=method,
        request_path=path,
        request_protocol=protocol,
        event_time=event_time,
        source=textcols.const_strings(NAME, n),
        account_id=textcols.const_strings(raw.account, n),
        related_ips=textcols.lists([ip], [textcols.ip_mask(ip)], n),
        related_users=users,
        related_arns=arns,
        related_accounts=accounts,
    )
    table = pa.Table.from_arrays([columns[name] for name in SCHEMA.names], schema=SCHEMA)
    if not ok.all():
        table = table.filter(pa.array(ok))
    hours = np.floor_divide(table.column("event_time").cast(pa.int64()).to_numpy(), textcols.HOUR_US)
    return Fast(table, ok, hours)


def _times(tstr: pa.Array) -> tuple[pa.Array, np.ndarray[Any, Any]]:
    """event_time through parse_request_time once per distinct value (a file repeats each second many times)."""
    enc = pc.dictionary_encode(tstr)
    parsed = [parse_request_time(v) for v in enc.dictionary.to_pylist()]
    codes = pc.fill_null(enc.indices, -1).to_numpy()
    good = np.array([t is not None for t in parsed] + [False], dtype=bool)[codes]  # -1: the NULLs
    times = pa.array(parsed, pa.timestamp("us")).take(enc.indices)
    return times, good


def _request(uri: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array, np.ndarray[Any, Any]]:
    """method/path/protocol as _LineParser.parse splits request_uri, for URIs of at most three words."""
    n = len(uri)
    split = pc.split_pattern(uri, " ")
    words = pc.fill_null(pc.list_value_length(split), 0).to_numpy()
    flat = split.flatten()
    if not len(flat):
        return pa.nulls(n, _S), pa.nulls(n, _S), pa.nulls(n, _S), words <= 3
    first = np.minimum(textcols.list_starts(split), len(flat) - 1)
    w = [flat.take(pa.array(np.minimum(first + i, len(flat) - 1))) for i in range(3)]
    three = (words == 3) & textcols.prefixed(w[2], "HTTP/")
    split_ok = (words == 2) | three
    method = textcols.masked(w[0], split_ok)
    path = pc.if_else(pa.array(split_ok), w[1], uri)
    protocol = textcols.masked(w[2], three)
    return method, path, protocol, words <= 3


def _related_cols(requester: pa.Array, ap: pa.Array, account: str) -> tuple[pa.Array, pa.Array, pa.Array]:
    """_related once per distinct (requester, access point) pair, as _LineParser caches it."""
    req, ap_ = pc.dictionary_encode(requester), pc.dictionary_encode(ap)
    reqs, aps = req.dictionary.to_pylist(), ap_.dictionary.to_pylist()
    width = len(aps) + 1
    pair = (
        (pc.fill_null(req.indices, -1).to_numpy() + 1) * width + pc.fill_null(ap_.indices, -1).to_numpy() + 1
    )
    distinct, inverse = np.unique(pair, return_inverse=True)
    found = [
        _related(
            reqs[p // width - 1] if p // width else None, aps[p % width - 1] if p % width else None, account
        )
        for p in distinct.tolist()
    ]
    take = pa.array(inverse.reshape(-1))
    return tuple(pa.array([w[i] for w in found], textcols.STRINGS).take(take) for i in range(3))


SOURCE = S3AccessSource()
