"""S3 server access logs' columnar path (textcols.LineColumns + s3access._fast) against parse_object.

conftest.py already compares both paths on every parse_object call of the parser tests; this module checks
that the vectorised path is really the one taken on clean logs, that each line the row parser must see (an
escaped quote, a field count or quoting the regex reads differently, a bad time...) goes there alone, and
that the object's output is unchanged.
"""

from __future__ import annotations

import functools
import gzip
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from mamori.sources import s3access
from mamori.sources.base import ObjectResult, RawKey, Source
from mamori.sources.formats import textcols
from mamori.sources.s3access import SOURCE
from mamori.sources.s3access.generate import render_sample

CROSS_CHECK = False  # conftest's parse_object wrapper: this module compares the two paths itself
Check = Callable[[Source, RawKey, bytes, ObjectResult], None]
KEY = "AWSLogs/123456789012/us-west-1/amzn-s3-demo-bucket1/2019/02/06/2019-02-06-00-05-12-4AF1F4A7F7F2B3E6"


def raw() -> RawKey:
    r = SOURCE.classify(KEY)
    assert r is not None
    return r


def clean(n: int = 2000, start: datetime | None = None) -> list[str]:
    """Generated lines without backslashes (the generator's scanner user agent escapes quotes); enough of
    them that each shape (a `-` request_uri, ...) has MIN_GROUP lines."""
    return list(_clean(n, start))


@functools.cache
def _clean(n: int, start: datetime | None) -> tuple[str, ...]:
    lines = [ln for ln in render_sample(n * 2, seed=3, start=start).decode().splitlines() if "\\" not in ln]
    assert len(lines) >= n
    return tuple(lines[:n])


def body(lines: list[str], end: str = "\n") -> bytes:
    return "".join(line + end for line in lines).encode()


def run(data: bytes) -> textcols.LineColumns:
    parser = SOURCE.columnar(lambda p, t, o: None)
    parser.parse(raw(), data)
    parser.flush()
    return parser


@pytest.fixture(autouse=True)
def _small_objects_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The objects here are a few hundred lines: let the vectorised path take them."""
    monkeypatch.setattr(textcols, "MIN_BYTES", 1024)


def test_clean_logs_take_the_vectorised_path_only(
    monkeypatch: pytest.MonkeyPatch, columnar_matches: Check
) -> None:
    lines = clean()
    data = body(lines)
    want = SOURCE.parse_object(raw(), data)
    assert len(want.rows) == len(lines) and not want.quarantined

    def no_row_parser(self: Any, line: str) -> Any:
        raise AssertionError(f"row parser called for {line[:60]!r}")

    monkeypatch.setattr(s3access._LineParser, "parse", no_row_parser)
    parser = run(data)
    assert (parser.objects_columnar, parser.lines_fast, parser.lines_row) == (1, len(lines), 0)
    monkeypatch.undo()
    monkeypatch.setattr(textcols, "MIN_BYTES", 1024)
    columnar_matches(SOURCE, raw(), data, want)


def test_generated_sample_with_escaped_quotes(columnar_matches: Check) -> None:
    """The generator's own sample: lines with `\\"` in the user agent are the row parser's, the rest not."""
    data = render_sample(3000, seed=5)
    want = SOURCE.parse_object(raw(), data)
    columnar_matches(SOURCE, raw(), data, want)
    escaped = sum("\\" in ln for ln in data.decode().splitlines())
    assert escaped and run(data).lines_row == escaped


def test_gzip_crlf_and_no_final_newline_match(columnar_matches: Check) -> None:
    lines = clean()
    for data in (gzip.compress(body(lines)), body(lines, "\r\n"), body(lines)[:-1]):
        columnar_matches(SOURCE, raw(), data, SOURCE.parse_object(raw(), data))
    assert run(body(lines, "\r\n")).lines_row == 0


def _fields(line: str) -> list[str]:
    """The line's fields, quoted ones whole (clean lines have no escaped quotes); the time counts as two."""
    fields: list[str] = []
    for token in line.split(" "):
        if fields and fields[-1].count('"') == 1:
            fields[-1] += " " + token
        else:
            fields.append(token)
    return fields


