"""The command line's one error boundary, through the installed console script (`.venv/bin/mamori`).

A reviewer who mistypes a header key, a severity or a line of SQL, or an operator who sets a variable wrong,
must get one line naming the file and line (or the setting) and exit status 2, not a traceback with the one
good message buried in it; `mamori --debug ...` keeps the traceback for whoever debugs mamori itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAMORI = Path(sys.executable).with_name("mamori")
RULE = "cloudtrail_console_login_without_mfa"


def _catalog(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    """A sql/ with one rule, optionally with one edit of its text (old -> new)."""
    sql = tmp_path / "sql"
    for part in ("enrichments", "lookups"):
        shutil.copytree(REPO / "sql" / part, sql / part)
    (sql / "detections" / "cloudtrail").mkdir(parents=True)
    src = (REPO / "sql" / "detections" / "cloudtrail" / f"{RULE}.sql").read_text()
    if edit is not None:
        assert edit[0] in src
        src = src.replace(edit[0], edit[1], 1)
    (sql / "detections" / "cloudtrail" / f"{RULE}.sql").write_text(src)
    return sql


def _run(
    tmp_path: Path, sql: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("MAMORI_")}
    full |= {"MAMORI_HOME": str(tmp_path / "home"), "MAMORI_SQL_DIR": str(sql)} | (env or {})
    return subprocess.run(
        [str(MAMORI), *argv], env=full, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def _coverage(tmp_path: Path, sql: Path, *pre: str) -> subprocess.CompletedProcess[str]:
    cases = tmp_path / "cases"
    cases.mkdir(exist_ok=True)
    return _run(
        tmp_path, sql, *pre, "detections", "coverage", "--cases", str(cases), "--out", str(tmp_path / "o")
    )


@pytest.mark.parametrize(
    ("edit", "needle", "says"),
    [
        (("severity:", "severty:"), "severty:", "severty"),
        (("severity: medium", "severity: urgent"), "severity: urgent", "severity"),
        (
            ("AND eventname = 'ConsoleLogin'", "AND eventname = = 'ConsoleLogin'"),
            "= =",
            "not valid Athena SQL",
        ),
    ],
    ids=["header-typo", "bad-severity", "sql-syntax"],
)
def test_a_broken_rule_is_one_line_with_its_file_and_line(
    tmp_path: Path, edit: tuple[str, str], needle: str, says: str
) -> None:
    sql = _catalog(tmp_path, edit)
    path = sql / "detections" / "cloudtrail" / f"{RULE}.sql"
    done = _coverage(tmp_path, sql)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{path}:{_line_of(path, needle)}: "), lines[0]
    assert says in lines[0]
    assert "Traceback" not in done.stderr

    debug = _coverage(tmp_path, sql, "--debug")
    assert debug.returncode == 2
    assert "Traceback (most recent call last)" in debug.stderr
    assert says in debug.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAMORI_INCIDENT_HORIZON_HOURS", "x"),
        ("MAMORI_INGEST_INTERVAL_MINUTES", "sixty"),
        ("MAMORI_ENGINE", "postgres"),
        ("MAMORI_LAKE_URL", "ftp://lake"),
        ("MAMORI_RAW_URL", "s3:/raw-bucket"),
        ("MAMORI_OUTBOX_URL", "gs://outbox"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path: Path, name: str, value: str) -> None:
    sql = _catalog(tmp_path)
    done = _run(tmp_path, sql, "detections", "list", env={name: value})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert name in lines[0] and repr(value) in lines[0]
    assert "Traceback" not in done.stderr

    debug = _run(tmp_path, sql, "--debug", "detections", "list", env={name: value})
    assert debug.returncode == 2
    assert "Traceback (most recent call last)" in debug.stderr


def test_a_lake_url_of_an_unknown_scheme_is_one_line_not_a_storage_traceback(tmp_path: Path) -> None:
    """A store URL is read once the command first touches the store, where fsspec's "No filesystem registered"
    surfaced as a traceback that never named the variable."""
    done = _run(tmp_path, _catalog(tmp_path), "status", env={"MAMORI_LAKE_URL": "ftp://lake"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert "MAMORI_LAKE_URL" in done.stderr and "'ftp://lake'" in done.stderr


def test_render_names_the_line_of_a_broken_header(tmp_path: Path) -> None:
    """Commands that already catch their own errors keep doing so, and say the line too."""
    sql = _catalog(tmp_path, ("severity: medium", "severity: urgent"))
    path = sql / "detections" / "cloudtrail" / f"{RULE}.sql"
    done = _run(tmp_path, sql, "detections", "render", RULE, "--start", "2026-11-01", "--end", "2026-11-02")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert f"{path}:{_line_of(path, 'severity: urgent')}:" in done.stderr


def test_sql_errors_name_the_line_of_the_file(tmp_path: Path) -> None:
    """The line of a parse error counts in the .sql file (header included), not inside the rendered SQL."""
    from mamori.detections.loader import DetectionError, load_detection

    bad = "    AND eventname = = 'ConsoleLogin'"
    sql = _catalog(tmp_path, ("    AND eventname = 'ConsoleLogin'", bad))
    path = sql / "detections" / "cloudtrail" / f"{RULE}.sql"
    with pytest.raises(DetectionError) as err:
        load_detection(path)
    assert err.value.line == _line_of(path, bad)
    assert f"line {_line_of(path, bad)}" in str(err.value)
    assert "\x1b[" not in str(err.value)  # no terminal underline codes in a review comment


def test_a_rule_failing_on_duckdb_names_its_file_line(tmp_path: Path) -> None:
    """DuckDB's LINE counts in the transpiled SQL; the message names the line of the .sql file instead."""
    bad = "    url_extract_host(useragent) AS user_agent,"
    sql = _catalog(tmp_path, ("    useragent AS user_agent,", bad))
    path = sql / "detections" / "cloudtrail" / f"{RULE}.sql"
    argv = ["detections", "backtest", RULE, "--from", "2026-11-01T00:00", "--to", "2026-11-01T02:00"]
    done = _run(tmp_path, sql, *argv)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert done.stderr.startswith(f"{path}:{_line_of(path, 'url_extract_host')}: ")
    assert "url_extract_host" in done.stderr


