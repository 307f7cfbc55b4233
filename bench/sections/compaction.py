"""Compaction: a day of CloudTrail (six hours in quick mode) ingested as many small batches, before and after
`mamori.lake.compact`.

The lake is built with the real converter (mamori.lake.convert.BatchTables, the bytes ingest writes), one batch per
5 minutes of deliveries, i.e. what a small MAMORI_BATCH_MAX_OBJECTS or many accounts and late deliveries do to
an hour partition: a dozen files or more each. Measured: files per partition, the compaction's own time, and
what one representative hourly detection (an aggregate over every event of its window) costs over every
hourly window, on DuckDB, before (the same-run baseline) and after.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.sections._profile import files_and_rows

TITLE = "Compaction of small files"
ORDER = 35
START = datetime(2026, 11, 1, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]
DETECTION = "cloudtrail_access_denied_volume"
BATCH = timedelta(minutes=5)


def build_lake(
    home: Path, hours: int, accounts: tuple[str, ...], regions: tuple[str, ...], events_per_file: int
) -> int:
    """Generated CloudTrail converted one 5-minute landing batch at a time; returns rows written."""
    from mamori.config import load_settings
    from mamori.lake import Store, layout
    from mamori.lake.convert import BatchTables
    from mamori.sources import get_source
    from mamori.sources.cloudtrail.generate import generate_cloudtrail

    src = get_source("cloudtrail")
    settings = load_settings({"MAMORI_HOME": str(home)})
    lake = Store(settings.lake_url)
    batches: dict[datetime, list[tuple[str, bytes]]] = {}

    def put(key: str, data: bytes, landed: datetime) -> None:
        slot = START + ((landed - START) // BATCH) * BATCH
        batches.setdefault(slot, []).append((key, data))

    generate_cloudtrail(
        put, START, hours=hours, seed=5, accounts=accounts, regions=regions, events_per_file=events_per_file
    )
    rows = 0
    for slot, objects in sorted(batches.items()):
        out = BatchTables(src)
        for i, (key, data) in enumerate(objects):
            raw = src.classify(key)
            if raw is not None and raw.kind == "events":
                rows += out.parse(raw, data, origin=i).rows_out
        for part, f in out.parquet_files():
            lake.write_atomic(
                layout.curated_file(src.table, part.relpath(), layout.batch_stem(slot, 0)), f.body
            )
    return rows


def per_partition(lake: Path) -> tuple[Counter[str], int]:
    """Data files per hour partition, and their bytes."""
    counts: Counter[str] = Counter()
    size = 0
    for p in (lake / "curated").rglob("*.parquet"):
        if not p.name.startswith("."):
            counts[str(p.parent)] += 1
            size += p.stat().st_size
    return counts, size


def detection_windows(home: Path, hours: int, runs: int) -> tuple[float, int]:
    """(median seconds for the hourly windows of the lake's hours, files read) of the detection."""
    from mamori.config import load_settings
    from mamori.detections.loader import get_detection
    from mamori.engines.dialect import athena_to_duckdb
    from mamori.engines.duckdb import DuckDBEngine

    settings = load_settings({"MAMORI_HOME": str(home), "MAMORI_SQL_DIR": str(REPO / "sql")})
    det = get_detection(settings.sql_dir, DETECTION)
    engine = DuckDBEngine(settings, threads=2)
    sqls = [
        athena_to_duckdb(det.render(START + timedelta(hours=h), START + timedelta(hours=h + 1)))
        for h in range(hours)
    ]
    files = 0
    for sql in sqls:  # also the warm-up: footers and OS cache before the timed runs
        files += files_and_rows(engine.con, sql, home / "profile.json")[0]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        for sql in sqls:
            engine.con.execute(sql).fetchall()
        times.append(time.perf_counter() - t)
    engine.close()
    return statistics.median(times), files


def run(quick: bool, runs: int) -> list[str]:
    from mamori.config import load_settings
    from mamori.lake.compact import compact_partitions

    # quick (CI): six hours of one account and region; full: a day of two accounts in two regions
    hours, accounts, regions, epf = (
        (6, ("111111111111",), ("us-east-1",), 10)
        if quick
        else (24, ("111111111111", "222222222222"), ("us-east-1", "eu-west-1"), 200)
    )
    tmp = Path(tempfile.mkdtemp(prefix="mamori-bench-compact-"))
    try:
        base = tmp / "small"
        t0 = time.perf_counter()
        rows = build_lake(base, hours, accounts, regions, epf)
        t_build = time.perf_counter() - t0
        before_counts, before_size = per_partition(base / "lake")
        t_before, files_before = detection_windows(base, hours, runs)

        # Compaction is destructive: every timed run compacts a fresh copy of the small-file lake.
        before = START + timedelta(hours=hours + 2)  # every hour and every batch have ended
        times, summary = [], {}
        for i in range(max(runs, 1)):
            home = tmp / f"compacted-{i}"
            shutil.copytree(base / "lake", home / "lake")
            settings = load_settings({"MAMORI_HOME": str(home)})
            t = time.perf_counter()
            summary = compact_partitions("cloudtrail", before, settings)
            times.append(time.perf_counter() - t)
        after_counts, after_size = per_partition(home / "lake")
        again = compact_partitions("cloudtrail", before, settings)  # idempotence, measured
        t_after, files_after = detection_windows(home, hours, runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(c: Counter[str]) -> float:
        return statistics.median(c.values())

    return [
        f"{hours} hours of CloudTrail ({len(accounts)} account(s) × {len(regions)} region(s), {rows:,} rows) converted"
        f" with the real converter one 5-minute landing batch at a time (built in {t_build:.1f} s):"
        f" {len(before_counts)} hour partitions. Compaction with everything settled; detection"
        f" `{DETECTION}` over the {hours} hourly windows on DuckDB (2 threads); medians of {runs} run(s).",
        "",
        "| measure | before (small files) | after compaction |",
        "|---|---:|---:|",
        f"| data files | {sum(before_counts.values()):,} | {sum(after_counts.values()):,} |",
        f"| files per partition, max / median | {max(before_counts.values())} / {med(before_counts):g} |"
        f" {max(after_counts.values())} / {med(after_counts):g} |",
        f"| lake bytes | {before_size / 1e6:,.2f} MB | {after_size / 1e6:,.2f} MB |",
        f"| detection: files read over {hours} windows | {files_before:,} | {files_after:,} |",
        f"| detection: time for {hours} windows | {t_before * 1000:,.0f} ms | {t_after * 1000:,.0f} ms"
        f" ({t_before / max(t_after, 1e-9):.1f}× faster) |",
        "",
        f"Compaction took {statistics.median(times) * 1000:,.0f} ms for {summary['files_absorbed']:,} files in"
        f" {summary['compacted']} partitions ({statistics.median(times) / max(summary['compacted'], 1) * 1000:.1f}"
        f" ms per partition); a second run changed nothing ({again['files_absorbed']} files absorbed,"
        f" {again['files_deleted']} deleted).",
        "",
    ]
