"""ALB access logs: gzip text, one request per line, under AWSLogs/<acct>/elasticloadbalancing/<region>/Y/M/D/.

Columns carry the names AWS's Athena table for ALB access logs uses, so queries from AWS's examples and
runbooks keep working, with three deliberate differences that make them safer to query:

- Numbers are typed (`elb_status_code`/`target_status_code` INT, processing times DOUBLE, bytes BIGINT) so a
  detection can write `target_status_code >= 500` without casts. `-1` processing times are kept as -1.0:
  AWS uses it to say "not dispatched / connection closed", which is a signal, not a missing value.
- `-`, AWS's "not available", becomes NULL in every column (strings too), so `IS NULL` means the same thing
  everywhere. A query copied from AWS that compares with `'-'` must use `IS NULL` instead.
- `time` and `request_creation_time` stay text as in AWS's table; the typed instant is `event_time`.

Line format decisions (each is tested in tests/sources/alb):

- Fields are separated by a space; a field is either bare or enclosed in double quotes. Inside quotes a
  backslash escapes the next character (`\\"` → `"`, `\\\\` → `\\`; any other `\\x` is kept verbatim), as
  public ALB parsers observe. A quote that does not close before a space/end of line is malformed.
- The documented fields are 29, plus 4 newer ones (conn_trace_id, transformed_host, transformed_uri,
  request_transform_status). AWS says new fields are appended and readers must ignore unexpected trailing
  ones, so fields past the 33rd are dropped. Older load balancers wrote fewer fields (the list grew from
  ~18 in 2016 to 29 in 2020), so a line needs only the 13 fields through "request"; missing trailing fields
  are NULL. Fewer than 13 fields cannot say who asked for what and is quarantined.
- Files are decoded as UTF-8 with invalid bytes rendered as `\\xNN` (backslashreplace): ALB records URLs and
  user agents as the client sent them, and an attacker must not be able to drop their requests from the lake
  by adding one invalid byte. The escaped form is visible and searchable; the raw object keeps the bytes.
- Lines are split on `\\n` only (a trailing `\\r` is stripped), never `str.splitlines`, which also splits on
  characters such as U+2028 or \\x1c that can legitimately appear inside a quoted user agent. Blank lines are
  not records.
- client:port / target:port are split on the LAST colon (IPv6 addresses are written unbracketed, like AWS's
  own Athena regex assumes); a bracketed `[v6]:port` is accepted too.

parse_object is the reference; `columnar()` gives the same rows as Arrow tables several times faster on large
objects, converting whole columns and leaving every line it cannot prove equal to parse_line (see "columnar
path" at the end and mamori.sources.formats.textcols).
"""

from __future__ import annotations

import math
import re
import zlib
from datetime import UTC, datetime, timedelta
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
    aws_partition,
    is_ip,
    unique,
)
from mamori.sources.formats import textcols
from mamori.sources.formats.textcols import Fast, Group, LineColumns, LineParse, dash_null, matches

NAME = "alb"

_S, _I, _L, _D = pa.string(), pa.int32(), pa.int64(), pa.float64()
NATIVE_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("type", _S),
    ("time", _S),
    ("elb", _S),
    ("client_ip", _S),
    ("client_port", _I),
    ("target_ip", _S),
    ("target_port", _I),
    ("request_processing_time", _D),
    ("target_processing_time", _D),
    ("response_processing_time", _D),
    ("elb_status_code", _I),
    ("target_status_code", _I),
    ("received_bytes", _L),
    ("sent_bytes", _L),
    ("request_verb", _S),
    ("request_url", _S),
    ("request_proto", _S),
    ("user_agent", _S),
    ("ssl_cipher", _S),
    ("ssl_protocol", _S),
    ("target_group_arn", _S),
    ("trace_id", _S),
    ("domain_name", _S),
    ("chosen_cert_arn", _S),
    ("matched_rule_priority", _S),
    ("request_creation_time", _S),
    ("actions_executed", _S),
    ("redirect_url", _S),
    ("lambda_error_reason", _S),
    ("target_port_list", _S),
    ("target_status_code_list", _S),
    ("classification", _S),
    ("classification_reason", _S),
    ("conn_trace_id", _S),
    ("transformed_host", _S),
    ("transformed_uri", _S),
    ("request_transform_status", _S),
]
SCHEMA = pa.schema([pa.field(n, t) for n, t in NATIVE_COLUMNS] + COMMON_FIELDS)

