"""Store.sync_with_records: a batch's staged files are made durable, and its records are placed at their keys
one at a time, atomically, only when the caller places them (ingest publishes `_publishing` first and the
manifest last). Locally the records ride the files' sync and are renamed into place; where a rename is not
cheap (S3) each is one atomic write at its turn."""

from __future__ import annotations

import os

from mamori.lake import Store


def _store(tmp_path, monkeypatch, staged: bool) -> tuple[Store, list[list[str]]]:
    store = Store(f"file://{tmp_path}")
    if not staged:  # as on S3, where a move is a copy and a delete
        monkeypatch.setattr(Store, "stages_records", property(lambda self: False))
    synced: list[list[str]] = []
    real = store.sync
    store.sync = lambda keys: (synced.append(list(keys)), real(keys))[1]  # type: ignore[method-assign]
    return store, synced


def _files(tmp_path) -> set[str]:
    return {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}


def test_local_records_are_synced_with_the_files_and_renamed_into_place_at_their_turn(tmp_path, monkeypatch):
    store, synced = _store(tmp_path, monkeypatch, staged=True)
    store.stage("_staging/b0/curated/x.parquet", b"rows")
    pending = store.sync_with_records(
        ["_staging/b0/curated/x.parquet"],
        {"m/_publishing.json": b"P", "m/manifest.json": b"M"},
        lambda key: f"_staging/b0/{key}",
    )
    # one wait for the disk, files and records together; nothing placed yet
    assert synced == [
        ["_staging/b0/curated/x.parquet", "_staging/b0/m/_publishing.json", "_staging/b0/m/manifest.json"]
    ]
    assert not store.exists("m/_publishing.json") and not store.exists("m/manifest.json")
    pending.place("m/_publishing.json")
    assert store.read_bytes("m/_publishing.json") == b"P" and not store.exists("m/manifest.json")
    pending.place("m/manifest.json")
    assert store.read_bytes("m/manifest.json") == b"M"
    assert _files(tmp_path) == {"_staging/b0/curated/x.parquet", "m/_publishing.json", "m/manifest.json"}


def test_unstaged_records_are_each_one_atomic_write_at_their_turn(tmp_path, monkeypatch):
    store, synced = _store(tmp_path, monkeypatch, staged=False)
    store.stage("_staging/b0/curated/x.parquet", b"rows")
    pending = store.sync_with_records(
        ["_staging/b0/curated/x.parquet"], {"m/manifest.json": b"M"}, lambda key: f"_staging/b0/{key}"
    )
    assert synced == [["_staging/b0/curated/x.parquet"]]  # nothing staged for the records
    assert _files(tmp_path) == {"_staging/b0/curated/x.parquet"}
    pending.place("m/manifest.json")
    assert store.read_bytes("m/manifest.json") == b"M"
    assert not [n for n in os.listdir(tmp_path / "m") if n.endswith(".tmp")]  # no temporary left behind


def test_write_atomic_replaces_the_whole_object_and_leaves_no_temporary(tmp_path):
    store = Store(f"file://{tmp_path}")
    store.write_atomic("a/k.json", b"old content")
    store.write_atomic("a/k.json", b"new")
    assert store.read_bytes("a/k.json") == b"new"
    assert os.listdir(tmp_path / "a") == ["k.json"]
