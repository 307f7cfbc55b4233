"""Landing → ticket latency on a running local Airflow, story step by story step (issue 19).

    git clone . /tmp/mamori-lat && make -C /tmp/mamori-lat venv
    .venv/bin/python bench/latency.py /tmp/mamori-lat --minutes 40 --cadence 15

Starts the checkout's own `mamori up --no-generate` (real scheduler, embedded database) with fresh homes on a
free port and the cadence given, then plays the generators' logs in real time. Six copies of every source's
six-hour story, each under two accounts of its own and starting an hour earlier than the last (so a story step
falls about every 10 minutes), are generated up front; each raw object is written into the raw store at the
wall-clock moment the generator says it lands (the sources' own delivery delays, 30 s to several minutes
after their period ends), for `--minutes`. Objects due before the start or after the end are never delivered,
so only story steps whose own object lands in the period are measured: before the first landing, the objects
around the period are parsed (the source's own parser) to find the one carrying each step's own event, a row
of the step's account and region at its time (bench/carriers.py; any row at that time would do for six copies
of every story, and timed steps from objects that did not hold them). Steps of the period whose own object
lands outside it are listed as not measured.

A step's latency is from the landing of the object holding its event to the delivery of its own alert to the
local ticket output, for each detection the step names: the alert matched in the instance's ledger exactly as
the demo's ground-truth check matches it (its detection, the dedup values the step names: account, principal,
IP, ...; its dedup window covering the step's time), and the moment its `local` delivery was first seen
`delivered` (the ledger is polled every 2 s). An alert that joined an incident is delivered with the incident's
ticket; one deduplicated into an alert already open counts from that alert's delivery, never before the landing.
Steps whose alert is not delivered `--drain` minutes after the last landing are reported as missed. Also
printed, for comparison with the rows measured before the matching went through the ledger: the first ticket
file of any alert of the detection after the landing. Prints p50/p95/max and one line per step; `--json`
writes every figure. A development tool: nothing in mamori imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: bench/ is not installed
from bench._instance import Instance, LoadSampler
from bench.carriers import EventRow, Generated, in_period, step_carriers

COPIES = 6


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkout", type=Path, help="a clone with its venv (make venv), never started before")
    p.add_argument("--minutes", type=float, default=40, help="landing period (default 40)")
    p.add_argument("--drain", type=float, default=40, help="minutes to wait for tickets after (default 40)")
    p.add_argument("--cadence", type=int, default=None, help="ingest and detect interval in minutes")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    cadence = (
        {
            "MAMORI_INGEST_INTERVAL_MINUTES": str(args.cadence),
            "MAMORI_DETECT_INTERVAL_MINUTES": str(args.cadence),
        }
        if args.cadence
        else {}
    )
    inst = Instance(args.checkout, **cadence)
    if (why := inst.used()) is not None:
        print(why, file=sys.stderr)
        return 2
    checkout, env, mamori = inst.checkout, inst.env, inst.mamori
    loads = LoadSampler().start()
    t_up = time.time()
    up = subprocess.run(  # noqa: S603 - the checkout's own mamori, given by the person running this
        [mamori, "up", "--no-generate"], cwd=checkout, env=env, capture_output=True, text=True, check=False
    )
    if up.returncode != 0:
        print(f"mamori up exit {up.returncode}:\n{(up.stderr or up.stdout).strip()}", file=sys.stderr)
        return 1
    up_s = time.time() - t_up
    try:
        return _measure(args, env, inst.mamori_home, inst.airflow_home, up_s, loads)
    finally:
        loads.stop()
        down = subprocess.run(  # noqa: S603 - as above
            [mamori, "down"], cwd=checkout, env=env, capture_output=True, text=True, check=False
        )
        print(f"mamori down exit {down.returncode}")


def _measure(
    args: argparse.Namespace,
    env: dict[str, str],
    mamori_home: Path,
    airflow_home: Path,
    up_s: float,
    loads: LoadSampler,
) -> int:
    os.environ.update(env)  # the raw store and settings of the instance under test
    from mamori.alerts.ledger import Ledger
    from mamori.config import load_settings
    from mamori.detections.loader import load_catalog
    from mamori.dev.demo import own_alerts
    from mamori.dev.generate import demo_sources, get_generator
    from mamori.dev.local import attach_env
    from mamori.lake import Store
    from mamori.sources import get_source

    settings = load_settings()
    raw = Store(settings.raw_url, settings.raw_conn_id)
    source_of = {d.id: d.header.log_source for d in load_catalog(settings.sql_dir)}
    now = datetime.now(UTC)
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    objects: list[Generated] = []
    steps: list[tuple[str, Any]] = []
    # One story per copy: each copy's six hours start an hour earlier than the last one's, under accounts of
    # its own (so no two copies share an alert), which puts a story step every ~10 minutes into any period
    # instead of one every ~40 (a story spaces its steps over its range).
    for k in range(1, COPIES + 1):
        accounts = (f"{333333333330 + k}", f"{444444444440 + k}")
        for name in demo_sources():
            gen = get_generator(name)
            assert gen is not None

            def put(key: str, data: bytes, landed: datetime, name: str = name) -> None:
                objects.append(Generated(landed, name, key, data))

            copy_start = start - timedelta(hours=k)
            steps += [
                (name, st) for st in gen(put, copy_start, hours=6, seed=args.seed + k, accounts=accounts)
            ]

    def rows_of(o: Generated) -> list[EventRow]:
        src = get_source(o.source)
        rk = src.classify(o.key)
        if rk is None or rk.kind != "events":
            return []
        return [
            EventRow(t.timestamp(), part.account, part.region)
            for part, row in src.parse_object(rk, o.data).rows
            if isinstance(t := row.get("event_time"), datetime)
        ]

    # Which object carries each step's own event, before the first landing (no parse inside the landing loop,
    # where it delayed the objects due next). Only steps from an hour before the start on can have their object
    # land in the period, and only objects landing up to two hours around it can carry them: the rest is not
    # parsed (six copies of every story, ~12,000 objects).
    now = datetime.now(UTC)
    near = [
        (n, st)
        for n, st in steps
        if now - timedelta(hours=1) <= st.time < now + timedelta(minutes=args.minutes)
    ]
    span = (now - timedelta(hours=2), now + timedelta(minutes=args.minutes, hours=2))
    carried = step_carriers(
        near, [o for o in objects if span[0] <= o.landed < span[1]], rows_of, set(source_of)
    )
    t0 = datetime.now(UTC)
    t_end = t0 + timedelta(minutes=args.minutes)
    measured = [(m.step, m.detection, m.key) for m in in_period(carried, t0, t_end)]
    # Steps of the period whose own object lands outside it are never written: no alert can be expected of them.
    outside = [m for m in carried if not t0 <= m.landed < t_end and t0 <= m.step.time < t_end]
    due = sorted((o for o in objects if t0 <= o.landed < t_end), key=lambda o: (o.landed, o.key))
    print(f"mamori up in {up_s:.0f} s; landing {len(due)} objects from {t0:%H:%M:%S} to {t_end:%H:%M:%S} UTC")
    for m in outside:
        print(
            f"  not measured: {m.step.time:%H:%M:%S} {m.detection} ({m.step.account} {m.step.region}): its own object"
            f" lands {m.landed:%H:%M:%S}, {'before' if m.landed < t0 else 'after'} the landing period ({m.key})"
        )
    landed_at: dict[str, float] = {}
    tickets_seen: dict[str, float] = {}
    tickets = mamori_home / "outbox" / "tickets"

    def poll_tickets() -> None:
        for path in tickets.glob("*/*.md"):
            if not path.name.startswith("."):
                tickets_seen.setdefault(f"{path.parent.name}/{path.name}", time.time())

    # The instance's ledger URL (mamori up's embedded PostgreSQL). Checked: this process runs another venv's
    # code, whose PostgreSQL binary is not the one serving the clone, so attach_env could not see it running.
    attach_env(airflow_home, os.environ, instance_checked=True)
    ledger_url = load_settings().ledger_url
    if not ledger_url.startswith("postgresql"):
        raise SystemExit(f"not the instance's ledger ({ledger_url.split(':', 1)[0]}): {airflow_home}")
    ledger = Ledger(ledger_url)
    first_delivered: dict[str, float] = {}  # alert key -> when its local delivery was first seen delivered
    alerts_now: list[Any] = []

    def delivered_at() -> dict[str, float]:
        now = time.time()
        alerts_now[:] = ledger.alerts()
        for d in ledger.deliveries():
            if d["output"] == "local" and d["state"] == "delivered":
                first_delivered.setdefault(d["alert_key"], now)
        return first_delivered

    for o in due:
        while (wait := (o.landed - datetime.now(UTC)).total_seconds()) > 0:
            poll_tickets()
            delivered_at()  # deliveries during the landing period are timed when they happen, not at its end
            time.sleep(min(wait, 2))
        raw.write_atomic(o.key, o.data)
        landed_at[o.key] = time.time()

    deadline = time.time() + args.drain * 60
    results: dict[tuple[str, str], float] = {}  # through the ledger: the step's own alert delivered
    any_ticket: dict[tuple[str, str], float] = {}  # before: the first ticket of any alert of the detection
    while time.time() < deadline:
        poll_tickets()
        seen = delivered_at()
        for st, det, key in measured:
            after = [
                t for k, t in tickets_seen.items() if k.startswith(det + "/") and t >= landed_at[key] - 5
            ]
            if after:
                any_ticket[(st.time.isoformat(), det)] = min(after) - landed_at[key]
            own = [seen[a.key] for a in own_alerts(st, det, alerts_now) if a.key in seen]
            if own:
                results[(st.time.isoformat(), det)] = max(min(own), landed_at[key]) - landed_at[key]
        if len(results) == len(measured):
            break
        time.sleep(2)
    lat = [v / 60 for v in results.values()]
    missed = [
        (st.time.isoformat(), det) for st, det, _ in measured if (st.time.isoformat(), det) not in results
    ]
    load = loads.summary()
    cadence = args.cadence or "default"
    if lat:
        print(
            f"cadence {cadence}: {len(lat)} step detections ticketed, {len(missed)} missed; landing → ticket"
            f" p50 {statistics.median(lat):.1f} min, p95 {_pct(lat, 0.95):.1f} min, max {max(lat):.1f} min;"
            f" load average min/mean/max {load}"
        )
        anyt = [v / 60 for v in any_ticket.values()]
        if anyt:
            print(
                f"  before the ledger matching (first ticket of any alert of the detection): {len(anyt)} ticketed;"
                f" p50 {statistics.median(anyt):.1f} min, p95 {_pct(anyt, 0.95):.1f} min, max {max(anyt):.1f} min"
            )
    else:
        print(f"cadence {cadence}: no step ticketed ({len(missed)} missed); load {load}")
    for st, det, key in measured:
        v = results.get((st.time.isoformat(), det))
        print(
            f"  {st.time:%H:%M:%S} {det} ({st.account} {st.region}): "
            + (f"{v / 60:.1f} min" if v is not None else "missed")
            + f" ({key})"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "up_s": up_s,
                    "cadence": cadence,
                    "landed": len(due),
                    "latency_minutes": {f"{k[0]} {k[1]}": v / 60 for k, v in results.items()},
                    "any_ticket_minutes": {f"{k[0]} {k[1]}": v / 60 for k, v in any_ticket.items()},
                    "missed": [" ".join(m) for m in missed],
                    "not_measured": [f"{m.step.time.isoformat()} {m.detection} {m.key}" for m in outside],
                    "load": loads.loads,
                },
                indent=1,
            )
        )
    return 0 if lat else 1


if __name__ == "__main__":
    sys.exit(main())
