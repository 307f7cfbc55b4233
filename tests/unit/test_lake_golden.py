"""The lake a fixed generator seed writes is the one today's code wrote: same keys, same bytes.

Key builders, typed manifests and window summaries may change how a key or a JSON document is produced, never
what it is; a moved key would orphan every lake already written (finalize, health, compaction and status read
them back), and moved bytes would break the demo's byte-identity promise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from lake_golden import GOLDEN, build_lake, digest

from mamori.config import load_settings
from mamori.lake import layout
from mamori.lake.manifests import BackfillProgress, BatchManifest, DqBatchResult, WindowPlan, WindowSummary


@pytest.fixture(scope="module")
def golden_lake(tmp_path_factory) -> Iterator[Path]:
    """Built once for the module (~30-50 s): the generators read their settings from the environment."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MAMORI_HOME", str(tmp_path_factory.mktemp("golden-home")))
        for var in ("MAMORI_RAW_URL", "MAMORI_LAKE_URL", "MAMORI_LEDGER_URL", "MAMORI_OUTBOX_URL"):
            mp.delenv(var, raising=False)
        yield build_lake(load_settings())


def test_the_generated_lake_has_todays_keys_and_bytes(golden_lake):
    want = json.loads(GOLDEN.read_text())
    got = digest(golden_lake)
    assert sorted(got) == sorted(want), "lake keys moved: build them with mamori.lake.layout as before"
    changed = sorted(k for k in want if got[k] != want[k])
    assert not changed, f"bytes changed for {changed[:10]}"


def test_every_record_round_trips_through_its_type_byte_for_byte(golden_lake):
    """Readers parse the records into types and writers serialise the types: a field a type dropped or
    reordered would change the next re-run's bytes (and lose what older readers relied on)."""
    types = {
        "plan": WindowPlan,
        "batch": BatchManifest,
        "dq_batch": DqBatchResult,
        "success": WindowSummary,
    }
    seen: dict[str, int] = {}
    for path in sorted((golden_lake / layout.MANIFESTS).rglob("*.json")):
        kind = layout.parse_manifest_name(path.name).kind
        data = path.read_bytes()
        assert types[kind].from_json(data).to_json() == data, path
        seen[kind] = seen.get(kind, 0) + 1
    assert set(seen) == set(types), seen
    (progress,) = (golden_lake / layout.BACKFILL).glob("*.json")
    assert BackfillProgress.from_json(progress.read_bytes()).to_json() == progress.read_bytes()
    # A manifest with quarantined records and data-quality failures exercises every optional part.
    manifests = [
        BatchManifest.from_json(p.read_bytes())
        for p in (golden_lake / layout.MANIFESTS).rglob("batch-*.json")
    ]
    assert any(m.parser_quarantine for m in manifests)
    assert any(o.dq_quarantined for m in manifests for o in m.objects)
    assert any(m.dq.failed for m in manifests)


def test_key_parsers_decode_what_the_golden_lake_holds(golden_lake):
    """Every manifest directory and curated file of a real lake decodes back to what built it."""
    for rel in json.loads(GOLDEN.read_text()):
        if rel.startswith(layout.MANIFESTS + "/"):
            source, start = layout.parse_manifest_dir(rel) or ("?", None)
            assert start is not None and rel.startswith(layout.manifest_dir(source, start) + "/"), rel
            assert layout.parse_manifest_name(rel.rsplit("/", 1)[-1]).kind != "other", rel
        elif layout.is_curated(rel):
            f = layout.parse_curated_file(rel)
            assert f is not None and layout.curated_file(f.table, f.relpath, f.stem) == rel
        elif layout.is_quarantine(rel):
            stem = rel.rsplit("/", 1)[-1].removesuffix(layout.QUARANTINE_SUFFIX)
            start, batch = layout.parse_batch_stem(stem) or (None, -1)
            assert start is not None and layout.quarantine_file(rel.split("/")[1], start, batch) == rel
