"""ALB's columnar path (textcols.LineColumns + alb._fast) against parse_object, the reference.

conftest.py already compares both paths on every parse_object call of the parser tests; this module checks
that the vectorised path is really the one taken on clean logs, and that a hostile line inside an otherwise
clean object goes to the row parser (and only that line), with the object's output unchanged.
"""

from __future__ import annotations

import functools
import gzip
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from mamori.sources import alb
from mamori.sources.alb import SOURCE
from mamori.sources.alb.generate import generate_alb
from mamori.sources.base import ObjectResult, RawKey, Source
from mamori.sources.formats import textcols

CROSS_CHECK = False  # conftest's parse_object wrapper: this module compares the two paths itself
Check = Callable[[Source, RawKey, bytes, ObjectResult], None]


@functools.cache
def _generated() -> tuple[RawKey, tuple[str, ...]]:
    """Every line of two generated hours (all load balancers), and the first object's key."""
    out: list[tuple[str, bytes]] = []
    generate_alb(lambda k, d, t: out.append((k, d)), datetime(2026, 11, 1, tzinfo=UTC), hours=2)
    lines: list[str] = []
    for _, data in out:
        lines += gzip.decompress(data).decode().splitlines()
    raw = SOURCE.classify(out[0][0])
    assert raw is not None
    return raw, tuple(lines)


def clean(n: int = 400) -> tuple[RawKey, list[str]]:
    raw, lines = _generated()
    assert len(lines) >= n
    return raw, list(lines[:n])


def body(lines: list[str], end: str = "\n") -> bytes:
    return "".join(line + end for line in lines).encode()


def run(raw: RawKey, data: bytes) -> textcols.LineColumns:
    parser = SOURCE.columnar(lambda p, t, o: None)
    parser.parse(raw, data)
    parser.flush()
    return parser


@pytest.fixture(autouse=True)
def _small_objects_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The objects here are a few hundred lines: let the vectorised path take them."""
    monkeypatch.setattr(textcols, "MIN_BYTES", 1024)


def test_clean_logs_take_the_vectorised_path_only(
    monkeypatch: pytest.MonkeyPatch, columnar_matches: Check
) -> None:
    raw, lines = clean()
    data = body(lines)
    want = SOURCE.parse_object(raw, data)
    assert len(want.rows) == len(lines) and not want.quarantined

    def no_row_parser(self: Any, line: str) -> Any:
        raise AssertionError(f"row parser called for {line[:60]!r}")

    monkeypatch.setattr(alb._Context, "parse_line", no_row_parser)
    parser = run(raw, data)
    assert (parser.objects_columnar, parser.lines_fast, parser.lines_row) == (1, len(lines), 0)
    monkeypatch.undo()
    monkeypatch.setattr(textcols, "MIN_BYTES", 1024)
    columnar_matches(SOURCE, raw, data, want)


def test_generated_objects_and_gzip_match(columnar_matches: Check) -> None:
    raw, lines = clean(1000)
    for data in (body(lines), gzip.compress(body(lines)), body(lines, "\r\n"), body(lines)[:-1]):
        columnar_matches(SOURCE, raw, data, SOURCE.parse_object(raw, data))
    assert run(raw, body(lines, "\r\n")).lines_row == 0  # CRLF: the `\r` is dropped, lines stay vectorised


def _swap(line: str, field: int, value: str) -> str:
    """The line with one field's text replaced, its quotes (if it had them) kept."""
    spans = [m.span(1) if m.group(1) is not None else m.span(2) for m in alb._TOKEN.finditer(line)]
    start, end = spans[field]
    return line[:start] + value + line[end:]


