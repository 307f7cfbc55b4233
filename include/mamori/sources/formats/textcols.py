"""Columnar parsing for space-separated text logs with double-quoted fields (ALB, S3 server access logs).

Why not Arrow's CSV reader: its quoting rules are not the row parsers' (`"a "x` is one field `a x` to Arrow
and two fields to ALB's splitter; a backslash escapes any character in Arrow but only a quote in the row
parsers), it needs one field count per object while S3 access logs mix 24-27+ fields and unquoted `-` for
quoted fields, and reading a 60 MB ALB object took it longer than this whole path. Instead each line is split
exactly the way alb.split_fields splits it (on `"`, then the unquoted runs on single spaces), with Arrow
string kernels and numpy on whole columns, a piece of the object (CHUNK) at a time:

1. The object's lines, split on `\\n` only, one trailing `\\r` removed (as the row parsers do).
2. Lines holding a backslash (escaped quotes, `\\xNN` from invalid UTF-8) go to the row parser.
3. Each line is split on `"`: even parts are unquoted runs, odd parts quoted fields. Lines are grouped by
   their "shape" (number of parts, and number of space-separated pieces in each unquoted run). Within a
   shape every field sits at the same position on every line, so a field is one `take` of a column.
4. A line joins its shape's group only if its runs are set off by single spaces (no empty piece inside a
   run, a space on each side of every quoted field): then no quote is misplaced and the fields are exactly
   what the row parser's splitter returns. Anything else, and shapes with few lines, go to the row parser.

The source then converts and validates a group's fields on whole columns (`LineSource.fast`), rejecting the
rows it cannot prove identical to the row parser's output; those lines go to the row parser too. The row
parser stays the reference: every line either gets the same result vectorised or is parsed by it.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mamori.sources.base import (
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

_S = pa.string()
STRINGS = pa.list_(_S)
_EPOCH = datetime(1970, 1, 1)
HOUR_US = 3_600_000_000  # microseconds in an hour: event_time → partition hour
_MAX_BODY = 2**31 - 1  # int32 string offsets: a chunk (a line) this long takes the object to the row path
_MAX_RAW = 64 * 1024  # quarantine keeps the line up to this size; the raw object keeps the rest
# Below these sizes the row parser is cheaper than the vectorised path's fixed cost (~150 kernel calls per
# object and shape, 2-3 ms; measured break-even: ALB ~100 KB, S3 access logs ~280 KB of text): smaller
# objects take the row path whole, rarer shapes line by line. tests/sources/conftest.py sets both to their
# minimum so that the parser tests' small inputs are vectorised too.
MIN_BYTES = 128 * 1024
MIN_GROUP = 64
# Objects are converted in pieces of about this many bytes (whole lines): the intermediate columns of a piece
# take ~3x its size, so a large object does not need several times its size in memory (8-64 MB measured the
# same speed).
CHUNK = 16 * 1024 * 1024

# A row of a source's table with its partition, or why the line was quarantined.
LineParse = Callable[[str], "tuple[Partition, dict[str, Any]] | str"]


def bounded(line: str) -> str:
    return line if len(line) <= _MAX_RAW else line[:_MAX_RAW] + "…[truncated; full line in raw object]"


def parse_lines(
    key: str,
    lines: Iterable[tuple[int, str]],
    parse: LineParse,
    rows: list[tuple[Partition, dict[str, Any]]],
    quarantined: list[Quarantined],
) -> None:
    """The row parsers' loop over (line number, line): one trailing `\\r` dropped, blank lines skipped.

    Shared by parse_object and the columnar path's leftover lines, so both treat a line identically.
    """
    for i, line in lines:
        if line.endswith("\r"):
            line = line[:-1]
        if not line.strip():  # str.strip() and str.isspace() share one definition of whitespace
            continue
        out = parse(line)
        if isinstance(out, str):
            quarantined.append(Quarantined(key, out, i, bounded(line)))
        else:
            rows.append(out)


def decompress(data: bytes) -> bytes:
    """The object's text bytes (gzip detected by magic, as both row parsers do); raises on a broken gzip."""
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


