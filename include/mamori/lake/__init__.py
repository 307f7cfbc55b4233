"""Object stores (raw landing bucket, lake, outbox) behind one small interface over Airflow's ObjectStoragePath.

`file://` and `s3://` behave the same to callers: keys are '/'-separated paths relative to the store root,
writes are atomic (temp + rename locally, a single PUT on S3), and listing walks one level at a time so a
bucket with millions of keys is never listed recursively from its root.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import os
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from airflow.sdk import ObjectStoragePath


@dataclass(frozen=True)
class ObjectInfo:
    """A landed object: key relative to the store root, size, and when it landed (S3 LastModified/mtime)."""

    key: str
    size: int
    landed: datetime


class Store:
    """A root URL plus the fsspec filesystem Airflow resolves for it (credentials from the connection)."""

    def __init__(self, url: str, conn_id: str | None = None) -> None:
        self.url = url.rstrip("/")
        self._root = ObjectStoragePath(self.url, conn_id=conn_id) if conn_id else ObjectStoragePath(self.url)
        self.fs: Any = self._root.fs
        self.protocol: str = self._root.protocol
        self._base = self._root.path.rstrip("/")

    # -- paths -------------------------------------------------------------------------------------------
    def full(self, key: str) -> str:
        """The filesystem path of a key (bucket/key on S3, absolute path locally)."""
        return f"{self._base}/{key.lstrip('/')}" if key else self._base

    def uri(self, key: str) -> str:
        """A URL other tools (DuckDB, Athena) can open."""
        return f"{self.url}/{key.lstrip('/')}"

    def _rel(self, full: str) -> str:
        full = full.rstrip("/")
        return full[len(self._base) + 1 :] if full.startswith(self._base + "/") else full

    # -- reads ---------------------------------------------------------------------------------------------
    def read_bytes(self, key: str) -> bytes:
        # Locally without fsspec: its path handling cost ~30 µs a read, ~1.5 ms per 1,000-event batch.
        if self.protocol == "file":
            with open(self.full(key), "rb") as fh:
                return fh.read()
        data: bytes = self.fs.cat_file(self.full(key))
        return data

    def open_read(self, key: str) -> BinaryIO:
        """A sequential reader (a big raw object is parsed as a stream, not held as bytes)."""
        f: BinaryIO = self.fs.open(self.full(key), "rb")
        return f

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self.full(key)))

    def list_dirs(self, prefix: str) -> list[str]:
        """Immediate child 'directories' (common prefixes) of a prefix, as names."""
        path = self.full(prefix).rstrip("/")
        # fsspec caches listings per filesystem instance (and instances per process): a worker that listed
        # this prefix an hour ago would not see what landed since.
        self.fs.invalidate_cache(path)
        try:
            entries = self.fs.ls(path, detail=True)
        except FileNotFoundError:
            return []
        return sorted(
            self._rel(e["name"]).rsplit("/", 1)[-1] for e in entries if e.get("type") == "directory"
        )

    def find(self, prefix: str) -> list[ObjectInfo]:
        """Every object under a prefix with its landing time, sorted by key (deterministic batching)."""
        path = self.full(prefix).rstrip("/")
        self.fs.invalidate_cache(path)
        try:
            found = self.fs.find(path, detail=True)
        except FileNotFoundError:
            return []
        out = []
        for name, info in found.items():
            if info.get("type") == "directory":
                continue
            out.append(ObjectInfo(self._rel(name), int(info.get("size") or 0), _landed(info)))
        return sorted(out, key=lambda o: o.key)

    def glob_prefixes(self, pattern: str) -> list[str]:
        """Expand `*`/`o-*` segments of a prefix pattern one listing level at a time."""
        parts = [p for p in pattern.strip("/").split("/") if p]
        current = [""]
        for part in parts:
            nxt = []
            for base in current:
                if any(ch in part for ch in "*?["):
                    nxt += [f"{base}{d}/" for d in self.list_dirs(base) if fnmatch.fnmatchcase(d, part)]
                else:
                    nxt.append(f"{base}{part}/")
            current = nxt
        return current

    # -- writes --------------------------------------------------------------------------------------------
    def write_atomic(self, key: str, data: bytes) -> None:
        """Readers see the old object or the whole new one, never a prefix of it (a killed task)."""
        self._put(key, data, durable=True)

    def write_landed(self, key: str, data: bytes, landed: datetime) -> None:
        """Write an object as if it had landed at `landed` (generators and tests): atomic like `write_atomic`,
        and locally it appears with its landing time already set, so a concurrent listing never files it under
        the time of the write. Not synced: call sync() on the keys once they are all written (one concurrent
        wait instead of one fsync per object). On S3 the landing time is the PUT's own."""
        self._put(key, data, durable=False, landed=landed)

    def _put(self, key: str, data: bytes, durable: bool, landed: datetime | None = None) -> None:
        """One atomic write: a single PUT on S3 (a multipart upload only appears on completion); locally a
        dot-prefixed temp in the same directory (same filesystem for the rename, invisible to *.parquet globs),
        fsynced first when `durable`, given its landing time before the rename (a rename keeps the mtime)."""
        full = self.full(key)
        if self.protocol != "file":
            self.fs.pipe_file(full, data)
            return
        os.makedirs(os.path.dirname(full), exist_ok=True)
        tmp = os.path.join(os.path.dirname(full), f".{os.path.basename(full)}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if landed is not None:
            ts = landed.timestamp()
            os.utime(tmp, (ts, ts))
        os.replace(tmp, full)

    def stage(self, key: str, data: bytes) -> None:
        """Write a file that is not yet part of the lake: under a staging prefix that every attempt of its
        writer clears first, so a killed write's partial file is never read and needs no temp + rename. Not
        synced: call sync() on the staged keys before publishing them (one wait for the disk per batch, not
        one per file; on S3 the PUT is the whole write)."""
        full = self.full(key)
        if self.protocol == "file":
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as fh:
                fh.write(data)
        else:
            self.fs.pipe_file(full, data)

    def sync(self, keys: list[str]) -> None:
        """Wait until the staged files are on disk, all at once: their fsyncs run concurrently, so the
        filesystem commits them together (each serial fsync waited ~7-12 ms on a shared 2-core machine's disk,
        most of a small batch's lake writes). Nothing to wait for on S3."""
        if self.protocol != "file" or not keys:
            return

        paths = [self.full(key) for key in keys]
        if len(paths) == 1:
            fsync_path(paths[0])
            return
        _wait_all([_io_pool().submit(fsync_path, path) for path in paths])

    @property
    def stages_records(self) -> bool:
        """Whether a batch's records (`_publishing`, results, manifest) are staged beside its files and renamed
        into place: on a local store, where a rename is atomic and costs no second write. On S3 a move is a
        copy and a delete, dearer than the one PUT that writes a record atomically."""
        return self.protocol == "file"

    def staged_writes(self) -> StagedWrites:
        """A batch's staged writes, made durable in the background while the caller goes on (StagedWrites)."""
        return StagedWrites(self)

    def move(self, pairs: list[tuple[str, str]]) -> None:
        """Move each (source key, destination key): how a staged batch is published into the lake.

        Locally a rename (same filesystem: the destination appears whole, in microseconds); on S3 server-side
        copies run concurrently, then the sources are deleted in bulk. Moving N objects is N steps, not one:
        callers keep the step short and record what they publish first (ingest's `_publishing` record).
        """
        if not pairs:
            return
        if self.protocol == "file":

            def one(pair: tuple[str, str]) -> None:
                full = self.full(pair[1])
                os.makedirs(os.path.dirname(full), exist_ok=True)
                os.replace(self.full(pair[0]), full)

            if len(pairs) == 1:
                one(pairs[0])
                return
            # Concurrently: a rename can wait for the journal (replacing a file frees the old one's blocks; on a
            # shared disk another process's commit may hold it), and on a loaded machine each wait costs the
            # caller its core until the scheduler gives it back, ~3-4 ms at load 10 on 2 cores. N renames in
            # flight wait together. The caller orders what comes before and after (ingest's `_publishing`
            # record, its manifest): every move has ended when this returns, in whatever order they ran.
            _wait_all([_io_pool().submit(one, pair) for pair in pairs])
            return
        self.fs.copy([self.full(s) for s, _ in pairs], [self.full(d) for _, d in pairs])
        self.fs.rm([self.full(s) for s, _ in pairs])

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.full(key))

    def delete_prefix(self, prefix: str) -> None:
        """Delete every object under a prefix (a staging area), temporaries included; absent is fine."""
        path = self.full(prefix).rstrip("/")
        if self.protocol == "file":
            shutil.rmtree(path, ignore_errors=True)
            return
        self.fs.invalidate_cache(path)
        with contextlib.suppress(FileNotFoundError):
            if self.fs.find(path):
                self.fs.rm(path, recursive=True)

    def delete_together(self, keys: list[str], prefixes: list[str]) -> None:
        """Delete keys and whole prefixes (`delete`, `delete_prefix`) with no order among them: locally all at
        once on the I/O threads, one wait for the disk instead of one per unlink or rmdir (on a loaded machine
        each wait gives the caller's core away until the scheduler gives it back)."""
        if self.protocol != "file":
            for key in keys:
                self.delete(key)
            for prefix in prefixes:
                self.delete_prefix(prefix)
            return
        pool = _io_pool()
        _wait_all(
            [pool.submit(self.delete, key) for key in keys]
            + [pool.submit(self.delete_prefix, prefix) for prefix in prefixes]
        )

    def remove_temps(self, key: str) -> None:
        """Delete the temporaries a killed `write_atomic` of this key left beside it (local stores only: an S3
        PUT leaves none). Call it only for keys the caller alone writes, or it could take a live writer's temp."""
        if self.protocol != "file":
            return
        full = self.full(key)
        pattern = f".{glob.escape(os.path.basename(full))}.*.tmp"
        for tmp in glob.glob(os.path.join(glob.escape(os.path.dirname(full)), pattern)):
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)

    def set_landed(self, key: str, when: datetime) -> None:
        """Local stores only: give a file the landing time S3 would record (generator and tests)."""
        if self.protocol == "file":
            ts = when.timestamp()
            os.utime(self.full(key), (ts, ts))


