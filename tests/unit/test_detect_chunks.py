"""The detect DAG maps over chunks: every enabled rule exactly once, one source per chunk, bounded size (a
setting)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mamori.config import ConfigError, load_settings
from mamori.detect import CHUNK, detection_chunks, enabled_detections
from mamori.detections.loader import load_catalog

REPO = Path(__file__).resolve().parents[2]


def test_chunks_cover_every_enabled_rule_once_and_never_mix_sources(tmp_path):
    s = load_settings({"MAMORI_HOME": str(tmp_path), "MAMORI_SQL_DIR": str(REPO / "sql")})
    chunks = detection_chunks(s)
    flat = [i for c in chunks for i in c]
    assert sorted(flat) == sorted(enabled_detections(s)) and len(flat) == len(set(flat))
    source_of = {d.id: d.header.log_source for d in load_catalog(REPO / "sql")}
    assert all(0 < len(c) <= CHUNK and len({source_of[i] for i in c}) == 1 for c in chunks)


def test_chunk_size_is_a_setting_and_still_one_source_per_chunk(tmp_path):
    """MAMORI_DETECT_CHUNK_SIZE (200 here; `mamori up` 30): one run_detections task per source when every source has
    fewer rules than that, each task a process that costs seconds before its first query."""
    base = {"MAMORI_HOME": str(tmp_path), "MAMORI_SQL_DIR": str(REPO / "sql")}
    source_of = {d.id: d.header.log_source for d in load_catalog(REPO / "sql")}
    s = load_settings(base)
    big = detection_chunks(load_settings({**base, "MAMORI_DETECT_CHUNK_SIZE": "200"}))
    assert sorted(i for c in big for i in c) == sorted(enabled_detections(s))
    assert [len({source_of[i] for i in c}) for c in big] == [1] * len(big)
    assert len(big) == len({source_of[i] for i in enabled_detections(s)}) < len(detection_chunks(s))
    small = detection_chunks(load_settings({**base, "MAMORI_DETECT_CHUNK_SIZE": "3"}))
    assert max(map(len, small)) == 3 and sorted(i for c in small for i in c) == sorted(enabled_detections(s))


@pytest.mark.parametrize(
    ("name", "value"), [("MAMORI_DETECT_CHUNK_SIZE", "0"), ("MAMORI_DETECT_POKE_SECONDS", "2m")]
)
def test_chunk_size_and_poke_interval_refuse_what_they_cannot_use(name, value):
    with pytest.raises(ConfigError) as info:
        load_settings({name: value})
    assert info.value.setting == name
    s = load_settings({})  # the default 5-minute cadence: the poke follows it (mamori.windows.poke_interval)
    assert (s.detect_chunk_size, s.detect_poke.total_seconds()) == (CHUNK, 30)
    assert load_settings({"MAMORI_INGEST_INTERVAL_MINUTES": "60"}).detect_poke.total_seconds() == 120


def test_the_largest_chunks_come_first(tmp_path):
    """Mapped tasks start in index order: with fewer workers than chunks, CloudTrail's big chunks start first and
    the small sources' fill in beside them, not after (measured under `mamori up`, docs/operations.md)."""
    base = {
        "MAMORI_HOME": str(tmp_path),
        "MAMORI_SQL_DIR": str(REPO / "sql"),
        "MAMORI_DETECT_CHUNK_SIZE": "30",
    }
    chunks = detection_chunks(load_settings(base))
    sizes = [len(c) for c in chunks]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == 30 and sizes[-1] < 30


def test_warming_the_catalog_leaves_every_rule_parsed_for_the_processes_forked_after_it(tmp_path):
    """The plugin warms the catalog where task processes are forked from: afterwards a load of the catalog (a
    sensor poke, a rule chunk) parses no rule again, the loader's content-keyed caches answer."""
    from mamori.detect import warm_catalog
    from mamori.detections import loader

    s = load_settings({"MAMORI_HOME": str(tmp_path), "MAMORI_SQL_DIR": str(REPO / "sql")})
    loader._select_problems.cache_clear()
    loader._parsed_header.cache_clear()
    assert warm_catalog(s) > 0
    parsed = loader._select_problems.cache_info()
    assert parsed.currsize >= len(enabled_detections(s))
    detection_chunks(s)
    again = loader._select_problems.cache_info()
    assert again.misses == parsed.misses and again.hits > parsed.hits
