"""All window math in one place: schedule intervals, ingest and detection windows, tags, hour floors.

Every stage (ingest, detect, health, compaction, backfill, status, the CLI) asks this module how windows relate,
so a cadence change is a change here (and in config), not in every file that once did its own arithmetic.

The vocabulary, all in UTC (no time zone with daylight saving ever enters: a window is a span of the epoch):

- A *data interval* [start, end) is what Airflow hands a run. Airflow 3 names a manual run by its `run_after`,
  which for these timetables is the interval's end: `run_dates` gives those.
- An *ingest window* is a landing-time window: the objects whose S3 LastModified falls in it. It is the ingest
  run's data interval, `ingest_interval` long.
- A *detection window* is an event-time window: the detect run's data interval shifted back by the detection
  lag (`detection_window`), so deliveries of its events have landed and been ingested by the time it runs.
- Lake partitions are hourly whatever the cadence (`hours_touched`); a window writes into every hour it holds
  events of, under file names carrying its `window_tag`, so windows never overwrite each other's files and a
  re-run of a window overwrites exactly its own.
- Intervals divide an hour or are a whole number of hours that divides a day (`interval_problem`), so every
  window boundary is aligned to the epoch, every run agrees on it, and no window straddles two hour partitions
  unevenly from one day to the next.

This module is a foundation: it imports nothing from mamori and nothing from Airflow at import time (tests/unit
import it); `timetable` imports Airflow only when called, at DAG-parse time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.timetables.interval import CronDataIntervalTimetable

WINDOW_TAG_FORMAT = "%Y%m%dT%H%MZ"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)  # the last instant of a half-open window [start, end) is end - TICK

# The cadences a deployment may choose, in minutes: divisors of an hour, or whole hours that divide a day.
ALLOWED_MINUTES = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440)


@dataclass(frozen=True)
class Window:
    """A half-open span [start, end) of UTC time."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty window [{self.start.isoformat()}, {self.end.isoformat()})")

    @property
    def last(self) -> datetime:
        """The last instant inside the window (for inclusive ranges such as a candidate's last_seen)."""
        return self.end - TICK


# -- cadence -----------------------------------------------------------------------------------------------
def interval_problem(minutes: int) -> str | None:
    """Why `minutes` cannot be a cadence (None when it can): it must tile hours and days exactly, so that
    windows are epoch-aligned and every hour partition is written by whole windows."""
    if minutes in ALLOWED_MINUTES:
        return None
    return (
        "must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) or be whole hours that divide a day "
        "(60, 120, 180, 240, 360, 480, 720, 1440)"
    )


def cron(interval: timedelta) -> str:
    """The cron expression whose ticks are exactly the epoch-aligned boundaries of `interval`."""
    minutes = _minutes(interval)
    if minutes < 60:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    hours = minutes // 60
    if hours == 24:
        return "0 0 * * *"
    return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"


def timetable(interval: timedelta) -> CronDataIntervalTimetable:
    """The Airflow timetable of a cadence: a real data interval [start, end) of `interval` (Airflow 3's plain
    cron presets have a zero-length one). Airflow is imported here, not at module import, for tests/unit."""
    from airflow.timetables.interval import CronDataIntervalTimetable

    return CronDataIntervalTimetable(cron(interval), timezone="UTC")


def poke_interval(interval: timedelta) -> timedelta:
    """How often detect's sensor checks the lake unless MAMORI_DETECT_POKE_SECONDS says: a tenth of the detect
    interval, at least 30 s (each poke of a reschedule-mode sensor is a task process) and at most 2 minutes.
    A fixed 2 minutes was fine for hourly windows; at 5 minutes it would add up to 40% of a window to the
    wait between the last ingest window and the rules (5 min: 30 s, 10 min: 60 s, 20 min and up: 120 s)."""
    return min(max(interval / 10, timedelta(seconds=30)), timedelta(minutes=2))


def _minutes(interval: timedelta) -> int:
    minutes, rest = divmod(interval, timedelta(minutes=1))
    if rest or interval_problem(minutes) is not None:
        raise ValueError(
            f"{interval} is not a cadence mamori supports: {interval_problem(minutes) or 'whole minutes'}"
        )
    return int(minutes)