_IO_THREADS = 4  # fsyncs and renames a batch keeps in flight at once (a 2-core machine's disk)
_POOL: ThreadPoolExecutor | None = None
_POOL_PID = 0


def _io_pool() -> ThreadPoolExecutor:
    """The process's threads for waits on the local disk (fsync, rename), started once, not per batch.

    Starting a batch's threads and joining them cost its main thread ~15 waits of its own (each thread's start
    is a handshake) on top of the disk's: on a loaded machine each wait gives the core away until the scheduler
    gives it back. A forked child (a task forked from a warmed worker) inherits the pool object but none of its
    threads: the pid check gives it a pool of its own. Idle threads hold no lock a fork could copy held, and
    they end at interpreter exit (concurrent.futures joins them)."""
    global _POOL, _POOL_PID
    if _POOL is None or os.getpid() != _POOL_PID:
        _POOL = ThreadPoolExecutor(max_workers=_IO_THREADS, thread_name_prefix="mamori-io")
        _POOL_PID = os.getpid()
    return _POOL


def _wait_all(futures: list[Future[None]]) -> None:
    """Join every future (none may still run once this returns, even after a failure), then raise the first
    failure."""
    wait(futures)  # one wait for all of them, not one per future
    failure = next((exc for fut in futures if (exc := fut.exception()) is not None), None)
    if failure is not None:
        raise failure


