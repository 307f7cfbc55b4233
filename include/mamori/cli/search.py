"""`mamori search`, `mamori query`, `mamori hunt`: argument definitions (cheap to import, so `mamori --help`
stays fast) and the commands (heavy imports inside). The wall clock is read here, at the edge, and handed to
the library as `now`.

Results go to stdout (or --out); everything else (progress, scan estimates, the summary line, --show-sql)
goes to stderr, so `mamori search ... --format jsonl | jq` works.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMATS = ("table", "csv", "jsonl", "parquet")
_SUFFIX_FORMAT = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
TABLE_LIMIT = 1000


def parse_size(text: str) -> int:
    """`1000000`, `500M`, `10GB`, `1TiB` (binary multiples) → bytes, for argparse."""
    from mamori.search.execute import parse_size as parse

    try:
        return parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common(p: argparse.ArgumentParser) -> None:
    rng = p.add_argument_group("time range (half-open, UTC unless the time says otherwise)")
    rng.add_argument("--from", dest="start", metavar="TIME", help="ISO 8601 start, e.g. 2026-11-01T02:00Z")
    rng.add_argument("--to", dest="end", metavar="TIME", help="ISO 8601 end (default: now)")
    rng.add_argument("--last", metavar="DURATION", help="e.g. 90m, 24h, 7d (ending at --to or now)")
    out = p.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS, help="default: table, or from the --out suffix")
    out.add_argument("--out", "-o", metavar="PATH", help="write results here instead of stdout")
    out.add_argument("--show-sql", action="store_true", help="print the SQL sent to the engine on stderr")
    out.add_argument(
        "--dry-run", action="store_true", help="print the SQL (and the Athena scan estimate); run nothing"
    )
    athena = p.add_argument_group("Athena")
    athena.add_argument(
        "--max-bytes",
        type=parse_size,
        metavar="SIZE",
        help="refuse a query estimated to scan more (default: MAMORI_QUERY_BUDGET_BYTES or 10G)",
    )
    athena.add_argument("--force", action="store_true", help="run even over the budget / without window()")


def add_search_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "search",
        help="find events by IP, principal, account, event name or field text across every source",
        description="Search every source's events through the common columns. Repeat a filter to OR its "
        "values; different filters AND. Without a range: the last 24h (DuckDB), refused on Athena.",
    )
    f = p.add_argument_group("filters")
    f.add_argument("--ip", action="append", default=[], help="in the event's related IPs")
    f.add_argument("--principal", action="append", default=[], help="ARN or user name in related ARNs/users")
    f.add_argument(
        "--account", action="append", default=[], help="12-digit account (partition, event or related)"
    )
    f.add_argument(
        "--event-name", action="append", default=[], help="CloudTrail eventname, S3 operation, ..."
    )
    f.add_argument(
        "--contains", action="append", default=[], metavar="FIELD=TEXT", help="case-insensitive substring"
    )
    f.add_argument("--source", action="append", default=[], help="only this source table (repeatable)")
    p.add_argument("--limit", type=int, help=f"rows at most (default {TABLE_LIMIT} for table; 0 = no limit)")
    p.add_argument("--desc", action="store_true", help="newest first")
    _common(p)
    return p


def add_query_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "query",
        help="run Athena SQL on the configured engine, with {{ window() }} for the time range",
        description="Run one Athena-dialect query (SELECT/WITH) on the configured engine. {{ window() }} "
        "expands to the partition + event_time predicate of --from/--to or --last. On Athena the scan is "
        "estimated first and refused over the budget unless --force.",
    )
    p.add_argument("sql", nargs="?", help="the SQL ('-' = stdin)")
    p.add_argument("--file", "-f", metavar="PATH", help="read the SQL from a file")
    _common(p)
    return p


def add_hunt_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "hunt",
        help="run a saved hunt from sql/hunts (`mamori hunt list` lists them)",
        description="Run a saved hunt: `mamori hunt ID --param name=value ...`; `mamori hunt list`.",
    )
    p.add_argument("hunt", help="hunt id, or `list`")
    p.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE")
    _common(p)
    return p


# -- commands ---------------------------------------------------------------------------------------------


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _budget(args: argparse.Namespace) -> int:
    if args.max_bytes is not None:
        return int(args.max_bytes)
    from mamori.search.execute import configured_budget

    return configured_budget()


def _format(args: argparse.Namespace) -> str:
    if args.format:
        fmt: str = args.format
    elif args.out:
        fmt = _SUFFIX_FORMAT.get(Path(args.out).suffix.lower(), "table")
    else:
        fmt = "table"
    if fmt == "parquet" and not args.out:
        raise ValueError("--format parquet needs --out PATH")
    return fmt


def _handled(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Expected failures (bad value, missing range, over budget, SQL the engine refuses) end with a one-line
    message and exit code 2."""

    def run(args: argparse.Namespace) -> int:
        from mamori.search.execute import QueryError, Refused

        try:
            return fn(args)
        # HuntError, SearchError, ParamError and RangeError are ValueErrors: a bad value, not a crash; a
        # QueryError is the engine refusing the SQL (unknown function, file outside the lake): one line too.
        except (Refused, QueryError, ValueError) as exc:
            # One line whatever the message holds (several broken hunt files, a pydantic report); an error
            # located in a file already reads `<path>:<line>: why`, the form editors jump to.
            text = " ".join(str(exc).split())
            _err(text if getattr(exc, "line", None) else f"mamori {args.command}: {text}")
            return 2

    return run


