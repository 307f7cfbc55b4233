"""bench/latency.py times a story step from the landing of the object that carries the step's *own* event, and
measures only steps whose own object it landed (issue 19, the latency bench's "missed" steps).

The cases are the bench runs that reported alerts never delivered (/tmp/lat-c4.out, /tmp/lat-c3.out): each
copy's story regenerated exactly as the bench generates it (start = the next full hour at launch, copy k an
hour earlier per k, seed 7 + k, accounts 33333333333k and 44444444444k), with that run's landing period. Each
step's own event was in an object that landed *outside* the period, so the bench never wrote it to the raw
store, yet a row of another account or region at (or just after) the step's time in a landed object was taken
for its carrier: the step was measured and then reported as an alert never delivered."""

from __future__ import annotations

import functools
import importlib.util
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mamori.dev.generate import get_generator
from mamori.sources import get_source

REPO = Path(__file__).resolve().parents[2]


def _load_carriers() -> Any:
    """bench/ is not a package on the test path: load its module by file (it imports nothing of bench)."""
    spec = importlib.util.spec_from_file_location("bench_carriers", REPO / "bench" / "carriers.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses resolve their module's annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


carriers = _load_carriers()


@functools.cache
def _rows_of(o: Any) -> list[Any]:
    """bench/latency.py's parse: every row's event time, account and region, by the source's own parser (once
    per object: the cases share their copies)."""
    src = get_source(o.source)
    rk = src.classify(o.key)
    if rk is None or rk.kind != "events":
        return []
    return [
        carriers.EventRow(t.timestamp(), part.account, part.region)
        for part, row in src.parse_object(rk, o.data).rows
        if isinstance(t := row.get("event_time"), datetime)
    ]


@functools.cache
def _copies(source: str, start: str, ks: tuple[int, ...]) -> tuple[list[tuple[str, Any]], list[Any]]:
    """Copies `ks` of one source's story, as bench/latency.py generates them (the bench's start: `start`)."""
    objects: list[Any] = []
    steps: list[tuple[str, Any]] = []
    gen = get_generator(source)
    assert gen is not None

    def put(key: str, data: bytes, landed: datetime) -> None:
        objects.append(carriers.Generated(landed, source, key, data))

    for k in ks:
        accounts = (f"{333333333330 + k}", f"{444444444440 + k}")
        copy_start = _at(start, DAY) - timedelta(hours=k)
        steps += [(source, st) for st in gen(put, copy_start, hours=6, seed=7 + k, accounts=accounts)]
    return steps, objects


def _at(hms: str, day: datetime) -> datetime:
    return datetime.fromisoformat(f"{day:%Y-%m-%d}T{hms}+00:00")


DAY = datetime(2026, 12, 6, tzinfo=UTC)
# (source, bench start, the copies that matter, landing period, the step's time and the detection the bench
# reported missed)
CASES = [
    # lat-c4: the own event is in ..._0605Z_... of 333333333333, landed 06:07:05, before the period began; the
    # bench took 444444444443's ..._0610Z_... (landed in the period) for it. Copy 4 has a step in the period.
    (
        "cloudtrail",
        "07:00:00",
        (3, 4),
        ("06:09:33", "06:39:33"),
        "06:01:19",
        "cloudtrail_access_key_created_for_other_user",
    ),
    # lat-c3, the same step an hour earlier: own object landed 05:07:19; the bench took copy 2's 444444444442
    # ..._0510Z_... for it.
    (
        "cloudtrail",
        "06:00:00",
        (2, 3),
        ("05:11:32", "05:41:32"),
        "05:01:19",
        "cloudtrail_access_key_created_for_other_user",
    ),
    # lat-c4: 333333333332's us-east-1 log export of 06:40:09 (landed 06:40:18, after the period ended) carries
    # it; the bench took the account's eu-west-1 export of 06:35:22.
    ("cloudwatch", "07:00:00", (2,), ("06:09:33", "06:39:33"), "06:35:00", "syslog_new_local_user"),
    # lat-c3: the traversal requests are in 333333333332's us-east-1 ..._0540Z_... file, landed 05:44:20, after
    # the period ended; the bench took copy 1's 444444444441 file of 05:40 for it.
    ("alb", "06:00:00", (1, 2), ("05:11:32", "05:41:32"), "05:39:14", "alb_path_traversal"),
]


@pytest.mark.parametrize(("source", "start", "ks", "period", "hms", "detection"), CASES)
def test_a_step_whose_own_object_was_not_landed_is_not_measured(
    source: str, start: str, ks: tuple[int, ...], period: tuple[str, str], hms: str, detection: str
) -> None:
    steps, objects = _copies(source, start, ks)
    t0, t_end = (_at(p, DAY) for p in period)
    step = next(st for _, st in steps if f"{st.time:%H:%M:%S}" == hms and detection in st.detections)
    # The premise, from the generator: no object landed in the period holds the step's event.
    own = [
        o
        for o in objects
        if any(
            r.account == step.account and r.region == step.region and abs(r.time - step.time.timestamp()) < 1
            for r in _rows_of(o)
        )
    ]
    assert own and not any(t0 <= o.landed < t_end for o in own)

    measured = carriers.measured_steps(steps, objects, t0, t_end, _rows_of, {detection})
    assert [(m.step.time, m.key) for m in measured if m.step == step] == []


@pytest.mark.parametrize(("source", "start", "ks", "period", "hms", "detection"), CASES)
def test_every_measured_step_is_timed_from_an_object_carrying_its_own_event(
    source: str, start: str, ks: tuple[int, ...], period: tuple[str, str], hms: str, detection: str
) -> None:
    steps, objects = _copies(source, start, ks)
    t0, t_end = (_at(p, DAY) for p in period)
    landed = {o.key: o for o in objects if t0 <= o.landed < t_end}
    detections = {d for _, st in steps for d in st.detections}

    measured = carriers.measured_steps(steps, objects, t0, t_end, _rows_of, detections)
    assert measured  # each case's period holds other steps of the same copy
    for m in measured:
        assert m.key in landed, f"{m.step.time} {m.detection}: {m.key} was not landed"
        rows = _rows_of(landed[m.key])
        t = m.step.time.timestamp()
        assert any(
            r.account == m.step.account and r.region == m.step.region and t <= r.time + 1 and r.time < t + 300
            for r in rows
        ), (
            f"{m.step.time} {m.detection}: {m.key} holds no row of {m.step.account} {m.step.region} at its time"
        )
