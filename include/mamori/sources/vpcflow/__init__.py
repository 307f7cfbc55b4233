"""VPC Flow Logs: space-separated text (gzip) or Parquet under AWSLogs/<acct>/vpcflowlogs/<region>/Y/M/D/[HH/].

One table with a FIXED column set (every field of format versions 2-8) whatever format a flow log was created
with: custom formats pick and reorder fields freely, so a per-format table would split one source into many
and every detection would need to know which. Fields a flow log does not capture are NULL.

Column names are AWS's field names with `-` → `_`, as in AWS's own Athena DDL for flow logs, including
`start` and `end` (BIGINT epoch seconds; `end` is reserved, so queries write it as "end"). Two exceptions:
- `account-id` IS the common `account_id` column (not stored twice); a record without one (custom format
  without the field, or AWS's `unknown` for service-created interfaces) falls back to the key's account.
- the v4 `region` field is stored as `flow_region`, because `region` is a hive partition key of the lake.

The first line of an S3-delivered text file is a header of field names; it is the only reliable description of
the file's layout, so it drives the parse. A file without a header (CloudWatch-delivered flow logs exported to
S3 have none) is read as the default v2 format. Header names mamori does not know (a field AWS adds after this
module was written) are dropped with a warning: it is a schema gap, not a broken record, so the rows still
convert. `-` means "not available" and becomes NULL; NODATA/SKIPDATA records are real rows (they say an
interface was quiet or that records were lost) with NULL addresses, ports and action.

event_time is `start` (epoch seconds, UTC), or `end` when start is `-`; a record with neither cannot be
placed in a partition and is quarantined, as is a whole file whose format carries neither field. A `start` or
`end` before 2010-01-01 (base.PLAUSIBLE_SINCE) or from 2100 on quarantines its record alone, naming the field.
Quarantine
entries carry the 0-based line number in the decompressed file (header = line 0) and the line text, so a
fixed parser can replay them. Parquet-delivered flow logs (columns named with `_`) go through the same rules.
"""

from __future__ import annotations

import gzip
import io
import logging
import re
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mamori.sources.base import (
    ACCOUNT,
    COMMON_FIELDS,
    PLAUSIBLE_SINCE,
    REGION,
    ColumnarResult,
    Emit,
    ObjectResult,
    Partition,
    Quarantined,
    RawKey,
    RowBuffer,
    is_ip,
    split_rows,
)

log = logging.getLogger(__name__)

NAME = "vpcflow"

_S, _I32, _I64 = pa.string(), pa.int32(), pa.int64()

# (AWS field name, column, arrow type) for every field of versions 2-8, in AWS's documented order.
FIELDS: list[tuple[str, str, pa.DataType]] = [
    # v2 (the default format, in this order)
    ("version", "version", _I32),
    ("account-id", "account_id", _S),  # shares the common account_id column: not in NATIVE_COLUMNS
    ("interface-id", "interface_id", _S),
    ("srcaddr", "srcaddr", _S),
    ("dstaddr", "dstaddr", _S),
    ("srcport", "srcport", _I32),
    ("dstport", "dstport", _I32),
    ("protocol", "protocol", _I32),
    ("packets", "packets", _I64),
    ("bytes", "bytes", _I64),
    ("start", "start", _I64),
    ("end", "end", _I64),
    ("action", "action", _S),
    ("log-status", "log_status", _S),
    # v3
    ("vpc-id", "vpc_id", _S),
    ("subnet-id", "subnet_id", _S),
    ("instance-id", "instance_id", _S),
    ("tcp-flags", "tcp_flags", _I32),
    ("type", "type", _S),
    ("pkt-srcaddr", "pkt_srcaddr", _S),
    ("pkt-dstaddr", "pkt_dstaddr", _S),
    # v4
    ("region", "flow_region", _S),  # `region` is a partition key of the lake
    ("az-id", "az_id", _S),
    ("sublocation-type", "sublocation_type", _S),
    ("sublocation-id", "sublocation_id", _S),
    # v5
    ("pkt-src-aws-service", "pkt_src_aws_service", _S),
    ("pkt-dst-aws-service", "pkt_dst_aws_service", _S),
    ("flow-direction", "flow_direction", _S),
    ("traffic-path", "traffic_path", _I32),
    # v7 (ECS)
    ("ecs-cluster-arn", "ecs_cluster_arn", _S),
    ("ecs-cluster-name", "ecs_cluster_name", _S),
    ("ecs-container-instance-arn", "ecs_container_instance_arn", _S),
    ("ecs-container-instance-id", "ecs_container_instance_id", _S),
    ("ecs-container-id", "ecs_container_id", _S),
    ("ecs-second-container-id", "ecs_second_container_id", _S),
    ("ecs-service-name", "ecs_service_name", _S),
    ("ecs-task-definition-arn", "ecs_task_definition_arn", _S),
    ("ecs-task-arn", "ecs_task_arn", _S),
    ("ecs-task-id", "ecs_task_id", _S),
    # v8
    ("reject-reason", "reject_reason", _S),
]
NATIVE_COLUMNS: list[tuple[str, pa.DataType]] = [(c, t) for f, c, t in FIELDS if f != "account-id"]
SCHEMA = pa.schema([pa.field(c, t) for c, t in NATIVE_COLUMNS] + COMMON_FIELDS)

