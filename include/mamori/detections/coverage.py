"""MITRE ATT&CK coverage: tactic × log source, counting only detections whose cases pass *and bite*.

A rule that does not pass its own positive and negative cases covers nothing, and neither does a rule whose
cases would still pass with one of its conditions deleted (a surviving mutant, `mamori.detections.mutate`):
its cases do not prove what its title claims. So the matrix is computed from a case run and a mutation run,
not from headers alone. Output: Markdown (reviewable in a PR, with the per-rule mutation score and each
rule's fingerprint, so the fast test tier can re-check exactly the rules changed since) and an SVG heat map.

Tactics and techniques come from the rules' headers. What a header cannot say lives in `sql/coverage.yaml`: the
behaviours readers asked for (issue 17) with the ids of the rules that catch each, so the doc shows which are
covered by a counted rule and which are still open, and the behaviours deliberately not covered, each with its
reason. A rule id there that no longer exists fails the generation, so the table cannot silently go stale.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from mamori.detections.errors import FileLineError
from mamori.detections.loader import Detection, load_catalog
from mamori.detections.mutate import RuleScore, fingerprint, score_rule
from mamori.detections.testing import run_catalog_cases

# Enterprise ATT&CK tactics in kill-chain order (TA ids are stable; names as MITRE publishes them).
TACTICS: dict[str, str] = {
    "TA0043": "Reconnaissance",
    "TA0042": "Resource Development",
    "TA0001": "Initial Access",
    "TA0002": "Execution",
    "TA0003": "Persistence",
    "TA0004": "Privilege Escalation",
    "TA0005": "Defense Evasion",
    "TA0006": "Credential Access",
    "TA0007": "Discovery",
    "TA0008": "Lateral Movement",
    "TA0009": "Collection",
    "TA0011": "Command and Control",
    "TA0010": "Exfiltration",
    "TA0040": "Impact",
}


COVERAGE_FILE = "coverage.yaml"  # in the sql folder, beside detections/ and lookups/


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Behaviour(_Strict):
    """Something an attacker does that a reader expects to be caught, and the rules that catch it (none yet:
    open)."""

    behaviour: str = Field(min_length=5)
    origin: str = Field(min_length=3)  # where it was asked for, e.g. "issue 17, data events"
    rules: list[str] = Field(default_factory=list)


class NotCovered(_Strict):
    """A behaviour we decided not to detect; the reason says why (data not collected, or noise) and what covers
    the risk instead, so a reviewer can disagree with something concrete."""

    behaviour: str = Field(min_length=5)
    reason: str = Field(min_length=20)


class BehaviourCatalog(_Strict):
    description: str = Field(min_length=10)
    behaviours: list[Behaviour] = Field(default_factory=list)
    not_covered: list[NotCovered] = Field(default_factory=list)


class CoverageError(FileLineError):
    """`sql/coverage.yaml` does not load or does not match the catalog: one line for the command line's error
    boundary (`<path>:<line>: why`), which keeps tracebacks for plain ValueErrors (bugs)."""


def load_behaviours(sql_dir: Path, rule_ids: set[str]) -> BehaviourCatalog | None:
    """`sql/coverage.yaml`, checked against the catalog: None when the file is absent; CoverageError when it
    does not parse, names a rule that does not exist or lists a behaviour twice."""
    from pydantic import ValidationError

    from mamori.detections.loader import yaml_file_problem

    path = sql_dir / COVERAGE_FILE
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    try:
        catalog = BehaviourCatalog.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        line, why = yaml_file_problem(text, exc)
        raise CoverageError(f"{path}:{line}: {why}", line) from exc
    problems = []
    unknown = sorted({r for b in catalog.behaviours for r in b.rules} - rule_ids)
    if unknown:
        problems.append(f"rules {unknown} are not in {sql_dir / 'detections'}")
    names = [b.behaviour for b in catalog.behaviours] + [n.behaviour for n in catalog.not_covered]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        problems.append(f"behaviours listed twice: {twice}")
    if problems:
        raise CoverageError(f"{path}: " + "; ".join(problems))
    return catalog


@dataclass
class Coverage:
    sources: list[str]
    cells: dict[tuple[str, str], list[str]]  # (tactic, source) → detection ids
    techniques: dict[str, list[str]]  # technique → detection ids
    passing: list[str]  # cases pass and every mutant is killed or a declared equivalent
    failing: list[str]  # cases fail
    scores: dict[str, RuleScore]
    fingerprints: dict[str, str]
    rules_per_source: dict[str, int] = field(default_factory=dict)  # counted rules, each once
    behaviours: BehaviourCatalog | None = None

    @property
    def incomplete(self) -> list[str]:
        """Rules whose cases pass but do not kill every mutant: not counted either."""
        return sorted(i for i, s in self.scores.items() if not s.complete and i not in self.failing)


def compute(sql_dir: Path, cases_dir: Path) -> Coverage:
    """Run every case and every mutant, then map the counted detections' MITRE entries onto the matrix."""
    results_by_id: dict[str, bool] = {}
    for r in run_catalog_cases(sql_dir, cases_dir):
        results_by_id[r.detection_id] = results_by_id.get(r.detection_id, True) and r.passed
    catalog: dict[str, Detection] = {d.id: d for d in load_catalog(sql_dir)}
    scores = {i: score_rule(d, cases_dir) for i, d in catalog.items()}
    fingerprints = {i: fingerprint(d, cases_dir) for i, d in catalog.items()}
    passing = sorted(i for i, ok in results_by_id.items() if ok and scores[i].complete)
    failing = sorted(i for i, ok in results_by_id.items() if not ok)
    cells: dict[tuple[str, str], list[str]] = defaultdict(list)
    techniques: dict[str, list[str]] = defaultdict(list)
    for det_id in passing:
        h = catalog[det_id].header
        for entry in h.mitre:
            tactic, technique = entry.split(":")
            if det_id not in cells[(tactic, h.log_source)]:
                cells[(tactic, h.log_source)].append(det_id)
            if det_id not in techniques[technique]:
                techniques[technique].append(det_id)
    sources = sorted({catalog[i].header.log_source for i in catalog})
    per_source = {s: sum(catalog[i].header.log_source == s for i in passing) for s in sources}
    behaviours = load_behaviours(sql_dir, set(catalog))
    return Coverage(
        sources, dict(cells), dict(techniques), passing, failing, scores, fingerprints, per_source, behaviours
    )


