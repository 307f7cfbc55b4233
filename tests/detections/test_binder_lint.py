"""Every rule's rendered SQL goes through DuckDB's binder at catalog-test time, so a function that exists
only on Athena/Trino fails review with the file and line, not the first DuckDB run."""

from __future__ import annotations

from pathlib import Path

from mamori.detections.binder_lint import binder_problems
from mamori.detections.loader import load_catalog, load_detection

REPO = Path(__file__).resolve().parents[2]


def test_the_whole_catalog_binds_on_duckdb() -> None:
    assert binder_problems(load_catalog(REPO / "sql")) == {}


def test_a_trino_only_function_fails_with_its_line(tmp_path: Path) -> None:
    rule = "cloudtrail_console_login_without_mfa"
    src = (REPO / "sql" / "detections" / "cloudtrail" / f"{rule}.sql").read_text()
    old = "    useragent AS user_agent,"
    assert old in src
    dst = tmp_path / "sql" / "detections" / "cloudtrail" / f"{rule}.sql"
    dst.parent.mkdir(parents=True)
    dst.write_text(src.replace(old, "    url_extract_host(useragent) AS user_agent,"))
    det = load_detection(dst)  # parses and passes the sqlglot lint: only the binder can tell
    line = next(i for i, t in enumerate(dst.read_text().splitlines(), 1) if "url_extract_host" in t)
    problems = binder_problems([det])
    assert list(problems) == [rule]
    assert problems[rule].startswith(f"{dst}:{line}: DuckDB cannot run this rule: ")
    assert "url_extract_host" in problems[rule]