DEFAULT_FORMAT: tuple[str, ...] = tuple(f for f, _, _ in FIELDS[:14])  # v2, what a header-less file carries
_BY_FIELD: dict[str, tuple[str, pa.DataType]] = {f: (c, t) for f, c, t in FIELDS}
_TYPES: dict[str, pa.DataType] = {c: t for _, c, t in FIELDS}
_ARN_COLUMNS = ("ecs_cluster_arn", "ecs_container_instance_arn", "ecs_task_definition_arn", "ecs_task_arn")
_INT_MAX = {_I32: 2**31 - 1, _I64: 2**63 - 1}

# ASCII only, \d included (base.REGION says why).
_REGION = rf"(?P<region>{REGION})"
_FILE = r"[^/]+\.(?:log(?:\.gz)?|gz|parquet)"
_KEY_RE = re.compile(
    rf"(?:^|/)AWSLogs/(?:(?P<account>{ACCOUNT})/vpcflowlogs/{_REGION}/\d{{4}}/\d{{2}}/\d{{2}}/(?:\d{{2}}/)?"
    rf"|aws-account-id=(?P<haccount>{ACCOUNT})/aws-service=vpcflowlogs/aws-region=(?P<hregion>{REGION})"
    rf"/year=\d{{4}}/month=\d{{2}}/day=\d{{2}}/(?:hour=\d{{2}}/)?){_FILE}$",
    re.ASCII,
)
_HEADER_TOKEN = re.compile(r"(?:\$\{)?[a-z][a-z0-9_-]*\}?")
# A record's times (`start` and `end`) must be plausible instants: flow logs exist since 2015, and a value far
# outside would create a partition decades away (or overflow datetime). One implausible field quarantines its
# record alone, with the field named; the window-relative bound (window end + skew) is data quality's
# (mamori.quality.rules), since a parser does not know the window.
_MIN_EPOCH = int(PLAUSIBLE_SINCE.timestamp())
_MAX_EPOCH = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())
_RANGE_TEXT = f"{PLAUSIBLE_SINCE:%Y-%m-%d}..2100-01-01"
_MAX_RAW = 64 * 1024  # quarantine keeps a line up to this size; the raw object keeps the rest
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _BadRecord(ValueError):
    """A record that cannot become a row; the message is the quarantine reason."""