# -- saved hunts (sql/hunts/*.sql): files a reviewer edits like rules, so their errors name file:line too ------
HUNT = "rare_api_calls"


def _hunts(tmp_path: Path, edit: tuple[str, str]) -> tuple[Path, Path]:
    """A sql/ whose hunts/ holds one shipped hunt with one edit of its text (old -> new)."""
    sql = tmp_path / "sql"
    (sql / "hunts").mkdir(parents=True)
    src = (REPO / "sql" / "hunts" / f"{HUNT}.sql").read_text()
    assert edit[0] in src
    path = sql / "hunts" / f"{HUNT}.sql"
    path.write_text(src.replace(edit[0], edit[1], 1))
    return sql, path


@pytest.mark.parametrize(
    ("edit", "needle", "says"),
    [
        (("description:", "descripton:"), "descripton:", "descripton"),
        (("default_range: 7d", "default_range: forever"), "default_range: forever", "default_range"),
        (
            ("        eventsource AS event_source,", "        eventsource AS = ,"),
            "AS = ,",
            "not valid Athena SQL",
        ),
    ],
    ids=["header-typo", "bad-range", "sql-syntax"],
)
def test_a_broken_hunt_is_one_line_with_its_file_and_line(
    tmp_path: Path, edit: tuple[str, str], needle: str, says: str
) -> None:
    """The line counts in the hunt's file (header included), not inside the SQL sqlglot parsed; pydantic's
    multi-line report of a header does not reach the terminal."""
    sql, path = _hunts(tmp_path, edit)
    done = _run(tmp_path, sql, "hunt", HUNT, "--last", "1h")
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert done.stderr.startswith(f"{path}:{_line_of(path, needle)}: "), done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr


def test_a_hunt_failing_on_duckdb_names_its_file_line(tmp_path: Path) -> None:
    """A Trino-only function parses, so only DuckDB refuses it: its LINE counts in the transpiled SQL, the
    message names the hunt file's line instead."""
    bad = "        url_extract_host(eventsource) AS event_source,"
    sql, path = _hunts(tmp_path, ("        eventsource AS event_source,", bad))
    done = _run(tmp_path, sql, "hunt", HUNT, "--from", "2026-11-01T00:00", "--to", "2026-11-01T01:00")
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert done.stderr.startswith(f"{path}:{_line_of(path, 'url_extract_host')}: "), done.stderr
    assert "url_extract_host" in done.stderr


# -- the other reviewed files under sql/: suppressions, behaviour coverage, health thresholds --------------------
REVIEWED = {
    "suppressions-yaml": (
        "suppressions.yaml",
        "- id: drill\n  detection: [unclosed\n",
        "[unclosed",
        ("suppressions", "report", "--from", "2026-11-01", "--to", "2026-11-02"),
    ),
    "suppressions-key": (
        "suppressions.yaml",
        "- id: drill\n  detection: cloudtrail_root_activity\n  match: {account_id: '123456789012'}\n"
        "  owner: me\n  reason: quarterly drill from the office\n  expires: 2027-03-31\n  expiers: 2027-04-01\n",
        "expiers:",
        ("suppressions", "report", "--from", "2026-11-01", "--to", "2026-11-02"),
    ),
    "coverage-key": (
        "coverage.yaml",
        "behaviours:\n  - behavior: a typo\n    rules: [cloudtrail_console_login_without_mfa]\n",
        "behavior:",
        ("detections", "coverage"),
    ),
    "health-key": (
        "health/streams.yaml",
        "lookback_hours: 48\nlookback_hourz: 48\n",
        "lookback_hourz:",
        ("quality", "report", "--to", "2026-11-01T02:00"),
    ),
}


@pytest.mark.parametrize(("name", "text", "needle", "argv"), REVIEWED.values(), ids=REVIEWED.keys())
def test_a_broken_reviewed_yaml_file_is_one_line_with_its_file_and_line(
    tmp_path: Path, name: str, text: str, needle: str, argv: tuple[str, ...]
) -> None:
    """Reviewed like the rules, so read like them: a YAML or schema error is `file:line: why`, exit 2 (after
    the command's name where the command reports its own errors, as `suppressions:` does)."""
    sql = _catalog(tmp_path)
    path = sql / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if argv == ("detections", "coverage"):
        (tmp_path / "cases").mkdir()
        argv = (*argv, "--cases", str(tmp_path / "cases"), "--out", str(tmp_path / "o"))
    done = _run(tmp_path, sql, *argv)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert f"{path}:{_line_of(path, needle)}: " in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_coverage_file_naming_unknown_rules_is_one_line(tmp_path: Path) -> None:
    """coverage.yaml's own check (rules not in the catalog) raised a plain ValueError: a traceback."""
    sql = _catalog(tmp_path)
    (sql / "coverage.yaml").write_text(
        "description: what the rules cover\nbehaviours:\n  - behaviour: a retired probe\n"
        "    origin: issue 18\n    rules: [no_such_rule]\n"
    )
    done = _coverage(tmp_path, sql)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert str(sql / "coverage.yaml") in done.stderr and "no_such_rule" in done.stderr
