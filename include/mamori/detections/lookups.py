"""Reviewed lists a detection reads: `sql/lookups/<name>.yaml`, rendered into the rule's SQL as an array literal.

Some rules need a fact about the organization that no log carries: which AWS accounts are ours or approved
vendors', so that a role trust naming any other account is reported. That list belongs to the deployment, not to
the rule, and changes without touching the rule's logic; it is reviewed like `sql/suppressions.yaml` (every value
says why it is there). A rule reads it with `{{ lookup('known_accounts') }}`, which renders to
`ARRAY['111111111111', ...]` (an empty list renders to a typed empty array), e.g.
`contains({{ lookup('known_accounts') }}, account)`.

Rendering literals keeps one code path for both engines (no table to create on Athena or register on DuckDB) and
keeps a run a pure function of its window and the repository: the list a window was judged with is the one in
the commit that ran it. Values are checked against the file's `pattern` and escaped as SQL string literals, so a
typo fails review instead of silently matching nothing, and no value can change the statement.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

LOOKUPS_DIR = "lookups"
NAME = re.compile(r"^[a-z][a-z0-9_]{1,60}$")


class LookupFileError(ValueError):
    """A lookup file that is missing or malformed: the rules that read it must not load."""


class LookupValue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: str = Field(min_length=1, max_length=200)
    note: str = Field(min_length=3)  # why the value is on the list: what a reviewer checks


class LookupFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field(min_length=10)
    pattern: str | None = None  # every value must fully match it (e.g. 12 digits for an account id)
    values: list[LookupValue] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values_match(self) -> LookupFile:
        if self.pattern is not None:
            rx = re.compile(self.pattern)
            bad = [v.value for v in self.values if not rx.fullmatch(v.value)]
            if bad:
                raise ValueError(f"values {bad} do not match the pattern {self.pattern!r}")
        seen = [v.value for v in self.values]
        dupes = sorted({v for v in seen if seen.count(v) > 1})
        if dupes:
            raise ValueError(f"duplicate values {dupes}")
        return self


def lookup_path(sql_dir: Path, name: str) -> Path:
    if not NAME.fullmatch(name):
        raise LookupFileError(f"lookup name {name!r} must be lower_snake_case")
    return sql_dir / LOOKUPS_DIR / f"{name}.yaml"


def load_lookup(sql_dir: Path, name: str) -> tuple[str, ...]:
    """The values of `sql/lookups/<name>.yaml`, in file order; raises LookupFileError naming the file."""
    path = lookup_path(sql_dir, name)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise LookupFileError(f"lookup {name!r}: no file {path}") from None
    return _load(path, mtime)


@functools.cache
def _load(path: Path, mtime: int) -> tuple[str, ...]:  # mtime: a changed file is read again
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = LookupFile.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise LookupFileError(f"{path}: {exc}") from exc
    return tuple(v.value for v in parsed.values)


def sql_array(values: tuple[str, ...] | list[str]) -> str:
    """An Athena array literal of the values as strings (quotes doubled); typed when empty."""
    if not values:
        return "CAST(ARRAY[] AS ARRAY(VARCHAR))"
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"