# Positions of the log line's fields (0-based). Fields 0-11 are converted one by one below; from 13 on, each
# field maps to one text column in order (the request, field 12, becomes verb/url/proto).
MIN_FIELDS = 13  # type .. "request": enough to say who asked what, when, and how it was answered
MAX_FIELDS = 33  # 29 documented + conn_trace_id, transformed_host, transformed_uri, request_transform_status
_TEXT_TAIL = [n for n, _ in NATIVE_COLUMNS[17:]]  # user_agent .. request_transform_status: fields 13..32
assert len(_TEXT_TAIL) == MAX_FIELDS - 13

# ASCII only (base.REGION says why).
_KEY_RE = re.compile(
    rf"(?:^|/)AWSLogs/(?P<account>{ACCOUNT})/elasticloadbalancing/(?P<region>{REGION})/[0-9]{{4}}/[0-9]{{2}}/"
    rf"[0-9]{{2}}/{ACCOUNT}_elasticloadbalancing_[a-z0-9-]+_app\.(?P<lb>[A-Za-z0-9-]+)\.(?P<lbid>[0-9a-f]+)"
    r"_[0-9]{8}T[0-9]{4}Z_[0-9A-Fa-f.:]+_[A-Za-z0-9]+\.log(?:\.gz)?$",
    re.ASCII,
)
# The other Elastic Load Balancing logs AWS delivers to the same folders, told apart by file name: connection
# logs (`conn_log_…`), health-check logs (`health_check_log_…`), NLB access logs (`…_net.<lb>…`) and Classic
# Load Balancer access logs (`…_<lb-name>_…`, no `app.`/`net.`). Claimed and routed away by kind (skipped
# unread, counted in the manifest) rather than left unclaimed: an unclaimed key raises a data-quality alert,
# which must mean "a layout nobody reads", not "this account also runs an NLB".
_OTHER_ELB_RE = re.compile(
    rf"(?:^|/)AWSLogs/(?P<account>{ACCOUNT})/elasticloadbalancing/(?P<region>{REGION})/[0-9]{{4}}/[0-9]{{2}}/"
    rf"[0-9]{{2}}/(?P<log>conn_log_|health_check_log_)?{ACCOUNT}_elasticloadbalancing_{REGION}_"
    r"(?P<name>[^/]+)\.log(?:\.gz)?$",
    re.ASCII,
)
# A field: quoted (backslash escapes the next char; the closing quote must end the field) or bare.
_TOKEN = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"(?= |$)|([^ ]+)')
_UNESCAPE = re.compile(r'\\(["\\])')
_MISPLACED = re.compile(r'[^ ]"[^ ]')
_INT32, _INT64 = 2**31 - 1, 2**63 - 1


