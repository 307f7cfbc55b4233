"""Where a rule's alerts go: its header's `outputs:` or the default for its severity in `sql/routing.yaml`.

The defaults are configuration a security team edits (like detections and suppressions), not ledger code.
Which outputs are left out for experimental rules and backfills is decided by capability (pages and chats
wake someone up), so a new output needs no line here. `routing_problems` is the check the catalog test and
`mamori detections test` run on every rule: an unknown output name or an invalid per-output option fails with
one line naming the field, instead of being dropped silently at dispatch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from mamori.alerts.outputs import FALLBACK, OUTPUTS, wakes_someone
from mamori.detections.loader import BrokenDetection, Detection
from mamori.detections.model import DetectionHeader, Severity

ROUTING_FILE = "routing.yaml"


class _RoutingFile(BaseModel):
    """sql/routing.yaml, strictly: a typo in a key fails loudly instead of routing nowhere."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: dict[Severity, list[str]]
    deliver_per: Literal["incident", "alert"] = "incident"


@dataclass(frozen=True)
class Routing:
    """Default outputs by severity (every severity present, every name a registered output), and whether
    outputs that can (capability `per_incident`) deliver one ticket/page/message per incident or per alert."""

    by_severity: dict[str, tuple[str, ...]]
    deliver_per: str = "incident"

    @property
    def per_incident(self) -> bool:
        return self.deliver_per == "incident"

    def routes_for(self, det: Detection, page: bool = True) -> list[str]:
        """A rule's own list or the severity default, minus the outputs that wake someone while the rule is
        experimental or when the caller says not to page (a backfill records history; it does not wake anyone
        for last month); the fallback output when nothing is left."""
        routes = list(det.header.outputs or self.by_severity[det.header.severity])
        if det.header.status == "experimental" or not page:
            routes = [r for r in routes if not wakes_someone(r)] or [FALLBACK]
        return routes


class RoutingError(ValueError):
    """sql/routing.yaml is missing or invalid; the message names the file and the problem."""


def load_routing(sql_dir: Path) -> Routing:
    """The routing of `sql_dir/routing.yaml` (re-read when the file changes)."""
    path = sql_dir / ROUTING_FILE
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise RoutingError(
            f"{path}: missing; it sets the default outputs per severity (copy the repository's sql/{ROUTING_FILE})"
        ) from None
    return _load(path, mtime)


@functools.lru_cache(maxsize=8)
def _load(path: Path, mtime: int) -> Routing:
    """Parsed once per file version: record_window asks for every rule of every window."""
    try:
        parsed = _RoutingFile.model_validate(yaml.safe_load(path.read_text()))
    except (yaml.YAMLError, ValidationError) as exc:
        raise RoutingError(f"{path}: {' '.join(str(exc).split())}") from None
    missing = [s for s in get_args(Severity) if s not in parsed.severity]
    if missing:
        raise RoutingError(f"{path}: severity has no outputs for {missing}")
    unknown = sorted({o for outs in parsed.severity.values() for o in outs if o not in OUTPUTS})
    if unknown:
        raise RoutingError(f"{path}: unknown output(s) {unknown}; registered: {sorted(OUTPUTS)}")
    return Routing({s: tuple(outs) for s, outs in parsed.severity.items()}, parsed.deliver_per)


def split_misrouted(detections: list[Detection]) -> tuple[list[Detection], list[BrokenDetection]]:
    """The rules whose routing is valid, and the others as broken files: one line each, at the line of the
    field to fix, so `mamori detections test` reports them like any rule that does not load."""
    good: list[Detection] = []
    broken: list[BrokenDetection] = []
    for det in detections:
        problems = routing_problems(det.header)
        if not problems:
            good.append(det)
            continue
        field = problems[0].split(":", 1)[0].split(".", 1)[0]
        lines = det.path.read_text().splitlines()
        line = next((i for i, text in enumerate(lines, 1) if text.startswith(f"{field}:")), 1)
        broken.append(BrokenDetection(det.id, det.path, line, "; ".join(problems)))
    return good, broken


def routing_problems(header: DetectionHeader) -> list[str]:
    """Why a rule's routing is invalid, one line each: outputs not in the registry, options for unknown
    outputs, options an output rejects. [] when it is valid."""
    problems = [
        f"outputs: unknown output {name!r} (registered: {', '.join(sorted(OUTPUTS))})"
        for name in header.outputs or []
        if name not in OUTPUTS
    ]
    for name, raw in header.output_options.items():
        cls = OUTPUTS.get(name)
        if cls is None:
            problems.append(
                f"output_options: unknown output {name!r} (registered: {', '.join(sorted(OUTPUTS))})"
            )
        else:
            problems += cls.option_problems(dict(raw))
    return problems
