"""The search form, `mamori query` and the command line on the embedded engine, over a generated lake.

Expected rows are computed independently: every Parquet file of the lake read with pyarrow and filtered in
Python, so a pruning or binding bug shows up as a difference, not as a matching mistake on both sides.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from search_lake import HOSTILE_ARN, HOSTILE_TIME, HOSTILE_UA, HOSTILE_USER

from mamori.cli import main
from mamori.search.events import EVENT_NAME, SEARCH_SCHEMA, Filters, run_search
from mamori.search.execute import run_sql
from mamori.search.lakefiles import Lake
from mamori.search.output import write
from mamori.search.timerange import TimeRange

ATTACKER = "198.51.100.23"
ALL = TimeRange(datetime(2026, 10, 31, 21, tzinfo=UTC), datetime(2026, 11, 1, 3, tzinfo=UTC))
TABLES = ("cloudtrail", "vpcflow", "s3access")


@pytest.fixture(scope="module")
def rows(lake_settings):
    """Every row of every table, read without mamori's search code: {table: [row dict, ...]}."""
    root = lake_settings.lake_url.removeprefix("file://")
    out = {}
    for t in TABLES:
        files = sorted(str(p) for p in (Path(root) / "curated" / t).rglob("*.parquet"))
        out[t] = ds.dataset(files, format="parquet", partitioning="hive").to_table().to_pylist()
    return out


def expected(rows, rng, pred, tables=TABLES):
    start, end = rng.start.replace(tzinfo=None), rng.end.replace(tzinfo=None)
    return sorted(
        (r["event_time"], t) for t in tables for r in rows[t] if start <= r["event_time"] < end and pred(t, r)
    )


def got(settings, filters, rng, **kw):
    res = run_search(settings, filters, rng, limit=None, **kw)
    table = pa.Table.from_batches(list(res.batches), schema=SEARCH_SCHEMA)
    return (
        sorted(zip(table["event_time"].to_pylist(), table["source"].to_pylist(), strict=True)),
        res.stats,
        table,
    )


def test_ip_search_matches_an_independent_scan_and_reads_only_its_hours(lake_settings, rows):
    rng = TimeRange(datetime(2026, 10, 31, 22, 30, tzinfo=UTC), datetime(2026, 11, 1, 1, 30, tzinfo=UTC))
    want = expected(rows, rng, lambda t, r: ATTACKER in (r["related_ips"] or []))
    have, stats, _ = got(lake_settings, Filters(ips=(ATTACKER,)), rng)
    assert have == want and len(want) > 50
    assert {s for _, s in want} == {"cloudtrail", "vpcflow", "s3access"}
    # Pruning: only the files of hours 22, 23, 00 and 01 were opened, out of six hours of data.
    lake = Lake(lake_settings)
    files = [f for t in TABLES for f in lake.files(t, rng)]
    total = sum(len(lake.files(t, ALL)) for t in TABLES)
    assert stats.files == len(files) == total * 4 // 6
    assert {"/".join(f.partition.split("/")[2:]) for f in files} == {
        "dt=2026-10-31/hour=22",
        "dt=2026-10-31/hour=23",
        "dt=2026-11-01/hour=00",
        "dt=2026-11-01/hour=01",
    }
    assert stats.chunks == 2  # one per UTC day
    assert all("dt = '2026-10-31'" in s or "dt = '2026-11-01'" in s for s in stats.sql)


def test_principal_account_event_name_and_contains(lake_settings, rows):
    alice = "arn:aws:iam::111111111111:user/alice"
    have, _, table = got(lake_settings, Filters(principals=(alice,)), ALL)
    assert have == expected(
        rows, ALL, lambda t, r: alice in (r["related_arns"] or []) or alice in (r["related_users"] or [])
    )
    assert have and set(table["principal"].to_pylist()) >= {alice}

    have, _, _ = got(lake_settings, Filters(accounts=("222222222222",), sources=("vpcflow",)), ALL)
    assert have == expected(
        rows,
        ALL,
        lambda t, r: "222222222222" in (r["account"], r["account_id"], *(r["related_accounts"] or [])),
        ("vpcflow",),
    )

    have, _, table = got(lake_settings, Filters(event_names=("ConsoleLogin", "REST.GET.OBJECT")), ALL)
    assert have == expected(
        rows,
        ALL,
        lambda t, r: (
            r[{"cloudtrail": "eventname", "s3access": "operation", "vpcflow": "action"}[t]]
            in ("ConsoleLogin", "REST.GET.OBJECT")
        ),
    )
    assert set(table["event_name"].to_pylist()) == {"ConsoleLogin", "REST.GET.OBJECT"}
    assert set(EVENT_NAME) >= set(TABLES)

    have, _, table = got(lake_settings, Filters(contains=(("useragent", "AWS-CLI"),), ips=(ATTACKER,)), ALL)
    assert have == expected(
        rows,
        ALL,
        lambda t, r: "aws-cli" in (r.get("useragent") or "").lower() and ATTACKER in (r["related_ips"] or []),
        ("cloudtrail", "s3access"),
    )
    assert have

    have, _, _ = got(lake_settings, Filters(contains=(("dstport", "22"),), sources=("vpcflow",)), ALL)
    assert have == expected(rows, ALL, lambda t, r: "22" in str(r["dstport"]), ("vpcflow",))


