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


def test_test_modules_that_share_a_name_live_in_packages() -> None:
    """pytest imports a test file outside a package under its bare name ("rootdir" import mode): two
    `test_x.py` in such directories stop the whole collection with "import file mismatch" (it happened
    when tests/alerts and tests/detections both gained a test_duplicate_delivery.py in parallel)."""
    by_name: dict[str, list[Path]] = {}
    for path in (REPO / "tests").rglob("test_*.py"):
        by_name.setdefault(path.name, []).append(path)
    clashes = [
        sorted(str(p.relative_to(REPO)) for p in paths)
        for paths in by_name.values()
        if len(paths) > 1 and not all((p.parent / "__init__.py").exists() for p in paths)
    ]
    assert clashes == [], f"rename one of each, or make their directories packages: {clashes}"


def test_no_test_imports_conftest() -> None:
    """`from conftest import X` names whichever of the suite's conftest.py files pytest imported last. Inside a
    test function it passed alone and failed in the whole suite (tests/alerts/test_incident_tickets.py got
    tests/sources/conftest.py); at module level tests/search's imports failed collection when tests/quality ran
    in the same call. Shared values live in a support module with a unique name (tests/search/search_lake.py)."""
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for path in (REPO / "tests").rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if line.strip().startswith(("from conftest import", "import conftest"))
    ]
    assert offenders == [], f"import the values from a support module with a unique name: {offenders}"


def test_every_dag_test_call_drops_the_deadline() -> None:
    """Airflow 3.3.2's `dag.test()` crashes when a run of a DAG with a `DeadlineAlert` (detect) succeeds
    (`mamori.dev.demo.without_deadline` says why). The bench's end-to-end child called `dag.test()` without
    the guard and `make test`'s bench-quick failed in CI after the deadline landed: every call outside the
    pin test sits under `without_deadline`."""
    bare = []
    for root in ("bench", "include", "tests", "dags", "plugins"):
        for path in (REPO / root).rglob("*.py"):
            if path.name in ("test_detect_deadline_dag.py", Path(__file__).name) or ".venv" in path.parts:
                continue
            lines = path.read_text().splitlines()
            for i, line in enumerate(lines):
                code = line.split("#", 1)[0]
                if ".test(logical_date" not in code and ".test(run_after" not in code:
                    continue
                if not any("without_deadline(" in prev for prev in lines[max(0, i - 2) : i + 1]):
                    bare.append(f"{path.relative_to(REPO)}:{i + 1}")
    assert bare == [], f"dag.test() without without_deadline(): {bare}"
