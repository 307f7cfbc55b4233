"""Load and validate `sql/detections/<source>/<id>.sql`.

Everything checkable without data is checked at load: header schema, id = filename, source directory =
log_source, exactly one window macro, and that the rendered body parses as one Athena SELECT. The catalog
test runs this over every file, so a broken rule fails CI, not the 3 a.m. run.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlglot
import yaml
from pydantic import ValidationError
from sqlglot import exp

from mamori.detections.dialect_lint import dialect_problems
from mamori.detections.errors import FileLineError
from mamori.detections.lookups import LookupFileError, load_lookup
from mamori.detections.model import DetectionHeader, parse_duration
from mamori.detections.render import render_sql
from mamori.sources import SOURCES, SPECS

_FILE = re.compile(r"\A\s*/\*(?P<header>.*?)\*/(?P<body>.*)\Z", re.S)
WINDOW_MACRO = re.compile(r"\{\{\s*window\(\s*\)\s*\}\}")
BEFORE_MACRO = re.compile(r"\{\{\s*window\(\s*before\s*=\s*'(?P<d>[^']*)'\s*\)\s*\}\}")
LOOKBACK_MACRO = re.compile(r"\{\{\s*lookback\(\s*\)\s*\}\}")
LOOKUP_MACRO = re.compile(r"\{\{\s*lookup\(\s*'(?P<name>[^']*)'\s*\)\s*\}\}")
PRINCIPAL_MACRO = re.compile(r"\{\{\s*principal\(\s*\)\s*\}\}")
ANY_MACRO = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


class DetectionError(FileLineError):
    """A detection file that must not be loaded; the message names the file and every problem found."""


@dataclass(frozen=True)
class BrokenDetection:
    """A file under sql/detections/ that does not load: reported on its own, never stopping the others."""

    id: str  # the file name's stem (the header may be what is broken)
    path: Path
    line: int
    reason: str

    def describe(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def header_key_line(text: str, key: object) -> int | None:
    """The line of `key:` in the header, so a reviewer is sent to the typo, not to the top of the file (a
    detection's or a saved hunt's)."""
    if not isinstance(key, str):
        return None
    m = re.search(rf"^\s*(?:-\s*)?{re.escape(key)}\s*:", text, re.M)
    return text.count("\n", 0, m.start()) + 1 if m else None


def yaml_file_problem(text: str, exc: Exception) -> tuple[int, str]:
    """A reviewed YAML file's error as (file line, why on one line): YAML's own mark for a syntax error, the
    line of the first offending key for a schema error (pydantic's multi-line report would bury it). Shared by
    the loaders of sql/ (suppressions, coverage, health thresholds), so a reviewer gets `file:line: why`."""
    if isinstance(exc, ValidationError):
        keys = [next((p for p in reversed(e["loc"]) if isinstance(p, str)), None) for e in exc.errors()]
        lines = [header_key_line(text, k) for k in keys]
        return min((n for n in lines if n), default=1), header_problems(exc)
    mark = getattr(exc, "problem_mark", None)
    if "<stream end>" in str(exc):  # an unclosed bracket or quote: where it opened, not the end of the file
        mark = getattr(exc, "context_mark", None) or mark
    line = mark.line + 1 if mark is not None else 1
    return line, "not valid YAML: " + " ".join(str(getattr(exc, "problem", None) or exc).split())


def header_problems(exc: ValidationError) -> str:
    """Pydantic's errors as `key: why (got 'value')`, one clause each: its own text repeats whole input
    mappings and a documentation URL per error, which buries the key to fix."""
    out = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e["loc"]) or "header"
        got = e.get("input")
        shown = (
            f" (got {str(got)[:80]!r})"
            if isinstance(got, str | int | float) and e["type"] != "missing"
            else ""
        )
        out.append(f"{where}: {e['msg']}{shown}")
    return "; ".join(out)


@dataclass(frozen=True)
class Detection:
    """A validated detection: its header and the Jinja-templated Athena SQL body."""

    header: DetectionHeader
    body: str
    path: Path

    @property
    def id(self) -> str:
        return self.header.id

    def render(self, start: datetime, end: datetime) -> str:
        """The exact SQL a run over [start, end) executes, baseline included for first-seen rules."""

        return render_sql(
            self.body,
            start,
            end,
            lookback=self.header.lookback_td,
            lookups=self.lookups(),
            principal=principal_of(self.header.log_source),
            rule=self.id,
        )

    @property
    def reach(self) -> timedelta | None:
        """How far before its window the rule reads: the longest `window(before=...)` (zero without one), or
        None for a first-seen rule, whose `lookback()` baseline reads days back (a shared scan of the window's
        recent rows cannot serve it; `mamori.detect`)."""
        if LOOKBACK_MACRO.search(self.body):
            return None
        return max((parse_duration(m["d"]) for m in BEFORE_MACRO.finditer(self.body)), default=timedelta(0))

    def names_read(self, start: datetime, end: datetime) -> frozenset[str] | None:
        """Every identifier the rendered SQL names (lower case; columns, struct fields, `USING` keys, aliases):
        a superset of the source table's columns the rule reads, so a shared scan may hold only those. None
        when a SELECT reading the table itself projects `*` (every column is read)."""
        tree = sqlglot.parse_one(self.render(start, end), read="athena")
        ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
        table = SOURCES[self.header.log_source].table
        for t in tree.find_all(exp.Table):
            select = t.find_ancestor(exp.Select)
            if t.name == table and t.name not in ctes and select is not None:
                for e in select.expressions:
                    if isinstance(e, exp.Star) or (
                        isinstance(e, exp.Column) and isinstance(e.this, exp.Star)
                    ):
                        return None
        return frozenset(i.name.lower() for i in tree.find_all(exp.Identifier))

    def lookups(self) -> dict[str, tuple[str, ...]]:
        """The reviewed lists the body names (`{{ lookup('x') }}`), read from `sql/lookups/` beside the
        detections folder this file lives in (read again when a file changes)."""
        return read_lookups(self.body, self.path.parents[2])


def principal_of(log_source: str) -> str | None:
    """The principal expression `{{ principal() }}` renders to for a rule of this source (None: it has none)."""
    spec = SPECS.get(log_source)
    return spec.fields.principal if spec is not None else None


def read_lookups(body: str, sql_dir: Path) -> dict[str, tuple[str, ...]]:
    return {m["name"]: load_lookup(sql_dir, m["name"]) for m in LOOKUP_MACRO.finditer(body)}


def body_start_line(text: str, m: re.Match[str]) -> int:
    """The file line of the body's first non-blank character (the body is stripped before rendering)."""
    body = m["body"]
    return text.count("\n", 0, m.start("body") + len(body) - len(body.lstrip())) + 1


class _NotAMapping(ValueError):
    """A header that is valid YAML but not a mapping."""


# The two costly steps of loading a rule, memoised on their input text: a process that loads the catalog again
# and again (the demo's dag.test() runs every task in one process; a detect run loads it in its sensor, its
# chunk listing and every chunk) pays YAML and sqlglot once per distinct header and rendered SQL, not once per
# load (profiled: ~18 % of the demo's wall time). Keyed on content, not on the path or its mtime, so an edited
# file, lookup list or macro is checked afresh; failures raise and are never cached.
@functools.lru_cache(maxsize=4096)
def _parsed_header(header: str) -> DetectionHeader:
    """The validated header of a detection's `/* ... */` block (frozen, so sharing it is safe)."""
    raw = yaml.safe_load(header)
    if not isinstance(raw, dict):
        raise _NotAMapping(header)
    return DetectionHeader.model_validate(raw)


@functools.lru_cache(maxsize=4096)
def _select_problems(sql: str) -> tuple[str, ...]:
    """What is wrong with a rendered body as one Athena SELECT (empty: nothing); sqlglot.ParseError raises."""
    tree = sqlglot.parse(sql, read="athena")
    if len(tree) != 1 or not isinstance(tree[0], exp.Select):
        return ("body must be exactly one SELECT statement",)
    return tuple(dialect_problems(tree[0]))


def load_detection(path: Path) -> Detection:
    """Parse and validate one file; raises DetectionError with a message fit for a code review."""
    text = path.read_text(encoding="utf-8")
    m = _FILE.match(text)
    if not m:
        raise DetectionError(f"{path}: must start with a /* YAML header */ block")
    try:
        header = _parsed_header(m["header"])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise DetectionError(f"{path}: header is not valid YAML: {exc}", line) from exc
    except _NotAMapping:
        raise DetectionError(f"{path}: header must be a YAML mapping", 1) from None
    except ValidationError as exc:
        # The first error whose key is in the file: a typo (`severty:`) also makes `severity` "missing",
        # and the missing key has no line, the mistyped one has.
        lines = [header_key_line(text, e["loc"][0]) for e in exc.errors() if e["loc"]]
        raise DetectionError(
            f"{path}: invalid header: {header_problems(exc)}", min((n for n in lines if n), default=1)
        ) from exc
    problems = []
    if header.id != path.stem:
        problems.append(f"id {header.id!r} differs from the filename {path.stem!r}")
    if header.log_source not in SOURCES:
        problems.append(f"log_source {header.log_source!r} is not a registered source ({sorted(SOURCES)})")
    if path.parent.name != header.log_source:
        problems.append(f"file must live in sql/detections/{header.log_source}/")
    for enrichment in header.enrichments or []:
        if not (path.parents[2] / "enrichments" / f"{enrichment}.sql").exists():
            problems.append(f"enrichment {enrichment!r} has no file sql/enrichments/{enrichment}.sql")
    body = m["body"].strip()
    if len(WINDOW_MACRO.findall(body)) != 1:
        problems.append("body must use {{ window() }} exactly once (the step a hit comes from)")
    known = (WINDOW_MACRO, BEFORE_MACRO, LOOKBACK_MACRO, LOOKUP_MACRO, PRINCIPAL_MACRO)
    stray = [t for t in ANY_MACRO.findall(body) if not any(m.fullmatch(t) for m in known)]
    if stray:
        problems.append(
            f"unknown template syntax {stray}: only window(), window(before='15m'), lookback(), lookup('name'),"
            " principal()"
        )
    lookups: dict[str, tuple[str, ...]] = {}
    try:
        lookups = read_lookups(body, path.parents[2])
    except LookupFileError as exc:
        problems.append(str(exc))
    for before in BEFORE_MACRO.finditer(body):
        try:
            parse_duration(before["d"])
        except ValueError as exc:
            problems.append(f"window(before=...): {exc}")
    uses_lookback = bool(LOOKBACK_MACRO.search(body))
    if uses_lookback != (header.lookback is not None):
        problems.append(
            "a first-seen rule needs both `lookback:` in the header and {{ lookback() }} in the body"
            if uses_lookback
            else "`lookback:` is set but the body never uses {{ lookback() }}"
        )
    missing = [k for k in header.dedup.keys if not re.search(rf"\b{re.escape(k)}\b", body)]
    if missing:
        problems.append(f"dedup keys {missing} do not appear in the SELECT")
    sql_error_line: int | None = None
    if not problems:
        sample = datetime(2026, 1, 1, tzinfo=UTC)
        try:
            sql = render_sql(
                body,
                sample,
                sample.replace(hour=1),
                lookback=header.lookback_td,
                lookups=lookups,
                principal=principal_of(header.log_source),
                rule=header.id,
            )
            problems += _select_problems(sql)
        except ValueError as exc:  # a macro argument out of range
            problems.append(str(exc))
        except sqlglot.ParseError as exc:
            # sqlglot counts lines inside the rendered SQL, which starts at the body's first line; every
            # macro renders to one line, so adding the body's offset gives the line of the file.
            first = exc.errors[0] if exc.errors else {}
            if isinstance(first.get("line"), int):
                sql_error_line = body_start_line(text, m) + first["line"] - 1
                near = " ".join(str(first.get("highlight") or "").split())
                problems.append(
                    f"not valid Athena SQL at line {sql_error_line}: {first.get('description')}"
                    + (f" (near {near[:80]!r})" if near else "")
                )
            else:
                problems.append(f"not valid Athena SQL: {' '.join(str(exc).split())}")
    if problems:
        body_line = text.count("\n", 0, m.start("body")) + 1
        raise DetectionError(f"{path}: " + "; ".join(problems), sql_error_line or body_line)
    return Detection(header=header, body=body, path=path)


def load_catalog(sql_dir: Path, include_deprecated: bool = True) -> list[Detection]:
    """Every detection under sql_dir/detections, sorted by id; one error listing all broken files.

    Strict: for review and CI, where any broken file must fail. Runs use `load_catalog_tolerant`.
    """
    detections, broken = load_catalog_tolerant(sql_dir, include_deprecated)
    if broken:
        raise DetectionError("\n".join(b.describe() for b in broken), broken[0].line)
    return detections


def load_catalog_tolerant(
    sql_dir: Path, include_deprecated: bool = True
) -> tuple[list[Detection], list[BrokenDetection]]:
    """The detections that load, and the files that do not, each with its line and reason.

    One typo in one new rule must not stop the other rules from running (or from being listed and tested):
    the scheduled run, `mamori detections list|test` and the mutation tool run what loads and report the rest.
    """
    detections: list[Detection] = []
    broken: list[BrokenDetection] = []
    for f in sorted((sql_dir / "detections").glob("*/*.sql")):
        try:
            detections.append(load_detection(f))
        except DetectionError as exc:
            reason = str(exc).removeprefix(f"{f}: ")
            broken.append(BrokenDetection(f.stem, f, exc.line or 1, " ".join(reason.split())[:2000]))
    by_id: dict[str, list[Detection]] = {}
    for d in detections:
        by_id.setdefault(d.id, []).append(d)
    for det_id, same in sorted(by_id.items()):
        if len(same) > 1:  # which one is meant cannot be told: neither runs
            for d in same:
                others = [str(o.path) for o in same if o is not d]
                broken.append(
                    BrokenDetection(d.id, d.path, 1, f"duplicate detection id {det_id!r} (also {others})")
                )
            detections = [d for d in detections if d.id != det_id]
    if not include_deprecated:
        detections = [d for d in detections if d.header.status != "deprecated"]
    return sorted(detections, key=lambda d: d.id), sorted(broken, key=lambda b: (b.id, str(b.path)))


def get_detection(sql_dir: Path, detection_id: str) -> Detection:
    """One detection by id (mapped tasks load only their own file)."""
    matches = list((sql_dir / "detections").glob(f"*/{detection_id}.sql"))
    if len(matches) != 1:
        raise DetectionError(f"detection {detection_id!r}: expected one file, found {len(matches)}")
    return load_detection(matches[0])
