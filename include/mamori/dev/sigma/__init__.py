"""`mamori sigma import`: Sigma rules for AWS CloudTrail → mamori detection files (sql/detections/cloudtrail/).

pySigma parses the rule (`SigmaCollection.from_yaml`), the CloudTrail pipeline (mamori.dev.sigma.cloudtrail)
maps its fields to the lake's columns and mamori's Athena backend (mamori.dev.sigma.backend) writes the WHERE
expression. The file gets a strict header (title, level → severity, ATT&CK tags → `TA…:T…`, falsepositives,
https references, status experimental), the `{{ window() }}` macro, and is then loaded by the same loader as
every other rule (sqlglot parse in the athena dialect, dialect lint) and transpiled to DuckDB. A rule that
cannot be converted whole is refused with one line saying why; nothing is converted with a part dropped.

A dev tool: the runtime never imports it (.importlinter's dev-apart contract), and pySigma is needed only here.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sqlglot import exp

from mamori.detections.coverage import TACTICS
from mamori.detections.dialect_lint import dialect_problems
from mamori.detections.loader import DetectionError, load_detection
from mamori.dev.sigma import cloudtrail
from mamori.dev.sigma.backend import AthenaBackend
from mamori.dev.sigma.stubs import BASE_RECORD, Example, examples
from mamori.engines.dialect import athena_to_duckdb

SOURCE = "cloudtrail"
ID_PREFIX = "cloudtrail_sigma_"
SEVERITY = {"informational": "info", "low": "low", "medium": "medium", "high": "high", "critical": "critical"}
# ATT&CK tactic tag (`attack.defense-evasion`, `attack.defense_evasion`) → tactic id.
TACTIC_TAGS = {name.lower().replace(" ", "-"): ta for ta, name in TACTICS.items()}
_TECHNIQUE = re.compile(r"t\d{4}(?:\.\d{3})?")


@dataclass(frozen=True)
class Converted:
    """A rule that converts whole: its detection id and the file text (header + SQL)."""

    origin: str  # file (and position in it, for multi-rule files)
    detection_id: str
    text: str
    notes: tuple[
        str, ...
    ] = ()  # what the header could not carry (http references), said, never dropped quietly
    # What a positive record needs, from the detection block before the pipeline renamed its fields
    # (mamori.dev.sigma.stubs): the case stubs are built from it.
    examples: tuple[Example, ...] = ()


@dataclass(frozen=True)
class Refused:
    """A rule mamori will not import, and the one-line reason."""

    origin: str
    title: str
    reason: str

    @property
    def category(self) -> str:
        """The reason without the rule's own names (fields, flags), for counting refusals by kind."""
        for kind in (
            "not a valid Sigma rule",
            "generated SQL does not validate",
            "does not load",
            "does not run on DuckDB",
        ):
            if self.reason.startswith(kind + ":"):
                return kind
        text = re.sub(r"'[^']*'", "'…'", self.reason)
        return re.sub(r"\([^)]*\)", "(…)", text)


@dataclass
class ImportReport:
    converted: list[Converted] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    def by_reason(self) -> Counter[str]:
        return Counter(r.category for r in self.refused)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def detection_id(origin: Path, title: str) -> str:
    """`cloudtrail_sigma_<file stem or title>`: the loader's id pattern and the source prefix of new rules."""
    stem = origin.stem.lower()
    for prefix in ("aws_cloudtrail_", "aws_", "cloudtrail_"):
        stem = stem.removeprefix(prefix)
    slug = re.sub(r"[^a-z0-9]+", "_", stem or title.lower()).strip("_") or "rule"
    return (ID_PREFIX + slug)[:80].rstrip("_")


def mitre_problem(tags: Iterable[Any]) -> str:
    """Why no `TA…:T…` entry can be formed from a rule's tags (the header needs at least one)."""
    names = [f"{t.namespace}.{t.name}".lower() for t in tags if t.namespace == "attack"]
    techniques = [n for n in names if _TECHNIQUE.fullmatch(n[7:])]
    tactics = [n for n in names if n[7:].replace("_", "-") in TACTIC_TAGS]
    unknown = [
        n
        for n in names
        if n not in techniques and n not in tactics and not re.fullmatch(r"attack\.[gs]\d{4}", n)
    ]
    if not techniques:
        return "no ATT&CK technique tag (attack.tNNNN): the header's mitre needs TA…:T…"
    if unknown:
        return f"ATT&CK tactic tags {', '.join(unknown)} not among mamori's tactics (TA0001-TA0043)"
    return "no ATT&CK tactic tag (attack.<tactic>): the header's mitre needs TA…:T…"


