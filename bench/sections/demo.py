"""`make demo`: wall and CPU time of the whole demo from a fresh home, as a newcomer runs it (issue 19: ≤ 120 s on
2 cores, same story, same 28/28 check, through Airflow's DAGs).

One run (a demo takes minutes; `runs` is not repeated here), in a child process with fresh MAMORI_HOME and
AIRFLOW_HOME, so the figure includes the interpreter's start, Airflow's metadata DB creation and every
dag.test() run. CPU is the child's user + system time: on a machine shared with other work, wall time follows
the load (both load averages are printed) while CPU time does not, so compare CPU across runs and wall only
between runs made back to back. Not run with --quick (CI has its own e2e demo tier).
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TITLE = "make demo"
ORDER = 65
REPO = Path(__file__).resolve().parents[2]
CHECK = re.compile(r"injected steps detected: (\d+/\d+);\s+alerts from background: (\d+)")


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def measure() -> dict[str, Any]:
    """One `mamori demo` in a child with fresh homes: wall, CPU, load before/after and the demo's own check."""
    with tempfile.TemporaryDirectory(prefix="mamori-bench-demo-") as tmp:
        env = {
            **os.environ,
            "MAMORI_HOME": f"{tmp}/home",
            "AIRFLOW_HOME": f"{tmp}/airflow",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        }
        before, load0 = resource.getrusage(resource.RUSAGE_CHILDREN), _loadavg()
        t0 = time.perf_counter()
        proc = subprocess.run(  # our own interpreter and module
            [sys.executable, "-c", "import sys; from mamori.cli import main; sys.exit(main(['demo']))"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = CHECK.search(proc.stdout)
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "load": f"{load0} → {_loadavg()}",
        "rc": proc.returncode,
        "check": f"{m[1]}, background {m[2]}" if m else "no summary",
    }


def run(quick: bool, runs: int) -> list[str]:
    if quick:
        return ["Not run with --quick: one demo takes minutes (`python bench/run.py --only demo`).", ""]
    r = measure()
    return [
        "Command: `mamori demo` in a child process with fresh MAMORI_HOME and AIRFLOW_HOME (what `make demo` runs).",
        "",
        "| wall | CPU (user + sys) | load average before → after | exit | steps detected, background alerts |",
        "|---:|---:|---|---:|---|",
        f"| {r['wall']:.0f} s | {r['cpu']:.0f} s | {r['load']} | {r['rc']} | {r['check']} |",
        "",
        "- The machine is shared: wall time follows the load average, CPU time much less; compare CPU across",
        "  runs, and wall only between runs made back to back.",
        "",
    ]
