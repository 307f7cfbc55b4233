"""Which landed object carries a story step's event, and so which steps bench/latency.py measures.

Kept apart from latency.py (which starts an instance) so the choice can be tested on the generators' own output
without one. A development tool: nothing in mamori imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Generated:
    """One raw object a generator wrote, with the wall-clock moment it lands."""

    landed: datetime
    source: str
    key: str
    data: bytes


@dataclass(frozen=True)
class EventRow:
    """What the carrier choice needs of one parsed row: when and where its event happened."""

    time: float  # epoch seconds
    account: str
    region: str


@dataclass(frozen=True)
class Measured:
    """A step's detection to time, from the landing (`landed`) of `key`: the object carrying the step's own
    event."""

    step: Any  # the generator's AttackStep: time, account, region, detections
    detection: str
    key: str
    landed: datetime


NEAR = 300.0  # seconds after the step's time a carrying row may be (flow records carry their window's start)


def _own_carrier(rows: list[tuple[float, int, Generated]], t: float) -> Generated | None:
    """Of the objects holding rows of the step's account and region (`rows`: event time, landing order,
    object), the one whose row is at the step's time (to the second; the closest if several), else the first
    holding a row in the `NEAR` seconds after it (flow records and log lines can carry a window's start, not
    the exact second)."""
    exact = [(abs(et - t), i, o) for et, i, o in rows if abs(et - t) < 1]
    if exact:
        return min(exact, key=lambda e: e[:2])[2]
    near = [(et, i, o) for et, i, o in rows if t <= et < t + NEAR]
    return min(near, key=lambda e: e[:2])[2] if near else None


def step_carriers(
    steps: Iterable[tuple[str, Any]],
    objects: Iterable[Generated],
    rows_of: Callable[[Generated], list[EventRow]],
    detections: set[str],
) -> list[Measured]:
    """Every `(source, step)`'s detections in `detections` (the catalog's) with the object carrying the step's
    own event, wherever that object lands (before, in or after the bench's landing period).

    The carrier is looked for among *every* generated object and only in rows of the step's own account and
    region: six copies of each story run side by side, so a row at the same second (or in the minutes after)
    is routinely another copy's background or another region's, and taking it for the step's event times the
    step from an object that does not hold it (issue 19: the bench reported alerts never delivered for steps
    whose own object it had never written).
    """
    steps = list(steps)
    wanted = {(name, st.account, st.region) for name, st in steps}
    rows: dict[tuple[str, str, str], list[tuple[float, int, Generated]]] = {}
    for i, o in enumerate(sorted(objects, key=lambda o: (o.landed, o.key))):  # landing order breaks ties
        for r in rows_of(o):
            if (o.source, r.account, r.region) in wanted:
                rows.setdefault((o.source, r.account, r.region), []).append((r.time, i, o))
    out = []
    for name, st in steps:
        carrier = _own_carrier(rows.get((name, st.account, st.region), []), st.time.timestamp())
        if carrier is not None:
            out += [
                Measured(st, det, carrier.key, carrier.landed) for det in st.detections if det in detections
            ]
    return out


def in_period(carried: Iterable[Measured], t0: datetime, t_end: datetime) -> list[Measured]:
    """The step detections the bench times: those whose own object lands in [t0, t_end), the landing period. A
    step whose own object lands before or after it is never written to the raw store, so no alert can be
    expected of it."""
    return [m for m in carried if t0 <= m.landed < t_end]


def measured_steps(
    steps: Iterable[tuple[str, Any]],
    objects: Iterable[Generated],
    t0: datetime,
    t_end: datetime,
    rows_of: Callable[[Generated], list[EventRow]],
    detections: set[str],
) -> list[Measured]:
    """`in_period` of `step_carriers`: what bench/latency.py measures of these steps and objects."""
    return in_period(step_carriers(steps, objects, rows_of, detections), t0, t_end)