def _field(line: str, k: int, value: str) -> str:
    """The line with field k replaced by `value`, quoting and all."""
    fields = _fields(line)
    fields[k] = value
    return " ".join(fields)


def _first(line: str, k: int) -> str:
    """The line's first k fields."""
    return " ".join(_fields(line)[:k])


HOSTILE: dict[str, Callable[[str], str]] = {
    "escaped quote in the user agent": lambda ln: _field(ln, 17, '"curl \\"x\\" 1.0"'),
    "user agent ending in a backslash": lambda ln: _field(ln, 17, '"curl\\"'),
    "quote inside a bare field": lambda ln: _field(ln, 8, 'photos/"a".jpg'),
    "quoted key": lambda ln: _field(ln, 8, '"photos/a b.jpg"'),
    "quoted access point": lambda ln: _field(ln, 25, '"arn:aws:s3:us-east-1:123456789012:accesspoint/a b"'),
    "unquoted user agent": lambda ln: _field(ln, 17, "curl/8.0"),
    "bare dash request uri": lambda ln: _field(ln, 9, "-"),
    "quoted dash user agent": lambda ln: _field(ln, 17, '"-"'),
    "empty quoted referrer": lambda ln: _field(ln, 16, '""'),
    "uri of four words": lambda ln: _field(ln, 9, '"GET /a b HTTP/1.1"'),
    "uri without protocol": lambda ln: _field(ln, 9, '"GET /a"'),
    "uri of three words without HTTP": lambda ln: _field(ln, 9, '"GET /a FTP/1"'),
    "quote glued to the next field": lambda ln: _field(ln, 16, '"-"x'),
    "unterminated quote": lambda ln: _field(ln, 16, '"-'),
    "too few fields": lambda ln: _first(ln, 20),
    "24 fields": lambda ln: _first(ln, 25),
    "25 fields": lambda ln: _first(ln, 26),
    "26 fields": lambda ln: _first(ln, 27),
    "extra trailing fields": lambda ln: ln + ' NewField "quoted new"',
    "two spaces": lambda ln: ln.replace(" ", "  ", 1),
    "trailing space": lambda ln: ln + " ",
    "bad time": lambda ln: _field(_field(ln, 2, "[31/Feb/2019:00:00:38"), 3, "+0000]"),
    "bad month": lambda ln: _field(ln, 2, "[06/Fbr/2019:00:00:38"),
    "time with an offset": lambda ln: _field(ln, 3, "+0130]"),
    "time without brackets": lambda ln: _field(_field(ln, 2, "06/Feb/2019:00:00:38"), 3, "+0000"),
    "time of one field": lambda ln: _field(ln, 3, "+0000]x]"),
    "non-numeric status": lambda ln: _field(ln, 10, "OK"),
    "ten-digit status": lambda ln: _field(ln, 10, "2000000000"),
    "19-digit bytes": lambda ln: _field(ln, 12, "1234567890123456789"),
    "non-ascii digits": lambda ln: _field(ln, 12, "١٢"),
    "tab inside a field": lambda ln: _field(ln, 7, "REST.GET\tOBJECT"),
    "unicode user agent": lambda ln: _field(ln, 17, '"Mozilla/5.0 (ü; \u2028; 日本)"'),
    "IPv6 remote": lambda ln: _field(ln, 4, "2001:db8::7"),
    "hostname remote": lambda ln: _field(ln, 4, "example.com"),
    "whitespace-only line": lambda ln: "\t",
    "blank line": lambda ln: "",
}


@pytest.mark.parametrize("min_group", [textcols.MIN_GROUP, 1])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_line_in_a_clean_object(
    case: str, min_group: int, monkeypatch: pytest.MonkeyPatch, columnar_matches: Check
) -> None:
    """One altered line among clean ones: same output as the row path; with the default group size the
    line is the row parser's alone (min_group=1 also vectorises its own shape when it can)."""
    monkeypatch.setattr(textcols, "MIN_GROUP", min_group)
    lines = clean()
    lines[1500] = HOSTILE[case](lines[1500])
    data = body(lines)
    want = SOURCE.parse_object(raw(), data)
    columnar_matches(SOURCE, raw(), data, want)
    parser = run(data)
    assert parser.objects_columnar == 1
    assert parser.lines_fast >= len(lines) - 1
    if min_group > 1:
        assert parser.lines_row == (1 if lines[1500].strip() and parser.lines_fast < len(lines) else 0)


