"""Every key and prefix of the lake, in one place: what ingest, compaction and backfill write, and what health,
status, search and the engines read back.

A key is written by one stage and read by others, often in another process and months later (a backfill,
the health DAG, `mamori status`), so a key built twice by hand is a key that can drift apart silently; here each
kind of key has one builder, and the keys other code lists and decodes (a manifest directory, a batch file
name, a curated file) have one parser beside it. A contract test (tests/unit/test_lake_layout.py) fails when a
lake key literal appears anywhere else in `mamori`.

The lake, relative to its root (`MAMORI_LAKE_URL`):

    curated/<table>/account=<a>/region=<r>/dt=<YYYY-MM-DD>/hour=<HH>/<window tag>-b<NNNN>.parquet
                                                                    /compact-<digest>.parquet
    quarantine/<source>/dt=<window day>/<window tag>-b<NNNN>.jsonl.gz
    _manifests/<source>/window=<window tag>/_plan.json           the window's batches (plan)
                                            batch-<NNNN>.json    a batch's manifest (written last)
                                            dq-batch-<NNNN>.json a batch's full data-quality result
                                            _publishing-b<NNNN>.json  files being published (ADR 0004)
                                            _gap-b<NNNN>.json / _gap-window.json  reconciliation gaps
                                            _SUCCESS.json        the window summary: the window is complete
                                            _imports.json        older-keyed objects it reads too (backfill
                                                                 --by key-date; rare)
    _staging/<source>/window=<window tag>/b<NNNN>/<its files' and records' keys> a batch before it is published
    _compaction/<table>/<partition>.json                          a partition's compaction record
    _backfill/<plan digest>.json                                   a backfill's progress

Window tags are `mamori.windows.window_tag` (the one definition of a window's name). Only Parquet data lives
under `curated/`: Athena reads every object under a table's location and DuckDB globs it, which is why
staging, records and manifests are siblings of it, never children.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import quote

from mamori import windows
from mamori.windows import parse_window_tag, window_tag

CURATED = "curated"
QUARANTINE = "quarantine"
MANIFESTS = "_manifests"
# Where a batch's files are written before they are published: outside `curated/` (Athena reads every object
# under a table's location, DuckDB globs it) and outside `_manifests/` (finalize and the health DAG list it).
STAGING = "_staging"
COMPACTION = "_compaction"
BACKFILL = "_backfill"

SUCCESS = "_SUCCESS.json"
PLAN = "_plan.json"
WINDOW_GAP = "_gap-window.json"
PARQUET = ".parquet"
QUARANTINE_SUFFIX = ".jsonl.gz"
# Names of compacted files (`compact-<digest>.parquet`): not written by an ingest batch.
COMPACTED_PREFIX = "compact-"
_WINDOW_DIR = "window="
_GAP_PREFIX = "_gap-"


# -- curated data -----------------------------------------------------------------------------------------------


def curated_root() -> str:
    """The prefix every table's data lives under (search's sandbox allows reads below it and nothing else)."""
    return CURATED


def curated_table(table: str) -> str:
    """A table's location: the prefix DuckDB globs and Athena's LOCATION points at."""
    return f"{CURATED}/{table}"


def curated_streams_pattern(table: str) -> str:
    """A glob prefix over a table's account/region directories (expanded one listing level at a time)."""
    return f"{CURATED}/{table}/account=*/region=*"


def curated_partition(table: str, relpath: str) -> str:
    """An hour partition's directory; `relpath` is `Partition.relpath()` (account=/region=/dt=/hour=)."""
    return f"{CURATED}/{table}/{relpath}"


def curated_file(table: str, relpath: str, stem: str) -> str:
    """A Parquet data file of a partition, named by its stem (a batch stem or a compacted file's)."""
    return f"{curated_partition(table, relpath)}/{stem}{PARQUET}"


def is_curated(key: str) -> bool:
    """True for a key under `curated/` (lake data), false for quarantine and records."""
    return key.startswith(CURATED + "/")


@dataclass(frozen=True)
class CuratedFile:
    """A curated data key decoded: which table and partition it belongs to, and the file's name."""

    table: str
    relpath: str  # account=…/region=…/dt=…/hour=…
    name: str  # file name, `.parquet` included

    @property
    def stem(self) -> str:
        return self.name[: -len(PARQUET)]


