"""mamori.lake.layout is the one definition of the lake's keys: its builders and parsers agree with each other
and with mamori.windows, and no other runtime module spells a lake key by hand."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mamori.lake import layout
from mamori.windows import window_tag

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
# Whole constants that are lake directory names (a path joined with `/`, e.g. `root / "curated" / table`).
# "quarantine" is not among them: it is also a data-quality action's name.
LAKE_DIR_NAMES = {"curated", "_manifests", "_staging", "_compaction", "_backfill"}


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
                hits += [node.value] if node.value in LAKE_DIR_NAMES else []
                if hits:
                    rel = path.relative_to(PACKAGE.parent)
                    found.append(f"{rel}:{node.lineno}: {node.value[:60]!r} ({', '.join(hits)})")
    return found


def test_lake_keys_are_built_only_in_the_layout_module():
    found = _hand_built_keys()
    assert not found, "build lake keys with mamori.lake.layout:\n" + "\n".join(found)


def test_manifest_keys_of_a_window():
    """The keys today's lakes hold (tests/unit/golden/lake_keys.json has them all, from a real run)."""
    d = "_manifests/cloudtrail/window=20261101T1015Z"
    assert layout.manifest_dir("cloudtrail", T) == d
    assert layout.plan_key("cloudtrail", T) == f"{d}/_plan.json"
    assert layout.success_key("cloudtrail", T) == f"{d}/_SUCCESS.json"
    assert layout.batch_manifest_key("cloudtrail", T, 3) == f"{d}/batch-0003.json"
    assert layout.dq_batch_key("cloudtrail", T, 3) == f"{d}/dq-batch-0003.json"
    assert layout.publishing_key("cloudtrail", T, 3) == f"{d}/_publishing-b0003.json"
    assert layout.batch_gap_key("cloudtrail", T, 3) == f"{d}/_gap-b0003.json"
    assert layout.window_gap_key("cloudtrail", T) == f"{d}/_gap-window.json"
    assert layout.staging_dir("cloudtrail", T) == "_staging/cloudtrail/window=20261101T1015Z"
    assert layout.staging_dir("cloudtrail", T, 3) == "_staging/cloudtrail/window=20261101T1015Z/b0003"
    assert layout.compaction_record("alb", "account=1/region=r/dt=2026-11-01/hour=10") == (
        "_compaction/alb/account=1/region=r/dt=2026-11-01/hour=10.json"
    )
    assert layout.backfill_progress("0123456789abcdef") == "_backfill/0123456789abcdef.json"


def test_data_keys_and_their_parsers():
    rel = "account=1/region=r/dt=2026-11-01/hour=10"
    stem = layout.batch_stem(T, 7)
    assert stem == f"{window_tag(T)}-b0007"
    assert layout.parse_batch_stem(stem) == (T, 7)
    key = layout.curated_file("cloudtrail", rel, stem)
    assert key == f"curated/cloudtrail/{rel}/20261101T1015Z-b0007.parquet"
    assert layout.parse_curated_file(key) == layout.CuratedFile("cloudtrail", rel, f"{stem}.parquet")
    assert layout.partition_hour(key) == datetime(2026, 11, 1, 10, tzinfo=UTC)
    q = layout.quarantine_file("cloudtrail", T, 7)
    assert q == "quarantine/cloudtrail/dt=2026-11-01/20261101T1015Z-b0007.jsonl.gz"
    assert layout.is_quarantine(q) and not layout.is_curated(q) and layout.parse_curated_file(q) is None


@pytest.mark.parametrize(
    "name", ["compact-0123abcd", "bench-b0001", "2026111T1000Z-b0001", "20261101T1000Z-b01", "20261101T1000Z"]
)
def test_names_that_are_not_batch_stems(name):
    """Compaction judges a file not named by an ingest batch by its partition alone: such names must not parse
    (strptime alone would accept a 7-digit date)."""
    assert layout.parse_batch_stem(name) is None


@pytest.mark.parametrize(
    ("name", "kind", "batch"),
    [
        ("_plan.json", "plan", None),
        ("_SUCCESS.json", "success", None),
        ("_gap-window.json", "window_gap", None),
        ("batch-0012.json", "batch", 12),
        ("dq-batch-0012.json", "dq_batch", 12),
        ("_publishing-b0012.json", "publishing", 12),
        ("_gap-b0012.json", "gap", 12),
        (".batch-0000.json.4567cdef.tmp", "temp", None),
        ("batch-12.json", "other", None),
        ("notes.txt", "other", None),
    ],
)
def test_manifest_file_names_decode_to_their_kind(name, kind, batch):
    assert layout.parse_manifest_name(name) == layout.ManifestName(kind, batch)


def test_window_directories_decode_to_their_start():
    assert layout.parse_window_dir_name(layout.window_dir_name(T)) == T
    assert layout.parse_manifest_dir(layout.success_key("vpcflow", T)) == ("vpcflow", T)
    for name in ("window=2026111T1000Z", "window=", "w=20261101T1000Z", "window=20261101T1000Z.tmp"):
        assert layout.parse_window_dir_name(name) is None
    assert layout.parse_manifest_dir("curated/x/window=20261101T1000Z") is None


def test_status_restates_the_window_totals_of_the_summary_type():
    from mamori.lake.manifests import WINDOW_TOTALS
    from mamori.status import WINDOW_TOTALS as STATUS_TOTALS

    assert STATUS_TOTALS == WINDOW_TOTALS, "mamori/status.py: copy WINDOW_TOTALS from mamori.lake.manifests"


def test_failure_records_keep_the_bytes_ingest_wrote():
    """Gap and publishing records only appear when a batch fails or is killed, so the golden lake has none:
    their bytes as the dict-based writer produced them (orjson, indent 2; gap records with sorted keys)."""
    from mamori.lake.manifests import GapRecord, PublishingRecord

    pub = PublishingRecord(files=["curated/a.parquet"], replaces=[])
    assert pub.to_json() == b'{\n  "files": [\n    "curated/a.parquet"\n  ],\n  "replaces": []\n}'
    assert PublishingRecord.from_json(pub.to_json()) == pub
    gap = GapRecord(where="cloudtrail 20261101T1000Z", problems=["p"], objects=[{"rows_out": 1, "key": "k"}])
    assert gap.to_json() == (
        b'{\n  "objects": [\n    {\n      "key": "k",\n      "rows_out": 1\n    }\n  ],\n'
        b'  "problems": [\n    "p"\n  ],\n  "where": "cloudtrail 20261101T1000Z"\n}'
    )
    assert GapRecord.from_json(gap.to_json()) == gap and gap.keys() == ["k"]
