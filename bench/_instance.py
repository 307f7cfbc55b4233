"""What the running-instance benches (first_ticket.py, latency.py) share: a fresh clone's own `mamori up`
environment on a free port, and the 1-minute load average sampled while they measure. Development tooling:
nothing in mamori imports it."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path


class Instance:
    """A never-started clone's homes (`<checkout>/var/demo`, `<checkout>/var/airflow`), its `mamori` and the
    environment its commands run with: the caller's, minus any AIRFLOW*/MAMORI_* setting, so nothing of another
    instance leaks in."""

    def __init__(self, checkout: Path, **settings: str) -> None:
        from mamori.dev.local import free_port

        self.checkout = checkout.resolve()
        self.mamori_home = self.checkout / "var" / "demo"
        self.airflow_home = self.checkout / "var" / "airflow"
        self.port = free_port()
        self.mamori = str(self.checkout / ".venv" / "bin" / "mamori")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MAMORI_"))}
        self.env.update(
            MAMORI_HOME=str(self.mamori_home),
            AIRFLOW_HOME=str(self.airflow_home),
            MAMORI_LOCAL_PORT=str(self.port),
            **settings,
        )

    def used(self) -> str | None:
        """Why the clone cannot be measured (it was started before), or None."""
        if self.mamori_home.exists() or self.airflow_home.exists():
            return f"{self.checkout}/var already exists: measure from a fresh clone"
        return None


class LoadSampler:
    """The 1-minute load average every 10 s from start() to stop(), as min/mean/max."""

    def __init__(self) -> None:
        self.loads: list[float] = []
        self._done = threading.Event()

    def start(self) -> LoadSampler:
        def sample() -> None:
            while not self._done.is_set():
                self.loads.append(os.getloadavg()[0])
                self._done.wait(10)

        threading.Thread(target=sample, daemon=True).start()
        return self

    def stop(self) -> None:
        self._done.set()

    def summary(self) -> str:
        ls = self.loads
        return f"{min(ls):.1f}/{sum(ls) / len(ls):.1f}/{max(ls):.1f}" if ls else "-"


# The component a process of the instance belongs to, by its command line (Airflow's forks keep or set their
# title: the dag-processor's parsers keep "airflow dag-processor", the scheduler's workers and their task
# processes are "airflow worker -- ..."), first match wins.
_COMPONENTS = (
    ("db migrate", "db migrate"),
    ("worker -- ", "task workers and task processes"),
    ("scheduler", "scheduler (its warm-up included)"),
    ("dag-processor", "dag-processor (its parsers included)"),
    ("api-server", "api-server"),
    ("triggerer", "triggerer"),
)


def component(cmdline: str) -> str:
    """The component a process of the instance belongs to (see _COMPONENTS); "other" for the launcher's shells."""
    return next((name for marker, name in _COMPONENTS if marker in cmdline), "other")


class CpuSampler:
    """CPU seconds (user + system) of an instance's processes by component, sampled every second from start()
    to stop(): what each part of the start costs on a machine where CPU, not waiting, sets the pace. `pids()`
    names the processes to read at each sample (the session's members, PostgreSQL's processes, `mamori up`),
    each with its component's name, or None to name it by its command line (component()).
    A process is counted up to its last sample, so one that lives less than a second is missed (task processes
    forked from a warmed-up worker mostly are: their share shows only in part)."""

    def __init__(self, pids: Callable[[], dict[int, str | None]]) -> None:
        self._pids = pids
        self._cpu: dict[int, float] = {}
        self._where: dict[int, str] = {}
        self.samples: list[tuple[float, dict[str, float]]] = []  # (epoch seconds, CPU seconds by component)
        self._done = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")

    def _read(self, pid: int) -> float | None:
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = text[text.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / self._tick  # utime, stime (man 5 proc)

    def sample(self) -> None:
        from mamori.dev import sessions

        for pid, label in self._pids().items():
            if (cpu := self._read(pid)) is None:
                continue
            if pid not in self._where:
                self._where[pid] = label or component(sessions.cmdline(pid))
            self._cpu[pid] = cpu
        totals: dict[str, float] = {}
        for pid, cpu in self._cpu.items():
            totals[self._where[pid]] = totals.get(self._where[pid], 0.0) + cpu
        self.samples.append((time.time(), totals))

    def start(self) -> CpuSampler:
        def run() -> None:
            while not self._done.is_set():
                self.sample()
                self._done.wait(1)

        threading.Thread(target=run, daemon=True).start()
        return self

    def stop(self) -> None:
        self._done.set()

    def at(self, when: float) -> dict[str, float]:
        """CPU seconds by component at the last sample taken at or before `when` (epoch seconds)."""
        before = [totals for t, totals in self.samples if t <= when]
        return before[-1] if before else {}
