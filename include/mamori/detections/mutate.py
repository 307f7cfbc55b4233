"""Mutation testing of detections: break a rule on purpose and check that one of its cases notices.

A rule's cases prove what it catches (positives) and what it ignores (negatives), but only for the conditions
the cases actually exercise. A condition that no negative case depends on can be deleted and every case still
passes: the rule would then page on far more than its title says, and CI would stay green. Mutants make that
visible mechanically, one small break at a time:

- `drop`: each top-level conjunct of a WHERE, HAVING or JOIN ... ON clause replaced by TRUE (every SELECT,
  CTEs and subqueries included; the window macros themselves are never dropped);
- `negate`: each comparison inside those clauses negated (`=`/`<>`, `<`/`>=`, `IN`/`NOT IN`, `LIKE`,
  `IS NULL`, ...);
- `threshold`: the number in an ordering comparison (`count(*) >= 20`) moved by one either way, and the
  header `threshold` moved by one when it is above 1 (a threshold of 1 means "any hit");
- `before` / `lookback`: the sequence reach-back of `{{ window(before='30m') }}` and the first-seen baseline
  `lookback:` doubled and halved.

Each mutant runs against every case in two run shapes: one window covering the whole case (what the catalog
test does) and the run that owns the case's last event (its hour; earlier hours reachable only through
`before`/`lookback`, as in production). A case pinned in the rule's `expected.yaml` also runs a third shape,
consecutive hourly runs adding up as in the ledger, and must give exactly the pinned number of alerts: that is
what kills a counting rule's mutant that reports one burst twice, or loses it at an hour edge.
Only (case, shape) pairs the unmutated rule passes can kill a mutant.
A mutant no pair kills *survives*; a surviving mutant that is truly equivalent (e.g. `eventsource = ...`
redundant with `eventname = ...`) is listed under `equivalent_mutants:` in the rule's header with a reason,
and everything else is a gap in the cases. Parsed cases are cached, and one DuckDB connection serves every
mutant of one case, so the whole catalog runs in CI.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import sqlglot
from sqlglot import exp

from mamori.config import load_settings
from mamori.detections.dedup import group_hits
from mamori.detections.loader import BEFORE_MACRO, Detection, load_catalog
from mamori.detections.model import MAX_LOOKBACK, parse_duration
from mamori.detections.render import MAX_BEFORE
from mamori.detections.runner import run_detection
from mamori.detections.testing import (
    Pinned,
    case_expectations,
    case_files,
    case_hours,
    case_table,
    meets,
    outcome_over_runs,
)
from mamori.engines.duckdb import DuckDBEngine
from mamori.sources import get_source
from mamori.windows import HOUR, hour_floor

_MACRO = re.compile(r"\{\{.*?\}\}", re.S)
_PLACEHOLDER = "mamori_macro_"
_PLACEHOLDER_RE = re.compile(rf"\b{_PLACEHOLDER}(\d+)\b")


@dataclass(frozen=True)
class Mutant:
    """One deliberate break of a rule: its stable id (what `equivalent_mutants:` names) and what it runs."""

    id: str
    body: str
    threshold: int
    lookback: str | None


@dataclass
class MutantResult:
    mutant: Mutant
    killed_by: str | None = None  # "<kind>/<case> (<shape>)" of the first pair that noticed
    error: str | None = None  # the mutant did not run (also a kill: the case run fails)
    accepted: str | None = None  # the header's reason, when the mutant is a declared equivalent

    @property
    def survived(self) -> bool:
        return self.killed_by is None and self.error is None

    @property
    def status(self) -> str:
        if not self.survived:
            return "killed"
        return "accepted" if self.accepted else "survived"


@dataclass
class RuleScore:
    """The mutation result of one rule; `problems` are reasons the score cannot be trusted."""

    detection_id: str
    results: list[MutantResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def generated(self) -> int:
        return len(self.results)

    @property
    def killed(self) -> int:
        return sum(1 for r in self.results if r.status == "killed")

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.results if r.status == "accepted")

    @property
    def survivors(self) -> list[MutantResult]:
        return [r for r in self.results if r.status == "survived"]

    @property
    def complete(self) -> bool:
        """Every mutant killed or a declared equivalent, and nothing that makes the score unreliable."""
        return not self.survivors and not self.problems


# --- generating mutants ------------------------------------------------------------------------------------


def _protect(body: str) -> tuple[str, list[str]]:
    """Macros become plain identifiers so sqlglot can parse the body; `_restore` puts them back verbatim."""
    macros: list[str] = []

    def sub(m: re.Match[str]) -> str:
        macros.append(m.group(0))
        return f"{_PLACEHOLDER}{len(macros) - 1}"

    return _MACRO.sub(sub, body), macros


def _restore(sql: str, macros: list[str]) -> str:
    return _PLACEHOLDER_RE.sub(lambda m: macros[int(m.group(1))], sql)


def _is_macro(node: exp.Expr) -> bool:
    return isinstance(node, exp.Column) and node.name.startswith(_PLACEHOLDER)


def _conjuncts(cond: exp.Expr) -> list[exp.Expr]:
    inner = cond.unnest()
    if isinstance(inner, exp.And):
        return [*_conjuncts(inner.left), *_conjuncts(inner.right)]
    return [cond]


def _scope_name(node: exp.Expr) -> str:
    cte = node.find_ancestor(exp.CTE)
    return cte.alias_or_name if cte is not None else "main"


def _clauses(tree: exp.Expr) -> Iterator[tuple[str, exp.Expr]]:
    """(label, condition) of every WHERE, HAVING and JOIN ON in the statement, in source order."""
    for node in tree.walk():
        if isinstance(node, exp.Where | exp.Having):
            yield f"{_scope_name(node)}.{node.key}", node.this
        elif isinstance(node, exp.Join) and node.args.get("on") is not None:
            yield f"{_scope_name(node)}.on", node.args["on"]


_NEGATED: dict[type[exp.Expr], type[exp.Expr]] = {
    exp.EQ: exp.NEQ,
    exp.NEQ: exp.EQ,
    exp.GT: exp.LTE,
    exp.GTE: exp.LT,
    exp.LT: exp.GTE,
    exp.LTE: exp.GT,
}
_ORDERING = (exp.GT, exp.GTE, exp.LT, exp.LTE)
_PREDICATES = (exp.In, exp.Like, exp.ILike, exp.Is, exp.Between)


def _negation(node: exp.Expr) -> exp.Expr | None:
    if type(node) in _NEGATED:
        return _NEGATED[type(node)](this=node.this.copy(), expression=node.expression.copy())
    if isinstance(node, exp.Not) and isinstance(node.this, _PREDICATES):
        return node.this.copy()
    if isinstance(node, _PREDICATES) and not isinstance(node.parent, exp.Not):
        return exp.Not(this=node.copy())
    return None


def _short(node: exp.Expr) -> str:
    text = " ".join(node.sql(dialect="athena").split())
    return text if len(text) <= 120 else text[:117] + "..."


def _mutant_sql(tree: exp.Expr, target: exp.Expr, replacement: exp.Expr) -> str:
    """The statement with `target` (a node of `tree`) replaced, leaving `tree` untouched."""
    path: list[tuple[str, int | None]] = []
    node: exp.Expr | None = target
    while node is not None and node is not tree:
        parent = node.parent
        assert parent is not None
        key = node.arg_key
        assert key is not None
        value = parent.args[key]
        path.append((key, value.index(node) if isinstance(value, list) else None))
        node = parent
    copy = tree.copy()
    cursor: exp.Expr = copy
    for key, index in reversed(path):
        value = cursor.args[key]
        cursor = value[index] if index is not None else value
    cursor.replace(replacement)
    return copy.sql(dialect="athena", pretty=True)


def _scale(duration: str, factor: float, ceiling: timedelta) -> str | None:
    """A duration multiplied by `factor`, in minutes, inside (0, ceiling]; None when it would not change."""
    td = parse_duration(duration)
    minutes = int(td.total_seconds() // 60 * factor)
    if minutes < 1:
        return None
    scaled = min(timedelta(minutes=minutes), ceiling)
    if scaled == td:
        return None
    mins = int(scaled.total_seconds() // 60)
    if mins % 1440 == 0:
        return f"{mins // 1440}d"
    if mins % 60 == 0:
        return f"{mins // 60}h"
    return f"{mins}m"


def generate_mutants(det: Detection) -> list[Mutant]:
    """Every mutant of `det`, with ids stable across reformatting (they name the clause and the condition)."""
    protected, macros = _protect(det.body)
    tree = sqlglot.parse_one(protected, read="athena")
    h = det.header
    out: dict[str, Mutant] = {}

    def add(
        mid: str, sql: str | None = None, threshold: int | None = None, lookback: str | None = None
    ) -> None:
        base = mid
        n = 2
        while mid in out:  # the same text in the same clause twice (rare): keep both, numbered
            mid, n = f"{base} #{n}", n + 1
        body = _restore(sql, macros) if sql is not None else det.body
        out[mid] = Mutant(
            mid, body, threshold if threshold is not None else h.threshold, lookback or h.lookback
        )

    for label, cond in _clauses(tree):
        for part in _conjuncts(cond):
            if _is_macro(part.unnest()):
                continue
            add(f"drop {label}: {_short(part)}", _mutant_sql(tree, part, exp.true()))
        for node in cond.walk():
            if any(_is_macro(c) for c in node.find_all(exp.Column)):
                continue
            neg = _negation(node)
            if neg is not None:
                add(f"negate {label}: {_short(node)}", _mutant_sql(tree, node, neg))
            if isinstance(node, _ORDERING):
                for side in (node.this, node.expression):
                    if (
                        isinstance(side, exp.Literal)
                        and not side.is_string
                        and side.this.lstrip("-").isdigit()
                    ):
                        for delta in (1, -1):
                            moved = exp.Literal.number(int(side.this) + delta)
                            add(
                                f"threshold {label}: {_short(node)} ({delta:+d})",
                                _mutant_sql(tree, side, moved),
                            )
    if h.threshold > 1:
        for delta in (1, -1):
            add(f"threshold header: threshold {h.threshold} ({delta:+d})", threshold=h.threshold + delta)
    for m in BEFORE_MACRO.finditer(det.body):
        for word, factor in (("widen", 2.0), ("narrow", 0.5)):
            new = _scale(m["d"], factor, MAX_BEFORE)
            if new:
                body = det.body[: m.start("d")] + new + det.body[m.end("d") :]
                out[f"before {word}: {m['d']} -> {new}"] = Mutant(
                    f"before {word}: {m['d']} -> {new}", body, h.threshold, h.lookback
                )
    if h.lookback:
        for word, factor in (("widen", 2.0), ("narrow", 0.5)):
            new = _scale(h.lookback, factor, MAX_LOOKBACK)
            if new and parse_duration(new) >= HOUR:
                add(f"lookback {word}: {h.lookback} -> {new}", lookback=new)
    return list(out.values())


def identity_body(det: Detection) -> str:
    """The body after the same parse → print round trip every mutant takes (checked to change nothing)."""
    protected, macros = _protect(det.body)
    return _restore(sqlglot.parse_one(protected, read="athena").sql(dialect="athena", pretty=True), macros)


# --- running mutants against the cases ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Case:
    name: str  # "<kind>/<file>"
    kind: str
    table: pa.Table
    shapes: tuple[tuple[str, datetime, datetime], ...]  # (shape, start, end)
    pinned: Pinned | None = None  # exact outcome over consecutive hourly runs (expected.yaml)


@functools.lru_cache(maxsize=2048)
def _parsed(source: str, path: str, digest: str) -> tuple[pa.Table, int]:
    return case_table(source, Path(path).read_bytes())


def _load_cases(det: Detection, cases_dir: Path) -> tuple[list[_Case], list[str]]:
    cases, problems = [], []
    try:
        pinned = case_expectations(cases_dir, det)
    except ValueError as exc:
        pinned, problems = {}, [str(exc)]
    for kind, paths in case_files(cases_dir, det.id).items():
        if not paths:
            problems.append(f"no {kind} case")
        for p in paths:
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            table, quarantined = _parsed(det.header.log_source, str(p), digest)
            if quarantined or not table.num_rows:
                problems.append(f"{kind}/{p.name}: the parser rejects it ({quarantined} quarantined)")
                continue
            times = [t.replace(tzinfo=UTC) for t in table.column("event_time").to_pylist()]
            first, last = hour_floor(min(times)), hour_floor(max(times))
            shapes = [("owner run", last, last + HOUR)]
            if not det.header.lookback and first != last:
                shapes.insert(0, ("covering window", first, last + HOUR))
            name = f"{kind}/{p.name}"
            cases.append(_Case(name, kind, table, tuple(shapes), pinned.get(name)))
    return cases, problems


def _alerts(det: Detection, engine: DuckDBEngine, start: datetime, end: datetime) -> int:
    hits = run_detection(det, engine, start, end)
    return sum(1 for c in group_hits(det, hits) if c.hits >= det.header.threshold)


def _variant(det: Detection, m: Mutant) -> Detection:
    header = det.header.model_copy(update={"threshold": m.threshold, "lookback": m.lookback})
    return Detection(header=header, body=m.body, path=det.path)


def _run_pinned(
    det: Detection,
    identity: Detection,
    engine: DuckDBEngine,
    case: _Case,
    todo: list[Mutant],
    results: dict[str, MutantResult],
    score: RuleScore,
) -> None:
    """The hourly-runs shape of a pinned case: exactly the pinned outcome, or the mutant is killed."""
    assert case.pinned is not None
    windows = case_hours(case.table)
    if not meets(outcome_over_runs(det, engine, windows), case.pinned):
        score.problems.append(f"{case.name} (hourly runs): the rule itself misses its pinned outcome")
        return
    if not meets(outcome_over_runs(identity, engine, windows), case.pinned):
        score.problems.append(f"{case.name} (hourly runs): the SQL round trip changes the outcome")
        return
    for m in todo:
        r = results[m.id]
        if not r.survived:
            continue
        try:
            got = outcome_over_runs(_variant(det, m), engine, windows)
        except Exception as exc:  # any failure of the mutant fails the case run
            r.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            continue
        if not meets(got, case.pinned):
            r.killed_by = f"{case.name} (hourly runs: {got}, pinned {case.pinned})"


def score_rule(det: Detection, cases_dir: Path, mutants: Iterable[Mutant] | None = None) -> RuleScore:
    """Run every mutant of `det` against every (case, run shape) its unmutated version passes."""
    score = RuleScore(det.id)
    cases, score.problems = _load_cases(det, cases_dir)
    todo = list(generate_mutants(det) if mutants is None else mutants)
    results = {m.id: MutantResult(m) for m in todo}
    accepted = {e.mutant: e.reason for e in det.header.equivalent_mutants}
    identity = _variant(
        det, Mutant("identity", identity_body(det), det.header.threshold, det.header.lookback)
    )
    src = get_source(det.header.log_source)
    settings = load_settings({"MAMORI_HOME": "/nonexistent-mamori-case-home"})
    for case in cases:
        engine = DuckDBEngine(settings, threads=1, create_views=False)
        try:
            engine.register_table(src.table, case.table)
            for shape, start, end in case.shapes:
                expect_alert = case.kind == "positive"
                original = _alerts(det, engine, start, end) > 0
                if original != expect_alert:
                    continue  # this shape does not exercise the rule (e.g. a sequence seen only whole)
                if (_alerts(identity, engine, start, end) > 0) != expect_alert:
                    score.problems.append(f"{case.name} ({shape}): the SQL round trip changes the verdict")
                    continue
                for m in todo:
                    r = results[m.id]
                    if not r.survived:
                        continue
                    try:
                        fired = _alerts(_variant(det, m), engine, start, end) > 0
                    except Exception as exc:  # any failure of the mutant fails the case run
                        r.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                        continue
                    if fired != expect_alert:
                        r.killed_by = f"{case.name} ({shape})"
            if case.pinned is not None:
                _run_pinned(det, identity, engine, case, todo, results, score)
        finally:
            engine.close()
    for r in results.values():
        if r.survived and r.mutant.id in accepted:
            r.accepted = accepted[r.mutant.id]
    stale = sorted(set(accepted) - set(results))
    if stale:
        score.problems.append(f"equivalent_mutants names mutants that do not exist: {stale}")
    killed_but_accepted = sorted(i for i in accepted if i in results and not results[i].survived)
    if killed_but_accepted:
        score.problems.append(
            f"equivalent_mutants lists mutants a case kills (remove them): {killed_but_accepted}"
        )
    score.results = list(results.values())
    return score


def score_catalog(
    sql_dir: Path,
    cases_dir: Path,
    only: Iterable[str] | None = None,
    progress: Callable[[RuleScore], None] | None = None,
) -> list[RuleScore]:
    """Mutation scores of every detection (or of `only`), sorted by id."""
    wanted = set(only) if only else None
    scores = []
    for det in load_catalog(sql_dir):
        if wanted is not None and det.id not in wanted:
            continue
        s = score_rule(det, cases_dir)
        if progress:
            progress(s)
        scores.append(s)
    if wanted:
        unknown = sorted(wanted - {s.detection_id for s in scores})
        if unknown:
            raise ValueError(f"unknown detection id(s): {unknown}")
    return scores


def fingerprint(det: Detection, cases_dir: Path) -> str:
    """What a rule's mutation score depends on: its file, its cases and this module."""
    h = hashlib.sha256()
    for p in [det.path, Path(__file__), *sorted((cases_dir / det.id).rglob("*"))]:
        if p.is_file():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]
