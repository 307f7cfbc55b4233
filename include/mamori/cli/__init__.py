"""`mamori` command: demo, generate, detections, backfill, incidents, search/query/hunt, status, quality, ...

Airflow reads AIRFLOW_HOME and friends when it is first imported, so `main()` fills in the embedded defaults
before anything imports airflow, and every heavy import happens inside the command that needs it.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mamori.config import local_port
from mamori.windows import Window

DEFAULT_START = "2026-11-01T00:00:00+00:00"

# What every run reads and when: `mamori --help` and `mamori backfill --help` (tests/cli pin the facts).
DATA_NOTES = """\
where raw data is read from:
  MAMORI_RAW_URL (default $MAMORI_HOME/raw; s3://bucket/prefix in AWS mode): the bucket AWS delivers to, in
  its native layouts (AWSLogs/...). mamori only reads it; the lake (MAMORI_LAKE_URL) is what it writes.

which objects a window reads (the landing-time rule):
  an ingest window reads the objects that LANDED in it (S3 LastModified), under the key dates of its own
  day and the day before. An archive copied in today with older key dates (aws s3 sync, a forensic import,
  a re-delivery) is read by no window: each day's first ingest window warns about such landings (key
  dates up to MAMORI_ARCHIVE_CHECK_DAYS back) and `mamori backfill --by key-date` imports them.

