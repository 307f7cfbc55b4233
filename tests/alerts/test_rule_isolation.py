"""One broken rule is isolated: the others run and alert, the broken one is reported as a rule-error alert
(file, line, reason) and the run ends non-green naming only it; engine outages still fail the task (retry)."""

from __future__ import annotations

import shutil
from datetime import UTC, timedelta
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from lake_support import write_to_lake

from mamori import detect
from mamori.alerts.ledger import ALERT_HITS, Ledger
from mamori.config import load_settings
from mamori.detections.testing import case_table
from mamori.engines.duckdb import DuckDBEngine

REPO = Path(__file__).resolve().parents[2]
ROOT_CASE = (
    REPO / "tests" / "detections" / "cloudtrail_root_activity" / "positive" / "root_access_key_api_call.json"
)
ROOT_RULE = REPO / "sql" / "detections" / "cloudtrail" / "cloudtrail_root_activity.sql"
LAG = timedelta(minutes=60)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A copy of sql/ (so files can be broken), a ledger, and a lake holding the root-activity case (in the
    lake, not registered on the engine: a detect run asks the lake which sources have data in its window)."""
    sql = tmp_path / "sql"
    shutil.copytree(REPO / "sql", sql)
    settings = load_settings(
        {
            "MAMORI_HOME": str(tmp_path / "home"),
            "MAMORI_SQL_DIR": str(sql),
            "MAMORI_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        }
    )
    table, _ = case_table("cloudtrail", ROOT_CASE.read_bytes())
    write_to_lake(settings, "cloudtrail", table)
    times = [t.replace(tzinfo=UTC) for t in table.column("event_time").to_pylist()]
    start = min(times).replace(minute=0, second=0, microsecond=0) + LAG  # the run whose window holds the case

    def engine(_settings=None, tables=None):
        return DuckDBEngine(settings, threads=1, tables=tables)

    monkeypatch.setattr(detect, "get_engine", engine)
    return settings, sql, start


def _break(sql: Path, rule_id: str, old: str, new: str) -> Path:
    text = ROOT_RULE.read_text().replace("id: cloudtrail_root_activity", f"id: {rule_id}")
    path = sql / "detections" / "cloudtrail" / f"{rule_id}.sql"
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


def _run(settings, start):
    chunks = detect.detection_chunks(settings)
    results = [detect.run_chunk(c, start, start + timedelta(hours=1), settings) for c in chunks]
    return chunks, detect.summarize_window(results, start, start + timedelta(hours=1), settings)


def test_a_header_typo_in_one_rule_does_not_stop_the_others(env):
    settings, sql, start = env
    path = _break(sql, "cloudtrail_root_activity_copy", "threshold: 1\n", "treshold: 1\n")
    typo_line = path.read_text().splitlines().index("treshold: 1") + 1

    chunks, summary = _run(settings, start)

    assert ["cloudtrail_root_activity_copy"] in chunks  # its own chunk: only it can fail
    ledger = Ledger(settings.ledger_url)
    by_rule = {}
    for a in ledger.alerts():
        by_rule.setdefault(a.detection_id, []).append(a)
    assert len(by_rule["cloudtrail_root_activity"]) == 1  # the good rule ran and alerted
    [err] = by_rule["mamori_rule_error"]
    assert err.dedup_values == {"detection": "cloudtrail_root_activity_copy", "reason": "DetectionError"}
    sample = err.samples[0]
    assert sample["file"] == str(path) and sample["line"] == typo_line
    assert "treshold" in sample["reason"] and "\n" not in sample["reason"]
    assert summary["rule_errors"] == [f"cloudtrail_root_activity_copy: {path}:{typo_line}"]
    with pytest.raises(RuntimeError, match=r"1 detection\(s\) failed.*cloudtrail_root_activity_copy") as exc:
        detect.check_rule_errors(summary)
    assert "cloudtrail_root_activity:" not in str(exc.value).replace("cloudtrail_root_activity_copy", "")

    # Fixed and re-run: the rule-error alert's window contribution is withdrawn, nothing else changes.
    path.unlink()
    _, summary = _run(settings, start)
    assert summary["rule_errors"] == []
    detect.check_rule_errors(summary)
    ledger = Ledger(settings.ledger_url)
    with ledger.engine.connect() as conn:
        parts = conn.execute(
            sa.select(ALERT_HITS).where(ALERT_HITS.c.detection_id == "mamori_rule_error")
        ).all()
    assert parts == []  # the ticket already sent stays; this window no longer claims the rule is broken


def test_a_rule_whose_sql_fails_on_the_engine_is_isolated(env):
    settings, sql, start = env
    _break(sql, "cloudtrail_root_activity_badcol", "AND errorcode IS NULL", "AND no_such_column IS NULL")

    _, summary = _run(settings, start)

    alerts = Ledger(settings.ledger_url).alerts()
    assert {a.detection_id for a in alerts} >= {"cloudtrail_root_activity", "mamori_rule_error"}
    [err] = [a for a in alerts if a.detection_id == "mamori_rule_error"]
    assert err.dedup_values == {"detection": "cloudtrail_root_activity_badcol", "reason": "BinderException"}
    assert "no_such_column" in err.samples[0]["reason"]
    # The line of the .sql file that names the column, not DuckDB's LINE inside the transpiled SQL.
    path = sql / "detections" / "cloudtrail" / "cloudtrail_root_activity_badcol.sql"
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "no_such_column" in t)
    assert err.samples[0]["line"] == line
    assert summary["rule_errors"] == [f"cloudtrail_root_activity_badcol: {path}:{line}"]


def test_an_engine_outage_still_fails_the_chunk_so_airflow_retries(env, monkeypatch):
    settings, _, start = env

    def down(_settings=None, tables=None):
        e = DuckDBEngine(settings, threads=1, create_views=False)

        def query(sql):
            raise duckdb.IOException("IO Error: could not read the lake (connection reset)")

        e.query = query  # type: ignore[method-assign]
        return e

    monkeypatch.setattr(detect, "get_engine", down)
    with pytest.raises(duckdb.IOException):
        detect.run_chunk(["cloudtrail_root_activity"], start, start + timedelta(hours=1), settings)


def test_cli_lists_and_tests_every_loadable_rule_and_reports_the_broken_one_last(env, capsys, monkeypatch):
    from mamori.cli import main

    _settings, sql, _ = env
    path = _break(sql, "cloudtrail_root_activity_copy", "severity: high", "severity: urgent")
    monkeypatch.setenv("MAMORI_SQL_DIR", str(sql))

    assert main(["detections", "list"]) == 1
    out, err = capsys.readouterr()
    assert "cloudtrail_root_activity " in out and out.count("\n") >= 70
    assert f"BROKEN {path}:" in err and "severity" in err
    assert err.strip().splitlines()[-1] == "1 detection file(s) do not load"

    cases = str(REPO / "tests" / "detections")
    assert main(["detections", "test", "cloudtrail_root_activity", "--cases", cases]) == 0
    out, err = capsys.readouterr()
    assert "0 failed" in out and err == ""
    assert main(["detections", "test", "cloudtrail_root_activity_copy", "--cases", cases]) == 1
    assert f"BROKEN {path}:" in capsys.readouterr().err


def test_in_athena_mode_a_rule_that_breaks_its_sources_combined_query_is_isolated(env, monkeypatch):
    """Engines without shared scans run a source's rules as one combined statement (`detect.evaluate`): the
    broken rule fails that whole statement, so the source's rules run one by one and only it errors."""
    settings, sql, start = env
    _break(sql, "cloudtrail_root_activity_badcol", "AND errorcode IS NULL", "AND no_such_column IS NULL")
    sent: list[str] = []

    class Recording(DuckDBEngine):
        def query(self, sql):  # type: ignore[override]
            sent.append(sql)
            return super().query(sql)

    monkeypatch.setattr(
        detect, "get_engine", lambda _s=None, tables=None: Recording(settings, threads=1, tables=tables)
    )
    end = start + timedelta(hours=1)
    chunks = [c for c in detect.detection_chunks(settings) if c[0].startswith("cloudtrail_")]
    results = [detect.run_chunk(c, start, end, settings, combine=True) for c in chunks]
    summary = detect.summarize_window(results, start, end, settings)

    combined_sent = [q for q in sent if "mamori_values" in q]
    assert any("no_such_column" in q for q in combined_sent)  # it was in a combined statement, which failed
    assert len(combined_sent) >= len(chunks)  # every chunk tried one
    assert sum("no_such_column" in q for q in sent) == 2  # then its own query, once
    alerts = Ledger(settings.ledger_url).alerts()
    assert {a.detection_id for a in alerts} >= {"cloudtrail_root_activity", "mamori_rule_error"}
    [err] = [a for a in alerts if a.detection_id == "mamori_rule_error"]
    assert err.dedup_values == {"detection": "cloudtrail_root_activity_badcol", "reason": "BinderException"}
    assert [e.split(":")[0] for e in summary["rule_errors"]] == ["cloudtrail_root_activity_badcol"]
    assert [r["detection"] for c in results for r in c if r.get("error")] == [
        "cloudtrail_root_activity_badcol"
    ]