def mitre(tags: Iterable[Any]) -> list[str]:
    """`TA…:T…` entries from Sigma's ATT&CK tags: each technique with each tactic the rule names (Sigma does
    not say which tactic a technique serves; the pairs say what the rule's author tagged)."""
    names = [f"{t.namespace}.{t.name}".lower() for t in tags]
    tactics = [
        TACTIC_TAGS[n[7:].replace("_", "-")]
        for n in names
        if n.startswith("attack.") and n[7:].replace("_", "-") in TACTIC_TAGS
    ]
    techniques = [n[7:].upper() for n in names if n.startswith("attack.") and _TECHNIQUE.fullmatch(n[7:])]
    return [f"{ta}:{t}" for ta in dict.fromkeys(tactics) for t in dict.fromkeys(techniques)]


# -- the WHERE condition, laid out as mamori's own rules are ---------------------------------------------------
def _leaf(node: exp.Expr) -> str:
    return node.sql(dialect="athena", normalize_functions="lower")


def _operands(node: exp.Expr, kind: type[exp.Expr]) -> list[exp.Expr]:
    node = node.unnest()
    if isinstance(node, kind):
        return _operands(node.this, kind) + _operands(node.expression, kind)
    return [node]


def _layout(node: exp.Expr) -> list[str]:
    """Lines of a boolean expression: one operand a line, a nested AND/OR in parentheses, indented 4."""
    node = node.unnest()
    if isinstance(node, exp.And | exp.Or):
        word = "AND" if isinstance(node, exp.And) else "OR"
        lines: list[str] = []
        for i, operand in enumerate(_operands(node, type(node))):
            part = _grouped(operand)
            lines += [(f"{word} " if i else "") + part[0], *part[1:]]
        return lines
    if isinstance(node, exp.Not):
        inner = node.this.unnest()
        if isinstance(inner, exp.Coalesce):
            body = _layout(inner.this)
            rest = ", ".join(_leaf(e) for e in inner.expressions)
            return ["NOT coalesce(", *("    " + x for x in body[:-1]), f"    {body[-1]},", f"    {rest}", ")"]
        return ["NOT " + _grouped(inner)[0], *_grouped(inner)[1:]]
    return [_leaf(node)]


def _grouped(node: exp.Expr) -> list[str]:
    node = node.unnest()
    if isinstance(node, exp.And | exp.Or):
        return ["(", *("    " + x for x in _layout(node)), ")"]
    return _layout(node)


def where_lines(condition: str) -> list[str]:
    """The condition parsed as Athena SQL (sqlglot) and laid out; a ParseError means the backend erred."""
    return _layout(sqlglot.parse_one(condition, read="athena"))


# -- one rule -----------------------------------------------------------------------------------------------
def _header(
    rule: SigmaRule, det_id: str, owner: str, mitre_fallback: tuple[str, ...] = ()
) -> tuple[dict[str, Any], list[str]]:
    notes = []
    tags = mitre(rule.tags)
    if not tags:
        tags = list(mitre_fallback)
        notes.append(f"mitre from --mitre ({', '.join(tags)}): {mitre_problem(rule.tags)}")
    refs = [str(r) for r in rule.references or []]
    https = [r for r in refs if r.startswith("https://")]
    if len(https) < len(refs):
        notes.append(
            f"{len(refs) - len(https)} non-https reference(s) kept in the description, not references"
        )
    level = rule.level.name.lower() if rule.level else "medium"
    description = _one_line(rule.description or rule.title)
    origin = f"Imported from Sigma rule {rule.id or '(no id)'} by `mamori sigma import`"
    if rule.author:
        origin += f"; Sigma author(s): {_one_line(rule.author)}"
    extra = [r for r in refs if r not in https]
    header = {
        "id": det_id,
        "title": _one_line(rule.title)[:120],
        "description": f"{description}\n\n{origin}."
        + (f" Other references: {', '.join(extra)}." if extra else ""),
        "severity": SEVERITY.get(level, "medium"),
        "status": "experimental",
        "log_source": SOURCE,
        "mitre": tags,
        "dedup": {"keys": list(cloudtrail.DEDUP_KEYS), "period": "1h"},
        "threshold": 1,
        "runbook": (
            "1. Imported from Sigma and not yet reviewed: read the rule's references and the alert's sample\n"
            "   events (actor, source_ip, user_agent, event_name) before acting on it.\n"
            "2. Write a positive and a negative raw-event case (tests/detections/<id>/) and a runbook of\n"
            "   what to check, confirm and contain, then set status: stable."
        ),
        "false_positives": [_one_line(f) for f in rule.falsepositives or []]
        or ["None listed in the Sigma rule."],
        "references": https,
        "owner": owner,
    }
    return header, notes


