"""Processes by session: what "everything a service started" means, and how to stop all of it.

A local service (Airflow's components, the embedded PostgreSQL) is started as the leader of a new session
(`setsid`), so its PID is also its process group and session id. Children may leave the process group (Airflow's
task supervisor calls setpgid) but not the session, so the session is what is looked for after a stop.
Linux only: reads /proc.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def stat(pid: int) -> tuple[str, int, int] | None:
    """(state, pgid, sid) of a process, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp session ...
    return fields[0], int(fields[2]), int(fields[3])


def parent(pid: int) -> int | None:
    """The parent PID of a live process, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return int(raw[raw.rindex(")") + 2 :].split()[1])


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` by parent links (children, their children, ...): what a process started
    even when it moved to process groups of its own, as Airflow's task runners do."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            ppid = parent(int(entry.name))
            if ppid is not None:
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return sorted(found)


def kill_tree(pid: int, timeout: float = 10.0) -> dict[int, str]:
    """SIGKILL a process and everything below it; returns each PID killed with its command line (`pid` first).

    The tree is frozen first (SIGSTOP, repeated until no new process shows up): once `pid` dies its children are
    re-parented and no longer found by parent links, and a process not yet stopped could still fork one.
    """
    tree = [pid]
    for _ in range(20):
        for p in tree:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, signal.SIGSTOP)
        below = descendants(pid)
        if set(below) <= set(tree):
            break
        tree = list(dict.fromkeys([*tree, *below]))
    killed = {p: cmdline(p) for p in tree if alive(p)}
    for p in killed:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    return killed


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (dead, waiting to be reaped)."""
    st = stat(pid)
    return st is not None and st[0] != "Z"


def members(sid: int) -> list[int]:
    """Live processes (zombies excluded: they are dead, only not yet reaped) of a session."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = stat(int(entry.name))
            if st and st[2] == sid and st[0] != "Z":
                out.append(int(entry.name))
    return sorted(out)


def cmdline(pid: int) -> str:
    """A process's command line with spaces between arguments ("" when it is gone or unreadable)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def terminate(sid: int, timeout: float) -> list[int]:
    """SIGTERM the process group, wait up to `timeout` for the session to end, then SIGKILL every process
    still in it; returns the survivors (normally [])."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while members(sid) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in members(sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while members(sid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return members(sid)