# -- alignment ---------------------------------------------------------------------------------------------
def utc(t: datetime) -> datetime:
    """t as a plain `datetime` in UTC (naive means UTC, as everywhere in mamori). Airflow hands tasks pendulum
    DateTimes, whose differences do not divide by a `timedelta`: arithmetic here runs on plain ones."""
    u = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return datetime(u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond, tzinfo=UTC)


def floor(t: datetime, step: timedelta) -> datetime:
    """The start of the epoch-aligned `step` containing t (in UTC): dedup buckets, run starts, hour floors."""
    return EPOCH + ((utc(t) - EPOCH) // step) * step


def hour_floor(t: datetime) -> datetime:
    """The hour partition an instant belongs to."""
    return floor(t, HOUR)


def day_floor(t: datetime) -> datetime:
    """UTC midnight of the day an instant belongs to."""
    return floor(t, DAY)


def is_aligned(t: datetime, step: timedelta) -> bool:
    return (utc(t) - EPOCH) % step == timedelta(0)


def bucket_start(t: datetime, period: timedelta) -> datetime:
    """The aligned dedup window containing t (aligned to the epoch, so every run agrees on it whatever its
    own window): the third part of an alert key."""
    return floor(t, period)


def partition_hour(dt: str, hour: str) -> datetime:
    """The start of a lake partition from its `dt=YYYY-MM-DD` and `hour=HH` values."""
    return datetime.fromisoformat(f"{dt}T{hour}:00:00+00:00")


# -- ranges ------------------------------------------------------------------------------------------------
def window_starts(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Starts of the `step` windows that tile [start, end), oldest first."""
    out, t = [], start
    while t < end:
        out.append(t)
        t += step
    return out


def run_dates(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Marks in (start, end]: the logical dates (Airflow 3's run_after = data interval end) of the runs whose
    `step` windows tile [start, end). What the demo, the e2e tests and `mamori up` hand to `dag.test()`."""
    return [t + step for t in window_starts(start, end, step)]


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """Hour marks in (start, end], the logical dates of hourly runs whose windows tile [start, end)."""
    return run_dates(start, end, HOUR)


def recent_starts(end: datetime, interval: timedelta, count: int) -> list[datetime]:
    """The starts of the `count` windows ending at `end`, oldest first (health's history)."""
    return [end - interval * k for k in range(count, 0, -1)]


def hours_touched(start: datetime, end: datetime) -> list[datetime]:
    """Every hour partition that can hold an event of [start, end): a 15-minute window touches one, a window
    crossing an hour edge two, a day's window 24."""
    if end <= start:
        raise ValueError(f"empty window [{start}, {end})")
    return window_starts(hour_floor(start), end, HOUR)


def partitions_touched(start: datetime, end: datetime) -> dict[str, list[str]]:
    """{dt: [HH, ...]} of `hours_touched`, in order: the partition filter of a window."""
    out: dict[str, list[str]] = {}
    for t in hours_touched(start, end):
        out.setdefault(t.strftime("%Y-%m-%d"), []).append(t.strftime("%H"))
    return out


# -- the pipeline's windows --------------------------------------------------------------------------------
def ingest_window(data_start: datetime, data_end: datetime) -> Window:
    """The landing-time window an ingest run reads: its data interval, as it is."""
    return Window(data_start, data_end)


def event_window(run_after: datetime, interval: timedelta) -> Window:
    """The landing window an event-triggered ingest run (an S3 notification on the SQS queue, issue 19) reads:
    the most recent *closed* `interval` window at its `run_after`, [floor(run_after) - interval, floor(run_after)).

    Airflow gives an asset-triggered run no data interval (logical date and data interval are None; only
    `run_after`, when the scheduler saw the queued event), so the window comes from `run_after` alone: a re-run
    of the same run reads the same window, and it is exactly the window of the scheduled run that closed last,
    so the two write the same files (a window's files are a function of the window). The open window is never
    read: objects may still land in it, and reading it would make a window's result depend on when it ran.
    """
    end = floor(run_after, interval)
    return Window(end - interval, end)


def detection_window(data_start: datetime, data_end: datetime, lag: timedelta) -> Window:
    """The event-time window a detect run evaluates: its data interval shifted back by the detection lag."""
    return Window(data_start - lag, data_end - lag)


def reread_windows(overlap: timedelta, interval: timedelta) -> int:
    """How many detection windows before its own a detect run evaluates again: the lookback overlap in whole
    detection windows, rounded up (a window is re-read whole, so its ledger contribution is replaced whole)."""
    if overlap < timedelta(0):
        raise ValueError(f"negative overlap {overlap}")
    return -(-overlap // interval)


def first_lag(lag: timedelta, early: timedelta | None) -> timedelta:
    """How far a source's own (first) detection window trails the run's data interval: `early` (the
    deployment's first lag) when set, never more than the source's delivery lag; None = the delivery lag
    itself (one evaluation at the lag, the re-reads covering only the overlap)."""
    return lag if early is None else min(early, lag)


def reread_span(
    lag: timedelta, overlap: timedelta, interval: timedelta, early: timedelta | None = None
) -> timedelta:
    """How much event time before its own window a detect run evaluates again: whole windows covering what the
    first lag leaves of the delivery lag, plus the overlap. A window is then last evaluated `lag + overlap`
    (rounded up to windows) after it ends, wherever its first evaluation was: an early first look changes
    when an alert can fire, not which late deliveries are still evaluated."""
    return reread_windows(lag - first_lag(lag, early) + overlap, interval) * interval


def detection_windows(
    data_start: datetime,
    data_end: datetime,
    lag: timedelta,
    overlap: timedelta,
    early: timedelta | None = None,
) -> list[Window]:
    """The detection windows a detect run evaluates for a source with delivery lag `lag`, oldest first: its
    own, last, trailing the data interval by `first_lag(lag, early)`, and before it the windows of
    `reread_span` (deliveries that land after a window's first evaluation, up to the lag plus the overlap, are
    evaluated by the first run after they are ingested). Each is exactly the window an earlier run evaluated
    as its own, so re-reading one replaces that window's ledger contribution instead of adding a second one:
    an event seen by the first look and again by every re-read counts once."""
    start, end = utc(data_start), utc(data_end)
    interval = end - start
    k = reread_span(lag, overlap, interval, early) // interval
    first = first_lag(lag, early)
    return [detection_window(start - interval * j, end - interval * j, first) for j in range(k, -1, -1)]


def ingest_windows_needed(
    data_start: datetime, data_end: datetime, ingest_interval: timedelta
) -> list[datetime]:
    """Starts of the ingest windows a detect run waits for: those that cover the landing times of its data
    interval [data_start, data_end) (the ingest windows that exist at this cadence, so the wait always ends).

    Hourly ingest and detection: the one window ending at the run's end. 15-minute ingest under hourly
    detection: the four that tile the hour. Hourly ingest under 15-minute detection: the hour containing it.
    """
    return window_starts(floor(data_start, ingest_interval), data_end, ingest_interval)


def detect_runs_over(
    event_start: datetime, event_end: datetime, detect_interval: timedelta, lag: timedelta
) -> list[datetime]:
    """Data-interval starts of the detect runs whose detection windows overlap the events [event_start,
    event_end): what must run again when late rows arrive there."""
    first = floor(event_start + lag, detect_interval)
    return window_starts(first, event_end + lag, detect_interval)


def late_horizon(ingest_start: datetime, lag: timedelta, reread: timedelta = timedelta(0)) -> datetime:
    """Events before this were already evaluated by detection when the ingest window starting at
    `ingest_start` ran: the earliest detection window still to run (or to be re-read within the lookback
    overlap, `reread` = the re-read windows' length) waits for this ingest window."""
    return ingest_start - lag - reread


def run_sequence(
    start: datetime, end: datetime, ingest_interval: timedelta, detect_interval: timedelta
) -> list[tuple[str, datetime]]:
    """("ingest" | "detect", data-interval start) in an order that replays the schedule over [start, end):
    each detect run right after the last ingest window it waits for (`ingest_windows_needed`), as the sensor
    would release it (backfill). Same cadence: ingest t, detect t, ingest t + interval, ...
    """
    steps = [(t + ingest_interval, 0, "ingest", t) for t in window_starts(start, end, ingest_interval)]
    steps += [
        (ingest_windows_needed(t, t + detect_interval, ingest_interval)[-1] + ingest_interval, 1, "detect", t)
        for t in window_starts(start, end, detect_interval)
    ]
    return [(kind, t) for _, _, kind, t in sorted(steps)]


# -- deadlines --------------------------------------------------------------------------------------------
def detect_due(data_end: datetime, budget: timedelta) -> datetime:
    """When the detect run whose data interval ends at `data_end` must have recorded its window's result.

    The run may start at `data_end` (its detection window ended `lag` before that, so this is window end + lag
    + budget, or window start + interval + lag + budget); `budget` covers the ingest wait and the rules.
    """
    return data_end + budget


def detect_runs_due(
    start: datetime, end: datetime, detect_interval: timedelta, budget: timedelta
) -> list[datetime]:
    """Data-interval starts of the detect runs whose due time (`detect_due`) falls in [start, end), oldest first.

    Each run is due in exactly one window of any tiling, so a check over consecutive windows judges every
    detection window once, and a re-run of one check judges the same ones again."""
    first = floor(start - budget, detect_interval)  # data-interval *ends* are the aligned marks
    ends = [t for t in window_starts(first, end - budget, detect_interval) if t >= start - budget]
    return [t - detect_interval for t in ends]


@dataclass(frozen=True)
class DeadlineMiss:
    """A detection window whose result was not recorded by its due time: `recorded_at` is when it was (None:
    not yet)."""

    window: Window  # the detection window (event time)
    data_start: datetime  # the detect run's data interval start
    due: datetime
    recorded_at: datetime | None


def missed_deadlines(
    check_start: datetime,
    check_end: datetime,
    now: datetime,
    detect_interval: timedelta,
    lag: timedelta,
    budget: timedelta,
    recorded: Mapping[datetime, datetime],
    live_since: datetime | None,
) -> list[DeadlineMiss]:
    """The detection windows due in the check's own data interval [check_start, check_end) (and by `now`) whose
    result was not recorded by their due time.

    `recorded` maps a detection window's start to when its result was first recorded (wall clock, kept from the
    first evaluation: re-runs and backfills do not move it). `live_since` is the start of the first detection
    window a *scheduled* detect run evaluated (None: the scheduler has never run detect).

    Why the judgement cannot trip on replays (the demo's `dag.test()` runs, `mamori backfill`, `mamori up`'s
    catch-up runs): they evaluate windows long after their due time by design, so a window counts only from
    `live_since` on, the first window the scheduler itself was responsible for. Before the scheduler ever ran
    detect (the demo) nothing is judged; windows older than the scheduler's first (catch-up runs, backfills of
    history) are never judged; windows from then on were recorded when the scheduler evaluated them, and a
    later backfill of them does not move their first record. Which windows a check judges depends on its data
    interval (the wall clock only holds back a window not due yet), so a re-run, or a replay of the check,
    judges the same windows and finds the same misses. A window missed stays missed: its first record cannot
    move before its due time.
    """
    out = []
    for x in detect_runs_due(check_start, check_end, detect_interval, budget):
        w = detection_window(x, x + detect_interval, lag)
        due = detect_due(x + detect_interval, budget)
        if live_since is None or w.start < live_since or due > utc(now):
            continue
        at = recorded.get(w.start)
        if at is None or utc(at) > due:
            out.append(DeadlineMiss(w, x, due, None if at is None else utc(at)))
    return out


# -- tags --------------------------------------------------------------------------------------------------
def window_tag(start: datetime) -> str:
    """Stable name of a window used in file names and manifest paths (UTC, minute resolution)."""
    return start.astimezone(UTC).strftime(WINDOW_TAG_FORMAT)


def parse_window_tag(tag: str) -> datetime:
    """The window start a tag names (the inverse of window_tag); ValueError for anything else."""
    return datetime.strptime(tag, WINDOW_TAG_FORMAT).replace(tzinfo=UTC)
