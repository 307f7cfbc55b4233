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
