"""What the running-instance benches (first_ticket.py, latency.py) share: a fresh clone's own `mamori up`
environment on a free port, and the 1-minute load average sampled while they measure. Development tooling:
nothing in mamori imports it."""

from __future__ import annotations

import os
import threading
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