class VpcFlowSource:
    """VPC Flow Logs in any format version (2-8), default or custom field order, text or Parquet."""

    name = NAME
    table = "vpcflow"
    schema = SCHEMA

    def columnar(self, emit: Emit) -> VpcFlowColumns:
        """The batch's columnar parser: parse_object's rows as Arrow tables (see "columnar path" below)."""
        return VpcFlowColumns(emit)

    def classify(self, key: str) -> RawKey | None:
        m = _KEY_RE.search(key)
        if not m:
            return None
        return RawKey(
            key=key, account=m["account"] or m["haccount"], region=m["region"] or m["hregion"], kind="events"
        )

    def list_prefixes(self, start: datetime, end: datetime) -> list[str]:
        # Keys are dated by the file's UTC time; a day of slack before the window covers files that land just
        # after midnight. The optional hourly level (HH/ or hour=HH/) lies BELOW these day prefixes and the
        # lister finds objects recursively under an expanded prefix, so one day prefix covers both variants
        # without listing 24 hour prefixes per day. `[0-9]*` / `aws-account-id=*` / `aws-region=*` are expanded
        # one level at a time; the plain pattern's `[0-9]*` skips the hive-style `aws-account-id=` folders.
        out = []
        day = (start - timedelta(days=1)).date()
        while day <= end.date():
            out.append(f"AWSLogs/[0-9]*/vpcflowlogs/*/{day:%Y/%m/%d}/")
            out.append(
                "AWSLogs/aws-account-id=*/aws-service=vpcflowlogs/aws-region=*/"
                f"year={day:%Y}/month={day:%m}/day={day:%d}/"
            )
            day += timedelta(days=1)
        return out

    def parse_object(self, raw: RawKey, data: bytes) -> ObjectResult:
        result = ObjectResult(key=raw.key)
        if data[:4] == b"PAR1":
            return _parse_parquet(raw, data, result)
        try:
            body = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        except (EOFError, OSError, zlib.error) as exc:
            result.quarantined.append(Quarantined(raw.key, f"unreadable gzip: {type(exc).__name__}: {exc}"))
            return result
        try:
            text = body.decode("utf-8")
            bad_utf8 = False
        except UnicodeDecodeError:
            # Flow logs are ASCII; a corrupt byte must cost its line, not the object. `replace` keeps the
            # line structure (newlines are ASCII) and marks the damaged lines with U+FFFD.
            text = body.decode("utf-8", "replace")
            bad_utf8 = True
        lines = text.split("\n")
        first = 0
        while first < len(lines) and not lines[first].strip():
            first += 1
        if first == len(lines):
            return result  # empty file: no records
        head = lines[first].split()
        if _is_header(head):
            layout = _Layout(head, raw.key)
            first += 1
        else:
            layout = _Layout(DEFAULT_FORMAT, raw.key)
        n, missing_time = len(layout.names), layout.missing_time
        rows = _RowMaker(raw, layout)
        for i in range(first, len(lines)):
            line = lines[i]
            parts = line.split()
            if not parts:
                continue  # blank line (the final newline, CRLF leftovers): not a record
            if bad_utf8 and "\ufffd" in line:
                result.quarantined.append(Quarantined(raw.key, "invalid UTF-8", i, _bounded(line)))
                continue
            if len(parts) != n:
                reason = f"field count {len(parts)} != header {n}"
                result.quarantined.append(Quarantined(raw.key, reason, i, _bounded(line)))
                continue
            if missing_time:
                result.quarantined.append(Quarantined(raw.key, missing_time, i, _bounded(line)))
                continue
            try:
                result.rows.append(rows.make(parts))
            except _BadRecord as exc:
                result.quarantined.append(Quarantined(raw.key, str(exc), i, _bounded(line)))
        return result


def _is_header(tokens: list[str]) -> bool:
    """A header is all lower-case field names (data lines carry digits, IPs, `-`, ACCEPT...), at least one
    of them known. A header made only of names mamori does not know reads as data and fails loudly there."""
    return (
        bool(tokens)
        and all(_HEADER_TOKEN.fullmatch(t) for t in tokens)
        and any(_field_name(t) in _BY_FIELD for t in tokens)
    )


def _field_name(token: str) -> str:
    """`${account-id}` (the LogFormat spelling) and `account_id` (Parquet's) both mean `account-id`."""
    return token.strip("${}").replace("_", "-").lower()


class _Layout:
    """How the fields of one file's lines become columns, worked out once from its header."""

    def __init__(self, fields: Sequence[str], key: str) -> None:
        self.names: list[str] = []  # column per position; dropped positions get a placeholder name
        self.dropped: list[str] = []
        self.ints: list[tuple[str, int]] = []  # (column, largest value its Arrow type holds)
        seen: set[str] = set()
        for i, token in enumerate(fields):
            name = _field_name(token)
            known = _BY_FIELD.get(name)
            if known is None or name in seen:
                self.dropped.append(f"\x00{i}")
                self.names.append(self.dropped[-1])
                continue
            seen.add(name)
            col, typ = known
            self.names.append(col)
            if typ in _INT_MAX:
                self.ints.append((col, _INT_MAX[typ]))
        if self.dropped:
            unknown = [fields[int(d[1:])] for d in self.dropped]
            log.warning("%s: header field(s) %s unknown or repeated; column(s) dropped", key, unknown)
        # A layout without any time cannot place its records in a partition, whatever their values.
        self.missing_time = (
            "" if {"start", "end"} & seen else "header has neither start nor end: records cannot be timed"
        )