the detect lag:
  a detect run over the data interval [start, end) (every 5 minutes by default) first evaluates each source's
  events of [start - first, end - first), the first lag being MAMORI_DETECT_FIRST_LAG_MINUTES (default 0: as
  soon as the ingest window holding their landing is in), and re-reads the windows before it up to the lag,
  the lag being the source's delivery lag (declared in its folder: CloudTrail 15 minutes, VPC flow 15, ALB,
  CloudWatch and Route 53 Resolver 10, CloudTrail Insights 45, S3 server access 60) or MAMORI_DETECT_LAG_MINUTES
  for every source when set (then with no early look unless the first lag is set), so an object that lands up
  to the lag after its events is evaluated by the first run after it is ingested. Each run also re-reads the
  windows of the MAMORI_DETECT_OVERLAP_MINUTES (default 15) before those, so later deliveries within the
  overlap are evaluated too (once: a re-read window's ledger contribution is replaced); rows later than that
  are reported as late data and re-run by health.
"""


def _events_evaluated(start: datetime, end: datetime, s: Any) -> Window:
    """The event times the detect runs of [start, end) evaluate, over every source: each source's delivery lag,
    and the windows the first run re-reads before its own (the lookback overlap)."""
    from mamori.sources import SOURCES, detection_trail

    trails = [detection_trail(name, s) for name in SOURCES]
    return Window(
        start - max(first + span for first, span in trails), end - min(first for first, _ in trails)
    )


def _embedded_env() -> None:
    home = Path(os.environ.get("MAMORI_HOME") or Path.cwd() / "var" / "demo")
    os.environ.setdefault("MAMORI_HOME", str(home))
    os.environ.setdefault("AIRFLOW_HOME", str(home.parent / "airflow"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    # include/mamori/cli/__init__.py -> the repository (tests/unit/test_repo_paths.py)
    repo_dags = Path(__file__).resolve().parents[3] / "dags"
    if repo_dags.is_dir():
        os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(repo_dags))


class UsageError(ValueError):
    """A command-line argument mamori cannot use (a bad time, an empty range)."""


def _parse_time(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"invalid time {text!r}: expected ISO 8601 such as 2026-11-01T00:00 (UTC unless an offset is given)"
        ) from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _time_range(
    start: str, end: str, names: tuple[str, str] = ("--from", "--to")
) -> tuple[datetime, datetime]:
    """A range's bounds as UTC datetimes; an empty or reversed range is a mistake, not a quiet zero."""
    lo, hi = _parse_time(start), _parse_time(end)
    if hi <= lo:
        raise UsageError(f"empty range: {names[1]} {hi.isoformat()} is not after {names[0]} {lo.isoformat()}")
    return lo, hi


def _one_line(exc: BaseException) -> str:
    """The message of one of mamori's own errors on one line; a detection's starts with `file:line:`, the
    form editors and CI annotations jump to."""
    text = " ".join(str(exc).split())
    line = getattr(exc, "line", None)
    path = getattr(exc, "path", None)
    if path is not None and not isinstance(exc, ValueError):  # an engine error located by run_detection
        first = str(exc).split("\n")[0]
        return f"{path}:{line}: {first}" if line else f"{path}: {first}"
    if line is not None:  # DetectionError: "<path>.sql: why" -> "<path>.sql:<line>: why"
        text = re.sub(r"\A(\S+?\.sql): ", lambda m: f"{m[1]}:{line}: ", text, count=1)
    return text


def _usage_error(command: str, exc: Exception) -> int:
    """Bad arguments or configuration: one line on stderr (`<command>: <why>`) and exit 2, no traceback."""
    print(f"{command}: {_one_line(exc)}", file=sys.stderr)
    return 2


def _is_ours(exc: BaseException) -> bool:
    """mamori's own bad-input errors (DetectionError, ConfigError, SuppressionError, UsageError, ...): a
    ValueError subclass defined in a mamori module. A plain ValueError is a bug somewhere and keeps its
    traceback."""
    if getattr(exc, "path", None) is not None:  # the rule's own SQL failed on the engine (run_detection)
        return True
    return isinstance(exc, ValueError) and any(
        t.__module__.startswith("mamori.") for t in type(exc).__mro__ if issubclass(t, ValueError)
    )


def cmd_generate(args: argparse.Namespace) -> int:
    from mamori.dev.generate import write_samples

    steps = write_samples(_parse_time(args.start), args.hours, args.seed, args.source)
    print(f"generated {args.hours}h of logs from {args.start}; attack story of {len(steps)} steps:")
    for st in steps:
        print(f"  {st.time:%Y-%m-%d %H:%M} {st.account} {','.join(st.detections):55} {st.summary}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from mamori.dev.demo import run_demo

    return run_demo(_parse_time(args.start), args.hours, args.seed, keep=args.keep)


def cmd_detections(args: argparse.Namespace) -> int:
    from mamori.config import load_settings

    s = load_settings()
    if args.action == "list":
        from mamori.detections.loader import load_catalog_tolerant

        detections, broken = load_catalog_tolerant(s.sql_dir)
        for d in detections:
            h = d.header
            print(f"{d.id:55} {h.severity:8} {h.status:12} {','.join(h.mitre)}")
        return _report_broken(broken)
    if args.action == "scorecard":
        return _scorecard(s, args.json)
    if args.action == "tune":
        return _tune(s, args)
    if args.action == "render":
        from mamori.detections.loader import get_detection

        try:
            det = get_detection(s.sql_dir, args.id)
            start, end = _time_range(args.start, args.end, ("--start", "--end"))
        except ValueError as exc:  # DetectionError is a ValueError
            return _usage_error("render", exc)
        print(det.render(start, end))
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
            f"coverage: {len(cov.passing)} detections counted, {len(cov.failing)} with failing cases, "
            f"{len(cov.incomplete)} with surviving mutants; written to {args.out}/coverage.md and coverage.svg"
        )
        return 1 if cov.failing or cov.incomplete else 0
    if args.action == "backtest":
        from mamori.detections.backtest import backtest
        from mamori.detections.loader import get_detection
        from mamori.engines import get_engine

        try:
            det = get_detection(s.sql_dir, args.id)
            start, end = _time_range(args.start, args.end)
        except ValueError as exc:  # DetectionError is a ValueError
            return _usage_error("backtest", exc)
        engine = get_engine(s)
        try:
            res = backtest(det, engine, start, end)
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
    if args.action == "mutate":
        return _mutate(s.sql_dir, Path(args.cases), args.ids, verbose=args.verbose)
    from mamori.alerts.routing import split_misrouted
    from mamori.detections.loader import load_catalog_tolerant
    from mamori.detections.testing import run_catalog_cases

    detections, broken = load_catalog_tolerant(s.sql_dir)
    # A rule naming an output the registry lacks (or options it rejects) is broken, not silently rerouted.
    detections, misrouted = split_misrouted(detections)
    broken += misrouted
    if args.id and args.id not in {d.id for d in detections} | {b.id for b in broken}:
        print(f"mamori detections test: no detection {args.id!r}", file=sys.stderr)
        return 2
    failures = 0
    for result in run_catalog_cases(s.sql_dir, Path(args.cases), only=args.id, detections=detections):
        mark = "ok  " if result.passed else "FAIL"
        pinned = (
            f" hourly runs: {result.hourly} (pinned {result.expected_hourly})"
            if result.expected_hourly is not None
            else ""
        )
        stub = f" stub, not reviewed: {result.stub}" if result.stub is not None else ""
        print(
            f"{mark} {result.detection_id:55} {result.kind:8} {result.case} alerts={result.alerts}{pinned}{stub}"
        )
        failures += not result.passed
    print(f"{failures} failed")
    broken = [b for b in broken if not args.id or b.id == args.id]
    return max(1 if failures else 0, _report_broken(broken))


def _scorecard(s: Any, as_json: bool) -> int:
    """Per-rule precision and keep / tune / retire from the ledger's verdicts, worst first."""
    import json

    from mamori.alerts.ledger import Ledger
    from mamori.alerts.render import one_line
    from mamori.alerts.scorecard import KEEP_PRECISION, MIN_VERDICTS, scorecard

    scores = scorecard(Ledger(s.ledger_url))
    if as_json:
        print(json.dumps([r.as_dict() for r in scores], indent=2))
        return 0
    print(
        f"{len(scores)} rules with alerts; precision = TP / (TP + FP), shown from {MIN_VERDICTS} judged alerts; "
        f"keep at {KEEP_PRECISION:.2f} or more"
    )
    print(
        f"{'rule':50} {'alerts':>6} {'inc':>4} {'open':>5} {'TP':>4} {'BTP':>4} {'FP':>4} {'prec':>5}  advice"
    )
    for r in scores:
        prec = f"{r.precision:.2f}" if r.precision is not None else "–"
        print(
            f"{r.detection_id:50} {r.alerts:6} {r.incidents:4} {r.open:5} {r.true_positive:4} "
            f"{r.benign_true_positive:4} {r.false_positive:4} {prec:>5}  {r.recommendation}: {r.reason}"
        )
        if r.last_verdict:
            who = one_line(r.last_verdict_by or "")
            print(f"{'':50} last verdict {r.last_verdict} at {r.last_verdict_at} by {who}")
    return 0


def _tune(s: Any, args: argparse.Namespace) -> int:
    """Replay a proposed suppression against the ledger's stored hits; refuse it (exit 1, naming them) when
    it would hide a true positive, else print the entry (and append it with --write). Bad input exits 2."""
    from datetime import date, timedelta

    from mamori.alerts import tune
    from mamori.alerts.ledger import Ledger
    from mamori.alerts.render import one_line

    ledger = Ledger(s.ledger_url)
    try:
        match = dict(_column_value(m) for m in args.match)
        if not match:
            match = tune.propose_match(ledger, args.id)
            print(
                f"proposed from {args.id}'s false positives: "
                + ", ".join(f"{c} = {one_line(v)!s}" for c, v in match.items())
            )
        expires = date.fromisoformat(args.expires) if args.expires else date.today() + timedelta(days=90)
        owner = args.owner or os.environ.get("USER") or ""
        reason = args.reason or f"proposed by mamori detections tune from {args.id}'s false positives"
        entry = tune.proposal(args.id, match, owner, reason, expires, args.suppression_id)
        result = tune.replay(ledger, entry)
    except ValueError as exc:  # TuneError, a bad date
        return _usage_error("tune", exc)
    shown = ", ".join(f"{c} = {one_line(v)}" for c, v in entry.match.items())
    print(f"{entry.id}: {entry.detection} where {shown}; replayed on {result.alerts} alerts")
    for col in result.unknown_columns:
        print(f"  warning: no stored hit of the rule has a column {one_line(col)!r}: it would hide nothing")
    counts = lambda c: ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"  # noqa: E731
    print(f"  before: {counts(result.before)}")
    print(f"  after:  {counts(result.after)}")
    if not result.accepted:
        print(f"REFUSED: it would hide {len(result.true_positives)} true positive alert(s):", file=sys.stderr)
        for h in result.true_positives:
            print(
                f"  {h.alert_key}  {h.detection_id}  first seen {h.first_seen}  incident {h.incident_id or '–'}"
                f"  ({h.hidden_hits} of {h.stored_hits} stored hits)",
                file=sys.stderr,
            )
        return 1
    print(f"ACCEPTED: hides {len(result.hidden)} alert(s), no true positive")
    if args.write:
        try:
            path = tune.write_entry(s.sql_dir, entry)
        except ValueError as exc:
            return _usage_error("tune", exc)
        print(f"appended {entry.id} to {path}: review it like a rule change")
    else:
        import yaml

        print(yaml.safe_dump([entry.model_dump(mode="json")], sort_keys=False, allow_unicode=False), end="")
    return 0


def _column_value(text: str) -> tuple[str, str]:
    column, sep, value = text.partition("=")
    if not sep or not column.strip():
        raise ValueError(f"--match wants COLUMN=VALUE, got {text[:60]!r}")
    return column.strip(), value


def _report_broken(broken: list[Any]) -> int:
    """Broken files last, one line each (file:line: reason), so the good rules' output is not lost."""
    for b in broken:
        print(f"BROKEN {b.describe()}", file=sys.stderr)
    if broken:
        print(f"{len(broken)} detection file(s) do not load", file=sys.stderr)
    return 1 if broken else 0


def _mutate(sql_dir: Path, cases_dir: Path, ids: list[str], verbose: bool) -> int:
    """Mutation-test rules against their cases; exit 1 when a mutant survives that is not a declared equivalent."""
    from mamori.detections.mutate import RuleScore, score_catalog

    def show(sc: RuleScore) -> None:
        mark = "ok  " if sc.complete else "FAIL"
        print(
            f"{mark} {sc.detection_id:55} killed {sc.killed}/{sc.generated}"
            + (f", {sc.accepted} accepted as equivalent" if sc.accepted else "")
        )
        for problem in sc.problems:
            print(f"     problem: {problem}")
        for r in sc.results:
            if r.status == "survived" or verbose:
                detail = r.killed_by or r.error or r.accepted or "no case notices it"
                print(f"     {r.status:8} {r.mutant.id}  [{detail}]")

    try:
        scores = score_catalog(sql_dir, cases_dir, only=ids or None, progress=show)
    except ValueError as exc:
        print(f"mamori detections mutate: {exc}", file=sys.stderr)
        return 2
    generated = sum(sc.generated for sc in scores)
    killed = sum(sc.killed for sc in scores)
    accepted = sum(sc.accepted for sc in scores)
    complete = sum(sc.complete for sc in scores)
    print(
        f"{complete}/{len(scores)} rules at 100%; {killed}/{generated} mutants killed, {accepted} accepted, "
        f"{generated - killed - accepted} surviving"
    )
    return 0 if complete == len(scores) else 1


def cmd_sigma(args: argparse.Namespace) -> int:
    """Sigma rules for AWS CloudTrail → sql/detections/cloudtrail/; one line per refused rule, exit 1 if any."""
    from mamori.config import load_settings
    from mamori.dev.sigma import import_paths

    paths: list[Path] = []
    for given in map(Path, args.paths):
        paths += sorted(given.glob("*.yml")) + sorted(given.glob("*.yaml")) if given.is_dir() else [given]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        return _usage_error("sigma import", UsageError(f"no such file: {missing[0]}"))
    sql_dir = None if args.check else Path(args.out) if args.out else load_settings().sql_dir
    cases = None if args.check or args.no_cases else Path(args.cases)
    report = import_paths(
        paths, sql_dir, cases, owner=args.owner, overwrite=args.overwrite, mitre_fallback=tuple(args.mitre)
    )
    for c in report.converted:
        where = f"sql/detections/cloudtrail/{c.detection_id}.sql" if sql_dir is not None else "(checked)"
        print(f"converted {c.origin} -> {c.detection_id} {where}")
        for note in c.notes:
            print(f"  note: {note}")
    for r in report.refused:
        print(f"refused   {r.origin}: {r.reason}")
    print(f"{len(report.converted)} converted, {len(report.refused)} refused")
    for reason, n in report.by_reason().most_common():
        print(f"  {n:3} refused: {reason}")
    return 1 if report.refused else 0


def cmd_suppressions(args: argparse.Namespace) -> int:
    """What each suppression hid in a range, and which entries are expired as of its end."""
    from mamori.alerts.ledger import Ledger
    from mamori.config import load_settings
    from mamori.detections.suppressions import load_suppressions

    s = load_settings()
    try:
        start, end = _time_range(args.start, args.end)
        entries = load_suppressions(s.sql_dir)
    except ValueError as exc:  # SuppressionError is a ValueError
        return _usage_error("suppressions", exc)
    hidden = Ledger(s.ledger_url).suppressed(start, end)
    for e in entries:
        state = "active" if e.active_at(end) else f"EXPIRED {e.expires}"
        total = sum(h["hits"] for h in hidden if h["suppression"] == e.id)
        print(f"{e.id:40} {state:18} owner={e.owner:24} hid {total} hits  ({e.reason})")
        for h in hidden:
            if h["suppression"] == e.id:
                print(f"    {h['detection']:55} {h['hits']}")
    return 0


def _progress_bar(n: int, total: int, label: str) -> None:
    width = 30
    filled = width * n // max(total, 1)
    end = "\n" if n == total else ""
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {n}/{total} {label[:60]:60}{end}")
    sys.stderr.flush()


def cmd_backfill(args: argparse.Namespace) -> int:
    """Replay ingest + detect over the configured data intervals; resumable, idempotent, no paging unless --page."""
    from mamori.backfill import make_plan, run_backfill
    from mamori.config import load_settings

    s = load_settings()
    split = lambda v: [x for x in v.split(",") if x] if v else None  # noqa: E731
    try:
        plan = make_plan(
            _parse_time(args.start),
            _parse_time(args.end),
            sources=split(args.sources),
            detections=[] if args.no_detect else split(args.detections),
            ingest_data=not args.skip_ingest,
            page=args.page,
            settings=s,
            by=args.by,
        )
    except ValueError as exc:
        print(f"backfill: {exc}", file=sys.stderr)
        return 2
    events = _events_evaluated(plan.start, plan.end, s)
    selects = (
        "objects keyed by these dates that no landing window reads"
        if plan.by == "key-date"
        else "objects landed in these intervals"
    )
    print(
        f"backfill [{plan.start:%Y-%m-%d %H:%M}, {plan.end:%Y-%m-%d %H:%M}): ingest {plan.sources or 'none'} "
        f"({selects}, from {_redacted(s.raw_url)}), {len(plan.detections)} detections over events "
        f"[{events.start:%Y-%m-%d %H:%M}, {events.end:%Y-%m-%d %H:%M}), "
        f"{'paging' if plan.page else 'no paging'}",
        file=sys.stderr,
    )
    if not args.in_process:
        airflow = _airflow_backfill(args, plan, s)
        if airflow is not None:
            return airflow
    summary = run_backfill(plan, s, restart=args.restart, progress=_progress_bar)
    keys = summary.pop("alert_keys", [])
    if args.dispatch:
        from mamori.detect import dispatch

        summary["dispatch"] = dispatch(s)
    import json

    # The note first: it opens the ledger, whose migration check logs (Airflow's logging writes to stdout),
    # and the summary must stay stdout's last line for scripts that read it.
    note = backfill_alerts_note(keys, s, dispatched=summary.get("dispatch"))
    print(json.dumps(summary, default=str))
    print(note, file=sys.stderr)
    if summary.get("rule_errors"):
        print(
            f"broken detection(s), skipped and alerted: {'; '.join(summary['rule_errors'])}", file=sys.stderr
        )
        return 1
    return 0


def _airflow_backfill(args: argparse.Namespace, plan: Any, s: Any) -> int | None:
    """The backfill as Airflow's own backfills when an Airflow is reachable (mamori.cli.airflow_backfill);
    None: run in-process (no Airflow, or a plan Airflow's DAGs cannot express)."""
    import json

    from mamori.cli import airflow_backfill as ab
    from mamori.dev import local

    target = ab.find_airflow()
    if target is None:
        return None
    default_rules = set(plan.detections) in (set(), set(make_plan_rules(s)))
    if plan.by != "landing" or not default_rules:
        print(
            f"backfill: Airflow found at {target.where}, but --by key-date and --detections run in-process "
            "(the DAGs run every enabled rule over landing windows)",
            file=sys.stderr,
        )
        return None
    print(
        f"backfill: through Airflow's backfills at {target.where} (--in-process to run here)", file=sys.stderr
    )
    try:
        summary = ab.run_through_airflow(
            target, plan, s.ingest_interval, s.detect_interval, restart=args.restart, progress=_progress_bar
        )
        if args.dispatch:
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            run_id = target.api.trigger(
                "dispatch_alerts",
                now - timedelta(minutes=15),
                now,
                run_id=f"backfill-dispatch__{now:%Y%m%dT%H%M%S}",
            )
            summary["dispatch"] = local.wait_run(target.api, "dispatch_alerts", run_id, timeout=1800)
    except (ab.BackfillRefused, local.LocalAirflowError) as exc:
        print(f"backfill: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    print(json.dumps(summary, default=str))
    print(
        "backfill: every replayed window is a DagRun of type backfill (grid, Backfills tab); alerts are in the "
        + (
            "ledger and delivered by that dispatch run"
            if args.dispatch
            else "ledger; the dispatch_alerts DAG delivers them"
        ),
        file=sys.stderr,
    )
    return 1 if summary["failed_runs"] else 0


def make_plan_rules(s: Any) -> list[str]:
    """Every rule a default plan runs (enabled ones, broken ones included): what the detect DAG runs."""
    from mamori.detections.loader import load_catalog_tolerant

    loaded, broken = load_catalog_tolerant(s.sql_dir, include_deprecated=False)
    return [d.id for d in loaded] + [b.id for b in broken]


def _redacted(url: str) -> str:
    """A URL to print: any password in it replaced."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True) if "://" in url and "@" in url else url
    except ArgumentError:
        return re.sub(r"://[^@/]*@", "://***@", url)


def backfill_alerts_note(keys: list[str], s: Any, dispatched: dict[str, Any] | None) -> str:
    """Where a backfill's alerts went: the ledger, and whether anything was delivered (tickets are opened by a
    dispatch, not by the backfill: without --dispatch the outbox and the trackers are untouched until the
    dispatch_alerts DAG runs)."""
    from mamori.alerts.ledger import Ledger

    where = f"the alert ledger ({_redacted(s.ledger_url)})"
    if not keys:
        return f"alerts: none opened or updated; {where} is unchanged by the detect steps"
    wanted = set(keys)
    routes = sorted({r for a in Ledger(s.ledger_url).alerts() if a.key in wanted for r in a.routes})
    head = f"alerts: {len(keys)} opened or updated in {where}, routed to {', '.join(routes) or 'no output'}"
    if dispatched is None:
        return (
            f"{head}; NOT delivered: no ticket was opened and nothing was written to the outbox "
            f"({_redacted(s.outbox_url)}). Deliver them with --dispatch (re-running the backfill with it is "
            "idempotent: it only dispatches) or let the dispatch_alerts DAG do it."
        )
    return (
        f"{head}; dispatched: {dispatched.get('delivered', 0)} delivered, {dispatched.get('failed', 0)} failed "
        f"(outputs without a connection write to the local outbox, {_redacted(s.outbox_url)})"
    )


def cmd_alerts(args: argparse.Namespace) -> int:
    """Operator actions on deliveries; exit 2 when nothing matched (a mistyped key must not look done)."""
    from mamori.alerts.ledger import Ledger
    from mamori.config import load_settings

    ledger = Ledger(load_settings().ledger_url)
    if args.action == "cancel":
        n = ledger.cancel_delivery(args.key, args.output)
    else:
        n = ledger.redeliver(args.key, args.output)
    if not n:
        what = f"{args.key}" + (f" to {args.output}" if args.output else "")
        print(f"mamori alerts {args.action}: no matching delivery for {what}", file=sys.stderr)
        return 2
    print(f"{args.action}: {n} deliver{'y' if n == 1 else 'ies'} of {args.key}")
    return 0


def cmd_incidents(args: argparse.Namespace) -> int:
    """Incidents (alerts grouped by shared entities): list, show one, and triage (ack, close, reopen).
    Triage errors (no such incident, a closed one acknowledged, an unknown verdict) are TriageErrors: the
    error boundary prints them as one line and exits 2."""
    from mamori.alerts import incidents, triage
    from mamori.alerts.ledger import Ledger
    from mamori.config import load_settings

    s = load_settings()
    ledger = Ledger(s.ledger_url)
    if args.action == "list":
        found = incidents.list_incidents(ledger, open_only=args.open)
        alerts = sum(len(i.members) for i in found)
        print(f"{len(found)} {'open ' if args.open else ''}incidents ({alerts} alerts)")
        for inc in found:
            print()
            for line in incidents.describe(inc):
                print(line)
        return 0
    if args.action == "show":
        inc, actions = incidents.get_incident(ledger, args.id)
        sql_dir = Path(s.sql_dir)
        lines = incidents.timeline(
            inc, actions, lambda d: incidents.rule_tactics(sql_dir, d), incidents.load_policy(s)
        )
        for line in lines:
            print(line)
        return 0
    actor = args.actor if args.actor is not None else os.environ.get("USER")
    if args.action == "ack":
        out = triage.acknowledge(ledger, args.id, actor, note=args.note)
    elif args.action == "close":
        if args.verdict is None:
            raise triage.TriageError(f"close needs --verdict: one of {', '.join(triage.VERDICTS)}")
        out = triage.close(ledger, args.id, args.verdict, actor, note=args.note)
    else:
        out = triage.reopen(ledger, args.id, actor, note=args.note)
    print(f"incident {out.incident_id}: {_triage_result(out)}")
    return 0


def _triage_result(out: Any) -> str:
    """One line saying what a triage command did, or that the incident was already in that state."""
    state = f"closed as {out.verdict}" if out.status == "closed" else out.status
    if out.recorded is None:
        return f"already {state}; nothing recorded"
    done = "reopened" if out.recorded.action == "reopen" else state
    line = f"{done} by {out.recorded.actor}"
    if out.recorded.action == "close":
        line += f"; {out.alerts} alerts resolved"
    elif out.recorded.action == "reopen":
        line += f"; {out.alerts} alerts open again"
    return line


def cmd_db(args: argparse.Namespace) -> int:
    """The ledger's schema revision, or migrate it (what every Ledger open does anyway)."""
    from mamori.alerts.ledger import migrate, schema_revision
    from mamori.config import load_settings

    url = load_settings().ledger_url
    if args.action == "current":
        print(schema_revision(url) or "none (empty, or made before migrations)")
        return 0
    before, after = migrate(url)
    print(f"ledger schema: {before or 'none'} -> {after}")
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    """Create the Athena database, tables and view from sql/ddl/ (or print the statements)."""
    import json

    from mamori.config import load_settings
    from mamori.engines.tables import maintain_tables, table_statements

    s = load_settings()
    try:
        if args.print:
            for name, sql in table_statements(s, args.recreate):
                print(f"-- {name}\n{sql.strip()};\n")
            return 0
        if s.engine != "athena":
            raise ValueError(
                f"MAMORI_ENGINE is {s.engine}: there are no Athena tables to create (DuckDB builds its views "
                "when an engine opens); set MAMORI_ENGINE=athena, or --print the statements"
            )
        print(json.dumps(maintain_tables(s, args.recreate)))
    except ValueError as exc:
        return _usage_error("tables", exc)
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    """Merge the small files of settled partitions (hour and ingest windows ended by --before)."""
    import json

    from mamori.config import load_settings
    from mamori.lake.compact import CompactionError, compact_partitions
    from mamori.sources import SOURCES

    s = load_settings()
    try:
        before = _parse_time(args.before)
        since = _parse_time(args.since) if args.since else None
    except ValueError as exc:
        return _usage_error("compact", exc)
    rc = 0
    for table in args.table or list(SOURCES):
        try:
            summary = compact_partitions(table, before, s, min_files=args.min_files, since=since)
        except CompactionError as exc:
            print(f"compact: {exc}", file=sys.stderr)
            rc = 1
            continue
        print(json.dumps(summary, default=str))
    return rc


def cmd_search(args: argparse.Namespace) -> int:
    from mamori.cli.search import search_command

    return search_command(args)


def cmd_query(args: argparse.Namespace) -> int:
    from mamori.cli.search import query_command

    return query_command(args)


def cmd_hunt(args: argparse.Namespace) -> int:
    from mamori.cli.search import hunt_command

    return hunt_command(args)


def cmd_status(args: argparse.Namespace) -> int:
    """Catalog, alerts, per-source freshness/DQ and recent Airflow runs (the Airflow UI view, as text)."""
    from mamori import status

    runs, error = status.safe_airflow_runs() if args.runs else (None, "skipped (--no-runs)")
    st = status.collect(datetime.now(UTC), runs=runs, runs_error=error)
    print(status.status_json(st) if args.json else status.render_text(st), end="" if not args.json else "\n")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from mamori.dev import local

    home, airflow_home = Path(os.environ["MAMORI_HOME"]), Path(os.environ["AIRFLOW_HOME"])
    try:
        inst = local.up(
            airflow_home,
            home,
            args.port,
            datetime.now(UTC),
            hours=args.hours,
            generate=not args.no_generate,
            backfill=not args.no_backfill,
        )
    except local.LocalAirflowError as exc:
        # What failed and which log says why, in one line: the messages are built to be one line already.
        print(f"mamori up failed: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    print(f"Airflow UI: {inst.url}  ·  mamori view: {inst.url}/plugin/mamori  ·  stop: make down")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from mamori.dev import local

    return local.down(Path(os.environ["AIRFLOW_HOME"]))


def cmd_airflow(args: argparse.Namespace) -> int:
    from mamori.dev import local

    argv = args.args[1:] if args.args[:1] == ["--"] else args.args
    try:
        return local.airflow_cli(Path(os.environ["AIRFLOW_HOME"]), Path(os.environ["MAMORI_HOME"]), argv)
    except local.LocalAirflowError as exc:
        print(f"mamori airflow: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


def cmd_quality(args: argparse.Namespace) -> int:
    """Data quality per source over a range, and each stream's freshness for the window ending at --to."""
    from mamori.config import load_settings
    from mamori.health import freshness, report

    s = load_settings()
    try:
        start = _parse_time(args.start) if args.start else None
        end = _parse_time(args.end) if args.end else None
        if start and end:
            start, end = _time_range(args.start, args.end)
    except ValueError as exc:
        return _usage_error("quality", exc)
    if end is None:
        end = report.latest_window_end(s)
        if end is None:
            print("no finalized ingest window yet")
            return 1
    print(f"data quality per source, windows starting in [{start or 'first'}, {end})")
    print("\n".join(report.dq_lines(report.dq_by_source(s, start, end), indent="  ")))
    print(f"\nfreshness per stream, ingest window ending {end.isoformat()}")
    print("\n".join(report.freshness_lines(freshness.evaluate(end - s.ingest_interval, end, s), indent="  ")))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mamori",
        description=__doc__,
        epilog=DATA_NOTES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--debug", action="store_true", help="show the traceback of an error instead of its one-line message"
    )
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write realistic raw logs of every source into the raw store")
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
    mu = det_sub.add_parser(
        "mutate", help="break each rule on purpose and check that one of its cases notices"
    )
    mu.add_argument("ids", nargs="*", metavar="ID", help="detection ids (default: every detection)")
    mu.add_argument("--cases", default=str(Path.cwd() / "tests" / "detections"))
    mu.add_argument(
        "-v", "--verbose", action="store_true", help="also list killed mutants and the case that killed each"
    )
    sc = det_sub.add_parser(
        "scorecard", help="per-rule precision from recorded verdicts, with keep / tune / retire advice"
    )
    sc.add_argument("--json", action="store_true", help="one JSON list instead of the table")
    tu = det_sub.add_parser(
        "tune",
        help="check a proposed suppression against the ledger: refused if it hides a true positive",
    )
    tu.add_argument("id", help="the detection the suppression is for")
    tu.add_argument(
        "--match",
        action="append",
        default=[],
        metavar="COLUMN=VALUE",
        help="output column and exact value the hits must have (repeat for several); default: proposed from "
        "the rule's false positives",
    )
    tu.add_argument("--owner", help="who answers for the suppression (default $USER)")
    tu.add_argument("--reason", help="why it is safe (at least 10 characters)")
    tu.add_argument("--expires", help="YYYY-MM-DD (default: 90 days from today)")
    tu.add_argument("--suppression-id", dest="suppression_id", help="default: <rule>-<first value>")
    tu.add_argument(
        "--write", action="store_true", help="append the accepted entry to sql/suppressions.yaml for review"
    )
    b = det_sub.add_parser("backtest", help="run a rule over lake history: hits, alerts, top entities")
    b.add_argument("id")
    b.add_argument("--from", dest="start", required=True)
    b.add_argument("--to", dest="end", required=True)
    det.set_defaults(func=cmd_detections)

    sg = sub.add_parser("sigma", help="dev tool: import Sigma rules (AWS CloudTrail) as mamori detections")
    sg_sub = sg.add_subparsers(dest="action", required=True)
    sgi = sg_sub.add_parser(
        "import",
        help="convert Sigma rules to sql/detections/cloudtrail/<id>.sql (status experimental)",
        description="Convert Sigma rules (logsource aws/cloudtrail) with pySigma into mamori detection files: "
        "strict header, Athena SQL over the cloudtrail table, validated by the detection loader. A rule that "
        "cannot be converted whole is refused with one line saying why (exit 1). See docs/sigma.md.",
    )
    sgi.add_argument("paths", nargs="+", metavar="PATH", help="Sigma .yml files, or folders of them")
    sgi.add_argument("--out", help="the sql/ folder to write into (default: MAMORI_SQL_DIR)")
    sgi.add_argument("--cases", default=str(Path.cwd() / "tests" / "detections"), help="case folders root")
    sgi.add_argument("--no-cases", action="store_true", help="do not create empty case folders")
    sgi.add_argument("--check", action="store_true", help="convert and validate only; write nothing")
    sgi.add_argument("--overwrite", action="store_true", help="replace detection files that exist")
    sgi.add_argument("--owner", default="security-engineering", help="the header's owner")
    sgi.add_argument(
        "--mitre",
        action="append",
        default=[],
        metavar="TA0005:T1562",
        help="ATT&CK entry for rules whose tags give no tactic+technique pair (repeatable; noted per rule)",
    )
    sg.set_defaults(func=cmd_sigma)

    sup = sub.add_parser("suppressions", help="suppressions as code")
    sup_sub = sup.add_subparsers(dest="action", required=True)
    rep = sup_sub.add_parser("report", help="what each suppression hid in a range; expired entries")
    rep.add_argument("--from", dest="start", required=True)
    rep.add_argument("--to", dest="end", required=True)
    sup.set_defaults(func=cmd_suppressions)

    bf = sub.add_parser(
        "backfill",
        help="reprocess data intervals at the configured cadence: ingest, then detect (resumable)",
        description="Replay what the ingest and detect DAGs do over [--from, --to), resumably and idempotently. "
        "Alerts are recorded in the ledger with ticket routes only (no paging unless --page); nothing is "
        "delivered (no ticket, no outbox file) unless --dispatch, or until the dispatch_alerts DAG runs.",
        epilog=DATA_NOTES
        + "\n--by landing (default): each interval ingests the objects that landed in it (the rule above).\n"
        "--by key-date: whole days; ingests the objects KEYED by dates in [--from, --to) that no landing window\n"
        "  reads (an archive copied in later), into the landing window each landed in (so re-running that\n"
        "  window or this backfill reads them once), then detects over the events of [--from, --to).\n"
        "\nthrough Airflow: when MAMORI_AIRFLOW_URL (+ MAMORI_AIRFLOW_TOKEN) names a deployment, or the local\n"
        "  instance of `mamori up` runs on AIRFLOW_HOME, the backfill is Airflow's own (POST /api/v2/backfills):\n"
        "  every ingest DAG, then detect, with a progress bar; the runs show in the grid and the Backfills tab.\n"
        "  The same windows either way: the data intervals starting in [--from, --to) (end exclusive; Airflow\n"
        "  is given the last interval's start, its range being inclusive). Windows whose run succeeded are\n"
        "  skipped (--restart re-runs them); an interrupted backfill of the same range is resumed; one of another\n"
        "  range still running is refused (Airflow runs one backfill per DAG). Backfill runs do not page unless\n"
        "  --page. --by key-date and --detections run in-process.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bf.add_argument("--from", dest="start", required=True, help="first data interval start (UTC, hour)")
    bf.add_argument("--to", dest="end", required=True, help="end of the last data interval (exclusive)")
    bf.add_argument("--sources", help="comma-separated sources to ingest (default: all)")
    bf.add_argument("--detections", help="comma-separated detection ids (default: every enabled one)")
    bf.add_argument("--skip-ingest", action="store_true", help="detections only, over the lake as it is")
    bf.add_argument("--no-detect", action="store_true", help="ingest only")
    bf.add_argument("--page", action="store_true", help="let new alerts page (default: ticket routes only)")
    bf.add_argument(
        "--dispatch", action="store_true", help="deliver due alerts at the end (else the DAG does)"
    )
    bf.add_argument(
        "--restart",
        action="store_true",
        help="ignore the recorded progress of this backfill (through Airflow: re-run succeeded windows too)",
    )
    bf.add_argument(
        "--in-process",
        action="store_true",
        help="run here even when an Airflow is reachable (default: through its backfills, see below)",
    )
    bf.add_argument(
        "--by",
        choices=["landing", "key-date"],
        default="landing",
        help="select raw objects by landing time (default) or by the date in their key (archives, imports)",
    )
    bf.set_defaults(func=cmd_backfill)

    st = sub.add_parser("status", help="catalog, alerts + tickets, source freshness/DQ, recent Airflow runs")
    st.add_argument("--json", action="store_true", help="the same data as JSON")
    st.add_argument("--no-runs", dest="runs", action="store_false", help="skip Airflow's run history")
    st.set_defaults(func=cmd_status)

    upp = sub.add_parser("up", help="start the real Airflow locally with sample data, DAGs unpaused")
    upp.add_argument("--port", type=int, default=local_port())
    upp.add_argument("--hours", type=int, default=6, help="sample hours before the current hour (>= 6)")
    upp.add_argument("--no-generate", action="store_true", help="no sample data (and so no backfill)")
    upp.add_argument("--no-backfill", action="store_true", help="skip the runs for the sample hours")
    upp.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything `mamori up` started").set_defaults(func=cmd_down)
    afp = sub.add_parser(
        "airflow",
        help="the airflow CLI against the instance `mamori up` runs (e.g. mamori airflow dags list)",
        prefix_chars="\0",  # every argument after `airflow` is airflow's, options included
    )
    afp.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the airflow CLI")
    afp.set_defaults(func=cmd_airflow)

    tb = sub.add_parser("tables", help="AWS mode: create the Athena database, tables and view from sql/ddl/")
    tb.add_argument("--print", action="store_true", help="print the statements instead of running them")
    tb.add_argument("--recreate", action="store_true", help="drop and create the tables (a column changed)")
    tb.set_defaults(func=cmd_tables)

    cp = sub.add_parser("compact", help="merge each settled hour partition's small files into one")
    cp.add_argument("--before", required=True, help="partitions and ingest windows that ended by this (UTC)")
    cp.add_argument("--table", action="append", help="source or table (repeatable); default: every source")
    cp.add_argument("--since", help="only partitions written by ingest windows ending after this (manifests)")
    cp.add_argument("--min-files", type=int, default=2, help="merge from this many files on (default 2)")
    cp.set_defaults(func=cmd_compact)

    # Search and hunt: argument definitions live beside the commands (a light module: argparse only).
    from mamori.cli.search import add_hunt_parser, add_query_parser, add_search_parser

    add_search_parser(sub).set_defaults(func=cmd_search)
    add_query_parser(sub).set_defaults(func=cmd_query)
    add_hunt_parser(sub).set_defaults(func=cmd_hunt)

    al = sub.add_parser("alerts", help="operate deliveries: retry now, or stop retrying")
    al_sub = al.add_subparsers(dest="action", required=True)
    for name, text in (
        ("redeliver", "make a failed or cancelled delivery due at the next dispatch"),
        ("cancel", "stop retrying a delivery (the output is gone, or the ticket was opened by hand)"),
    ):
        a = al_sub.add_parser(name, help=text)
        a.add_argument("key", help="alert key (mamori status, or the ticket's mamori:<key> label)")
        a.add_argument(
            "--output", help="one output (github, pagerduty, slack, local); default: all of the alert"
        )
    al.set_defaults(func=cmd_alerts)

    inc = sub.add_parser(
        "incidents", help="alerts grouped by the entities they share (principal, IP, key, ...)"
    )
    inc_sub = inc.add_subparsers(dest="action", required=True)
    inc_list = inc_sub.add_parser("list", help="incidents with severity, reason, shared entities and alerts")
    inc_list.add_argument(
        "--open", action="store_true", help="only incidents not closed, with an alert still open"
    )
    inc_show = inc_sub.add_parser("show", help="one incident: its alerts' timeline and its triage record")
    inc_show.add_argument("id", help="incident id, or a unique prefix of it (6+ characters)")
    for name, text in (
        ("ack", "acknowledge: someone is on it (recorded with who and when)"),
        ("close", "close with a verdict, which its alerts get as their resolution"),
        ("reopen", "reopen a closed incident: its alerts are open again"),
    ):
        tr = inc_sub.add_parser(name, help=text)
        tr.add_argument("id", help="incident id, or a unique prefix of it (6+ characters)")
        if name == "close":
            tr.add_argument(
                "--verdict", help="true-positive, benign-true-positive or false-positive (_ works too)"
            )
        tr.add_argument("--note", help="why, for whoever reads the incident's record")
        tr.add_argument("--as", dest="actor", help="who does it (default: $USER)")
    inc.set_defaults(func=cmd_incidents)

    db = sub.add_parser("db", help="the alert ledger's schema: migrations (run at every open, or here)")
    db_sub = db.add_subparsers(dest="action", required=True)
    db_sub.add_parser(
        "upgrade", help="migrate the ledger to the newest schema, keeping every alert and delivery"
    )
    db_sub.add_parser("current", help="print the ledger's schema revision")
    db.set_defaults(func=cmd_db)

    qual = sub.add_parser("quality", help="data quality and freshness of the lake")
    qual_sub = qual.add_subparsers(dest="action", required=True)
    qrep = qual_sub.add_parser("report", help="expectations passed/failed per source, freshness per stream")
    qrep.add_argument("--from", dest="start", help="first window start (default: all windows)")
    qrep.add_argument(
        "--to", dest="end", help="end of the range and of the freshness window (default: latest)"
    )
    qual.set_defaults(func=cmd_quality)
    return p


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        # `mamori detections list | head` should end quietly, like any Unix tool. Only for the real command:
        # a process calling main() as a library (tests, a server) must keep Python's EPIPE errors instead of
        # being killed by the next write to a closed socket.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    _embedded_env()
    args = build_parser().parse_args(argv)
    try:
        if args.command not in ("up", "down", "demo"):  # demo runs in-process on its own SQLite files
            from mamori.dev import local

            local.attach_env(Path(os.environ["AIRFLOW_HOME"]))
        rc: int = args.func(args)
    except Exception as exc:
        # The one error boundary: a mistyped header, a bad setting or SQL that does not parse is the
        # user's to fix, and one line (file:line, or the variable's name) says what; the traceback around
        # it only hides that line. `mamori --debug ...` keeps it for whoever debugs mamori itself.
        if not _is_ours(exc):
            raise
        if args.debug:
            traceback.print_exc()
            return 2
        print(
            _one_line(exc)
            if getattr(exc, "line", None) or getattr(exc, "path", None)
            else f"mamori {args.command}: {_one_line(exc)}",
            file=sys.stderr,
        )
        return 2
    return rc


if __name__ == "__main__":
    sys.exit(main())
