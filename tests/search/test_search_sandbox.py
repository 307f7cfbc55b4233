"""`mamori query` / hunts / search on DuckDB read the lake's tables and nothing else, and SQL errors end in one
line, not a traceback.

The SQL a user types (or a hunt holds) is a query, but DuckDB's table functions (`read_text`, `read_csv`,
`read_parquet`, `glob`, a quoted path in FROM) open any file the process can: a `.env`, `airflow.cfg`, the
ledger, cloud credentials. The engine connection therefore runs with external access off except under the
lake's `curated/` prefix, and locked, so the SQL cannot turn it back on. Each case puts a sentinel in a file the
query must not reach and checks it never comes out, on a local lake and on an S3 lake read through fsspec.
SQL the engine refuses (DuckDB or Athena) ends in one line naming what is wrong, with exit code 2.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto_support import executing_athena
from search_lake import START, build_lake

from mamori.cli import main
from mamori.config import load_settings
from mamori.search import execute
from mamori.search.execute import run_sql

SENTINEL = "s3ntinel-do-not-leak"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A six-hour CloudTrail lake (the generator's shortest story), with secrets next to it and inside the
    lake but outside its tables."""
    home = tmp_path_factory.mktemp("sandbox-home")
    build_lake(home, START, 6, ("cloudtrail",), hostile=False)
    (home / ".env").write_text(f"AWS_SECRET_ACCESS_KEY={SENTINEL}\n")
    (home / "airflow.cfg").write_text(f"[core]\nfernet_key = {SENTINEL}\n")
    pq.write_table(pa.table({"secret": [SENTINEL]}), home / "outside.parquet")
    quarantine = home / "lake" / "quarantine" / "cloudtrail"
    quarantine.mkdir(parents=True)
    (quarantine / "bad.jsonl").write_text(json.dumps({"record": SENTINEL}) + "\n")
    return home


@pytest.fixture
def env(home, monkeypatch):
    monkeypatch.setenv("MAMORI_HOME", str(home))
    for var in ("MAMORI_ENGINE", "MAMORI_RAW_URL", "MAMORI_LAKE_URL", "MAMORI_QUERY_BUDGET_BYTES"):
        monkeypatch.delenv(var, raising=False)
    return home


def lake_rows(home: Path) -> int:
    return sum(pq.read_metadata(p).num_rows for p in (home / "lake" / "curated").rglob("*.parquet"))


OUTSIDE = {
    "read_text .env": "SELECT content FROM read_text('{home}/.env')",
    "read_csv airflow.cfg": "SELECT * FROM read_csv('{home}/airflow.cfg', header = false, sep = '|')",
    "read_parquet outside": "SELECT * FROM read_parquet('{home}/outside.parquet')",
    "read_blob /etc/passwd": "SELECT content FROM read_blob('/etc/passwd')",
    "read_text /etc/passwd": "SELECT content FROM read_text('/etc/passwd')",
    "quarantine (lake, not a table)": "SELECT * FROM read_json('{home}/lake/quarantine/cloudtrail/bad.jsonl')",
    "traversal from the tables": "SELECT content FROM read_text('{home}/lake/curated/../../.env')",
}


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("template", OUTSIDE.values(), ids=OUTSIDE.keys())
def test_query_cannot_read_files_outside_the_lake_tables(env, capsys, template):
    sql = template.format(home=env)
    assert main(["query", sql, "--format", "csv"]) == 2
    out, err = capsys.readouterr()
    assert SENTINEL not in out and "root:" not in out
    line = one_line_error(err)
    assert line.startswith("mamori query: ") and "disabled by configuration" in line


def test_lake_tables_still_read_and_settings_cannot_be_reopened(env, capsys):
    assert main(["query", "SELECT count(*) AS n FROM cloudtrail", "--format", "csv"]) == 0
    out, _ = capsys.readouterr()
    assert int(out.splitlines()[1]) == lake_rows(env) > 0
    # all_events and a direct read_parquet of a table file, both under curated/, still work.
    files = sorted((env / "lake" / "curated" / "cloudtrail").rglob("*.parquet"))
    sql = f"SELECT count(*) AS n FROM read_parquet('{files[0]}')"
    assert main(["query", sql, "--format", "csv"]) == 0
    assert int(capsys.readouterr().out.splitlines()[1]) == pq.read_metadata(files[0]).num_rows
    assert main(["query", "SELECT count(*) AS n FROM all_events", "--format", "csv"]) == 0
    assert int(capsys.readouterr().out.splitlines()[1]) == lake_rows(env)
    # The query itself cannot switch the sandbox off: SET is refused before it runs, and a SELECT cannot
    # reach the configuration either.
    assert main(["query", "SET enable_external_access = true"]) == 2
    one_line_error(capsys.readouterr().err)


