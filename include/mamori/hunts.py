"""Saved hunts: `sql/hunts/<id>.sql`, a strict YAML header in a leading /* */ block, then one Athena query.

The body uses `{{ window() }}` (the hunt's time range, prunes partitions like a detection) and
`{{ param('name') }}` for each declared parameter. Values are validated by the declared type and bound as
SQL literal nodes (mamori.search.params), never spliced as text, so a hunt can safely take an IP, an ARN or
a search string straight from an analyst's command line (or a copy-paste from a hostile log line).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mamori.detections.errors import FileLineError
from mamori.detections.loader import body_start_line, header_key_line, yaml_file_problem
from mamori.detections.render import window_predicate
from mamori.search.params import Bound, ParamError, bind_sql, coerce
from mamori.search.timerange import parse_duration

_FILE = re.compile(r"\A\s*/\*(?P<header>.*?)\*/(?P<body>.*)\Z", re.S)
_PARAM_USE = re.compile(r"\{\{\s*param\(\s*['\"]([A-Za-z0-9_]+)['\"]\s*\)\s*\}\}")
_WINDOW = re.compile(r"\{\{\s*window\(\s*\)\s*\}\}")
_ANY_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


class HuntError(FileLineError):
    """A hunt file that must not load, or a run with unknown, missing or ill-typed parameters.

    A file's error reads `<path>:<line>: why`, the line counted in the file (header included), the form editors
    and CI annotations jump to, as a detection's does; `line` is None for an error of a run's parameters.
    """


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HuntParam(_Strict):
    """One parameter: its type decides validation and the literal it becomes."""

    type: Literal["string", "ip", "int", "timestamp"]
    description: str = Field(min_length=3)
    default: str | int | None = None  # None = required
    min: int | None = None  # int only
    max: int | None = None

    @model_validator(mode="after")
    def _check(self) -> HuntParam:
        if (self.min is not None or self.max is not None) and self.type != "int":
            raise ValueError("min/max apply to int parameters only")
        if self.default is not None:
            self.bind(self.default, "default")
        return self

    def bind(self, raw: object, name: str) -> Bound:
        """Validate a value (default or command line); raises ValueError with the parameter's name."""
        bound = coerce(self.type, raw, name)
        if self.type == "int":
            assert isinstance(bound.value, int)
            if self.min is not None and bound.value < self.min:
                raise ParamError(f"{name}: {bound.value} is below the minimum {self.min}")
            if self.max is not None and bound.value > self.max:
                raise ParamError(f"{name}: {bound.value} is above the maximum {self.max}")
        return bound