@dataclass
class Group:
    """Lines of one shape: `lines` (their numbers in the object) and one string column per field."""

    lines: np.ndarray[Any, Any]
    fields: list[pa.Array]
    quoted: list[bool]  # field k was a quoted field (its quotes removed)


@dataclass
class Fast:
    """What a source's vectorised conversion made of a group: the table of the rows it accepted (`ok`, in
    group order) and each accepted row's event hour (hours since the epoch, UTC)."""

    table: pa.Table
    ok: np.ndarray[Any, Any]
    hours: np.ndarray[Any, Any]


class LineSource(Protocol):
    """What LineColumns needs from a source."""

    schema: pa.Schema

    def parse_object(self, raw: RawKey, data: bytes) -> ObjectResult: ...

    def line_parser(self, raw: RawKey) -> LineParse: ...

    def fast(self, raw: RawKey, group: Group) -> Fast | None: ...


class LineColumns:
    """The ColumnarParser of a line-oriented text source (see the module docstring).

    Objects below MIN_BYTES, objects that are not valid UTF-8 (the row parsers render invalid bytes as
    `\\xNN`) and broken gzip take the row path whole, batched in a RowBuffer.
    """

    def __init__(self, src: LineSource, emit: Emit) -> None:
        self.src, self.emit = src, emit
        self.rows = RowBuffer(src.schema, emit)
        # what the vectorised path did, for tests (that it is taken) and benchmarks
        self.objects_columnar = 0  # objects it read
        self.lines_fast = 0  # rows it converted
        self.lines_row = 0  # non-blank lines it left to the row parser

    def parse(self, raw: RawKey, data: bytes, origin: int = 0) -> ColumnarResult:
        out = self._columnar(raw, data)
        if isinstance(out, bytes):  # the row path's, with the object's body when it was decompressed already
            obj = self.src.parse_object(raw, out)
            self.rows.add(obj.rows, origin)
            return ColumnarResult(obj.key, len(obj.rows), obj.quarantined, obj.skipped_reason)
        result, pieces = out
        self.rows.flush()  # rows of earlier objects go out first: emission stays in input order
        for part, table in pieces:
            self.emit(part, table, np.full(table.num_rows, origin, dtype=np.int64))
        return result

    def flush(self) -> None:
        self.rows.flush()

    def _columnar(
        self, raw: RawKey, data: bytes
    ) -> tuple[ColumnarResult, list[tuple[Partition, pa.Table]]] | bytes:
        """The object's result and tables, or the bytes to give parse_object instead."""
        try:
            body = decompress(data)
        except (EOFError, OSError, zlib.error):
            return data  # parse_object quarantines the object with the reason
        # parse_object would take a body that is itself gzip (a twice-compressed object) for gzip again
        row_input = data if body[:2] == b"\x1f\x8b" else body
        if len(body) < MIN_BYTES:
            return row_input
        if not body.isascii():
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                return row_input
        chunks = _chunks(body)
        if any(end - start > _MAX_BODY for start, end in chunks):
            return row_input  # a line of 2 GiB: more than a string column holds
        self.objects_columnar += 1
        result = ColumnarResult(raw.key)
        parse: LineParse | None = None  # the row parser, made when a line needs it
        parts: dict[Partition, int] = {}  # partition → number, for split_rows
        tables, where = [], []  # per chunk: its rows in line order, and each row's partition number
        base = 0  # number of the chunk's first line in the object
        for start, end in chunks:
            raw_lines = body_lines(body, start, end)
            lines = raw_lines
            if body.find(b"\r", start, end) >= 0:
                lines = pc.if_else(pc.ends_with(lines, "\r"), pc.utf8_slice_codeunits(lines, 0, -1), lines)
            settled = _lengths(lines) == 0  # empty lines are not records (whitespace-only ones: row parser)
            candidate = ~settled
            if body.find(b"\\", start, end) >= 0:
                candidate &= ~_lines_with(body, start, end, raw_lines, b"\\")
            pieces = []  # (table, its rows' line numbers in the chunk, their partition numbers)
            for g in tokenize(lines, candidate)[0]:
                fast = self.src.fast(raw, g)
                if fast is None or not fast.ok.any():
                    continue
                done = g.lines[fast.ok]
                settled[done] = True
                pieces.append((fast.table, done, _hour_parts(fast.hours, raw, parts)))
                self.lines_fast += len(done)
            rest = np.flatnonzero(~settled)
            if len(rest):
                if parse is None:
                    parse = self.src.line_parser(raw)
                texts = raw_lines.take(pa.array(rest)).to_pylist()
                rows: list[tuple[Partition, dict[str, Any]]] = []
                before = len(result.quarantined)
                numbers = (rest + base).tolist()
                parse_lines(raw.key, zip(numbers, texts, strict=True), parse, rows, result.quarantined)
                records = [i for i, t in zip(rest.tolist(), texts, strict=True) if _is_record(t)]
                self.lines_row += len(records)
                if rows:
                    bad = {q.index for q in result.quarantined[before:]}
                    pieces.append(
                        (
                            pa.Table.from_pylist([r for _, r in rows], schema=self.src.schema),
                            np.array([i for i in records if i + base not in bad], dtype=np.int64),
                            np.array([parts.setdefault(p, len(parts)) for p, _ in rows], dtype=np.int64),
                        )
                    )
            base += len(raw_lines) - 1  # a chunk ends with `\n`: its last (empty) line starts the next one
            if pieces:
                table, numbers_of_parts = _in_line_order(pieces)
                tables.append(table)
                where.append(numbers_of_parts)
        result.rows_out = sum(t.num_rows for t in tables)
        if not tables:
            return result, []
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        by_number = {v: k for k, v in parts.items()}
        zeros = np.zeros(table.num_rows, dtype=np.int64)
        return result, [(by_number[p], t) for p, t, _ in split_rows(table, np.concatenate(where), zeros)]