def test_quarantine_reasons_and_line_numbers_match(columnar_matches: Check) -> None:
    lines = clean()
    for i, case in zip((3, 99, 250, 1999), ("bad time", "non-numeric status", "too few fields", "bad month")):
        lines[i] = HOSTILE[case](lines[i])
    data = body(lines)
    want = SOURCE.parse_object(raw(), data)
    assert [q.index for q in want.quarantined] == [3, 99, 250, 1999]
    columnar_matches(SOURCE, raw(), data, want)
    assert run(data).lines_fast == len(lines) - 4


def test_truncated_gzip_and_invalid_utf8(columnar_matches: Check) -> None:
    data = gzip.compress(body(clean()))
    cut = data[: len(data) // 2]
    want = SOURCE.parse_object(raw(), cut)
    assert [q.index for q in want.quarantined] == [None] and not want.rows
    columnar_matches(SOURCE, raw(), cut, want)
    bad = body(clean()).replace(b"aws-cli", b"aws\xff-cli", 1)
    columnar_matches(SOURCE, raw(), bad, SOURCE.parse_object(raw(), bad))
    assert run(bad).objects_columnar == 0


def test_partitions_across_hours_in_small_chunks(
    monkeypatch: pytest.MonkeyPatch, columnar_matches: Check
) -> None:
    lines = clean(600, start=datetime(2026, 3, 14, 23, 59, 55, tzinfo=UTC))  # ~12 s: two hours, two days
    lines = lines[::2] + lines[1::2][::-1]
    monkeypatch.setattr(textcols, "CHUNK", 16 * 1024)
    monkeypatch.setattr(textcols, "MIN_GROUP", 1)
    data = body(lines)
    want = SOURCE.parse_object(raw(), data)
    assert len({p for p, _ in want.rows}) == 2
    columnar_matches(SOURCE, raw(), data, want)
    assert run(data).lines_row == 0


def test_twice_compressed_object_is_read_as_the_row_path_reads_it(columnar_matches: Check) -> None:
    """The row path gunzips once: a gzip inside a gzip is text to it (quarantined lines), not rows."""
    data = gzip.compress(gzip.compress(body(clean())))
    want = SOURCE.parse_object(raw(), data)
    assert not want.rows
    columnar_matches(SOURCE, raw(), data, want)


_NOISE = [
    '"',
    " ",
    "\\",
    "-",
    "[",
    "]",
    "\r",
    "\t",
    "é",
    "0",
    '"-"',
    "  ",
    '" "',
    '\\"',
    "/",
    "\u2028",
    "\x00",
]


def _mutate(rng: random.Random, line: str) -> str:
    """A few random insertions, deletions and overwrites of characters that matter to the line regex."""
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(line) + 1)
        op = rng.random()
        if op < 0.4:
            line = line[:i] + rng.choice(_NOISE) + line[i:]
        elif op < 0.7:
            line = line[:i] + line[i + 1 :]
        else:
            line = line[:i] + rng.choice(_NOISE) + line[i + 1 :]
    return line


@pytest.mark.parametrize("seed", range(8))
def test_random_damage_matches_the_row_path(
    seed: int, monkeypatch: pytest.MonkeyPatch, columnar_matches: Check
) -> None:
    """Damaged lines at random among clean ones, every shape vectorised, small chunks: same output."""
    rng = random.Random(seed)
    monkeypatch.setattr(textcols, "MIN_GROUP", rng.choice([1, 2, 8]))
    monkeypatch.setattr(textcols, "CHUNK", rng.choice([4000, 1 << 20]))
    lines = clean(300)
    for k in rng.sample(range(len(lines)), 40):
        lines[k] = _mutate(rng, lines[k])
    data = "\n".join(lines).encode() + rng.choice([b"", b"\n", b"\r\n"])
    columnar_matches(SOURCE, raw(), data, SOURCE.parse_object(raw(), data))