class HuntHeader(_Strict):
    """Fields of a hunt file's header; unknown keys are rejected (a typo must fail review)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{2,80}$")
    title: str = Field(min_length=3, max_length=120)
    description: str = Field(min_length=10)
    default_range: str = "24h"  # the range when neither --from/--to nor --last is given
    parameters: dict[str, HuntParam] = Field(default_factory=dict)
    mitre: list[str] = Field(default_factory=list)
    owner: str | None = None

    @field_validator("default_range")
    @classmethod
    def _range(cls, v: str) -> str:
        parse_duration(v)
        return v

    @field_validator("parameters")
    @classmethod
    def _names(cls, v: dict[str, HuntParam]) -> dict[str, HuntParam]:
        for name in v:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", name):
                raise ValueError(f"parameter name {name!r} must be lower_snake_case")
        return v

    @field_validator("mitre")
    @classmethod
    def _mitre(cls, v: list[str]) -> list[str]:
        for item in v:
            if not re.fullmatch(r"TA\d{4}(:T\d{4}(\.\d{3})?)?", item):
                raise ValueError(f"mitre entry {item!r} must look like TA0007 or TA0007:T1087.004")
        return v


@dataclass(frozen=True)
class Hunt:
    header: HuntHeader
    body: str
    path: Path

    @property
    def id(self) -> str:
        return self.header.id

    def bind_params(self, given: Mapping[str, str]) -> dict[str, Bound]:
        """Command-line values (and defaults) validated by type; raises HuntError naming every problem."""
        declared = self.header.parameters
        problems = [f"unknown parameter {n!r}" for n in given if n not in declared]
        values: dict[str, Bound] = {}
        for name, spec in declared.items():
            raw: object = given.get(name, spec.default)
            if raw is None:
                problems.append(f"missing required parameter {name!r} ({spec.type}: {spec.description})")
                continue
            try:
                values[name] = spec.bind(raw, name)
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise HuntError(f"hunt {self.id}: " + "; ".join(problems))
        return values

    def render(self, given: Mapping[str, str], start: datetime, end: datetime) -> str:
        """The exact Athena SQL a run sends (what `mamori hunt ID --show-sql` prints)."""

        return bind_sql(self.body, self.bind_params(given), lambda: window_predicate(start, end))


def load_hunt(path: Path) -> Hunt:
    """Parse and validate one file: header schema, id = filename, parameters declared = used, one query."""
    text = path.read_text(encoding="utf-8")
    m = _FILE.match(text)
    if not m:
        raise HuntError(f"{path}:1: must start with a /* YAML header */ block", 1)
    try:
        header = HuntHeader.model_validate(yaml.safe_load(m["header"]))
    except (yaml.YAMLError, ValidationError) as exc:
        # The reviewed-YAML reading every file of sql/ shares: the first offending key's line (a typo also
        # makes a key "missing"), or YAML's own mark.
        line, why = yaml_file_problem(text, exc)
        raise HuntError(f"{path}:{line}: invalid header: {why}", line) from exc
    body = m["body"].strip()
    body_line = body_start_line(text, m)
    problems: list[tuple[int, str]] = []
    if header.id != path.stem:
        problems.append(
            (header_key_line(text, "id") or 1, f"id {header.id!r} differs from the filename {path.stem!r}")
        )
    if not _WINDOW.search(body):
        problems.append((body_line, "body must use {{ window() }} (a hunt is always time-bounded)"))
    used = set(_PARAM_USE.findall(body))
    stray = [t for t in _ANY_TAG.findall(body) if not (_WINDOW.fullmatch(t) or _PARAM_USE.fullmatch(t))]
    if stray:
        problems.append(
            (
                body_line,
                f"unknown template syntax {stray}: only {{{{ window() }}}} and {{{{ param('name') }}}}",
            )
        )
    if used - set(header.parameters):
        problems.append(
            (body_line, f"param() of undeclared parameter(s) {sorted(used - set(header.parameters))}")
        )
    if set(header.parameters) - used:
        problems.append(
            (
                header_key_line(text, "parameters") or body_line,
                f"declared but unused parameter(s) {sorted(set(header.parameters) - used)}",
            )
        )
    if not problems:
        sample = {n: p.default for n, p in header.parameters.items() if p.default is not None}
        sample.update({n: _SAMPLE[p.type] for n, p in header.parameters.items() if p.default is None})
        try:
            hunt = Hunt(header, body, path)
            hunt.render({k: str(v) for k, v in sample.items()}, datetime(2026, 1, 1, tzinfo=UTC), _SAMPLE_END)
        except ParamError as exc:
            if exc.sql_line is not None:
                # sqlglot counts inside the rendered SQL, which starts at the body's first line, and window()
                # and param() each render on one line: the body's offset gives the line of the file.
                line = body_line + exc.sql_line - 1
                problems.append((line, f"not valid Athena SQL at line {line}: {exc.detail}"))
            else:
                problems.append((body_line, str(exc)))
        except HuntError as exc:
            problems.append((body_line, str(exc)))
    if problems:
        line = problems[0][0]
        raise HuntError(f"{path}:{line}: " + "; ".join(why for _, why in problems), line)
    return Hunt(header, body, path)


_SAMPLE = {"string": "sample", "ip": "192.0.2.1", "int": "1", "timestamp": "2026-01-01T00:00:00+00:00"}
_SAMPLE_END = datetime(2026, 1, 1, 1, tzinfo=UTC)


def load_hunts(sql_dir: Path) -> dict[str, Hunt]:
    """Every hunt under sql_dir/hunts by id; one error listing every broken file."""
    hunts: dict[str, Hunt] = {}
    errors: list[HuntError] = []
    for path in sorted((sql_dir / "hunts").glob("*.sql")):
        try:
            h = load_hunt(path)
        except HuntError as exc:
            errors.append(exc)
            continue
        hunts[h.id] = h
    if errors:
        raise HuntError("\n".join(map(str, errors)), errors[0].line)
    return hunts


def get_hunt(sql_dir: Path, hunt_id: str) -> Hunt:
    hunts = load_hunts(sql_dir)
    if hunt_id not in hunts:
        raise HuntError(f"no hunt {hunt_id!r}; known: {', '.join(sorted(hunts)) or 'none'}")
    return hunts[hunt_id]


def parse_param_args(items: Sequence[str]) -> dict[str, str]:
    """`--param name=value` pairs; the value is everything after the first '=' (it may contain '=')."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise HuntError(f"--param {item!r}: expected name=value")
        if name.strip() in out:
            raise HuntError(f"--param {name.strip()!r} given twice")
        out[name.strip()] = value
    return out