def _in_line_order(
    pieces: list[tuple[pa.Table, np.ndarray[Any, Any], np.ndarray[Any, Any]]],
) -> tuple[pa.Table, np.ndarray[Any, Any]]:
    """One chunk's tables (groups, row parser) as one table in line order, with each row's partition."""
    if len(pieces) == 1:
        return pieces[0][0], pieces[0][2]
    table = pa.concat_tables([t for t, _, _ in pieces])
    lines = np.concatenate([n for _, n, _ in pieces])
    where = np.concatenate([w for _, _, w in pieces])
    if (np.diff(lines) > 0).all():
        return table, where
    order = np.argsort(lines, kind="stable")
    return table.take(pa.array(order)), where[order]


def _is_record(line: str) -> bool:
    return bool((line[:-1] if line.endswith("\r") else line).strip())


def _hour_parts(
    hours: np.ndarray[Any, Any], raw: RawKey, parts: dict[Partition, int]
) -> np.ndarray[Any, Any]:
    """Partition numbers (registered in `parts`) for event hours since the epoch."""
    uniq, inverse = np.unique(hours, return_inverse=True)
    numbers = np.array(
        [
            parts.setdefault(
                Partition.for_event(raw.account, raw.region, _EPOCH + timedelta(hours=int(h))), len(parts)
            )
            for h in uniq
        ],
        dtype=np.int64,
    )
    return numbers[inverse.reshape(-1)]


def _chunks(body: bytes) -> list[tuple[int, int]]:
    """(start, end) of pieces of about CHUNK bytes, each ending with a whole line."""
    out, start = [], 0
    while start < len(body):
        cut = body.find(b"\n", start + CHUNK) if start + CHUNK < len(body) else -1
        end = len(body) if cut < 0 else cut + 1
        out.append((start, end))
        start = end
    return out or [(0, 0)]


def body_lines(body: bytes, start: int = 0, end: int | None = None) -> pa.Array:
    """body[start:end] split on `\\n` (as str.split: a trailing newline gives a last empty line). UTF-8 only."""
    end = len(body) if end is None else end
    whole = pa.StringArray.from_buffers(
        1,
        pa.py_buffer(np.array([0, end - start], dtype=np.int32)),
        pa.py_buffer(body).slice(start, end - start),
    )
    return pc.split_pattern(whole, "\n").flatten()


def list_starts(a: pa.Array) -> np.ndarray[Any, Any]:
    """Index in a.flatten() of each list's first element."""
    return _offsets(a)[:-1]


