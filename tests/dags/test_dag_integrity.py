"""DAG integrity: imports, ids, tags from the closed set, retries, docs, and no I/O at parse time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(REPO / "dags"))


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"ingest_cloudtrail", "detect"} <= set(dagbag.dag_ids)


def test_every_dag_is_documented_tagged_and_retried(dagbag):
    from mamori.dag_defaults import TAGS

    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and len(dag.doc_md) > 200, dag_id
        assert set(dag.tags) <= TAGS, (dag_id, set(dag.tags) - TAGS)
        assert "mamori" in dag.tags
        for t in dag.tasks:
            # Deliberately not retried (tests/dags/test_dispatch_schedule.py says why): dispatch_alerts' tasks,
            # whose retry is the ledger's backoff, and detect's check_rules, which re-reads a recorded summary.
            if dag_id == "dispatch_alerts" or (dag_id, t.task_id) == ("detect", "check_rules"):
                continue
            assert t.retries >= 2, (dag_id, t.task_id)


def test_dag_windows_are_real_intervals(dagbag):
    """Airflow 3's '@hourly' gives a zero-length data interval; every mamori DAG needs a real one, and the
    window DAGs (ingest, detect) exactly one hour."""
    from datetime import timedelta

    import pendulum

    for dag_id, dag in dagbag.dags.items():
        info = dag.timetable.infer_manual_data_interval(run_after=pendulum.datetime(2026, 11, 1, 5, tz="UTC"))
        assert info.end > info.start, dag_id
        if dag_id.startswith("ingest_") or dag_id == "detect":
            assert info.end - info.start == timedelta(hours=1), dag_id


# Runs in a fresh interpreter. Airflow is imported first: the DAG processor has it loaded and configured before
# it parses a file, and its startup (config, logging) is not the DAG file's doing. Nothing of mamori is loaded
# at that point, so mamori's import-time I/O is audited like the DAG file's own.
_PROBE = r"""
import importlib.util, json, os, sys
import airflow.sdk  # noqa: F401
assert not [m for m in sys.modules if m == "mamori" or m.startswith("mamori.")], "mamori imported too early"
WATCHED = {
    "open", "os.listdir", "os.scandir", "os.mkdir", "os.remove", "os.rename", "os.rmdir", "shutil.copyfile",
    "socket.connect", "socket.getaddrinfo", "sqlite3.connect", "subprocess.Popen", "os.system", "os.posix_spawn",
}
# Installed code reading its own files (cron_descriptor's locale when a cron timetable is built) is not I/O of
# the deployment's data; everything else is: the repo, MAMORI_HOME, the lake, the network, subprocesses.
INSTALLED = tuple({os.path.join(p, "") for p in (sys.prefix, sys.base_prefix)})
events = []
def culprit():
    # The line of the DAG file or of a mamori module that caused the event; None when the event belongs to the
    # import machinery (reading code, listing package directories) or to a third-party module's own import.
    f = sys._getframe(2)
    while f is not None:
        if f.f_code.co_filename.startswith("<frozen importlib"):
            return None
        name = f.f_globals.get("__name__") or ""
        if name == "mamori" or name.startswith(("mamori.", "dagfile_")):
            return f"{f.f_code.co_filename}:{f.f_lineno}"
        f = f.f_back
    return None
def hook(event, args):
    if event in WATCHED:
        if event in ("open", "os.listdir", "os.scandir") and isinstance(args[0], str | bytes | os.PathLike):
            if os.path.abspath(os.fsdecode(args[0])).startswith(INSTALLED):
                return
        where = culprit()
        if where is not None:
            events.append([event, str(args[0]) if args else "", where])
sys.addaudithook(hook)
for path in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location("dagfile_" + os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
print("EVENTS=" + json.dumps(events))
"""


def probe(*dag_files: Path, env: dict[str, str] | None = None) -> list[list[str]]:
    """[event, path or first argument, file:line that caused it] for each I/O of parsing the DAG files."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *map(str, dag_files)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    events: list[list[str]] = json.loads(proc.stdout.split("EVENTS=", 1)[1])
    return events


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_parsing_a_dag_file_does_no_io(dag_file):
    """Open of files, sockets, DB connections, directory listings or subprocesses while parsing = fail, whether
    the DAG file or a mamori module it imports (at import time) does it."""
    assert probe(dag_file) == []


def test_io_probe_catches_io(tmp_path):
    """The probe itself must be able to fail: a DAG file that reads a file is reported."""
    tmp = Path(tmp_path) / "bad_dag.py"
    tmp.write_text(
        f"import os\nopen({str(REPO / 'pyproject.toml')!r}).read()\nos.listdir({str(REPO / 'sql')!r})\n"
    )
    events = [e[:2] for e in probe(tmp)]
    assert ["open", str(REPO / "pyproject.toml")] in events
    assert ["os.listdir", str(REPO / "sql")] in events


def test_io_probe_catches_io_at_mamori_import_time(tmp_path):
    """I/O done while a mamori module is imported counts too: the audit hook is in place before any of mamori
    is loaded. A stand-in `mamori` package that reads a file on import is shadowed in front of the real one."""
    package = tmp_path / "shadow" / "mamori"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"open({str(REPO / 'pyproject.toml')!r}).close()\n")
    dag = tmp_path / "dag_importing_mamori.py"
    dag.write_text("import mamori\n")
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "shadow"), os.environ.get("PYTHONPATH", "")])
    )
    events = probe(dag, env=env)
    assert [e[:2] for e in events] == [["open", str(REPO / "pyproject.toml")]]
    assert events[0][2] == f"{package / '__init__.py'}:1"