class AlbSource:
    """Application Load Balancer access logs. Connection, health-check, NLB and CLB logs share the delivery
    folders but not the format: their file names differ (`conn_log_…`, `health_check_log_…`, `net.`, no
    `app.`), so classify routes them away by kind (skipped unread) instead of quarantining every line."""

    name = NAME
    table = "alb"
    schema = SCHEMA

    def classify(self, key: str) -> RawKey | None:
        m = _KEY_RE.search(key)
        if m:
            return RawKey(key=key, account=m["account"], region=m["region"], kind="events")
        m = _OTHER_ELB_RE.search(key)
        if not m:
            return None
        if m["log"]:
            kind = "connection-log" if m["log"] == "conn_log_" else "health-check-log"
        elif m["name"].startswith("net."):
            kind = "nlb-access-log"
        elif m["name"].startswith("app."):
            return None  # named like an ALB access log but not one _KEY_RE reads: unclaimed, so alerted
        else:
            kind = "clb-access-log"
        return RawKey(key=key, account=m["account"], region=m["region"], kind=kind)

    def list_prefixes(self, start: datetime, end: datetime) -> list[str]:
        # Folders are named by delivery date: one day of slack before the window covers files delivered just
        # after midnight. `*` segments (accounts, regions) are listed one level at a time.
        out = []
        day = (start - timedelta(days=1)).date()
        while day <= end.date():
            out.append(f"AWSLogs/*/elasticloadbalancing/*/{day:%Y/%m/%d}/")
            day += timedelta(days=1)
        return out

    def parse_object(self, raw: RawKey, data: bytes) -> ObjectResult:
        result = ObjectResult(key=raw.key)
        try:
            body = textcols.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            # A truncated upload: lines before the cut could be salvaged, but a partial object must not look
            # complete, so the object is one quarantined unit (as for CloudTrail) and is replayed whole.
            result.quarantined.append(Quarantined(raw.key, f"unreadable gzip: {type(exc).__name__}: {exc}"))
            return result
        text = body.decode("utf-8", errors="backslashreplace")
        textcols.parse_lines(
            raw.key, enumerate(text.split("\n")), self.line_parser(raw), result.rows, result.quarantined
        )
        return result

    def line_parser(self, raw: RawKey) -> LineParse:
        """One line (`\\r` stripped, not blank) → (partition, row) or the reason it is quarantined."""
        return _Context(raw).row

    def columnar(self, emit: Emit) -> LineColumns:
        """The batch's columnar parser: parse_object's rows as Arrow tables (see "columnar path" below)."""
        return LineColumns(self, emit)

    def fast(self, raw: RawKey, group: Group) -> Fast | None:
        """A group of same-shaped lines converted on whole columns (see "columnar path" below)."""
        return _fast(raw, group)


class _Context:
    """Per-object constants (account, derived load balancer ARN) and a partition cache: one object holds
    minutes of one load balancer, so nearly every row shares a handful of partitions."""

    def __init__(self, raw: RawKey) -> None:
        self.raw = raw
        self.arn_prefix = _arn_prefix(raw)
        self.parts: dict[tuple[int, int, int, int], Partition] = {}

    def partition(self, t: datetime) -> Partition:
        k = (t.year, t.month, t.day, t.hour)
        p = self.parts.get(k)
        if p is None:
            p = self.parts[k] = Partition.for_event(self.raw.account, self.raw.region, t)
        return p

    def row(self, line: str) -> tuple[Partition, dict[str, Any]] | str:
        row, reason = self.parse_line(line)
        if row is None:
            return reason
        return self.partition(row["event_time"]), row

    def parse_line(self, line: str) -> tuple[dict[str, Any] | None, str]:
        """One log line → one row of SCHEMA, or (None, reason)."""
        fields = split_fields(line)
        if isinstance(fields, str):
            return None, fields
        vals: list[str | None] = [None if v == "-" else v for v in fields]
        n = len(vals)
        if n < MIN_FIELDS:
            return None, f"too few fields: {n} (need at least {MIN_FIELDS}, type through request)"
        if n < MAX_FIELDS:
            vals.extend([None] * (MAX_FIELDS - n))
        time = vals[1]
        if time is None:
            return None, "missing time"
        try:
            t = datetime.fromisoformat(time)
        except ValueError:
            return None, f"invalid time {time[:64]!r}"
        if t.tzinfo is None:
            return None, f"time without zone {time[:64]!r}"
        if t.utcoffset():
            try:
                t = t.astimezone(UTC)
            except OverflowError:  # year 1 at +01:00, year 9999 at -01:00: this line, not the whole batch
                return None, f"time out of range {time[:64]!r}"
        try:
            client_ip, client_port = _host_port(vals[3])
            target_ip, target_port = _host_port(vals[4])
            rpt, tpt, spt = _float(vals[5]), _float(vals[6]), _float(vals[7])
            elb_status = _int(vals[8], "elb_status_code", _INT32)
            target_status = _int(vals[9], "target_status_code", _INT32)
            received = _int(vals[10], "received_bytes", _INT64)
            sent = _int(vals[11], "sent_bytes", _INT64)
        except ValueError as exc:
            return None, str(exc)
        if client_ip is None:
            return None, "missing client:port"
        verb, url, proto = _split_request(vals[12])

        row: dict[str, Any] = {
            "type": vals[0],
            "time": time,
            "elb": vals[2],
            "client_ip": client_ip,
            "client_port": client_port,
            "target_ip": target_ip,
            "target_port": target_port,
            "request_processing_time": rpt,
            "target_processing_time": tpt,
            "response_processing_time": spt,
            "elb_status_code": elb_status,
            "target_status_code": target_status,
            "received_bytes": received,
            "sent_bytes": sent,
            "request_verb": verb,
            "request_url": url,
            "request_proto": proto,
        }
        row.update(zip(_TEXT_TAIL, vals[13:MAX_FIELDS], strict=True))

        ips = [client_ip] if is_ip(client_ip) else []
        if target_ip is not None and is_ip(target_ip):
            ips.append(target_ip)
        tpl = row["target_port_list"]
        if tpl is not None and tpl != vals[4]:  # retries/other targets: pivot on every target that served it
            for hp in tpl.split(" "):
                h = hp.rpartition(":")[0].strip("[]")
                if is_ip(h):
                    ips.append(h)
        tg, cert, elb = row["target_group_arn"], row["chosen_cert_arn"], vals[2]
        arns = [a for a in (tg, cert) if a is not None and a.startswith("arn:")]
        if elb is not None and elb.startswith("app/"):
            # The load balancer's ARN, as CloudTrail names it (ModifyLoadBalancerAttributes & co.).
            arns.append(self.arn_prefix + elb)
        row.update(
            event_time=t,
            source=NAME,
            account_id=self.raw.account,
            related_ips=unique(ips) if len(ips) > 1 else ips,
            related_users=[],
            related_arns=arns,
            related_accounts=[self.raw.account],
        )
        return row, ""