def _lengths(a: pa.Array) -> np.ndarray[Any, Any]:
    """Byte length of each string (0 for null)."""
    return pc.fill_null(pc.binary_length(a), 0).to_numpy()


def _lines_with(body: bytes, start: int, end: int, lines: pa.Array, needle: bytes) -> np.ndarray[Any, Any]:
    """Per line of body_lines(body, start, end): whether it holds `needle`. Finds one occurrence per line
    and skips to the next line, so the cost follows the lines that have it (backslashes are rare)."""
    found = []
    at = body.find(needle, start, end)
    while at >= 0:
        found.append(at - start)
        nl = body.find(b"\n", at, end)
        if nl < 0:
            break
        at = body.find(needle, nl, end)
    starts = _offsets(lines)[:-1] + np.arange(len(lines))  # each earlier line also had its `\n`
    mask = np.zeros(len(lines), dtype=bool)
    mask[np.searchsorted(starts, np.array(found, dtype=np.int64), side="right") - 1] = True
    return mask


def _offsets(a: pa.Array) -> np.ndarray[Any, Any]:
    """The int32 offsets of a string or list array, from 0 (indexes into its flatten() / its bytes)."""
    raw = np.frombuffer(a.buffers()[1], dtype=np.int32)[a.offset : a.offset + len(a) + 1]
    return raw - raw[0] if raw[0] else raw


def tokenize(
    lines: pa.Array, candidate: np.ndarray[Any, Any], min_group: int | None = None
) -> tuple[list[Group], np.ndarray[Any, Any]]:
    """Groups of candidate lines by shape (see the module docstring) and the candidates left out of them."""
    if min_group is None:
        min_group = MIN_GROUP
    left = np.zeros(len(lines), dtype=bool)
    if not candidate.any():
        return [], left
    # every line is split, candidate or not: a take of the candidates would cost more than the splits
    split = pc.split_pattern(lines, '"')
    parts = split.flatten()
    starts = list_starts(split)
    nparts = np.diff(starts, append=len(parts))
    groups: list[Group] = []
    counts = np.bincount(nparts[candidate])
    for p in np.flatnonzero(counts >= min_group).tolist():
        if not p & 1:
            continue  # an odd number of quotes: unterminated or misplaced, the row parser says which
        rows = np.flatnonzero((nparts == p) & candidate)
        groups += _shape_groups(parts, starts[rows], rows, p, min_group)
    left[candidate] = True
    for g in groups:
        left[g.lines] = False
    return groups, left