def parse_curated_file(key: str) -> CuratedFile | None:
    """A curated Parquet key split into table, partition and name; None for anything else (quarantine, a
    directory, a key at another depth)."""
    parts = key.split("/")
    if len(parts) != 7 or parts[0] != CURATED or not parts[6].endswith(PARQUET):
        return None
    return CuratedFile(parts[1], "/".join(parts[2:6]), parts[6])


def partition_hour(path: str) -> datetime:
    """The hour an hour partition holds (its start, UTC), from a relpath or any key containing dt= and hour=."""
    parts = dict(p.split("=", 1) for p in path.split("/") if "=" in p)
    return windows.partition_hour(parts["dt"], parts["hour"])


def partition_dir(key: str, value: str) -> str:
    """One hive directory name of a partition path (`dt=2026-11-01`, `hour=09`), for walking a stream."""
    return f"{key}={value}"


# -- batches ----------------------------------------------------------------------------------------------------


def batch_stem(start: datetime, batch: int) -> str:
    """The name every file an ingest batch writes shares: its window's tag and its index. Derived from
    (window, batch) only, so a re-run overwrites instead of duplicating."""
    return f"{window_tag(start)}-b{batch:04d}"


def parse_batch_stem(stem: str) -> tuple[datetime, int] | None:
    """(window start, batch index) of a batch stem; None for other names (a compacted file, a bench file)."""
    tag, sep, idx = stem.rpartition("-b")
    if not sep or len(idx) != 4 or not idx.isdigit():
        return None
    try:
        start = parse_window_tag(tag)
    except ValueError:
        return None
    return (start, int(idx)) if window_tag(start) == tag else None  # strptime is lenient about digit counts


def quarantine_file(source: str, start: datetime, batch: int) -> str:
    """A batch's quarantined records (record + reason, gzip'd JSON lines), filed under its window's day."""
    return f"{QUARANTINE}/{source}/dt={start:%Y-%m-%d}/{batch_stem(start, batch)}{QUARANTINE_SUFFIX}"


def is_quarantine(key: str) -> bool:
    """True for a quarantine file's key (a manifest lists them beside the curated files it wrote)."""
    return key.startswith(QUARANTINE + "/")


# -- manifests: one directory per source and ingest window ------------------------------------------------------


def source_manifests(source: str) -> str:
    """The prefix holding every window directory of a source."""
    return f"{MANIFESTS}/{source}"


def window_dir_name(start: datetime) -> str:
    """The directory name of a window under its source's manifests (`window=<tag>`)."""
    return f"{_WINDOW_DIR}{window_tag(start)}"


def parse_window_dir_name(name: str) -> datetime | None:
    """The window start a `window=<tag>` directory name stands for; None for any other name."""
    if not name.startswith(_WINDOW_DIR):
        return None
    try:
        start = parse_window_tag(name[len(_WINDOW_DIR) :])
    except ValueError:
        return None
    return start if window_dir_name(start) == name else None  # strptime is lenient about digit counts


def manifest_dir(source: str, start: datetime) -> str:
    """Where a window's plan, batch manifests, data-quality results, gap records and summary live."""
    return f"{source_manifests(source)}/{window_dir_name(start)}"


def parse_manifest_dir(key: str) -> tuple[str, datetime] | None:
    """(source, window start) of a window's manifest directory (or any key inside it); None otherwise."""
    parts = key.split("/")
    if len(parts) < 3 or parts[0] != MANIFESTS:
        return None
    start = parse_window_dir_name(parts[2])
    return None if start is None else (parts[1], start)


def plan_key(source: str, start: datetime) -> str:
    """The window's plan: its batches' keys and the unclaimed keys, read by finalize and reconciliation."""
    return f"{manifest_dir(source, start)}/{PLAN}"


def imports_key(source: str, start: datetime) -> str:
    """Objects `mamori backfill --by key-date` assigned to the window they landed in (WindowImports)."""
    return f"{manifest_dir(source, start)}/_imports.json"