class _RowMaker:
    """Builds rows for one object. The per-line work is a C-level zip into a dict plus fixes for `-` and the
    integer columns; what repeats across lines (timestamps, partitions, IP checks) is cached, since a flow
    log file has few distinct start times and addresses."""

    def __init__(self, raw: RawKey, layout: _Layout) -> None:
        self.raw, self.layout = raw, layout
        present = set(layout.names)
        # Columns this layout does not carry, as NULLs, merged into each row in one C-level update.
        self.absent: dict[str, Any] = {c: None for c in SCHEMA.names if c not in present}
        self.absent["source"] = NAME
        self.times: dict[int, tuple[datetime, Partition]] = {}
        self.ips: dict[str, bool] = {}
        self.ip_cols = [c for c in ("srcaddr", "dstaddr", "pkt_srcaddr", "pkt_dstaddr") if c in present]
        self.arn_cols = [c for c in _ARN_COLUMNS if c in present]
        self.has_account = "account_id" in present

    def make(self, parts: list[Any]) -> tuple[Partition, dict[str, Any]]:
        """`parts` (one line's fields, in header order) is consumed: `-` entries are replaced by None."""
        layout = self.layout
        i = 0
        for _ in range(parts.count("-")):  # `-` → NULL with C-level scans, not a Python loop per field
            i = parts.index("-", i)
            parts[i] = None
        rec: dict[str, Any] = dict(zip(layout.names, parts, strict=True))
        for k in layout.dropped:
            del rec[k]
        for col, hi in layout.ints:
            v = rec[col]
            if v is not None:
                if not (v.isdigit() and v.isascii()) or (n := int(v)) > hi:
                    raise _BadRecord(f"{col} {v[:40]!r} is not an integer in [0, {hi}]")
                rec[col] = n
        start, end = rec.get("start"), rec.get("end")
        when = start if start is not None else end
        if when is None:
            raise _BadRecord("neither start nor end: record cannot be timed")
        timed = self.times.get(when)
        if timed is None:
            if not _MIN_EPOCH <= when < _MAX_EPOCH:
                raise _BadRecord(_implausible("start" if start is not None else "end", when))
            t = _EPOCH + timedelta(seconds=when)
            timed = self.times[when] = (t, Partition.for_event(self.raw.account, self.raw.region, t))
        if start is not None and end is not None and not _MIN_EPOCH <= end < _MAX_EPOCH:
            raise _BadRecord(_implausible("end", end))
        acct = rec["account_id"] if self.has_account else None
        if acct is None or len(acct) != 12 or not acct.isdigit():
            acct = self.raw.account  # absent from the format, or `unknown` (interface owned by AWS)
        ips = self.ips
        related: list[str] = []
        for col in self.ip_cols:
            v = rec[col]
            if v is not None and v not in related:
                ok = ips.get(v)
                if ok is None:
                    ok = ips[v] = is_ip(v)
                if ok:
                    related.append(v)
        row = rec
        row.update(self.absent)
        row["event_time"] = timed[0]
        row["account_id"] = acct
        row["related_ips"] = related
        row["related_users"] = []
        row["related_arns"] = [a for c in self.arn_cols if (a := rec[c]) is not None]
        row["related_accounts"] = [acct]
        return timed[1], row


def _implausible(field: str, value: int) -> str:
    return f"{field} {value} outside {_RANGE_TEXT}: not a plausible flow time"


def _parse_parquet(raw: RawKey, data: bytes, result: ObjectResult) -> ObjectResult:
    """Parquet delivery: columns are the field names with `_`, nulls for unavailable values. Each row goes
    through the text path (values rendered as text, NULL as `-`) so both formats share one set of rules."""
    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        result.quarantined.append(Quarantined(raw.key, f"unreadable Parquet: {type(exc).__name__}: {exc}"))
        return result
    layout = _Layout(table.column_names, raw.key)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    rows = _RowMaker(raw, layout)
    for i in range(table.num_rows):
        parts = [_as_text(col[i]) for col in columns]
        try:
            if layout.missing_time:
                raise _BadRecord(layout.missing_time)
            result.rows.append(rows.make(parts.copy()))  # make() consumes its list; keep the raw text
        except _BadRecord as exc:
            result.quarantined.append(Quarantined(raw.key, str(exc), i, _bounded(" ".join(parts))))
    return result