def _shape_groups(
    parts: pa.Array, starts: np.ndarray[Any, Any], lines: np.ndarray[Any, Any], p: int, min_group: int
) -> list[Group]:
    """Lines with `p` parts (line i's first part at starts[i] in `parts`), grouped by the number of pieces
    in each unquoted run, keeping only lines whose runs are set off by single spaces."""
    n = len(starts)
    # Runs that are the same bare separator on every line (` ` between two quoted fields, `` before a
    # leading or after a trailing quote) hold no field: checked by length and byte, not split (most runs
    # of an ALB line are such).
    offs = _offsets(parts)
    data = np.frombuffer(parts.buffers()[2], dtype=np.uint8) if parts.buffers()[2] is not None else None
    base = int(np.frombuffer(parts.buffers()[1], dtype=np.int32)[parts.offset])  # offs are relative to it
    if n and starts[-1] - starts[0] == (n - 1) * p:  # consecutive lines: their part lengths form a matrix
        sizes = np.diff(offs[starts[0] : starts[0] + n * p + 1]).reshape(n, p)
    else:
        sizes = np.diff(offs)[starts[:, None] + np.arange(p)]
    runs = []
    for j in range(0, p, 2):
        size = sizes[:, j]
        if 0 < j < p - 1:
            if (size == 1).all() and data is not None and (data[offs[starts + j] + base] == 0x20).all():
                continue
        elif p > 1 and not size.any():  # the line starts (j == 0) or ends (j == p - 1) with a quote
            continue
        runs.append(j)
    r = len(runs)
    if r:
        split = pc.split_pattern(parts.take(pa.array((starts[:, None] + np.array(runs)).ravel())), " ")
        pieces = split.flatten()
        first = list_starts(split)
        count = np.diff(first, append=len(pieces)).reshape(n, r)
        size = np.diff(_offsets(pieces))  # length of each piece
    else:
        pieces, first, count, size = parts, np.zeros(0, np.int64), np.zeros((n, 0), np.int64), np.zeros(0)
    shapes: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any] | None]]
    if (count == count[0]).all():  # one shape for all lines (the usual case): no index per line needed
        shapes = [(np.arange(n), count[0], None)]
    else:
        first = first.reshape(n, r)  # [line, run]: index of the run's first piece in `pieces`
        # a hash of the piece counts finds the frequent shapes (np.unique over rows was 20x slower); each
        # group is then checked exactly against its first line's counts, so a collision only leaves lines out
        key = np.zeros(n, dtype=np.uint64)
        for c in count.T:
            key = key * np.uint64(0x9E3779B97F4A7C15) + c.astype(np.uint64)
        _, first_of, inverse, counts = np.unique(
            key, return_index=True, return_inverse=True, return_counts=True
        )
        shapes = []
        for k in np.flatnonzero(counts >= min_group).tolist():
            sel = np.flatnonzero(inverse.reshape(-1) == k)
            lengths = count[first_of[k]]
            sel = sel[(count[sel] == lengths).all(axis=1)]
            shapes.append((sel, lengths, first[sel]))
    out = []
    for sel, lengths, at in shapes:
        # Per split run, which pieces must be empty (the edges next to a quote: the run starts or ends with
        # a space) and which are the fields (not empty: no two spaces in a row). `"a""b"` or `"a"b"c"`
        # (a run between two quotes without both spaces) makes the whole shape the row parser's.
        empty: list[tuple[int, int]] = []  # (run, piece)
        bare: list[tuple[int, int, int]] = []  # (part, run, piece)
        for run, (j, n_pieces) in enumerate(zip(runs, lengths.tolist(), strict=True)):
            lo, hi = 0, n_pieces
            if j > 0:
                if n_pieces < 2 and j < p - 1:
                    break
                empty.append((run, 0))
                lo = 1
            if j < p - 1:
                empty.append((run, n_pieces - 1))
                hi = n_pieces - 1
            bare += [(j, run, t) for t in range(lo, hi)]
        else:
            ok = np.ones(len(sel), dtype=bool)
            if at is None:  # one shape: the pieces form a (line, piece) matrix
                cum, grid = _cum(lengths), size.reshape(len(sel), -1)
                if empty:
                    ok &= (grid[:, [cum[run] + t for run, t in empty]] == 0).all(axis=1)
                if bare:
                    ok &= (grid[:, [cum[run] + t for _, run, t in bare]] > 0).all(axis=1)
                row0 = np.arange(len(sel)) * grid.shape[1]
                bare_at = [row0 + cum[run] + t for _, run, t in bare]
            else:
                if empty:
                    ok &= (size[np.stack([at[:, run] + t for run, t in empty], axis=1)] == 0).all(axis=1)
                bare_at = [at[:, run] + t for _, run, t in bare]
                if bare_at:
                    ok &= (size[np.stack(bare_at, axis=1)] > 0).all(axis=1)
            if not ok.all():
                sel, bare_at = sel[ok], [a[ok] for a in bare_at]
            m = len(sel)
            if m < min_group:
                continue
            # one take per kind, field after field, then zero-copy slices: one pass instead of one per field
            quoted_at = [starts[sel] + j for j in range(1, p, 2)]
            bare_cols = _columns(pieces, bare_at, m)
            quoted_cols = _columns(parts, quoted_at, m)
            order = sorted(
                [(j, 0, i) for i, (j, _, _) in enumerate(bare)] + [(j, 1, j // 2) for j in range(1, p, 2)]
            )
            fields = [quoted_cols[i] if kind else bare_cols[i] for _, kind, i in order]
            out.append(
                Group(lines if m == len(lines) else lines[sel], fields, [bool(k) for _, k, _ in order])
            )
    return out


def _cum(counts: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Index of each run's first piece within a line whose runs have `counts` pieces."""
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def _columns(values: pa.Array, index: list[np.ndarray[Any, Any]], m: int) -> list[pa.Array]:
    """values.take(i) for each index array, as slices of one take."""
    if not index:
        return []
    taken = values.take(pa.array(np.concatenate(index)))
    return [taken.slice(i * m, m) for i in range(len(index))]


# -- column helpers shared by the sources' vectorised conversions -------------------------------------------


def dash_null(a: pa.Array, empty: bool = False) -> pa.Array:
    """`-` (AWS's "not available") → NULL, and "" too if `empty`: numpy on the buffers, the text not copied."""
    n = len(a)
    if not n:
        return a
    offs = np.frombuffer(a.buffers()[1], dtype=np.int32)[a.offset : a.offset + n + 1]
    lens = np.diff(offs)
    data = a.buffers()[2]
    drop = lens == 1
    one = np.flatnonzero(drop)
    if len(
        one
    ):  # only one-byte values can be `-`: look at those bytes alone (the others would be cache misses)
        drop[one] = np.frombuffer(data, dtype=np.uint8)[offs[one]] == 0x2D
    if empty:
        drop |= lens == 0
    valid = ~drop
    if a.null_count:
        valid &= np.asarray(a.is_valid())
    elif not drop.any():
        return a
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little").tobytes())
    return pa.StringArray.from_buffers(n, pa.py_buffer(offs), data, bitmap, int(n - valid.sum()))


def const_strings(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, _S), n)


def nulls_as_false(mask: pa.Array) -> np.ndarray[Any, Any]:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


_IPV4_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4 = rf"^(?:{_IPV4_OCTET}\.){{3}}{_IPV4_OCTET}$"  # what ipaddress.IPv4Address accepts (no leading zeros)


def ip_mask(a: pa.Array) -> np.ndarray[Any, Any]:
    """is_ip per value (False for NULL): IPv4 by regex on the whole column, the rest through is_ip once per
    distinct value (IPv6 has too many spellings for a regex to be trusted to agree with ipaddress)."""
    v4 = nulls_as_false(pc.match_substring_regex(a, _IPV4))
    other = ~v4 & np.asarray(a.is_valid())
    if not other.any():
        return v4
    distinct = pc.unique(a.filter(pa.array(other))).to_pylist()
    good = pa.array([v for v in distinct if is_ip(v)], _S)
    return v4 | nulls_as_false(pc.is_in(a, value_set=good))


def lists(cols: list[pa.Array], keep: list[np.ndarray[Any, Any]], n: int) -> pa.Array:
    """list<string> per row: the values of `cols` where `keep`, in column order."""
    offsets = np.zeros(n + 1, dtype=np.int32)
    if not cols:
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array([], _S))
    mask = np.stack(keep, axis=1)
    np.cumsum(mask.sum(axis=1), out=offsets[1:])
    index = (np.arange(len(cols))[None, :] * n + np.arange(n)[:, None])[
        mask
    ]  # row-major: column order per row
    values = pa.chunked_array([c.cast(_S) for c in cols]).take(pa.array(index)).combine_chunks()
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def repeat_list(value: pa.Array, n: int) -> pa.Array:
    """The same one-element list<string> in every row (e.g. related_accounts = [the key's account])."""
    return pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), value)


def empty_lists(n: int) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], _S))


def digits(a: pa.Array, most: int) -> np.ndarray[Any, Any]:
    """Per value: 1 to `most` ASCII digits (str.isascii() and str.isdigit(), bounded; False for NULL)."""
    return nulls_as_false(pc.ascii_is_decimal(a)) & (_lengths(a) <= most)


def prefixed(a: pa.Array, prefix: str) -> np.ndarray[Any, Any]:
    """str.startswith per value (False for NULL)."""
    return nulls_as_false(pc.starts_with(a, prefix))


def matches(a: pa.Array, pattern: str) -> np.ndarray[Any, Any]:
    """RE2 search per value (False for NULL)."""
    return nulls_as_false(pc.match_substring_regex(a, pattern))


def masked(a: pa.Array, keep: np.ndarray[Any, Any]) -> pa.Array:
    """NULL where not `keep` (before a cast that would fail on the rows being rejected anyway)."""
    if keep.all():
        return a
    return pc.if_else(pa.array(keep), a, pa.scalar(None, a.type))