def success_key(source: str, start: datetime) -> str:
    """The window summary; its existence is what marks the window complete for detection."""
    return f"{manifest_dir(source, start)}/{SUCCESS}"


def batch_manifest_key(source: str, start: datetime, batch: int) -> str:
    """A batch's manifest, written last: it vouches for the files the batch published."""
    return f"{manifest_dir(source, start)}/batch-{batch:04d}.json"


def dq_batch_key(source: str, start: datetime, batch: int) -> str:
    """A batch's full data-quality result (every check), beside its manifest."""
    return f"{manifest_dir(source, start)}/dq-batch-{batch:04d}.json"


def publishing_key(source: str, start: datetime, batch: int) -> str:
    """The record of what a batch is publishing (ADR 0004): present only while its files are being moved."""
    return f"{manifest_dir(source, start)}/_publishing-b{batch:04d}.json"


def batch_gap_key(source: str, start: datetime, batch: int) -> str:
    """A batch's reconciliation-gap record (its last attempt failed a guard)."""
    return f"{manifest_dir(source, start)}/{_GAP_PREFIX}b{batch:04d}.json"


def window_gap_key(source: str, start: datetime) -> str:
    """The window's reconciliation-gap record (finalize refused the window)."""
    return f"{manifest_dir(source, start)}/{WINDOW_GAP}"


ManifestKind = Literal[
    "plan", "success", "batch", "dq_batch", "publishing", "gap", "window_gap", "temp", "other"
]


@dataclass(frozen=True)
class ManifestName:
    """A file name found in a window's manifest directory, decoded: its kind and, for per-batch files, the
    batch index."""

    kind: ManifestKind
    batch: int | None = None


def _index(text: str) -> int | None:
    return int(text) if len(text) == 4 and text.isdigit() else None


def parse_manifest_name(name: str) -> ManifestName:
    """What a file in a window's manifest directory is (finalize, health and reconciliation list them)."""
    if name == PLAN:
        return ManifestName("plan")
    if name == SUCCESS:
        return ManifestName("success")
    if name == WINDOW_GAP:
        return ManifestName("window_gap")
    if name.startswith(".") and name.endswith(".tmp"):
        return ManifestName("temp")  # a write_atomic temporary
    for prefix, kind in (
        ("batch-", "batch"),
        ("dq-batch-", "dq_batch"),
        ("_publishing-b", "publishing"),
        (f"{_GAP_PREFIX}b", "gap"),
    ):
        if name.startswith(prefix) and name.endswith(".json"):
            idx = _index(name[len(prefix) : -len(".json")])
            if idx is not None:
                return ManifestName(kind, idx)  # type: ignore[arg-type]
    return ManifestName("other")


def is_gap_record(name: str) -> bool:
    """True for a batch's or a window's gap record name (`_gap-*.json`): ingest could not reconcile."""
    return name.startswith(_GAP_PREFIX)


def key_name(key: str) -> str:
    """The last segment of a key (a file name)."""
    return key.rsplit("/", 1)[-1]


# -- staging ----------------------------------------------------------------------------------------------------


def staging_dir(source: str, start: datetime, batch: int | None = None) -> str:
    """A window's staging prefix, or one batch's (its files under the keys they are published to)."""
    base = f"{STAGING}/{source}/{window_dir_name(start)}"
    return base if batch is None else f"{base}/b{batch:04d}"


def staged(staging: str, key: str) -> str:
    """Where a file to be published at `key` is staged: directly in the batch's staging directory, its key
    percent-encoded into one name (reversible, so unique per key). Staged under their full keys, a batch's files
    made and removed a directory tree per partition: ~90 ms per 4-file batch on a busy disk against ~10 ms in
    one directory."""
    return f"{staging}/{quote(key, safe='')}"


# -- compaction and backfill ------------------------------------------------------------------------------------


def compaction_record(table: str, relpath: str) -> str:
    """Where a partition's compaction record lives: beside the lake's data, never under curated/."""
    return f"{COMPACTION}/{table}/{relpath}.json"


def backfill_progress(plan_digest: str) -> str:
    """A backfill's progress (the steps done), one per distinct plan."""
    return f"{BACKFILL}/{plan_digest}.json"