class _HeaderDumper(yaml.SafeDumper):
    """Block style for multi-line text and list items indented, as the hand-written headers are."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_HeaderDumper.add_representer(str, _str)


def header_yaml(header: dict[str, Any]) -> str:
    """The header as YAML a reviewer reads: `*/` cannot occur in it (it would end the comment early)."""
    text = yaml.dump(header, Dumper=_HeaderDumper, sort_keys=False, allow_unicode=True, width=100)
    return text.replace("*/", "* /")


MAX_LINE = 110  # sqlfluff's layout.long_lines (.sqlfluff): a generated rule passes `make lint`
_OPERATOR = re.compile(r" (?=(?:LIKE|=) ')")


def _wrapped(line: str) -> list[str]:
    """A comparison too long for one line: the operator and its value on the next line, at the indent of the
    line it continues (where sqlfluff's layout.indent wants it)."""
    if len(line) <= MAX_LINE:
        return [line]
    m = _OPERATOR.search(line)
    if m is None:
        return [line]
    indent = len(line) - len(line.lstrip())
    return [line[: m.start()], " " * indent + line[m.end() :]]


def _body(condition: str) -> str:
    select = ",\n".join(
        f"    {expr}" if expr == alias else f"    {expr} AS {alias}"
        for expr, alias in cloudtrail.SELECT_COLUMNS
    )
    where = "\n".join(w for line in where_lines(condition) for w in _wrapped("        " + line))
    return f"SELECT\n{select}\nFROM {cloudtrail.TABLE}\nWHERE\n    {{{{ window() }}}}\n    AND (\n{where}\n    )\n"


def _check_sql(condition: str) -> None:
    """The condition as the loader and both engines will see it: Athena parse, dialect lint, DuckDB SQL."""
    sql = f"SELECT 1 FROM {cloudtrail.TABLE} WHERE {condition}"
    (tree,) = sqlglot.parse(sql, read="athena")
    problems = dialect_problems(tree) if isinstance(tree, exp.Expression) else ["not one statement"]
    if problems:
        raise ValueError("; ".join(problems))
    athena_to_duckdb(sql)


def convert_rule(
    rule: SigmaRule | SigmaCorrelationRule,
    origin: Path,
    label: str,
    owner: str,
    mitre_fallback: tuple[str, ...] = (),
) -> Converted | Refused:
    """One Sigma rule → the text of a mamori detection file, or the reason it is refused. `mitre_fallback`
    (`--mitre`) stands in for ATT&CK tags that give no `TA…:T…` pair; nothing else is ever defaulted."""
    title = _one_line(getattr(rule, "title", "") or label)
    if isinstance(rule, SigmaCorrelationRule):
        kind = rule.type.name.lower() if rule.type else "unknown"
        return Refused(label, title, f"correlation rule ({kind}): aggregations over events are not supported")
    ls = rule.logsource
    if (ls.product, ls.service) != (cloudtrail.PRODUCT, cloudtrail.SERVICE):
        return Refused(
            label, title, f"logsource product {ls.product!r} service {ls.service!r} is not aws/cloudtrail"
        )
    if not mitre(rule.tags) and not mitre_fallback:
        return Refused(label, title, mitre_problem(rule.tags))
    wanted = examples(rule)  # before conversion: the pipeline renames the rule's fields to lake columns
    backend = AthenaBackend(cloudtrail.pipeline())
    try:
        queries = backend.convert_rule(rule)
    except SigmaError as exc:
        reason = _one_line(exc).split(" in rule ")[0].split(" (rule ")[0]
        if "pipe syntax" in reason:  # `condition: selection | count() by x > 5`
            reason = "aggregation in the condition, the deprecated pipe syntax `| count`: not supported"
        return Refused(label, title, reason)
    if not queries:
        return Refused(label, title, "pySigma produced no query")
    condition = " OR ".join(f"({q})" for q in queries) if len(queries) > 1 else str(queries[0])
    try:
        _check_sql(condition)
        body = _body(condition)
    except (sqlglot.ParseError, ValueError) as exc:
        return Refused(label, title, f"generated SQL does not validate: {_one_line(exc)[:200]}")
    det_id = detection_id(origin, title)
    if "#" in label:  # one of several rules in a file: the file's id plus the rule's position
        det_id = f"{det_id[:76]}_{label.rsplit('#', 1)[1]}"
    header, notes = _header(rule, det_id, owner, mitre_fallback)
    text = "/*\n" + header_yaml(header) + "*/\n" + body
    return Converted(label, det_id, text, tuple(notes), wanted)


def load_file(path: Path) -> list[tuple[str, SigmaRule | SigmaCorrelationRule]] | Refused:
    """The rules of one Sigma file (several for a multi-document collection), or why it does not parse."""
    try:
        collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
    except (SigmaError, yaml.YAMLError, UnicodeDecodeError) as exc:
        return Refused(str(path), path.stem, f"not a valid Sigma rule: {_one_line(exc)[:200]}")
    rules = list(collection.rules)
    return [(str(path) if len(rules) == 1 else f"{path}#{i + 1}", r) for i, r in enumerate(rules)]


# One raw CloudTrail delivery every converted rule runs on before it is accepted: through the real parser into
# the table, then the rule on DuckDB (whether it alerts does not matter; that it runs does).
SMOKE_DELIVERY = {
    "Records": [
        BASE_RECORD
        | {
            "eventSource": "iam.amazonaws.com",
            "eventName": "CreateAccessKey",
            "requestParameters": {"userName": "bob"},
            "responseElements": {"accessKey": {"userName": "bob", "status": "Active"}},
            "additionalEventData": {"MFAUsed": "No"},
        }
    ]
}


def validate(conv: Converted) -> Refused | None:
    """Load the file as `mamori detections` will (strict header, one window macro, athena SELECT), then run it
    on DuckDB over a raw CloudTrail delivery parsed by the real parser."""
    from mamori.detections.testing import evaluate_case  # DuckDB and the parsers: only when validating

    tmp = Path(tempfile.mkdtemp(prefix="mamori-sigma-"))
    try:
        path = tmp / "detections" / SOURCE / f"{conv.detection_id}.sql"
        path.parent.mkdir(parents=True)
        path.write_text(conv.text, encoding="utf-8")
        det = load_detection(path)
        case = tmp / "smoke.json"
        case.write_text(json.dumps(SMOKE_DELIVERY), encoding="utf-8")
        evaluate_case(det, case)
    except DetectionError as exc:
        return Refused(conv.origin, conv.detection_id, f"does not load: {_one_line(exc).split(': ', 1)[-1]}")
    except Exception as exc:  # the engine's own error types; the rule is refused with its message
        return Refused(conv.origin, conv.detection_id, f"does not run on DuckDB: {_one_line(exc)[:200]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return None


def import_paths(
    paths: Iterable[Path],
    sql_dir: Path | None,
    cases_dir: Path | None = None,
    owner: str = "security-engineering",
    overwrite: bool = False,
    mitre_fallback: tuple[str, ...] = (),
) -> ImportReport:
    """Convert every rule of every file; write the converted ones under `sql_dir` (None: only check)."""
    report = ImportReport()
    made: dict[str, str] = {}  # detection id -> the rule it came from (two rules, one id: the second refused)
    for path in paths:
        loaded = load_file(path)
        if isinstance(loaded, Refused):
            report.refused.append(loaded)
            continue
        # A correlation's base rules mean something only through it: refusing it refuses the file.
        correlations = [r for _, r in loaded if isinstance(r, SigmaCorrelationRule)]
        if correlations:
            kind = correlations[0].type.name.lower() if correlations[0].type else "unknown"
            for label, rule in loaded:
                report.refused.append(
                    Refused(
                        label,
                        _one_line(rule.title),
                        f"correlation rule ({kind}): aggregations over events are not supported",
                    )
                )
            continue
        for label, rule in loaded:
            result = convert_rule(rule, path, label, owner, mitre_fallback)
            if isinstance(result, Converted) and result.detection_id in made:
                result = Refused(
                    label,
                    result.detection_id,
                    f"detection id {result.detection_id} already made from {made[result.detection_id]}",
                )
            if isinstance(result, Converted):
                made[result.detection_id] = label
                problem = validate(result)
                if problem is not None:
                    report.refused.append(problem)
                    continue
                if sql_dir is not None:
                    target = sql_dir / "detections" / SOURCE / f"{result.detection_id}.sql"
                    if target.exists() and not overwrite:
                        report.refused.append(
                            Refused(label, result.detection_id, f"{target} exists (use --overwrite)")
                        )
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(result.text, encoding="utf-8")
                    report.written.append(target)
                    if cases_dir is not None:
                        result = write_stubs(result, cases_dir)
                report.converted.append(result)
            else:
                report.refused.append(result)
    return report


def write_stubs(conv: Converted, cases_dir: Path) -> Converted:
    """`<cases>/<id>/positive|negative/sigma_stub.json`: the derived positive and its nearest miss, each run on
    DuckDB first; what they do (or fail to do) is said in the stub text and in the returned notes."""
    from mamori.detections.testing import evaluate_case
    from mamori.dev.sigma.stubs import delivery, near_misses, record_for

    tmp = Path(tempfile.mkdtemp(prefix="mamori-sigma-stub-"))
    try:
        path = tmp / "detections" / SOURCE / f"{conv.detection_id}.sql"
        path.parent.mkdir(parents=True)
        path.write_text(conv.text, encoding="utf-8")
        det = load_detection(path)

        def fires(record: dict[str, Any]) -> bool:
            case = tmp / "case.json"
            case.write_text(json.dumps({"Records": [record]}), encoding="utf-8")
            return evaluate_case(det, case)[0] > 0

        candidates = conv.examples or (Example((), ()),)
        wanted = next((c for c in candidates if fires(record_for(c.fields))), candidates[0])
        positive = record_for(wanted.fields)
        gaps = "; ".join(wanted.gaps)
        notes = list(conv.notes)
        head = (
            "Generated by mamori sigma import from the rule's detection block. Replace the record with a real"
        )
        head += " event (or confirm this one is realistic) and delete this key."
        if fires(positive):
            pos_text = f"{head} The derived record alerts."
        else:
            pos_text = f"{head} The derived positive does not alert: fill it in ({gaps or 'see the rule'})."
            notes.append(f"case stub: the derived positive does not alert ({gaps or 'values not derivable'})")
        negative, changed = None, ""
        for field_path, fields in near_misses(wanted.fields):
            candidate = record_for(fields)
            if not fires(candidate):
                negative, changed = candidate, field_path
                break
        if negative is None:
            negative = record_for(())
            neg_text = f"{head} No one-field change of the positive stops the rule: this is the base record."
            if fires(negative):
                notes.append("case stub: even the base record alerts; write the negative case by hand")
        else:
            neg_text = f"{head} The positive with {changed} changed: a near miss the rule must not alert on."
        for kind, record, text in (("positive", positive, pos_text), ("negative", negative, neg_text)):
            d = cases_dir / conv.detection_id / kind
            d.mkdir(parents=True, exist_ok=True)
            (d / "sigma_stub.json").write_text(
                json.dumps(delivery([record], text), indent=2) + "\n", encoding="utf-8"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Converted(conv.origin, conv.detection_id, conv.text, tuple(notes), conv.examples)
