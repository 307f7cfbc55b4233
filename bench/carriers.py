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
    """A step's detection to time, from the landing of `key` (the object carrying the step's event)."""

    step: Any  # the generator's AttackStep: time, account, region, detections
    detection: str
    key: str


def _carrier(rows: list[tuple[float, str]], t: float) -> str | None:
    """The landed object holding a row at the step's time (to the second), else the first one holding a row in
    the 5 minutes after it (flow records and log lines can carry a window's start, not the exact second)."""
    exact = [k for et, k in rows if abs(et - t) < 1]
    if exact:
        return exact[0]
    near = sorted((et, k) for et, k in rows if t <= et < t + 300)
    return near[0][1] if near else None


def measured_steps(
    steps: Iterable[tuple[str, Any]],
    objects: Iterable[Generated],
    t0: datetime,
    t_end: datetime,
    rows_of: Callable[[Generated], list[EventRow]],
    detections: set[str],
) -> list[Measured]:
    """The (step, detection, carrier) triples the bench times: steps of `(source, step)` whose event is in an
    object landed in [t0, t_end), for each of their detections in `detections` (the catalog's)."""
    rows: dict[str, list[tuple[float, str]]] = {}
    for o in sorted(objects, key=lambda o: (o.landed, o.key)):  # landing order, as the bench lands them
        if t0 <= o.landed < t_end:
            rows.setdefault(o.source, []).extend((r.time, o.key) for r in rows_of(o))
    out = []
    for name, st in steps:
        carrier = _carrier(rows.get(name, []), st.time.timestamp())
        if carrier is None:
            continue  # its event was due before the start or after the landing period
        out += [Measured(st, det, carrier) for det in st.detections if det in detections]
    return out
