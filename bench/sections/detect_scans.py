"""Detection pass, skipped and shared scans: the detect run's own evaluation (`mamori.detect.evaluate`) per
hourly window, three ways over the same lake in the same run:

- per rule: every enabled rule, its own query over the lake (how detect ran before issue 19);
- skip: rules whose source has no data file in the window's hour partitions get no query (lake listing);
- skip + shared: on DuckDB the other rules of a source run over one scan of the window's rows (plus the
  longest `before=` reach), materialised once; first-seen rules keep their own query.

- skip + combined: what Athena runs (no shared scan there): the other rules of a source as one combined
  statement (`mamori.detections.combined`), executed here on DuckDB through the dialect layer, so the
  statements it sends per window are counted over the same lake (each is billed at least 10 MB on Athena).

The windows run past the generated hours, where sources only have stragglers or nothing.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import timedelta
from typing import Any

from bench.sections.detections import REPO, START, build_lake

TITLE = "Detection pass: skipped and shared scans"
ORDER = 31


def _rows(hits: list[dict[str, Any]]) -> list[str]:
    return sorted(repr(sorted(h.items())) for h in hits)


def run(quick: bool, runs: int) -> list[str]:
    from mamori import detect
    from mamori.config import load_settings
    from mamori.detections.loader import load_catalog
    from mamori.engines.duckdb import DuckDBEngine
    from mamori.sources import SOURCES

    hours, per_file = (6, 40) if quick else (24, 900)
    with tempfile.TemporaryDirectory(prefix="mamori-bench-scans-") as home:
        t = time.perf_counter()
        rows = build_lake(home, hours, per_file)
        t_build = time.perf_counter() - t
        s = load_settings({"MAMORI_HOME": home, "MAMORI_SQL_DIR": str(REPO / "sql")})
        catalog = load_catalog(s.sql_dir, include_deprecated=False)
        spans = [(START + timedelta(hours=h), START + timedelta(hours=h + 1)) for h in range(hours + 2)]
        everything = set(SOURCES)
        engine = DuckDBEngine(s, threads=2)
        sent = [0]  # statements the engine was sent (per rule, own and combined alike)
        run_query = engine.query

        def counting(sql: str) -> Any:
            sent[0] += 1
            return run_query(sql)

        engine.query = counting  # type: ignore[method-assign]
        modes = ("per rule", "skip", "skip + shared", "skip + combined")
        statements: dict[str, int] = dict.fromkeys(modes, 0)
        seconds: dict[str, list[float]] = {m: [] for m in modes}  # per window, every run
        queries: dict[str, int] = dict.fromkeys(modes, 0)
        scans: dict[str, int] = dict.fromkeys(modes, 0)
        listing: list[float] = []
        own_combined = 0  # rules the combined way still ran on their own (first-seen; alone in their source)
        hits: dict[str, dict[tuple[str, int], list[str]]] = {m: {} for m in modes}
        try:
            list(detect.evaluate(catalog, engine, *spans[0], everything, False))  # warm-up (file metadata)
            for run_no in range(runs):
                for w, (ws, we) in enumerate(spans):
                    for mode in modes:
                        t = time.perf_counter()
                        if mode == "per rule":
                            present = everything
                        else:
                            present = detect.sources_with_data(everything, ws, we, s)
                            listing.append(time.perf_counter() - t)
                        share = mode != "per rule" and mode != "skip"
                        combine = mode == "skip + combined"
                        before = sent[0]
                        done = list(detect.evaluate(catalog, engine, ws, we, present, share, combine))
                        seconds[mode].append(time.perf_counter() - t)
                        if run_no == 0:
                            statements[mode] += sent[0] - before
                            ran = [r for r in done if r.scan != "skipped"]
                            queries[mode] += len(ran)
                            by_source = {r.detection.header.log_source for r in done if r.scan == "shared"}
                            scans[mode] += len(ran) - sum(r.scan == "shared" for r in ran) + len(by_source)
                            if combine:
                                own_combined += sum(r.scan == "own" for r in done)
                            hits[mode].update({(r.detection.id, w): _rows(r.hits) for r in done})
                            assert not [r for r in done if r.error], [r.detection.id for r in done if r.error]
        finally:
            engine.close()
    identical = hits["per rule"] == hits["skip"] == hits["skip + shared"] == hits["skip + combined"]
    if not identical:
        raise AssertionError("skipped, shared or combined scans changed a rule's hits")
    n_hits = sum(len(v) for v in hits["per rule"].values())
    windows = len(spans)
    per_rule = statistics.median(seconds["per rule"])
    lines = [
        f"{len(catalog)} enabled detections × {windows} hourly windows on DuckDB (2 threads): the {hours} h a "
        f"lake holds ({sum(rows.values()):,} rows: "
        + ", ".join(f"{k} {v:,}" for k, v in rows.items())
        + f"; built through ingest in {t_build:.0f} s) and {windows - hours} hours past them. Each window is "
        f"evaluated all four ways in turn, {runs} times; hits identical in all four: "
        f"{'yes' if identical else 'NO'} ({n_hits:,} hits).",
        "",
        "| way | per window (median) | vs per rule | whole pass (median) | statements per window | "
        "lake scans per window |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode in modes:
        med = statistics.median(seconds[mode])
        total = statistics.median(sum(seconds[mode][r * windows : (r + 1) * windows]) for r in range(runs))
        lines.append(
            f"| {mode} | {med * 1000:.0f} ms | {per_rule / med:.1f}× | {total:.1f} s | "
            f"{statements[mode] / windows:.1f} | "
            + ("—" if mode == "skip + combined" else f"{scans[mode] / windows:.1f}")
            + " |"
        )
    lines += [
        "",
        "Athena queries per window: per rule vs combined (each query billed ≥ 10 MB; no shared scan there):",
        "",
        "| Athena runs | queries per window | of which first-seen / lone rules | combined statements |",
        "|---|---:|---:|---:|",
        f"| every rule its own query (before issue 19) | {queries['per rule'] / windows:.1f} | — | — |",
        f"| rules of sources without data skipped | {statements['skip'] / windows:.1f} | — | — |",
        f"| skip + one combined statement per source | {statements['skip + combined'] / windows:.1f} | "
        f"{own_combined / windows:.1f} | {(statements['skip + combined'] - own_combined) / windows:.1f} |",
        "",
        "- The combined row's time is DuckDB running Athena's combined SQL (transpiled), not Athena: on DuckDB "
        "the shared scan is what detect uses.",
        f"- The lake listing that decides the skip: {statistics.median(listing) * 1000:.0f} ms per window "
        "(median; included in the skip rows).",
        "- Lake scans: a rule's own query scans its source's files once; a shared scan is one scan for all of "
        "a source's rules but its first-seen ones, which read their baseline days back.",
        "",
    ]
    return lines