def markdown(cov: Coverage, svg_name: str) -> str:
    scores = list(cov.scores.values())
    generated = sum(s.generated for s in scores)
    killed = sum(s.killed for s in scores)
    accepted = sum(s.accepted for s in scores)
    lines = [
        "# Detection coverage (MITRE ATT&CK tactic × log source)",
        "",
        f"Generated by `make coverage` from the detections whose positive and negative cases pass and kill "
        f"every mutant (`mamori detections mutate`): {len(cov.passing)} counted, {len(cov.failing)} with "
        f"failing cases, {len(cov.incomplete)} with surviving mutants (neither counted).",
        "",
        f"**Mutation score: {sum(s.complete for s in scores)}/{len(scores)} rules at 100 %; "
        f"{killed}/{generated} mutants killed, {accepted} accepted as equivalent (with a reason in the rule's "
        f"header), {generated - killed - accepted} surviving.**",
        "",
        f"![coverage heat map]({svg_name})",
        "",
        "| tactic | " + " | ".join(cov.sources) + " | total |",
        "|---|" + "---:|" * (len(cov.sources) + 1),
    ]
    for ta, name in TACTICS.items():
        counts = [len(cov.cells.get((ta, s), [])) for s in cov.sources]
        lines.append(
            f"| {ta} {name} | " + " | ".join(str(c) if c else "·" for c in counts) + f" | {sum(counts)} |"
        )
    # A rule with several tactics is in several rows: the rules per source, each counted once.
    per_source = [cov.rules_per_source.get(s, 0) for s in cov.sources]
    lines.append(
        "| **rules (each once)** | " + " | ".join(str(c) for c in per_source) + f" | {sum(per_source)} |"
    )
    lines += ["", "## Techniques", "", "| technique | detections |", "|---|---|"]
    for technique in sorted(cov.techniques):
        lines.append(f"| {technique} | {', '.join(cov.techniques[technique])} |")
    lines += behaviour_sections(cov)
    if cov.failing:
        lines += ["", "## Not counted (cases failing)", "", *[f"- {i}" for i in cov.failing]]
    if cov.incomplete:
        lines += ["", "## Not counted (mutants surviving)", ""]
        for i in cov.incomplete:
            lines.append(
                f"- {i}: "
                + "; ".join([*(r.mutant.id for r in cov.scores[i].survivors), *cov.scores[i].problems])
            )
    lines += [
        "",
        "## Mutation score per rule",
        "",
        "Mutants: each WHERE/HAVING/JOIN ON conjunct dropped, each comparison negated, numeric thresholds "
        "moved by one, `window(before=)` and `lookback` doubled and halved; each run against every case in two "
        "run shapes (plus consecutive hourly runs for cases pinned in `expected.yaml`). The fingerprint covers "
        "the rule file, its cases and the mutation code: the fast test tier re-runs exactly the rules whose "
        "fingerprint differs from this table, the slow tier the whole catalog.",
        "",
        "CI time (measured 2026-12-05 on the 2-core machine, other work running beside it): the whole catalog "
        "(`pytest -m slow tests/detections/test_mutation.py`) 98-118 s wall, 58 s CPU; `make coverage` 138 s "
        "with 86 rules, 379 s wall and 172 s CPU with 91 rules at a load average of 7.5; "
        "the fast tier with no rule changed 9 s (loading and hashing the catalog).",
        "",
        "| detection | mutants | killed | equivalent | surviving | score | fingerprint |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for i in sorted(cov.scores):
        s = cov.scores[i]
        pct = 100 * (s.killed + s.accepted) // s.generated if s.generated else 100
        lines.append(
            f"| {i} | {s.generated} | {s.killed} | {s.accepted} | {len(s.survivors)} | {pct} % | "
            f"`{cov.fingerprints[i]}` |"
        )
    return "\n".join(lines) + "\n"


def behaviour_sections(cov: Coverage) -> list[str]:
    """The behaviours of `sql/coverage.yaml` with their rules and status, and the deliberately uncovered ones."""
    if cov.behaviours is None:
        return []
    counted = set(cov.passing)
    rows, covered, opened = [], 0, 0
    for b in cov.behaviours.behaviours:
        if any(r in counted for r in b.rules):
            status, covered = "covered", covered + 1
        elif b.rules:
            status = "rule not counted (cases failing or mutants surviving)"
        else:
            status, opened = "**open**: no rule yet", opened + 1
        rules = ", ".join(b.rules) if b.rules else "·"
        rows.append(f"| {b.behaviour} | {b.origin} | {rules} | {status} |")
    total = len(cov.behaviours.behaviours)
    lines = [
        "",
        "## Behaviours asked for",
        "",
        f"From `sql/coverage.yaml` (rule ids checked against the catalog): {total} behaviours, {covered} "
        f"covered by a counted rule, {opened} open.",
        "",
        "| behaviour | asked in | rules | status |",
        "|---|---|---|---|",
        *rows,
        "",
        "## Deliberately not covered",
        "",
        "Behaviours we decided not to detect, each with the reason and what covers the risk instead "
        "(`sql/coverage.yaml`, `not_covered`).",
        "",
    ]
    for n in cov.behaviours.not_covered:
        lines.append(f"- **{n.behaviour}**: {' '.join(n.reason.split())}")
    return lines


def recorded_fingerprints(coverage_md: str) -> dict[str, str]:
    """The per-rule fingerprints of a committed coverage.md (what the fast tier compares against)."""
    out = {}
    for line in coverage_md.split("## Mutation score per rule", 1)[-1].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 7 and cells[6].startswith("`"):
            out[cells[0]] = cells[6].strip("`")
    return out


def svg(cov: Coverage) -> str:
    """A plain SVG heat map: darker = more passing detections in the cell."""
    cell_w, cell_h, left, top = 90, 26, 190, 40
    width = left + cell_w * len(cov.sources) + 10
    height = top + cell_h * len(TACTICS) + 10
    peak = max((len(v) for v in cov.cells.values()), default=1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        f'font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for j, src in enumerate(cov.sources):
        x = left + j * cell_w + cell_w / 2
        parts.append(f'<text x="{x}" y="{top - 12}" text-anchor="middle">{escape(src)}</text>')
    for i, (ta, name) in enumerate(TACTICS.items()):
        y = top + i * cell_h
        parts.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{escape(name)}</text>')
        for j, src in enumerate(cov.sources):
            n = len(cov.cells.get((ta, src), []))
            shade = 245 - int(200 * n / peak) if n else 250
            fill = f"rgb({shade},{min(255, shade + 20)},255)" if n else "rgb(245,245,245)"
            x = left + j * cell_w
            parts.append(f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{fill}"/>')
            if n:
                color = "white" if shade < 140 else "black"
                parts.append(
                    f'<text x="{x + cell_w / 2}" y="{y + 17}" text-anchor="middle" fill="{color}">{n}</text>'
                )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write(sql_dir: Path, cases_dir: Path, out_dir: Path) -> Coverage:
    cov = compute(sql_dir, cases_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "coverage.svg").write_text(svg(cov))
    (out_dir / "coverage.md").write_text(markdown(cov, "coverage.svg"))
    return cov