def split_fields(line: str) -> list[str] | str:
    """The line's fields with quotes removed, or the reason it cannot be split.

    Fast path (no backslash in the line, i.e. nearly always): splitting on `"` alternates bare runs and quoted
    fields, all in C. A backslash may escape a quote, so such lines take the tokenizer regex; both paths give
    the same fields (tested)."""
    if "\\" in line:
        return _split_escaped(line)
    parts = line.split('"')
    if not len(parts) & 1:
        return f"unterminated or misplaced quote: {len(parts) - 1} double quotes in the line"
    # A quoted field is set off by spaces (or the line's start/end): `"a"x`, `x"a"`, `"a""b"` are broken.
    m = _MISPLACED.search(line)
    if m:
        return f"unterminated or misplaced quote near {line[max(0, m.start() - 20) : m.end() + 20]!r}"
    out: list[str] = []
    for bare, quoted in zip(parts[0::2], parts[1::2], strict=False):
        if bare != " ":
            _bare_fields(out, bare)
        out.append(quoted)
    _bare_fields(out, parts[-1])
    return out


def _bare_fields(out: list[str], run: str) -> None:
    run = run.strip(" ")
    if run:
        out += run.split(" ") if "  " not in run else [t for t in run.split(" ") if t]


def _split_escaped(line: str) -> list[str] | str:
    out: list[str] = []
    for q, b in _TOKEN.findall(line):
        if b:
            if '"' in b:
                return f"unterminated or misplaced quote in field {len(out) + 1}: {b[:40]!r}"
            out.append(b)
        else:
            out.append(_UNESCAPE.sub(r"\1", q) if "\\" in q else q)
    return out


def _host_port(v: str | None) -> tuple[str | None, int | None]:
    """`10.0.0.1:80`, `2001:db8::1:443` or `[2001:db8::1]:443` → (host, port); `-` (no target) → (None, None)."""
    if v is None:
        return None, None
    host, sep, port = v.rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()) or len(port) > 5 or int(port) > 65535:
        raise ValueError(f"malformed host:port {v[:64]!r}")
    if host[0] == "[" and host[-1] == "]":
        host = host[1:-1]
    return host, int(port)


def _float(v: str | None) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except ValueError:
        f = math.nan
    if not math.isfinite(f):  # float() also takes 'nan'/'inf', which no ALB writes
        raise ValueError(f"non-numeric processing time {v[:40]!r}")
    return f


def _int(v: str | None, what: str, limit: int) -> int | None:
    """A non-negative integer up to `limit` (the column's range: an INT32 overflow would fail the whole batch
    when the Parquet file is written, so it must be caught here, per line)."""
    if v is None:
        return None
    if not (v.isascii() and v.isdigit()) or len(v) > 19 or int(v) > limit:
        raise ValueError(f"invalid {what} {v[:40]!r}")
    return int(v)