def _as_text(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def _bounded(line: str) -> str:
    line = line.rstrip("\r")
    return line if len(line) <= _MAX_RAW else line[:_MAX_RAW] + "…[truncated; full line in raw object]"


# -- columnar path ------------------------------------------------------------------------------------------------
# parse_object defines the semantics; VpcFlowColumns produces the same rows as Arrow tables. A text object
# whose bytes rule out every case where the rules above need Python (ASCII only, single spaces between fields,
# no other whitespace, no blank first line, a fully known header) is read by Arrow's CSV reader with `-` as
# NULL, and its integer and time rules are checked on whole columns. If any value would be quarantined, or
# the reader finds a line with another field count, the object goes through parse_object instead, which then
# names the lines. Small objects go there too: the CSV reader's fixed cost exceeds its gain below ~200 lines.

_CSV_MIN_BYTES = 24 * 1024
_OTHER_WHITESPACE = b"\t\r\x0b\x0c\x1c\x1d\x1e\x1f"  # ASCII whitespace other than space and newline
_INT64 = pa.int64()
_DIGITS = "^[0-9]+$"
_ACCOUNT = "^[0-9]{12}$"
_HOUR_S = 3600
_STRINGS = pa.list_(_S)


class VpcFlowColumns:
    """The columnar parser of one batch (see the section comment)."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.rows = RowBuffer(SCHEMA, emit)

    def parse(self, raw: RawKey, data: bytes, origin: int = 0) -> ColumnarResult:
        tables = _csv_tables(raw, data)
        if tables is None:
            obj = SOURCE.parse_object(raw, data)
            self.rows.add(obj.rows, origin)
            return ColumnarResult(obj.key, len(obj.rows), obj.quarantined, obj.skipped_reason)
        self.rows.flush()  # rows of earlier objects go out first: emission stays in input order
        result = ColumnarResult(raw.key)
        for part, table in tables:
            result.rows_out += table.num_rows
            self.emit(part, table, np.full(table.num_rows, origin, dtype=np.int64))
        return result

    def flush(self) -> None:
        self.rows.flush()


def _csv_tables(raw: RawKey, data: bytes) -> list[tuple[Partition, pa.Table]] | None:
    """The object's rows per partition, or None when parse_object must handle it (see the section comment)."""
    if data[:4] == b"PAR1":
        return None
    try:
        body = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (EOFError, OSError, zlib.error):
        return None
    if len(body) < _CSV_MIN_BYTES or not body.isascii() or body[:1] == b"\n":
        return None
    if len(body.translate(None, _OTHER_WHITESPACE)) != len(body):  # str.split() would split on them too
        return None
    end = body.find(b"\n")
    head = body[: end if end >= 0 else len(body)].decode().split(" ")
    if _is_header(head):
        names = [_field_name(t) for t in head]
        if len(set(names)) != len(names) or not all(n in _BY_FIELD for n in names):
            return None  # dropped columns: parse_object logs them
        body = body[end + 1 :] if end >= 0 else b""
    else:
        names = list(DEFAULT_FORMAT)
    if not {"start", "end"} & set(names):
        return None
    columns = [_BY_FIELD[n][0] for n in names]
    if not body.strip(b"\n"):
        return []
    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(column_names=columns, use_threads=False, block_size=1 << 26),
            parse_options=pacsv.ParseOptions(
                delimiter=" ",
                quote_char=False,
                double_quote=False,
                escape_char=False,
                ignore_empty_lines=True,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(columns, _S), null_values=["-"], strings_can_be_null=True
            ),
        )
    except pa.ArrowInvalid:  # a line with another field count
        return None
    if table.num_rows == 0:
        return []
    cols: dict[str, pa.Array] = {c: table.column(c).combine_chunks() for c in columns}
    for col in columns:
        v = cols[col]
        typ = _TYPES[col]
        if typ not in _INT_MAX:
            # An empty field means two spaces in a row, or a space at a line's start or end: split() differs.
            if v.null_count < len(v) and pc.min(pc.utf8_length(v)).as_py() == 0:
                return None
            continue
        if pc.all(pc.match_substring_regex(v, _DIGITS)).as_py() not in (True, None):
            return None
        try:
            n = v.cast(_INT64)
        except pa.ArrowInvalid:  # beyond int64
            return None
        if v.null_count < len(v) and pc.max(n).as_py() > _INT_MAX[typ]:
            return None
        cols[col] = n.cast(typ)
    when = cols.get("start")
    if when is None:
        when = cols["end"]
    elif "end" in cols:
        when = pc.coalesce(when, cols["end"])
    if when.null_count:
        return None
    lo, hi = pc.min_max(when).values()
    if lo.as_py() < _MIN_EPOCH or hi.as_py() >= _MAX_EPOCH:
        return None
    ends = cols.get("end")
    if ends is not None and ends.null_count < len(ends):  # `end` is held to the same range (row path: make)
        lo, hi = pc.min_max(ends).values()
        if lo.as_py() < _MIN_EPOCH or hi.as_py() >= _MAX_EPOCH:
            return None

    n = table.num_rows
    acct = cols.get("account_id")
    key_account = pa.array([raw.account] * n, _S)
    if acct is None:
        account_id = key_account
    else:
        good = pc.fill_null(pc.match_substring_regex(acct, _ACCOUNT), False)
        account_id = pc.if_else(good, acct, key_account)
    out: dict[str, pa.Array] = {}
    for col, typ in NATIVE_COLUMNS:
        out[col] = cols[col] if col in cols else pa.nulls(n, typ)
    ip_cols = [cols[c] for c in ("srcaddr", "dstaddr", "pkt_srcaddr", "pkt_dstaddr") if c in cols]
    related_ips = _related_ips(ip_cols) if ip_cols else _lists([], [], n)
    arn_cols = [cols[c] for c in _ARN_COLUMNS if c in cols]
    out.update(
        event_time=pc.multiply(when, 1_000_000).cast(pa.timestamp("us")),
        source=pa.array([NAME] * n, _S),
        account_id=account_id,
        related_ips=related_ips,
        related_users=pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), pa.array([], _S)),
        related_arns=_lists(arn_cols, [pc.is_valid(a) for a in arn_cols], n),
        related_accounts=pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), account_id),
    )
    result = pa.Table.from_arrays([out[name] for name in SCHEMA.names], schema=SCHEMA)
    hours = when.to_numpy() // _HOUR_S
    parts = {
        int(h): Partition.for_event(raw.account, raw.region, _EPOCH + timedelta(hours=int(h)))
        for h in np.unique(hours)
    }
    return [(parts[h], t) for h, t, _ in split_rows(result, hours, np.zeros(n, dtype=np.int64))]


