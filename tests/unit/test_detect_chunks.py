"""The detect DAG maps over chunks: every enabled rule exactly once, one source per chunk, bounded size."""

from __future__ import annotations

from pathlib import Path

from mamori.config import load_settings
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