def test_order_limit_and_streaming_across_days(lake_settings, rows):
    want = expected(rows, ALL, lambda t, r: ATTACKER in (r["related_ips"] or []))
    messages = []
    res = run_search(
        lake_settings, Filters(ips=(ATTACKER,)), ALL, order="desc", limit=7, progress=messages.append
    )
    batches = list(res.batches)
    times = [t for b in batches for t in b.column("event_time").to_pylist()]
    assert times == sorted((t for t, _ in want), reverse=True)[:7]
    assert res.stats.rows == 7 and res.stats.chunks == 1  # newest day first; it had enough rows
    assert messages and messages[0].startswith("[1/2] 2026-11-01")

    res = run_search(lake_settings, Filters(ips=(ATTACKER,)), ALL, limit=None, batch_rows=50)
    sizes = [b.num_rows for b in res.batches]
    assert max(sizes) <= 50 and sum(sizes) == len(want) and len(sizes) > 2


def test_search_for_hostile_values_matches_literally(lake_settings):
    rng = TimeRange(HOSTILE_TIME - timedelta(minutes=5), HOSTILE_TIME + timedelta(minutes=5))
    for filters in (
        Filters(principals=(HOSTILE_ARN,)),
        Filters(principals=(HOSTILE_USER,)),
        Filters(contains=(("useragent", HOSTILE_UA),)),
        Filters(contains=(("useridentity.arn", HOSTILE_ARN),)),
    ):
        _, _, table = got(lake_settings, filters, rng)
        assert table["event_time"].to_pylist() == [HOSTILE_TIME.replace(tzinfo=None)], filters
        assert table["event_name"].to_pylist() == ["GetUser"]
    # The near miss (one character shorter) is found by its own value, and a prefix by substring.
    _, _, table = got(lake_settings, Filters(principals=(HOSTILE_ARN[:-1],)), rng)
    assert table["event_time"].to_pylist() == [HOSTILE_TIME.replace(second=6, tzinfo=None)]
    _, _, table = got(lake_settings, Filters(contains=(("useragent", "SQLMAP"),)), rng)
    assert table.num_rows == 3


def test_query_with_window_macro(lake_settings, rows):
    rng = TimeRange(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 1, 2, tzinfo=UTC))
    res = run_sql(
        lake_settings,
        "SELECT source, count(*) AS n FROM all_events WHERE {{ window() }} GROUP BY source ORDER BY source",
        rng,
    )
    result = {r["source"]: r["n"] for b in res.batches for r in b.to_pylist()}
    assert result == {t: len(expected(rows, rng, lambda *_: True, (t,))) for t in TABLES}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "table"])
def test_output_formats(lake_settings, fmt):
    res = run_search(lake_settings, Filters(ips=(ATTACKER,), sources=("cloudtrail",)), ALL, limit=5)
    buf = io.BytesIO()
    assert write(res.schema, res.batches, fmt, buf) == 5
    data = buf.getvalue()
    if fmt == "csv":
        lines = data.decode().splitlines()
        assert lines[0].startswith('"event_time","source"') and len(lines) == 6
    elif fmt == "jsonl":
        recs = [json.loads(line) for line in data.decode().splitlines()]
        assert len(recs) == 5 and all(r["ips"] == ATTACKER or ATTACKER in r["ips"].split(",") for r in recs)
        assert recs[0]["event_time"].endswith("Z")
    elif fmt == "parquet":
        t = pq.read_table(io.BytesIO(data))
        assert t.schema.equals(SEARCH_SCHEMA) and t.num_rows == 5
    else:
        assert data.decode().splitlines()[0].split() == SEARCH_SCHEMA.names


def test_terminal_table_renders_hostile_cells_inert(lake_settings):
    rng = TimeRange(HOSTILE_TIME, HOSTILE_TIME + timedelta(seconds=1))
    res = run_sql(
        lake_settings,
        "SELECT useragent, 'a' || chr(27) || '[2J' AS esc FROM cloudtrail WHERE {{ window() }}",
        rng,
    )
    buf = io.BytesIO()
    write(res.schema, res.batches, "table", buf)
    text = buf.getvalue().decode()
    assert "\x1b" not in text and "\u202e" not in text and "\\u001b[2J" in text and "\\u202eevil" in text


def test_cli_search_query_and_formats(lake_env, capsys, tmp_path):
    assert (
        main(
            [
                "search",
                "--ip",
                ATTACKER,
                "--from",
                "2026-11-01T01:00Z",
                "--to",
                "2026-11-01T02:00Z",
                "--format",
                "jsonl",
                "--source",
                "cloudtrail",
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    recs = [json.loads(line) for line in out.splitlines()]
    assert recs and all(r["source"] == "cloudtrail" for r in recs)
    assert f"{len(recs)} rows" in err and "files" in err

    out_file = tmp_path / "r.parquet"
    assert (
        main(
            [
                "search",
                "--principal",
                HOSTILE_ARN,
                "--last",
                "1h",
                "--to",
                "2026-11-01T00:00Z",
                "-o",
                str(out_file),
            ]
        )
        == 0
    )
    assert pq.read_table(out_file)["event_time"].to_pylist() == [HOSTILE_TIME.replace(tzinfo=None)]

    assert (
        main(
            [
                "query",
                "SELECT count(*) AS n FROM vpcflow WHERE {{ window() }}",
                "--from",
                "2026-10-31T21:00Z",
                "--to",
                "2026-10-31T22:00Z",
                "--format",
                "csv",
                "--show-sql",
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == '"n"' and int(out.splitlines()[1]) > 100
    assert "hour IN ('21')" in err

    assert main(["query", "SELECT 1 AS x; DROP TABLE cloudtrail"]) == 2
    assert "exactly one SQL statement" in capsys.readouterr().err
    assert main(["query", "SELECT count(*) FROM cloudtrail WHERE {{ window() }}"]) == 2
    assert "give a time range" in capsys.readouterr().err
    assert main(["search", "--ip", "not-an-ip", "--last", "1h"]) == 2
    assert main(["search", "--ip", ATTACKER, "--last", "1h", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "contains(related_ips, '198.51.100.23')" in err.lower() and "UNION ALL" in err
