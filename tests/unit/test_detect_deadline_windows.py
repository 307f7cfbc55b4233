"""The detect deadline's window math (mamori.windows.missed_deadlines), on a fixed clock.

A detection window is due its detect run's data-interval end plus the budget (= window end + lag + budget). A
check over the data interval [start, end) judges the windows due in it, once each over any tiling; a window is
missed when its result was not recorded by its due time. Replays (no scheduled run yet, or windows older than
the scheduler's first) are never judged, so the demo's and backfills' late evaluations do not trip it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mamori import windows

T = datetime(2026, 11, 1, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)
LAG, BUDGET = H, 30 * M


def judge(check_start, check_end, now, recorded, live_since=T - 24 * H, interval=H):
    return windows.missed_deadlines(check_start, check_end, now, interval, LAG, BUDGET, recorded, live_since)


def test_a_window_not_recorded_by_its_due_time_is_missed():
    # The run over [10:00, 11:00) evaluates events of [09:00, 10:00) and is due at 11:30; the check for the
    # interval [11:00, 12:00) runs at 12:00 and finds nothing recorded.
    (miss,) = judge(T + 11 * H, T + 12 * H, now=T + 12 * H, recorded={})
    assert miss.window == windows.Window(T + 9 * H, T + 10 * H)
    assert miss.data_start == T + 10 * H
    assert miss.due == T + 11 * H + 30 * M
    assert miss.recorded_at is None


def test_a_window_recorded_after_its_due_time_is_missed_and_says_when():
    late = T + 11 * H + 31 * M
    (miss,) = judge(T + 11 * H, T + 12 * H, now=T + 12 * H, recorded={T + 9 * H: late})
    assert miss.recorded_at == late


def test_a_window_recorded_in_time_is_not_missed():
    assert judge(T + 11 * H, T + 12 * H, now=T + 12 * H, recorded={T + 9 * H: T + 11 * H + 30 * M}) == []
    assert judge(T + 11 * H, T + 12 * H, now=T + 12 * H, recorded={T + 9 * H: T + 11 * H + 4 * M}) == []


def test_judging_again_finds_the_same_miss():
    args = (T + 11 * H, T + 12 * H)
    first = judge(*args, now=T + 12 * H, recorded={})
    # Later (the window has been evaluated meanwhile, late): still the same window, still missed.
    again = judge(*args, now=T + 20 * H, recorded={T + 9 * H: T + 13 * H})
    assert [m.window for m in first] == [m.window for m in again] == [windows.Window(T + 9 * H, T + 10 * H)]


def test_a_window_not_due_yet_is_not_judged():
    assert judge(T + 11 * H, T + 12 * H, now=T + 11 * H + 29 * M, recorded={}) == []


@pytest.mark.parametrize("live_since", [None, T + 10 * H], ids=["scheduler-never-ran", "window-before-it"])
def test_replays_are_not_judged(live_since):
    """The demo (no scheduled detect run at all) and history before the scheduler's first window (mamori up's
    catch-up runs, backfills) are evaluated long after their due time on purpose."""
    replayed = {T + 9 * H: datetime(2027, 3, 1, tzinfo=UTC)}
    assert (
        judge(
            T + 11 * H,
            T + 12 * H,
            now=datetime(2027, 3, 1, tzinfo=UTC),
            recorded=replayed,
            live_since=live_since,
        )
        == []
    )


@pytest.mark.parametrize("interval_minutes", [5, 15, 60])
def test_consecutive_checks_judge_every_window_exactly_once(interval_minutes):
    interval = timedelta(minutes=interval_minutes)
    judged: list[windows.Window] = []
    for k in range(24):  # hourly checks over a day, nothing recorded: every window due in the day is missed
        judged += [m.window for m in judge(T + k * H, T + (k + 1) * H, T + 48 * H, {}, interval=interval)]
    assert len(judged) == len(set(judged)) == 24 * H // interval
    starts = sorted(w.start for w in judged)
    assert starts == [starts[0] + i * interval for i in range(len(starts))]  # no gap, no overlap
    assert starts[0] + interval + LAG + BUDGET >= T  # the first judged window is due in the first check