def test_hunt_path_is_sandboxed_too(env):
    """Hunts run through run_sql: the same connection, the same sandbox."""
    settings = load_settings()
    with pytest.raises(execute.QueryError, match="disabled by configuration"):
        res = run_sql(settings, f"SELECT content FROM read_text('{env}/.env')", None)
        list(res.batches)


ERRORS = {
    "unknown function": ("SELECT no_such_fn(1) AS x", "no_such_fn"),
    "unknown table": ("SELECT * FROM no_such_table", "no_such_table"),
    "unknown column": ("SELECT no_such_column FROM cloudtrail", "no_such_column"),
    "runtime conversion error": ("SELECT CAST(eventname AS INTEGER) AS n FROM cloudtrail", "Conversion"),
    # sqlglot's parse errors span lines and carry terminal colour codes around the offending token.
    "not Athena SQL": ("SELECT * FROM glob('/etc/*')", "not valid Athena SQL"),
    "syntax error": ("SELECT FROM WHERE", "not valid Athena SQL"),
    # sqlglot also warns on stderr about a statement it cannot parse before mamori refuses it.
    "not a query": ("LOAD httpfs", "only queries"),
}


@pytest.mark.parametrize(("sql", "named"), ERRORS.values(), ids=ERRORS.keys())
def test_sql_errors_end_in_one_clear_line(env, capsys, sql, named):
    assert main(["query", sql, "--format", "csv"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith("mamori query: ") and named.lower() in line.lower()
    assert "\x1b" not in line


def test_an_error_quoting_a_hostile_log_value_is_inert(lake_env, capsys):
    """A failed cast names the value: the shared lake's user agent carries a bidi override and quotes."""
    sql = "SELECT CAST(useragent AS INTEGER) AS n FROM cloudtrail WHERE useragent LIKE 'sqlmap''%'"
    assert main(["query", sql, "--format", "csv"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "sqlmap" in line and "\\u202eevil" in line
    assert not [c for c in line if unicodedata.category(c) in ("Cc", "Cf")]


@pytest.mark.parametrize(
    ("sql", "named"), [("SELECT no_such_fn(1) AS x", "no_such_fn"), ("LOAD httpfs", "only queries")]
)
def test_the_real_command_prints_one_line(env, sql, named):
    """Outside pytest, whatever a library logs reaches stderr through logging's last-resort handler."""
    exe = Path(sys.executable).with_name("mamori")
    proc = subprocess.run(
        [str(exe), "query", sql],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MAMORI_HOME": str(env)},
    )
    assert proc.returncode == 2, proc.stderr
    assert named in one_line_error(proc.stderr)


# -- S3 lake through fsspec ----------------------------------------------------------------------------------


@pytest.fixture
def s3_lake(moto_url, home, monkeypatch, tmp_path):
    """The same lake copied to a moto bucket, a secret at the bucket root and a second bucket; DuckDB engine."""
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        # The sentinel as the secret key: no query may print the credentials the lake is read with.
        "AWS_SECRET_ACCESS_KEY": SENTINEL,
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    extra = {"endpoint_url": moto_url, "region_name": "us-east-1"}
    monkeypatch.setenv("AIRFLOW_CONN_MAMORI_S3", json.dumps({"conn_type": "aws", "extra": extra}))
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    bucket = "sbx-" + tmp_path.name.replace("_", "-").lower()[-20:]
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=f"{bucket}-other")
    lake = home / "lake"
    for path in (lake / "curated").rglob("*.parquet"):
        s3.put_object(Bucket=bucket, Key=str(path.relative_to(lake)), Body=path.read_bytes())
    s3.put_object(Bucket=bucket, Key="secret.csv", Body=f"a,b\n1,{SENTINEL}\n".encode())
    buf = io.BytesIO()
    pq.write_table(pa.table({"secret": [SENTINEL]}), buf)
    s3.put_object(Bucket=f"{bucket}-other", Key="x.parquet", Body=buf.getvalue())
    env = {
        "MAMORI_HOME": str(tmp_path),
        "MAMORI_ENGINE": "duckdb",
        "MAMORI_LAKE_URL": f"s3://{bucket}",
        "MAMORI_LAKE_CONN_ID": "mamori_s3",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return load_settings(env), bucket


def test_s3_lake_reads_its_tables_and_nothing_else(s3_lake, home):
    settings, bucket = s3_lake
    res = run_sql(settings, "SELECT count(*) AS n FROM cloudtrail", None)
    assert pa.Table.from_batches(list(res.batches))["n"].to_pylist() == [lake_rows(home)]
    for sql in (
        f"SELECT * FROM read_csv('s3://{bucket}/secret.csv')",
        f"SELECT * FROM read_parquet('s3://{bucket}-other/x.parquet')",
        f"SELECT content FROM read_text('{home}/.env')",
    ):
        with pytest.raises(execute.QueryError, match="disabled by configuration"):
            list(run_sql(settings, sql, None).batches)
    # DuckDB's own catalog functions run inside the sandbox: none of them may hand out the S3 credentials the
    # lake is read with (the secret key is the sentinel). Refused or answered, the sentinel never appears.
    for sql in (
        "SELECT * FROM duckdb_settings()",
        "SELECT * FROM duckdb_secrets()",
        "SELECT * FROM duckdb_secrets(redact := false)",
        "SELECT current_setting('s3_secret_access_key') AS v",
    ):
        try:
            shown = str(pa.Table.from_batches(list(run_sql(settings, sql, None).batches)).to_pylist())
        except execute.QueryError as err:
            shown = str(err)
        assert SENTINEL not in shown, sql


# -- Athena ------------------------------------------------------------------------------------------------


def test_athena_refusing_the_sql_ends_in_one_line(moto_url, monkeypatch, tmp_path):
    """Athena's answer to SQL it cannot run (InvalidRequestException) is the user's error, not a crash."""

    def refuse(sql: str) -> Any:
        raise ValueError("SYNTAX_ERROR: line 1:8: Function 'no_such_fn' not registered\nat line 1")

    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        # The sentinel as the secret key: no query may print the credentials the lake is read with.
        "AWS_SECRET_ACCESS_KEY": SENTINEL,
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    with executing_athena(moto_url, refuse) as athena:
        extra = {
            "endpoint_url": athena.url,
            "region_name": "us-east-1",
            "s3_staging_dir": "s3://athena-results/",
            "work_group": "primary",
        }
        for conn in ("AIRFLOW_CONN_MAMORI_ATHENA", "AIRFLOW_CONN_MAMORI_S3"):
            monkeypatch.setenv(conn, json.dumps({"conn_type": "aws", "extra": extra}))
        s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
        bucket = "err-" + tmp_path.name.replace("_", "-").lower()[-20:]
        s3.create_bucket(Bucket="athena-results")
        s3.create_bucket(Bucket=bucket)
        for k, v in {
            "MAMORI_HOME": str(tmp_path),
            "MAMORI_ENGINE": "athena",
            "MAMORI_LAKE_URL": f"s3://{bucket}",
            "MAMORI_LAKE_CONN_ID": "mamori_s3",
        }.items():
            monkeypatch.setenv(k, v)
        sql = "SELECT no_such_fn(1) AS x FROM cloudtrail WHERE {{ window() }}"
        # The real command: a library's own error log (PyAthena logs the failure with its traceback) would
        # reach stderr through logging's last-resort handler, which an in-process call would not show.
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("mamori")), "query", sql, "--last", "1h"],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ),
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("estimated scan"), proc.stderr  # the budget line, then the error
        line = one_line_error(proc.stderr.split("\n", 1)[1])
        assert line.startswith("mamori query: ") and "no_such_fn" in line
        assert athena.queries and "no_such_fn" in athena.queries[-1].lower()
