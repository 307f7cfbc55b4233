"""The test run itself must not leave state behind: tests/conftest.py makes a throwaway AIRFLOW_HOME and
MAMORI_HOME per pytest process, and a machine that runs the suite all day (CI, a developer's inner loop)
collected hundreds of them under /tmp before they were removed at exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_pytest_process_removes_its_throwaway_homes(tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    # Any quick test will do: the homes are made when conftest is imported, whatever runs.
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/test_windows.py", "-x"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    left = sorted(p.name for p in tmpdir.iterdir())
    assert left == [], f"the pytest run left {left} in TMPDIR"