def _related_ips(cols: list[pa.Array]) -> pa.Array:
    """Per row, the columns' values that are IP addresses, each once, in column order (as _RowMaker does)."""
    if not cols:
        raise ValueError("a flow log layout without addresses has no IPs to relate")
    n = len(cols[0])
    distinct = pc.unique(pa.chunked_array(cols)).drop_null().to_pylist()
    good = pa.array([v for v in distinct if is_ip(v)], _S)
    kept: list[pa.Array] = []
    for j, col in enumerate(cols):
        keep = pc.fill_null(pc.is_in(col, value_set=good), False)
        for i in range(j):  # not already taken from an earlier column of the same row
            keep = pc.and_(keep, pc.or_(pc.invert(kept[i]), pc.fill_null(pc.not_equal(cols[i], col), True)))
        kept.append(keep)
    return _lists(cols, kept, n)


def _lists(cols: list[pa.Array], keep: list[pa.Array], n: int) -> pa.Array:
    """list<string> per row: the values of `cols` where `keep`, in column order (all in Arrow/numpy)."""
    offsets = np.zeros(n + 1, dtype=np.int32)
    if not cols:
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array([], _S))
    mask = np.stack([k.to_numpy(zero_copy_only=False) for k in keep], axis=1)
    np.cumsum(mask.sum(axis=1), out=offsets[1:])
    index = (np.arange(len(cols))[None, :] * n + np.arange(n)[:, None])[
        mask
    ]  # row-major: column order per row
    values = pa.concat_arrays([c.cast(_S) for c in cols]).take(pa.array(index))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


SOURCE = VpcFlowSource()