def _split_request(req: str | None) -> tuple[str | None, str | None, str | None]:
    """`GET https://h:443/p?q HTTP/1.1` → (verb, url, proto). URLs are logged as sent and may contain spaces,
    so the verb is the first word and the protocol the last; a request ALB could not parse is logged as
    `- - - ` and gives three NULLs (kept as a row: a malformed request is itself worth seeing)."""
    if req is None:
        return None, None, None
    parts = req.strip(" ").split(" ")
    if len(parts) == 1:
        return _dash(parts[0]), None, None
    if len(parts) == 2:  # HTTP/0.9 style `GET /`: no protocol
        return _dash(parts[0]), _dash(parts[1]), None
    return _dash(parts[0]), _dash(" ".join(parts[1:-1])), _dash(parts[-1])


def _dash(v: str) -> str | None:
    return None if v in ("-", "") else v


# -- columnar path ------------------------------------------------------------------------------------------------
# parse_object defines the semantics. textcols.LineColumns splits the lines as split_fields does, with Arrow
# kernels, and hands groups of same-shaped lines to _fast, which converts each field on the whole column. _fast
# accepts a row only where its rules provably give parse_line's result, and is deliberately narrower than
# parse_line: a time other than `YYYY-MM-DDTHH:MM:SS.ffffffZ`, a number in another spelling, a request that is
# not exactly `verb url proto`, or a target_port_list naming other targets (retries) send the line to
# parse_line, which decides. tests/sources/conftest.py compares both paths on every input of the parser tests.

_TIME_FAST = (  # what AWS writes; fromisoformat accepts it (year 0000 excepted), Arrow's cast parses it alike
    r"^(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6}Z$"
)
_FLOAT_FAST = r"^-?[0-9]{1,20}(?:\.[0-9]{1,20})?$"  # float() of these is exact and finite, as is Arrow's cast
_TS_UTC = pa.timestamp("us", "UTC")


def _fast(raw: RawKey, g: Group) -> Fast | None:
    nf = len(g.fields)
    if nf < MIN_FIELDS:
        return None  # every line is quarantined: parse_line gives the reason
    n = len(g.lines)
    vals = [dash_null(a) for a in g.fields[:MAX_FIELDS]]
    vals += [pa.nulls(n, _S)] * (MAX_FIELDS - len(vals))
    ok = np.asarray(vals[3].is_valid())  # no client: quarantined

    time = g.fields[1]
    ok &= matches(time, _TIME_FAST)
    event_time = _times(textcols.masked(time, ok), ok)

    client_ip, client_port, good = _host_port_cols(vals[3])
    ok &= good
    target_ip, target_port, good = _host_port_cols(vals[4])
    ok &= good
    floats = []
    for a in vals[5:8]:
        ok &= matches(a, _FLOAT_FAST) | np.asarray(a.is_null())
        floats.append(textcols.masked(a, ok).cast(_D))
    ints = []
    for a, limit in zip(vals[8:12], (_INT32, _INT32, _INT64, _INT64), strict=True):
        ok &= textcols.digits(a, 18) | np.asarray(a.is_null())  # 18 digits fit int64 whatever they are
        v = textcols.masked(a, ok).cast(_L)
        ok &= textcols.nulls_as_false(pc.less_equal(v, limit)) | np.asarray(v.is_null())
        ints.append(textcols.masked(v, ok))  # the INT32 columns are cast below: no out-of-range value left
    verb, url, proto, good = _request_cols(vals[12])
    ok &= good
    tpl = vals[25]  # retries/other targets: parse_line adds each target's address to related_ips
    ok &= np.asarray(tpl.is_null()) | textcols.nulls_as_false(pc.equal(tpl, vals[4]))

    keep_client = textcols.ip_mask(client_ip)
    keep_target = textcols.ip_mask(target_ip) & ~(
        keep_client & textcols.nulls_as_false(pc.equal(client_ip, target_ip))
    )
    elb = vals[2]
    arns = [vals[16], vals[19], pc.binary_join_element_wise(_arn_prefix(raw), elb, "")]
    keep_arns = [
        textcols.prefixed(vals[16], "arn:"),
        textcols.prefixed(vals[19], "arn:"),
        textcols.prefixed(elb, "app/"),
    ]
    account = pa.array([raw.account], _S)
    columns = [
        vals[0],
        time,
        elb,
        client_ip,
        client_port,
        target_ip,
        target_port,
        *floats,
        ints[0].cast(_I),
        ints[1].cast(_I),
        ints[2],
        ints[3],
        verb,
        url,
        proto,
        *vals[13:MAX_FIELDS],
        event_time,
        textcols.const_strings(NAME, n),
        textcols.const_strings(raw.account, n),
        textcols.lists([client_ip, target_ip], [keep_client, keep_target], n),
        textcols.empty_lists(n),
        textcols.lists(arns, keep_arns, n),
        textcols.repeat_list(pa.repeat(account[0], n), n),
    ]
    table = pa.Table.from_arrays(columns, schema=SCHEMA)
    if not ok.all():
        table = table.filter(pa.array(ok))
    hours = np.floor_divide(table.column("event_time").cast(_L).to_numpy(), textcols.HOUR_US)
    return Fast(table, ok, hours)