HOSTILE: dict[str, Callable[[str], str]] = {
    "quote inside a field": lambda ln: ln.replace('" "', '"x" "', 1),
    "misplaced quote": lambda ln: ln.replace(" 200 ", ' 2"00 ', 1),
    "quoted field glued to text": lambda ln: ln.replace('"-" ', '"-"x ', 1),
    "adjacent quoted fields": lambda ln: ln.replace('" "', '""', 1),
    "escaped quote in the user agent": lambda ln: _swap(ln, 13, 'curl \\"evil\\"'),
    "space before a closing quote then text": lambda ln: ln.replace('" "', ' "x "', 1),
    "unterminated quote": lambda ln: ln + ' "open',
    "too few fields": lambda ln: " ".join(ln.split(" ")[:10]),
    "one field less": lambda ln: ln.rsplit(" ", 1)[0],
    "extra trailing field": lambda ln: ln + " extra",
    "extra quoted trailing fields": lambda ln: ln + ' "a b" "c"',
    "two spaces between fields": lambda ln: ln.replace(" ", "  ", 1),
    "leading space": lambda ln: " " + ln,
    "trailing space": lambda ln: ln + " ",
    "tab inside a field": lambda ln: ln.replace("app/", "app/\t", 1),
    "bad timestamp": lambda ln: _swap(ln, 1, "2026-02-30T10:00:00.000000Z"),
    "year zero": lambda ln: _swap(ln, 1, "0000-01-01T10:00:00.000000Z"),
    "time with an offset": lambda ln: _swap(ln, 1, "2026-11-01T11:00:00.000000+01:00"),
    "time without fraction": lambda ln: _swap(ln, 1, "2026-11-01T10:00:00Z"),
    "missing time": lambda ln: _swap(ln, 1, "-"),
    "missing client": lambda ln: _swap(ln, 3, "-"),
    "client without port": lambda ln: _swap(ln, 3, "192.0.2.1"),
    "port out of range": lambda ln: _swap(ln, 3, "192.0.2.1:65536"),
    "bracketed IPv6 client": lambda ln: _swap(ln, 3, "[2001:db8::1]:443"),
    "hostname target": lambda ln: _swap(ln, 4, "internal.example:80"),
    "exponent processing time": lambda ln: _swap(ln, 5, "1e-3"),
    "nan processing time": lambda ln: _swap(ln, 5, "nan"),
    "int32 overflow": lambda ln: _swap(ln, 8, "99999999999"),
    "19-digit bytes": lambda ln: _swap(ln, 11, "1234567890123456789"),
    "non-ascii digits": lambda ln: _swap(ln, 10, "١٢"),
    "url with a space": lambda ln: _swap(ln, 12, "GET https://h:443/a b HTTP/1.1"),
    "http/0.9 request": lambda ln: _swap(ln, 12, "GET /"),
    "unparsed request": lambda ln: _swap(ln, 12, "- - - "),
    "empty quoted user agent": lambda ln: _swap(ln, 13, ""),
    "retry to another target": lambda ln: _swap(ln, 25, "10.9.9.9:80 10.8.8.8:8080"),
    "unicode user agent": lambda ln: _swap(ln, 13, "Mozilla/5.0 (ü; \u2028; 日本)"),
    "whitespace-only line": lambda ln: " \t ",
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
    raw, lines = clean()
    lines[150] = HOSTILE[case](lines[150])
    data = body(lines)
    want = SOURCE.parse_object(raw, data)
    columnar_matches(SOURCE, raw, data, want)
    parser = run(raw, data)
    assert parser.objects_columnar == 1
    assert parser.lines_fast >= len(lines) - 1
    if min_group > 1:
        assert parser.lines_row == (1 if lines[150].strip() and parser.lines_fast < len(lines) else 0)


def test_truncated_gzip_is_quarantined_like_the_row_path(columnar_matches: Check) -> None:
    raw, lines = clean()
    data = gzip.compress(body(lines))
    cut = data[: len(data) // 2]
    want = SOURCE.parse_object(raw, cut)
    assert [q.index for q in want.quarantined] == [None] and not want.rows
    columnar_matches(SOURCE, raw, cut, want)


def test_invalid_utf8_object_takes_the_row_path(columnar_matches: Check) -> None:
    raw, lines = clean()
    data = body(lines).replace(b"curl", b"cu\xffrl", 1).replace(b"Mozilla", b"Moz\xc3illa", 1)
    want = SOURCE.parse_object(raw, data)
    columnar_matches(SOURCE, raw, data, want)
    assert run(raw, data).objects_columnar == 0


def test_chunks_and_partitions_across_hours(monkeypatch: pytest.MonkeyPatch, columnar_matches: Check) -> None:
    """Lines of several hours, read in many small chunks: partitions and order as the row path has them."""
    raw, every = _generated()
    lines = list(every[:: len(every) // 2000])
    lines = lines[::2] + lines[1::2][::-1]  # hours interleave in line order
    monkeypatch.setattr(textcols, "CHUNK", 16 * 1024)
    monkeypatch.setattr(textcols, "MIN_GROUP", 4)
    data = body(lines)
    want = SOURCE.parse_object(raw, data)
    assert len({p for p, _ in want.rows}) > 1
    columnar_matches(SOURCE, raw, data, want)
    assert run(raw, data).lines_row == 0


def test_twice_compressed_object_is_read_as_the_row_path_reads_it(columnar_matches: Check) -> None:
    """The row path gunzips once: a gzip inside a gzip is text to it (quarantined lines), not rows."""
    raw, lines = clean()
    data = gzip.compress(gzip.compress(body(lines)))
    want = SOURCE.parse_object(raw, data)
    assert not want.rows
    columnar_matches(SOURCE, raw, data, want)


_NOISE = ['"', " ", "\\", "-", ":", "\r", "\t", "é", "0", '"-"', "  ", '" "', '\\"', ".", "\u2028", "\x00"]


def _mutate(rng: random.Random, line: str) -> str:
    """A few random insertions, deletions and overwrites of characters that matter to the splitter."""
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
    raw, lines = clean(300)
    for k in rng.sample(range(len(lines)), 40):
        lines[k] = _mutate(rng, lines[k])
    data = "\n".join(lines).encode() + rng.choice([b"", b"\n", b"\r\n"])
    columnar_matches(SOURCE, raw, data, SOURCE.parse_object(raw, data))