def _emit(args: argparse.Namespace, results: Any, fmt: str, started: float) -> int:
    from mamori.search.execute import human_bytes
    from mamori.search.output import write

    stats = results.stats
    shown = 0
    if args.show_sql or args.dry_run:
        for sql in stats.sql:
            _err(sql + "\n")
        shown = len(stats.sql)
    if args.dry_run:
        return 0
    if args.out:
        with open(args.out, "wb") as fh:
            rows = write(results.schema, results.batches, fmt, fh)
    else:
        rows = write(results.schema, results.batches, fmt, sys.stdout.buffer)
        sys.stdout.flush()
    if args.show_sql:  # DuckDB search sends one statement per day: print the rest once they ran
        for sql in stats.sql[shown:]:
            _err(sql + "\n")
    parts = [f"{rows:,} rows"]
    if stats.files:
        parts.append(
            f"{stats.files:,} files ({human_bytes(stats.file_bytes)}) in {stats.partitions:,} partitions"
        )
    if stats.scanned_bytes is not None:
        parts.append(f"Athena scanned {human_bytes(stats.scanned_bytes)}")
    parts.append(f"{time.perf_counter() - started:.2f} s")
    _err(" · ".join(parts) + (f" → {args.out}" if args.out else ""))
    return 0


@_handled
def search_command(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from mamori.config import load_settings
    from mamori.search.events import Filters, parse_contains, run_search
    from mamori.search.timerange import resolve_range

    s = load_settings()
    fmt = _format(args)
    default_last = "24h" if s.engine == "duckdb" else None
    rng = resolve_range(args.start, args.end, args.last, datetime.now(UTC), default_last)
    if rng is not None and not (args.start or args.last):
        _err(f"no range given: searching the last 24h {rng}")
    limit = args.limit if args.limit is not None else (TABLE_LIMIT if fmt == "table" else 0)
    filters = Filters(
        ips=tuple(args.ip),
        principals=tuple(args.principal),
        accounts=tuple(args.account),
        event_names=tuple(args.event_name),
        contains=parse_contains(args.contains),
        sources=tuple(args.source),
    )
    results = run_search(
        s,
        filters,
        rng,
        order="desc" if args.desc else "asc",
        limit=limit or None,
        budget=_budget(args),
        force=args.force,
        progress=_err,
        dry_run=args.dry_run,
    )
    return _emit(args, results, fmt, started)


@_handled
def query_command(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from mamori.config import load_settings
    from mamori.search.execute import run_sql
    from mamori.search.timerange import resolve_range

    if args.file:
        sql = Path(args.file).read_text(encoding="utf-8")
    elif args.sql == "-":
        sql = sys.stdin.read()
    elif args.sql:
        sql = args.sql
    else:
        raise ValueError("give the SQL as an argument, '-' for stdin, or --file PATH")
    fmt = _format(args)
    rng = resolve_range(args.start, args.end, args.last, datetime.now(UTC))
    results = run_sql(
        load_settings(), sql, rng, budget=_budget(args), force=args.force, progress=_err, dry_run=args.dry_run
    )
    return _emit(args, results, fmt, started)


@_handled
def hunt_command(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from mamori.config import load_settings
    from mamori.detections.dialect_lint import fault_line
    from mamori.hunts import get_hunt, load_hunts, parse_param_args
    from mamori.search.execute import QueryError, run_sql
    from mamori.search.timerange import resolve_range

    s = load_settings()
    if args.hunt == "list":
        for h in load_hunts(s.sql_dir).values():
            params = " ".join(
                f"{n}:{p.type}" + ("" if p.default is None else f"={p.default!r}")
                for n, p in h.header.parameters.items()
            )
            print(f"{h.id:28} {h.header.default_range:>4}  {h.header.title}\n{'':34}{params}")
        return 0
    hunt = get_hunt(s.sql_dir, args.hunt)
    fmt = _format(args)
    rng = resolve_range(args.start, args.end, args.last, datetime.now(UTC), hunt.header.default_range)
    assert rng is not None  # a default range always applies
    if not (args.start or args.last):
        _err(f"no range given: the hunt's default, last {hunt.header.default_range} {rng}")
    values = hunt.bind_params(parse_param_args(args.param))
    try:
        results = run_sql(
            s,
            hunt.body,
            rng,
            values,
            budget=_budget(args),
            force=args.force,
            progress=_err,
            dry_run=args.dry_run,
        )
        return _emit(args, results, fmt, started)
    except QueryError as exc:
        # The engine's LINE counts in the transpiled SQL, which the hunt's author never sees: name the line
        # of the hunt's file holding the function or column it refused, as a detection's error does.
        line = fault_line(hunt.path, str(exc))
        raise QueryError(f"{hunt.path}:{line}: {exc}" if line else f"{hunt.path}: {exc}", line) from exc
