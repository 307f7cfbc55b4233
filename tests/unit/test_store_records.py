"""StagedWrites: a batch's staged files are made durable in the background, and its records are placed at their
keys one at a time, atomically, only when the caller places them (ingest publishes `_publishing` first and the
manifest last). Locally the records are staged and synced with the files and renamed into place; where a
rename is not cheap (S3) each is one atomic write at its turn. Nothing returns from `records` before every
staged write is on disk, and a failed fsync stops the batch before anything is published."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest

from mamori.lake import Store


def _store(tmp_path, monkeypatch, staged: bool) -> tuple[Store, list[int]]:
    """A local store whose finished fsyncs are recorded, so a test can tell what has been waited for."""
    store = Store(f"file://{tmp_path}")
    if not staged:  # as on S3, where a move is a copy and a delete
        monkeypatch.setattr(Store, "stages_records", property(lambda self: False))
    synced: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        real(fd)
        synced.append(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return store, synced


def _hold_first_fsync(monkeypatch) -> threading.Event:
    """Hold the first fsync (in whichever I/O thread runs it) until the returned event is set."""
    release = threading.Event()
    real = os.fsync
    first: list[int] = []

    def fsync(fd: int) -> None:
        if not first:
            first.append(fd)
            assert release.wait(10)  # held until the test lets it go
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return release


def _blocks_until(release: threading.Event, call: Callable[[], object], why: str) -> None:
    """`call`, on a thread of its own, must still be blocked 0.3 s later, and return once `release` is set."""
    returned = threading.Event()

    def run() -> None:
        call()
        returned.set()

    t = threading.Thread(target=run)
    t.start()
    assert not returned.wait(0.3), why
    release.set()
    t.join(10)
    assert returned.is_set()


def _files(tmp_path) -> set[str]:
    return {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}


def test_local_records_are_synced_with_the_files_and_renamed_into_place_at_their_turn(tmp_path, monkeypatch):
    store, synced = _store(tmp_path, monkeypatch, staged=True)
    with store.staged_writes() as writes:
        writes.write("_staging/b0/curated/x.parquet", b"rows")
        pending = writes.records(
            {"m/_publishing.json": b"P", "m/manifest.json": b"M"}, lambda key: f"_staging/b0/{key}"
        )
        # every staged write, files and records, was fsynced before records() returned; nothing placed yet
        assert len(synced) == 3
        assert not store.exists("m/_publishing.json") and not store.exists("m/manifest.json")
        pending.place("m/_publishing.json")
        assert store.read_bytes("m/_publishing.json") == b"P" and not store.exists("m/manifest.json")
        pending.place("m/manifest.json")
    assert store.read_bytes("m/manifest.json") == b"M"
    assert _files(tmp_path) == {"_staging/b0/curated/x.parquet", "m/_publishing.json", "m/manifest.json"}


def test_unstaged_records_are_each_one_atomic_write_at_their_turn(tmp_path, monkeypatch):
    store, synced = _store(tmp_path, monkeypatch, staged=False)
    with store.staged_writes() as writes:
        writes.write("_staging/b0/curated/x.parquet", b"rows")
        pending = writes.records({"m/manifest.json": b"M"}, lambda key: f"_staging/b0/{key}")
    assert len(synced) == 1  # the file; nothing staged for the records
    assert _files(tmp_path) == {"_staging/b0/curated/x.parquet"}
    assert pending.placing("m/manifest.json") == []  # not staged: placed at once, nothing to move
    assert store.read_bytes("m/manifest.json") == b"M"
    assert not [n for n in os.listdir(tmp_path / "m") if n.endswith(".tmp")]  # no temporary left behind


def test_records_waits_for_a_slow_fsync_of_a_file_staged_long_before(tmp_path, monkeypatch):
    """The files' fsyncs run in the background while the caller goes on; `records` must not return (so the
    caller cannot publish) until the slowest one has finished."""
    store = Store(f"file://{tmp_path}")
    release = _hold_first_fsync(monkeypatch)
    with store.staged_writes() as writes:
        writes.write("_staging/b0/a.parquet", b"a")
        writes.write("_staging/b0/b.parquet", b"b")
        _blocks_until(
            release,
            lambda: writes.records({"m/manifest.json": b"M"}, lambda key: f"_staging/b0/{key}"),
            "records() returned while a staged file's fsync was still running",
        )


def test_a_failed_fsync_stops_the_batch_before_anything_is_published(tmp_path, monkeypatch):
    """A staged file that could not be made durable (a full or failing disk) must fail `records`, the step
    before publishing, and every other fsync must have ended by then (the staging prefix is deleted next)."""
    store = Store(f"file://{tmp_path}")
    real = os.fsync
    ended: list[int] = []
    calls: list[int] = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(5, "Input/output error")
        real(fd)
        ended.append(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with store.staged_writes() as writes:
        for i in range(5):
            writes.write(f"_staging/b0/f{i}.parquet", b"x")
        with pytest.raises(OSError, match="Input/output error"):
            writes.records({"m/manifest.json": b"M"}, lambda key: f"_staging/b0/{key}")
        assert (
            len(ended) == 5
        )  # the other four files and the manifest: all joined before the failure surfaced
    assert not store.exists("m/manifest.json")


def test_a_failed_write_stops_the_batch_before_anything_is_published(tmp_path, monkeypatch):
    """Staged files are written on the I/O threads: a write the disk refuses (ENOSPC) must surface at `records`,
    as a failed fsync does, after every other staged write has ended, and nothing may be published."""
    store = Store(f"file://{tmp_path}")
    real = Store.stage
    refused = threading.Event()

    def stage(self: Store, key: str, data: bytes) -> None:  # the disk refuses this one file's bytes
        if data == b"bad":
            refused.set()
            raise OSError(28, "No space left on device")
        real(self, key, data)

    monkeypatch.setattr(Store, "stage", stage)
    with store.staged_writes() as writes:
        writes.write("_staging/b0/f0.parquet", b"bad")
        for i in range(1, 5):
            writes.write(f"_staging/b0/f{i}.parquet", b"good")
        with pytest.raises(OSError, match="No space left"):
            writes.records({"m/manifest.json": b"M"}, lambda key: f"_staging/b0/{key}")
        assert refused.is_set()
        # the four good files and the staged manifest were written whole before the failure surfaced
        assert all(store.read_bytes(f"_staging/b0/f{i}.parquet") == b"good" for i in range(1, 5))
        assert store.read_bytes("_staging/b0/m/manifest.json") == b"M"
    assert not store.exists("m/manifest.json")


def test_bytes_handed_to_the_io_threads_are_bounded(tmp_path, monkeypatch):
    """The caller's file bytes wait in the background until written: beyond MAX_BYTES_IN_FLIGHT, `write` waits
    for the oldest to finish, so a batch of large merged files cannot pile its files up in memory."""
    store = Store(f"file://{tmp_path}")
    release = _hold_first_fsync(monkeypatch)
    with store.staged_writes() as writes:
        monkeypatch.setattr(writes, "MAX_BYTES_IN_FLIGHT", 10)
        writes.write("_staging/b0/a.parquet", b"a" * 6)
        _blocks_until(
            release,
            lambda: writes.write("_staging/b0/b.parquet", b"b" * 6),  # 6 + 6 > 10: waits for the first
            "write() handed over more bytes than MAX_BYTES_IN_FLIGHT allows",
        )
        writes.records({}, lambda key: f"_staging/b0/{key}")
    assert store.read_bytes("_staging/b0/a.parquet") == b"a" * 6
    assert store.read_bytes("_staging/b0/b.parquet") == b"b" * 6


def test_moves_run_together_and_all_end_before_move_returns(tmp_path):
    store = Store(f"file://{tmp_path}")
    pairs = []
    for i in range(12):
        store.stage(f"_staging/b0/f{i}", str(i).encode())
        pairs.append((f"_staging/b0/f{i}", f"curated/p={i % 3}/f{i}"))
    store.move(pairs)
    assert _files(tmp_path) == {dst for _, dst in pairs}
    assert all(store.read_bytes(dst) == src.rsplit("f", 1)[1].encode() for src, dst in pairs)


def test_write_atomic_replaces_the_whole_object_and_leaves_no_temporary(tmp_path):
    store = Store(f"file://{tmp_path}")
    store.write_atomic("a/k.json", b"old content")
    store.write_atomic("a/k.json", b"new")
    assert store.read_bytes("a/k.json") == b"new"
    assert os.listdir(tmp_path / "a") == ["k.json"]
