"""mamori.lake.layout is the one definition of the lake's keys: its builders and parsers agree with each other
and with mamori.windows, and no other runtime module spells a lake key by hand."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

from mamori.lake import layout

PACKAGE = Path(layout.__file__).resolve().parents[1]  # include/mamori
LAYOUT = Path(layout.__file__).resolve()
T = datetime(2026, 11, 1, 10, 15, tzinfo=UTC)

# Fragments that only a lake key contains. A string constant holding one of them outside layout.py is a key
# (or a prefix) built by hand: build it with mamori.lake.layout instead.
LAKE_KEY_FRAGMENTS = (
    "_manifests",
    "_SUCCESS.json",
    "_plan.json",
    "dq-batch-",
    "batch-",
    "_publishing",
    "_gap-",
    "_staging",
    "_compaction",
    "_backfill",
    "curated/",
    "quarantine/",
    "window=",
    ".jsonl.gz",
)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants (prose may describe the layout; only code builds keys)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def _hand_built_keys() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.resolve() == LAYOUT:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in skip:
                continue
            # A lake key never contains whitespace: a constant that does is prose naming a key for a person
            # (an error message, a docs table), while a key's own parts (`"curated/"`, an f-string's
            # `/window=`) have none.
            if not any(ch.isspace() for ch in node.value):
                hits = [f for f in LAKE_KEY_FRAGMENTS if f in node.value]
                if hits:
                    rel = path.relative_to(PACKAGE.parent)
                    found.append(f"{rel}:{node.lineno}: {node.value[:60]!r} ({', '.join(hits)})")
    return found


def test_lake_keys_are_built_only_in_the_layout_module():
    found = _hand_built_keys()
    assert not found, "build lake keys with mamori.lake.layout:\n" + "\n".join(found)