def _arn_prefix(raw: RawKey) -> str:
    return f"arn:{aws_partition(raw.region)}:elasticloadbalancing:{raw.region}:{raw.account}:loadbalancer/"


def _times(time: pa.Array, ok: np.ndarray[Any, Any]) -> pa.Array:
    """event_time from times that passed _TIME_FAST; a date the calendar lacks (Feb 30) clears `ok`."""
    try:
        return time.cast(_TS_UTC).view(pa.timestamp("us"))
    except pa.ArrowInvalid:
        pass
    for i, v in enumerate(time.to_pylist()):  # rare: find the impossible dates one by one
        if v is not None:
            try:
                datetime.fromisoformat(v)
            except ValueError:
                ok[i] = False
    return textcols.masked(time, ok).cast(_TS_UTC).view(pa.timestamp("us"))


def _host_port_cols(v: pa.Array) -> tuple[pa.Array, pa.Array, np.ndarray[Any, Any]]:
    """_host_port on a column: (host, port, ok); ok is False where a value is present but malformed."""
    n = len(v)
    present = np.asarray(v.is_valid())
    split = pc.split_pattern(v, ":", max_splits=1, reverse=True)  # rpartition
    two = textcols.nulls_as_false(pc.equal(pc.list_value_length(split), 2))
    if not two.any():
        return pa.nulls(n, _S), pa.nulls(n, _I), ~present
    flat = split.flatten()
    first = np.minimum(textcols.list_starts(split), len(flat) - 2)
    host, port = flat.take(pa.array(first)), flat.take(pa.array(first + 1))
    good = two & textcols.nulls_as_false(pc.greater(pc.binary_length(host), 0)) & textcols.digits(port, 5)
    number = textcols.masked(port, good).cast(_I)
    good &= textcols.nulls_as_false(pc.less_equal(number, 65535))
    bracketed = textcols.nulls_as_false(pc.and_(pc.starts_with(host, "["), pc.ends_with(host, "]")))
    if bracketed.any():
        host = pc.if_else(pa.array(bracketed), pc.utf8_slice_codeunits(host, 1, -1), host)
    return textcols.masked(host, good), textcols.masked(number, good), good | ~present


def _request_cols(req: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array, np.ndarray[Any, Any]]:
    """_split_request on a column, for requests of exactly three words (others: parse_line)."""
    n = len(req)
    absent = np.asarray(req.is_null())
    split = pc.split_pattern(pc.utf8_trim(req, " "), " ")
    three = textcols.nulls_as_false(pc.equal(pc.list_value_length(split), 3))
    if not three.any():
        return pa.nulls(n, _S), pa.nulls(n, _S), pa.nulls(n, _S), absent
    flat = split.flatten()
    first = np.minimum(textcols.list_starts(split), len(flat) - 3)
    words = [textcols.masked(flat.take(pa.array(first + k)), three) for k in range(3)]
    return (*[dash_null(w, empty=True) for w in words], three | absent)


SOURCE = AlbSource()
