"""mamori benchmarks: `make bench` (writes docs/benchmarks.md) and `make bench-quick` (CI-sized, so the code
cannot rot). Every figure is the median of N runs, measured against a baseline measured in the same run on
the same input: the parse floor and a naive pandas converter for CloudTrail, a naive split/regex parser for
the other sources. Single-core figures pin Arrow to one thread.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from mamori import ingest
from mamori.config import load_settings
from mamori.lake import Store
from mamori.sources.base import RawKey, Source, gc_paused

REPO = Path(__file__).resolve().parents[1]


def median_time(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up: lazy imports (pyarrow pulls in pandas) and caches must not land in a timed run
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores ({cpu}){mem}, {system}, Python {platform.python_version()}"


# -- CloudTrail: converter vs parse floor vs pandas ----------------------------------------------------------------


def cloudtrail_objects(hours: int) -> list[tuple[str, bytes]]:
    from mamori.generate.cloudtrail import generate_cloudtrail

    out: list[tuple[str, bytes]] = []
    generate_cloudtrail(
        lambda k, d, t: out.append((k, d)), datetime(2026, 11, 1, tzinfo=UTC), hours=hours, seed=5
    )
    return [(k, d) for k, d in out if "/CloudTrail/" in k]


def bench_cloudtrail(hours: int, runs: int) -> list[str]:

    objects = cloudtrail_objects(hours)
    n_events = sum(len(orjson.loads(gzip.decompress(d))["Records"]) for _, d in objects)

    def floor() -> None:
        for _, d in objects:
            orjson.loads(gzip.decompress(d))

    # The real convert task on a local lake: parse, normalize, partition, zstd Parquet, atomic writes, manifest.
    tmp = tempfile.mkdtemp(prefix="mamori-bench-")
    settings = load_settings({"MAMORI_HOME": tmp, "MAMORI_BATCH_MAX_OBJECTS": "100000"})
    raw_store = Store(settings.raw_url)
    for k, d in objects:
        raw_store.write_atomic(k, d)
    batch = {
        "source": "cloudtrail",
        "keys": sorted(k for k, _ in objects),
        "index": 0,
        "window_start": "2026-11-01T00:00:00+00:00",
        "window_end": "2026-11-02T00:00:00+00:00",
    }

    def mamori() -> None:
        ingest.convert_batch(batch, settings)

    def pandas_naive() -> None:
        import pandas as pd

        records = [r for _, d in objects for r in json.loads(gzip.decompress(d))["Records"]]
        df = pd.json_normalize(records)
        df = df.astype(str)  # nested, type-unstable fields: what a user does to make to_parquet accept them
        df.to_parquet(io.BytesIO(), compression="zstd")

    t_floor, t_mamori, t_pandas = (median_time(f, runs) for f in (floor, mamori, pandas_naive))
    rate = lambda t: n_events / t  # noqa: E731
    return [
        f"CloudTrail `.json.gz` → Parquet, one core, {n_events:,} events ({len(objects)} delivery files):",
        "",
        "| pipeline | events/s | vs parse floor | vs pandas |",
        "|---|---:|---:|---:|",
        f"| parse floor (gunzip + orjson, nothing else) | {rate(t_floor):,.0f} | 1.00× | |",
        f"| mamori `convert_batch` (parse, normalize, partition, zstd Parquet, writes) | {rate(t_mamori):,.0f} | "
        f"{t_floor / t_mamori:.2f}× | {t_pandas / t_mamori:.1f}× |",
        f"| naive pandas `json_normalize` → Parquet | {rate(t_pandas):,.0f} | {t_floor / t_pandas:.2f}× | 1.0× |",
        "",
    ]


# -- other sources: mamori parser vs the naive parser a user would write -------------------------------------------


def sample_raw_key(name: str, src: Source) -> RawKey:
    """A real landed key of the source (from its generator), so parse_object sees what ingest would give it."""
    gen = importlib.import_module(f"mamori.generate.{name}")
    keys: list[str] = []
    getattr(gen, f"generate_{name}")(
        lambda k, d, t: keys.append(k), datetime(2026, 11, 1, tzinfo=UTC), hours=6
    )
    for k in keys:
        raw = src.classify(k)
        if raw is not None and raw.kind == "events":
            return raw
    raise RuntimeError(f"{name}: generator produced no event key")


def bench_parsers(n_lines: int, runs: int) -> list[str]:
    from mamori.sources import SOURCES

    rows = [
        f"Parsers, one core, {n_lines:,} records each, same bytes to both. mamori = the source's parse_object as"
        " ingest runs it (GC paused per batch); naive = the split/regex-into-dicts loop a user would write:",
        "",
        "| source | mamori records/s | naive records/s | mamori / naive |",
        "|---|---:|---:|---:|",
    ]
    for name, src in SOURCES.items():
        try:
            mod = importlib.import_module(f"bench.parsers.{name}")
        except ModuleNotFoundError:
            continue
        data: bytes = mod.make_sample(n_lines)
        raw = sample_raw_key(name, src)
        count = src.parse_object(raw, data).records_in

        def ours() -> None:
            with gc_paused():  # as ingest runs it: the collector paused for the batch
                src.parse_object(raw, data)  # noqa: B023

        t_ours = median_time(ours, runs)
        t_naive = median_time(lambda: mod.naive_parse(data), runs)  # noqa: B023
        rows.append(f"| {name} | {count / t_ours:,.0f} | {count / t_naive:,.0f} | {t_naive / t_ours:.2f}× |")
    return [*rows, ""]


def sections() -> list[Any]:
    """Every `bench/sections/<name>.py` (TITLE, ORDER, run(quick, runs) -> markdown lines), in ORDER.

    One module per area (detections, search, data quality, ...) so each can grow without touching this file.
    """
    mods = [
        importlib.import_module(f"bench.sections.{p.stem}")
        for p in sorted((REPO / "bench" / "sections").glob("*.py"))
        if not p.name.startswith("_")
    ]
    return sorted(mods, key=lambda m: (m.ORDER, m.__name__))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="CI-sized inputs")
    ap.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    args = ap.parse_args()
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    sys.path.insert(0, str(REPO))
    runs = 3
    hours, lines = (6, 5_000) if args.quick else (24, 100_000)
    git = shutil.which("git")
    commit = (
        subprocess.run(  # noqa: S603 - fixed argv, our own repo
            [git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
        ).stdout
        if git
        else ""
    )
    started = time.perf_counter()
    body = [
        "# mamori benchmarks",
        "",
        f"- command: `make {'bench-quick' if args.quick else 'bench'}` (`python bench/run.py"
        f"{' --quick' if args.quick else ''}`), commit `{commit.strip() or 'n/a'}`",
        f"- machine: {machine()}",
        f"- each figure: median of {runs} runs; baselines measured in the same run on the same input",
        "",
        "## Conversion",
        "",
        *bench_cloudtrail(hours, runs),
        *bench_parsers(lines, runs),
    ]
    for mod in sections():
        body += [f"## {mod.TITLE}", "", *mod.run(quick=args.quick, runs=runs)]
    body += [
        "## Reading the numbers",
        "",
        "- The performance issue's targets (converter ≥ 0.6× the parse floor and ≥ 3× the pandas baseline) are",
        "  not met yet. Profiles show where the time goes: building one Python dict per record (normalizing keys,",
        "  nested structs, entity arrays) and `pa.Table.from_pylist` on ~40-column nested schemas. The parse itself",
        "  (gunzip + orjson) is ~9% of the converter's time.",
        "- Already done: converters compiled once per column instead of per value (hashing Arrow types per value",
        "  was the top cost), cached IP checks, and the cyclic GC paused per batch (45-60% of parse time in three",
        "  sources' profiles).",
        "- Next: columnar builders (append to per-column lists or Arrow builders instead of row dicts) and, for",
        "  CloudTrail, DuckDB `read_json` with an explicit schema (a same-machine probe measured 61k events/s on",
        "  one thread), keeping the per-record quarantine by validating the few required fields in SQL.",
        "",
    ]
    body.append(f"_Total benchmark time: {time.perf_counter() - started:.0f} s._")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(body) + "\n")
    print("\n".join(body))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as _tmp:
        os.environ.setdefault("MAMORI_HOME", _tmp)
        sys.exit(main())
