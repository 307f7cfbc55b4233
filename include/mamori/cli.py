"""`mamori` command: demo, generate, detections test/render/list.

Airflow reads AIRFLOW_HOME and friends when it is first imported, so `main()` fills in the embedded defaults
before anything imports airflow, and every heavy import happens inside the command that needs it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_START = "2026-11-01T00:00:00+00:00"


def _embedded_env() -> None:
    home = Path(os.environ.get("MAMORI_HOME") or Path.cwd() / "var" / "demo")
    os.environ.setdefault("MAMORI_HOME", str(home))
    os.environ.setdefault("AIRFLOW_HOME", str(home.parent / "airflow"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    repo_dags = Path(__file__).resolve().parents[2] / "dags"
    if repo_dags.is_dir():
        os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(repo_dags))


def _parse_time(text: str) -> datetime:
    t = datetime.fromisoformat(text)
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def generate(start: datetime, hours: int, seed: int, sources: list[str] | None = None) -> list[Any]:
    """Write generated raw objects of every (or the given) source into the raw store with their landing
    times; returns the ground truth of all attack stories, in time order."""
    from mamori.config import load_settings
    from mamori.generate import get_generator
    from mamori.lake import Store
    from mamori.sources import SOURCES

    s = load_settings()
    raw = Store(s.raw_url, s.raw_conn_id)

    def put(key: str, data: bytes, landed_at: datetime) -> None:
        raw.write_atomic(key, data)
        raw.set_landed(key, landed_at)

    steps: list[Any] = []
    for name in sources or list(SOURCES):
        gen = get_generator(name)
        if gen is not None:
            steps += [(name, st) for st in gen(put, start, hours=hours, seed=seed)]
    return [st for _, st in sorted(steps, key=lambda p: (p[1].time, p[0]))]


def cmd_generate(args: argparse.Namespace) -> int:
    steps = generate(_parse_time(args.start), args.hours, args.seed, args.source)
    print(f"generated {args.hours}h of logs from {args.start}; attack story of {len(steps)} steps:")
    for st in steps:
        print(f"  {st.time:%Y-%m-%d %H:%M} {st.account} {','.join(st.detections):55} {st.summary}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from mamori.demo import run_demo

    return run_demo(_parse_time(args.start), args.hours, args.seed, keep=args.keep)


def cmd_detections(args: argparse.Namespace) -> int:
    from mamori.config import load_settings

    s = load_settings()
    if args.action == "list":
        from mamori.detections.loader import load_catalog

        for d in load_catalog(s.sql_dir):
            h = d.header
            print(f"{d.id:55} {h.severity:8} {h.status:12} {','.join(h.mitre)}")
        return 0
    if args.action == "render":
        from mamori.detections.loader import get_detection

        det = get_detection(s.sql_dir, args.id)
        print(det.render(_parse_time(args.start), _parse_time(args.end)))
        return 0
    if args.action == "new":
        from mamori.detections.scaffold import scaffold

        for made in scaffold(Path.cwd(), args.id):
            print(f"created {made}")
        print(
            "next: write the condition, a positive and a negative raw-event case, then "
            f"`mamori detections test {args.id}`"
        )
        return 0
    if args.action == "coverage":
        from mamori.detections.coverage import write

        cov = write(s.sql_dir, Path(args.cases), Path(args.out))
        print(
            f"coverage: {len(cov.passing)} detections counted, {len(cov.failing)} failing; "
            f"written to {args.out}/coverage.md and coverage.svg"
        )
        return 1 if cov.failing else 0
    if args.action == "backtest":
        from mamori.detections.backtest import backtest
        from mamori.detections.loader import get_detection
        from mamori.engines import get_engine

        det = get_detection(s.sql_dir, args.id)
        engine = get_engine(s)
        try:
            res = backtest(det, engine, _parse_time(args.start), _parse_time(args.end))
        finally:
            engine.close()
        print(
            f"{det.id}: {res.windows} windows, {res.hits} hits, {len(res.alerts)} alerts "
            f"(threshold {det.header.threshold}, dedup {det.header.dedup.keys} per {det.header.dedup.period})"
        )
        for a in res.alerts:
            print(f"  alert {a['first_seen']:%Y-%m-%d %H:%M:%S} hits={a['hits']:<4} {a['dedup']}")
        for col, top in res.top_entities.items():
            if top:
                print(f"  top {col:10} " + ", ".join(f"{v} ({n})" for v, n in top))
        return 0
    from mamori.detections.testing import run_catalog_cases

    failures = 0
    for result in run_catalog_cases(s.sql_dir, Path(args.cases), only=args.id):
        mark = "ok  " if result.passed else "FAIL"
        print(f"{mark} {result.detection_id:55} {result.kind:8} {result.case} alerts={result.alerts}")
        failures += not result.passed
    print(f"{failures} failed")
    return 1 if failures else 0


def cmd_suppressions(args: argparse.Namespace) -> int:
    """What each suppression hid in a range, and which entries are expired as of its end."""
    from mamori.alerts.ledger import Ledger
    from mamori.config import load_settings
    from mamori.detections.suppressions import load_suppressions

    s = load_settings()
    start, end = _parse_time(args.start), _parse_time(args.end)
    entries = load_suppressions(s.sql_dir)
    hidden = Ledger(s.ledger_url).suppressed(start, end)
    for e in entries:
        state = "active" if e.active_at(end) else f"EXPIRED {e.expires}"
        total = sum(h["hits"] for h in hidden if h["suppression"] == e.id)
        print(f"{e.id:40} {state:18} owner={e.owner:24} hid {total} hits  ({e.reason})")
        for h in hidden:
            if h["suppression"] == e.id:
                print(f"    {h['detection']:55} {h['hits']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mamori", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write realistic CloudTrail delivery files into the raw store")
    g.add_argument("--start", default=DEFAULT_START)
    g.add_argument("--hours", type=int, default=24)
    g.add_argument("--seed", type=int, default=7)
    g.add_argument("--source", action="append", help="only this source (repeatable); default: all")
    g.set_defaults(func=cmd_generate)

    d = sub.add_parser("demo", help="generate a day, run ingest + detect through Airflow, print a summary")
    d.add_argument("--start", default=DEFAULT_START)
    d.add_argument("--hours", type=int, default=24)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--keep", action="store_true", help="keep the previous demo's lake and ledger")
    d.set_defaults(func=cmd_demo)

    det = sub.add_parser("detections", help="work with the detection catalog")
    det_sub = det.add_subparsers(dest="action", required=True)
    det_sub.add_parser("list", help="id, severity, status, MITRE of every detection")
    t = det_sub.add_parser("test", help="run each detection's positive and negative cases on DuckDB")
    t.add_argument("id", nargs="?")
    t.add_argument("--cases", default=str(Path.cwd() / "tests" / "detections"))
    r = det_sub.add_parser("render", help="print the exact Athena SQL a window runs")
    r.add_argument("id")
    r.add_argument("--start", required=True)
    r.add_argument("--end", required=True)
    n = det_sub.add_parser("new", help="scaffold a detection file and its case folders")
    n.add_argument("id")
    c = det_sub.add_parser("coverage", help="MITRE tactic x log source matrix of passing detections")
    c.add_argument("--cases", default=str(Path.cwd() / "tests" / "detections"))
    c.add_argument("--out", default=str(Path.cwd() / "docs"))
    b = det_sub.add_parser("backtest", help="run a rule over lake history: hits, alerts, top entities")
    b.add_argument("id")
    b.add_argument("--from", dest="start", required=True)
    b.add_argument("--to", dest="end", required=True)
    det.set_defaults(func=cmd_detections)

    sup = sub.add_parser("suppressions", help="suppressions as code")
    sup_sub = sup.add_subparsers(dest="action", required=True)
    rep = sup_sub.add_parser("report", help="what each suppression hid in a range; expired entries")
    rep.add_argument("--from", dest="start", required=True)
    rep.add_argument("--to", dest="end", required=True)
    sup.set_defaults(func=cmd_suppressions)
    return p


def main(argv: list[str] | None = None) -> int:
    # `mamori detections list | head` should end quietly, like any Unix tool.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    _embedded_env()
    args = build_parser().parse_args(argv)
    rc: int = args.func(args)
    return rc


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """Hour marks in (start, end], the logical dates of hourly runs whose windows tile [start, end)."""
    out, t = [], start + timedelta(hours=1)
    while t <= end:
        out.append(t)
        t += timedelta(hours=1)
    return out


if __name__ == "__main__":
    sys.exit(main())
