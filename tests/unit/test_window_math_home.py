"""Contract: window arithmetic lives in `mamori.windows` only.

A cadence change must be a change to that module (and config), so hour floors, one-hour steps, window tags and
their parsing may not reappear anywhere else in the runtime package. The scan is syntactic (ast), so it catches
the usual spellings: `timedelta(hours=1)`, `.replace(minute=0, ...)` / `.replace(hour=0, ...)`, the window tag
format string, and `strptime` of a tag. Dev tooling that synthesizes AWS deliveries (the generators, whose
object keys happen to use AWS's own `%Y%m%dT%H%MZ`) and `mamori.dev` are not pipeline windows and are exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mamori import windows

PACKAGE = Path(windows.__file__).resolve().parent
HOME = Path(windows.__file__).resolve()


# Constants that are durations of something other than a window, by module and name (why, for the reviewer).
NOT_WINDOWS = {
    "alerts/ledger.py": {"RETRY_MAX"},  # the cap of a delivery's retry backoff
}


def _exempt(path: Path) -> bool:
    rel = path.relative_to(PACKAGE)
    return path == HOME or rel.parts[0] == "dev" or rel.name == "generate.py"


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if not _exempt(p))


def _kw(call: ast.Call, name: str) -> object:
    for k in call.keywords:
        if k.arg == name and isinstance(k.value, ast.Constant):
            return k.value.value
    return None


def window_math(tree: ast.AST, allowed: set[str] | frozenset[str] = frozenset()) -> list[tuple[int, str]]:
    """(line, what) for every spelling of window arithmetic in a module's syntax tree; `allowed` names
    module-level constants whose value is some other duration."""
    found: list[tuple[int, str]] = []
    skip = {
        id(node.value)
        for node in getattr(tree, "body", [])
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id in allowed for t in node.targets)
    }
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and windows.WINDOW_TAG_FORMAT in node.value
        ):
            found.append((node.lineno, f"the window tag format {windows.WINDOW_TAG_FORMAT!r}"))
        if not isinstance(node, ast.Call):
            continue
        fn = node.func
        name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
        if name == "timedelta" and _kw(node, "hours") == 1 and len(node.keywords) == 1:
            found.append((node.lineno, "timedelta(hours=1) (an hour step: windows.HOUR / window_starts)"))
        if name == "replace" and isinstance(fn, ast.Attribute):
            if _kw(node, "minute") == 0:
                found.append((node.lineno, ".replace(minute=0, ...) (an hour floor: windows.hour_floor)"))
            elif _kw(node, "hour") == 0:
                found.append((node.lineno, ".replace(hour=0, ...) (a day floor: windows.day_floor)"))
        if name == "strptime":
            found.append((node.lineno, "strptime (a window tag: windows.parse_window_tag)"))
    return sorted(found)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_window_math_outside_the_window_module(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = window_math(tree, NOT_WINDOWS.get(path.relative_to(PACKAGE).as_posix(), set()))
    rel = path.relative_to(PACKAGE.parent.parent)
    assert not found, "\n".join(f"{rel}:{line}: {what}: move it to mamori.windows" for line, what in found)


def test_the_scan_sees_each_spelling() -> None:
    """The scan itself: each forbidden spelling is reported, so a clean run means something."""
    src = """
from datetime import datetime, timedelta
a = timedelta(hours=1)
b = t.replace(minute=0, second=0, microsecond=0)
c = t.replace(hour=0, minute=0)
d = datetime.strptime(tag, "%Y%m%dT%H%MZ")
e = f"{t:%Y%m%dT%H%MZ}"
ok = timedelta(hours=2), t.replace(tzinfo=None), timedelta(hours=1, minutes=20)
"""
    assert [line for line, _ in window_math(ast.parse(src))] == [3, 4, 5, 6, 6, 7]