class StagedWrites:
    """A batch's staged files: each written and fsynced by the process's I/O threads in the background while
    the caller builds the next one; `records` stages the batch's records the same way and then waits for all of
    it, once.

    Why: a batch's Parquet files are built one partition after another (CPU), and their waits for the disk
    (fsync: ~5 ms a batch on a quiet disk, much more whenever another process's commit holds the journal) used
    to come after all of them, in one wait with nothing else to do. Here those waits run beside the next files'
    CPU, and the records' fsyncs join whatever commit is in flight. `os.fsync` releases the GIL, and the
    filesystem commits concurrent fsyncs together. The write itself moved to the I/O threads too (issue 19's
    eighth round): creating a file and copying its bytes into the page cache is kernel time, ~0.35 ms for a
    40 KB file here, ~3.5 ms of a 1,000-event CloudTrail batch's main thread; a file write releases the GIL, so
    it now runs on the second core beside the next partition's encoding (bench/sections, alternating
    processes: 46.5 -> 43.8 and 47.4 -> 43.1 ms per batch, medians of two sets of 8 pairs). The caller hands
    over the bytes it built and must not change them (bytes and Arrow buffers are immutable); at most
    MAX_BYTES_IN_FLIGHT of them wait unwritten, so a batch whose merged files are tens of MB never holds more
    than that beyond its own.

    Ordering (docs/adr/0004, unchanged): nothing under `curated/` or `_manifests/` is touched by a staged
    write, and `records` returns only after every staged write, files and records, has been written and
    fsynced (it joins every fsync, re-raising the first failure). The caller's first publishing step (placing
    the `_publishing` record) comes after that return, so every published byte is on disk before anything
    points at it, exactly as with one `Store.sync` of everything before publishing. A kill at any moment
    before it leaves only files under the batch's staging prefix, which its next attempt deletes first.
    `close` (also on failure, before the caller deletes the staging prefix) waits for writes still in flight.
    On S3 a staged write is one PUT, whole when it returns: nothing to wait for, as before.
    """

    # staged bytes handed to the I/O threads and not yet written and synced
    MAX_BYTES_IN_FLIGHT = 64 * 1024 * 1024

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[tuple[Future[None], int]] = []  # each staged write, with the bytes it holds

    def write(self, key: str, data: bytes) -> None:
        """Stage `data` at `key`; locally written and fsynced in the background (see `records`). A failed write
        is reported by `records`, as a failed fsync is: nothing is published either way."""
        if self.store.protocol != "file":
            self.store.stage(key, data)
            return
        self._make_room(len(data))
        self._pending.append((_io_pool().submit(self._stage_synced, key, data), len(data)))

    def _stage_synced(self, key: str, data: bytes) -> None:
        """One staged file, on an I/O thread: written whole (`Store.stage`), then fsynced."""
        self.store.stage(key, data)
        fsync_path(self.store.full(key))

    def _make_room(self, size: int) -> None:
        """Wait, oldest first, until `size` more bytes fit under MAX_BYTES_IN_FLIGHT (a file larger than the
        bound waits for every earlier one, then goes alone)."""
        live = [(f, n) for f, n in self._pending if not f.done()]
        held = sum(n for _, n in live)
        while live and held + size > self.MAX_BYTES_IN_FLIGHT:
            f, n = live.pop(0)
            wait([f])
            held -= n

    def records(self, records: dict[str, bytes], staging: Callable[[str], str]) -> PendingRecords:
        """Ready `records` (key -> bytes) to be placed, each atomically and at the caller's turn, after the
        staged files: locally each is staged too (at `staging(key)`, beside the files) and the call returns
        once files and records are all on disk (one wait for the disk per batch); on S3 each record is one PUT
        when placed."""
        at = {key: staging(key) for key in records} if self.store.stages_records else {}
        for key, where in at.items():
            self.write(where, records[key])
        pending, self._pending = self._pending, []
        _wait_all([f for f, _ in pending])
        return PendingRecords(self.store, records, at)

    def close(self) -> None:
        """Wait for every write and fsync still in flight (a failed batch: its staging prefix is deleted next).
        Failures are not raised here: `records` reports them on the way to a publish."""
        pending, self._pending = self._pending, []
        wait([f for f, _ in pending])

    def __enter__(self) -> StagedWrites:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fsync_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_path(path: str) -> None:
    """Wait until a written local file is on disk (Store.sync; the benches' baselines of older publishes)."""
    _fsync_close(os.open(path, os.O_RDONLY))


@dataclass
class PendingRecords:
    """Records `StagedWrites.records` readied: `place` puts one at its key, atomically (a rename of its
    synced staged copy, or one atomic write where records are not staged)."""

    store: Store
    records: dict[str, bytes]
    staged: dict[str, str]  # key -> its synced staged copy (empty where records are not staged)

    def place(self, key: str) -> None:
        if key in self.staged:
            self.store.move([(self.staged[key], key)])
        else:
            self.store.write_atomic(key, self.records[key])

    def placing(self, key: str) -> list[tuple[str, str]]:
        """The move that places a staged record, for the caller to run with other moves (one wait for all);
        a record that is not staged is placed now, and there is nothing left to move."""
        if key in self.staged:
            return [(self.staged[key], key)]
        self.place(key)
        return []


def _landed(info: dict[str, Any]) -> datetime:
    lm = info.get("LastModified")
    if isinstance(lm, datetime):
        return lm.astimezone(UTC)
    mtime = info.get("mtime") or info.get("created") or 0
    if isinstance(mtime, datetime):
        return mtime.astimezone(UTC)
    return datetime.fromtimestamp(float(mtime), tz=UTC)
