"""Detection pass: every enabled detection over one day of generated data on DuckDB, hour by hour as the detect
DAG runs them, with what each rule costs (files, rows and bytes DuckDB reads, from its query profile) and the
five slowest named. The same-run baseline is those five rules again without partition pruning (event-time
filter only), which is what the lake layout and the window macro save.
"""

from __future__ import annotations

import functools
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.sections._profile import files_and_rows, no_pruning

TITLE = "Detection pass"
ORDER = 30
START = datetime(2026, 11, 1, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def build_lake(home: str, hours: int, ct_events_per_file: int) -> dict[str, int]:
    """Generate every source for `hours` and convert it through the real ingest code; rows per source."""
    from mamori import ingest
    from mamori.config import load_settings
    from mamori.dev.generate import get_generator
    from mamori.lake import Store
    from mamori.sources import SOURCES
    from mamori.sources.cloudtrail.generate import generate_cloudtrail

    settings = load_settings({"MAMORI_HOME": home, "MAMORI_SQL_DIR": str(REPO / "sql")})
    raw = Store(settings.raw_url)

    def put(key: str, data: bytes, landed: datetime) -> None:
        raw.write_atomic(key, data)
        raw.set_landed(key, landed)

    rows: dict[str, int] = {}
    for name in SOURCES:
        gen = get_generator(name)
        if name == "cloudtrail":
            gen = functools.partial(generate_cloudtrail, events_per_file=ct_events_per_file)
        if gen is None:
            continue
        gen(put, START, hours=hours, seed=11)
        end = START + timedelta(hours=hours + 2)  # the last deliveries land after the hour they cover
        for batch in ingest.plan_window(name, START, end, settings):
            ingest.convert_batch(batch, settings)
        rows[name] = ingest.finalize_window(name, START, end, settings)["rows_out"]
    return rows


@dataclass
class Cost:
    seconds: list[float] = field(default_factory=list)
    files: int = 0
    rows: int = 0
    hits: int = 0


def detection_pass(home: str, windows: int, runs: int) -> tuple[dict[str, Cost], list[float], Any]:
    from mamori.config import load_settings
    from mamori.detections.loader import load_catalog
    from mamori.detections.runner import run_detection
    from mamori.engines.dialect import athena_to_duckdb
    from mamori.engines.duckdb import DuckDBEngine

    settings = load_settings({"MAMORI_HOME": home, "MAMORI_SQL_DIR": str(REPO / "sql")})
    catalog = load_catalog(settings.sql_dir, include_deprecated=False)
    engine = DuckDBEngine(settings, threads=2)
    spans = [(START + timedelta(hours=h), START + timedelta(hours=h + 1)) for h in range(windows)]
    costs = {d.id: Cost() for d in catalog}
    totals: list[float] = []
    for d in catalog:  # warm-up: file metadata and OS cache, so the first timed rule is not charged for it
        run_detection(d, engine, *spans[0])
    for _ in range(runs):
        t_all = time.perf_counter()
        for d in catalog:
            t = time.perf_counter()
            hits = sum(len(run_detection(d, engine, s, e)) for s, e in spans)
            costs[d.id].seconds.append(time.perf_counter() - t)
            costs[d.id].hits = hits
        totals.append(time.perf_counter() - t_all)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "profile.json"
        for d in catalog:
            for s, e in spans:
                f, r = files_and_rows(engine.con, athena_to_duckdb(d.render(s, e)), out)
                costs[d.id].files += f
                costs[d.id].rows += r
    return costs, totals, (engine, catalog, spans)


def _unpruned(ctx: Any, ids: list[str], runs: int) -> dict[str, tuple[float, int, int]]:
    from mamori.detections.runner import run_detection
    from mamori.engines.dialect import athena_to_duckdb

    engine, catalog, spans = ctx
    by_id = {d.id: d for d in catalog}
    out: dict[str, tuple[float, int, int]] = {}
    with no_pruning(), tempfile.TemporaryDirectory() as tmp:
        for i in ids:
            d = by_id[i]
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                for s, e in spans:
                    run_detection(d, engine, s, e)
                times.append(time.perf_counter() - t)
            files = rows = 0
            for s, e in spans:
                f, r = files_and_rows(engine.con, athena_to_duckdb(d.render(s, e)), Path(tmp) / "p.json")
                files, rows = files + f, rows + r
            out[i] = (statistics.median(times), files, rows)
    return out


def run(quick: bool, runs: int) -> list[str]:
    # full: ~1.05M CloudTrail events in the day (900 per 5-minute delivery file per account and region)
    hours, per_file, windows = (6, 40, 2) if quick else (24, 900, 24)
    with tempfile.TemporaryDirectory(prefix="mamori-bench-det-") as home:
        t = time.perf_counter()
        rows = build_lake(home, hours, per_file)
        t_build = time.perf_counter() - t
        costs, totals, ctx = detection_pass(home, windows, runs)
        total_rows = sum(rows.values())
        lake_files = sum(1 for _ in Path(home, "lake", "curated").rglob("*.parquet"))
        slowest = sorted(costs, key=lambda i: statistics.median(costs[i].seconds), reverse=True)[:5]
        unpruned = _unpruned(ctx, slowest, runs)
        ctx[0].close()
    med = statistics.median(totals)
    lines = [
        f"{len(costs)} enabled detections × {windows} hourly windows on DuckDB (2 threads) over "
        f"{windows} h of a lake holding {hours} h: "
        + ", ".join(f"{k} {v:,}" for k, v in rows.items())
        + f" rows ({total_rows:,} in all, {lake_files:,} Parquet files; built through ingest in {t_build:.0f} s).",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| whole pass (all detections × all windows), median of {runs} | {med:.1f} s |",
        f"| per detection-window (mean) | {med / (len(costs) * windows) * 1000:.1f} ms |",
        f"| CloudTrail events in the windows per second of the pass | "
        f"{rows.get('cloudtrail', 0) * windows / hours / med:,.0f} |",
        "",
        "Slowest five (time summed over the windows; files/rows = what DuckDB read, from its query profile):",
        "",
        "| detection | time | files read | rows scanned | hits | without pruning: time | files read |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for i in slowest:
        c = costs[i]
        u_time, u_files, _ = unpruned[i]
        lines.append(
            f"| {i} | {statistics.median(c.seconds):.2f} s | {c.files:,} | {c.rows:,} | {c.hits:,} |"
            f" {u_time:.2f} s | {u_files:,} |"
        )
    lines += [
        "",
        "<details><summary>Every detection (median time over the windows, files read, rows scanned)</summary>",
        "",
        "| detection | time | files | rows |",
        "|---|---:|---:|---:|",
    ]
    for i in sorted(costs, key=lambda i: statistics.median(costs[i].seconds), reverse=True):
        c = costs[i]
        lines.append(f"| {i} | {statistics.median(c.seconds) * 1000:.0f} ms | {c.files:,} | {c.rows:,} |")
    return [*lines, "", "</details>", ""]
