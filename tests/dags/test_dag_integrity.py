"""DAG integrity: imports, ids, tags from the closed set, retries, docs, and no I/O at parse time."""

from __future__ import annotations

import json
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


_PROBE = r"""
import importlib.util, json, os, sys, sysconfig
import airflow.sdk  # airflow's own startup reads its config; that is not the DAG file's doing
import mamori.ingest, mamori.detect, mamori.dag_defaults  # noqa  (module import must be I/O-free too)
events = []
stdlib = sysconfig.get_paths()["stdlib"]
def code_path(path):
    # the import machinery reading modules and listing package directories is not the DAG's I/O
    if path.endswith((".py", ".pyc", ".so", ".pth", ".typed")) or "site-packages" in path:
        return True
    return path.startswith(stdlib) or path.rstrip("/").endswith(("/include/mamori", "/dags")) \
        or "/include/mamori/" in path
def hook(event, args):
    if event in ("open", "os.listdir", "os.scandir"):
        path = str(args[0]) if args and args[0] is not None else "."
        if not code_path(os.path.abspath(path)):
            events.append([event, path])
    elif event in ("socket.connect", "socket.getaddrinfo", "sqlite3.connect", "subprocess.Popen"):
        events.append([event, str(args[:1])])
sys.addaudithook(hook)
for path in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location("dagfile_" + os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
print("EVENTS=" + json.dumps(events))
"""


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_parsing_a_dag_file_does_no_io(dag_file):
    """Open of data files, sockets, DB connections, directory listings or subprocesses while parsing = fail."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(dag_file)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    events = json.loads(out.split("EVENTS=", 1)[1])
    assert events == []


def test_io_probe_catches_io(tmp_path):
    """The probe itself must be able to fail: a DAG file that reads a file is reported."""
    tmp = Path(tmp_path) / "bad_dag.py"
    tmp.write_text(
        f"import os\nopen({str(REPO / 'pyproject.toml')!r}).read()\nos.listdir({str(REPO / 'sql')!r})\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = json.loads(proc.stdout.split("EVENTS=", 1)[1])
    assert ["open", str(REPO / "pyproject.toml")] in events
    assert ["os.listdir", str(REPO / "sql")] in events
