"""Saved hunts: strict headers, typed parameters, and each shipped hunt's answer on the generated lake
against the same question answered in plain Python."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.dataset as ds
import pytest
import sqlglot
from search_lake import HOSTILE_ARN, HOSTILE_TIME

from mamori.cli import main
from mamori.hunts import HuntError, load_hunt, load_hunts, parse_param_args
from mamori.search.execute import run_sql
from mamori.search.timerange import TimeRange

REPO = Path(__file__).resolve().parents[2]
RNG = TimeRange(datetime(2026, 10, 31, 21, tzinfo=UTC), datetime(2026, 11, 1, 3, tzinfo=UTC))
ATTACKER = "198.51.100.23"


@pytest.fixture(scope="module")
def rows(lake_settings):
    root = Path(lake_settings.lake_url.removeprefix("file://")) / "curated"
    return {
        t: ds.dataset(sorted(map(str, (root / t).rglob("*.parquet"))), format="parquet", partitioning="hive")
        .to_table()
        .to_pylist()
        for t in ("cloudtrail", "vpcflow", "s3access")
    }


def run(settings, hunt_id, params, rng=RNG):
    hunt = load_hunts(REPO / "sql")[hunt_id]
    res = run_sql(settings, hunt.body, rng, hunt.bind_params(params))
    return [r for b in res.batches for r in b.to_pylist()]


def test_shipped_hunts_load_and_render_one_query():
    hunts = load_hunts(REPO / "sql")
    assert set(hunts) >= {"principal_timeline", "rare_api_calls", "vpc_top_talkers", "s3_objects_read_by_ip"}
    for h in hunts.values():
        given = {
            n: "192.0.2.1" if p.type == "ip" else "x"
            for n, p in h.header.parameters.items()
            if p.default is None
        }
        sql = h.render(given, RNG.start, RNG.end)
        assert len(sqlglot.parse(sql, read="athena")) == 1
        assert "(dt = '2026-10-31' AND hour IN ('21', '22', '23'))" in sql


def test_principal_timeline(lake_settings, rows):
    alice = "arn:aws:iam::111111111111:user/alice"
    got = run(lake_settings, "principal_timeline", {"principal": alice})
    want = sorted(
        [
            r["event_time"]
            for r in rows["cloudtrail"]
            if alice
            in (r["useridentity"]["arn"], r["useridentity"]["principalid"], r["useridentity"]["username"])
        ]
        + [r["event_time"] for r in rows["s3access"] if r["requester"] == alice]
    )
    assert [r["event_time"] for r in got] == want and want
    assert {r["source"] for r in got} <= {"cloudtrail", "s3access"}
    assert len(run(lake_settings, "principal_timeline", {"principal": alice, "limit": "3"})) == 3
    # A hostile principal (a console user name an attacker typed) matches its own event, literally.
    hostile = run(lake_settings, "principal_timeline", {"principal": HOSTILE_ARN})
    assert [(r["event_time"], r["event_name"]) for r in hostile] == [
        (HOSTILE_TIME.replace(tzinfo=None), "GetUser")
    ]


def test_rare_api_calls(lake_settings, rows):
    calls = Counter(
        (r["useridentity"]["arn"], r["eventsource"], r["eventname"])
        for r in rows["cloudtrail"]
        if r["useridentity"]["arn"] is not None and (r["useridentity"]["type"] or "") != "AWSService"
    )
    totals: dict[str, int] = defaultdict(int)
    for (arn, _, _), n in calls.items():
        totals[arn] += n
    want = {(a, e, n) for (a, _, e), n in calls.items() if n <= 1 and totals[a] >= 50}
    got = run(
        lake_settings, "rare_api_calls", {"max_calls": "1", "min_principal_calls": "50", "limit": "10000"}
    )
    assert {(r["principal"], r["event_name"], r["calls"]) for r in got} == want and want
    assert all(r["principal_calls"] == totals[r["principal"]] for r in got)
    one = next(iter(want))[0]
    got = run(
        lake_settings, "rare_api_calls", {"max_calls": "1", "min_principal_calls": "50", "principal": one}
    )
    assert {r["principal"] for r in got} == {one}


def test_vpc_top_talkers(lake_settings, rows):
    pairs: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in rows["vpcflow"]:
        if r["action"] == "REJECT":
            pairs[(r["srcaddr"], r["dstaddr"])][0] += r["bytes"] or 0
            pairs[(r["srcaddr"], r["dstaddr"])][1] += 1
    want = sorted(pairs.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0][0], kv[0][1]))[:5]
    got = run(lake_settings, "vpc_top_talkers", {"action": "REJECT", "limit": "5"})
    assert [((r["srcaddr"], r["dstaddr"]), [r["total_bytes"], r["flows"]]) for r in got] == want
    assert got[0]["srcaddr"] == ATTACKER  # the port scan
    got = run(lake_settings, "vpc_top_talkers", {"ip": ATTACKER})
    assert got and all(ATTACKER in (r["srcaddr"], r["dstaddr"]) for r in got)


def test_s3_objects_read_by_ip(lake_settings, rows):
    want = Counter(
        (r["bucket_name"], r["key"])
        for r in rows["s3access"]
        if r["remoteip"] == ATTACKER
        and r["operation"] in ("REST.GET.OBJECT", "REST.COPY.OBJECT_GET")
        and r["key"]
    )
    got = run(lake_settings, "s3_objects_read_by_ip", {"ip": ATTACKER})
    assert {(r["bucket_name"], r["key"]): r["requests"] for r in got} == dict(want) and want
    assert run(lake_settings, "s3_objects_read_by_ip", {"ip": "192.0.2.99"}) == []


def _write(tmp_path, name, header, body="SELECT 1 AS x FROM cloudtrail WHERE {{ window() }}"):
    path = tmp_path / f"{name}.sql"
    path.write_text(f"/*\n{header}\n*/\n{body}\n")
    return path


BASE = "id: {id}\ntitle: A test hunt\ndescription: what this hunt looks for, at length\n"


@pytest.mark.parametrize(
    ("extra", "body", "message"),
    [
        ("severity: high\n", None, "Extra inputs are not permitted"),
        (
            "parameters:\n  ip: {type: ip, description: an ip, default: not-an-ip}\n",
            "SELECT 1 AS x FROM t WHERE {{ window() }} AND a = {{ param('ip') }}",
            "not an IPv4",
        ),
        (
            "parameters:\n  n: {type: int, description: a number, default: 5, min: 10}\n",
            "SELECT 1 AS x FROM t WHERE {{ window() }} LIMIT {{ param('n') }}",
            "below the minimum",
        ),
        (
            "parameters:\n  s: {type: string, description: text, min: 1}\n",
            "SELECT 1 AS x FROM t WHERE {{ window() }} AND a = {{ param('s') }}",
            "int parameters only",
        ),
        ("parameters:\n  s: {type: cidr, description: text}\n", None, "Input should be"),
        ("parameters:\n  s: {type: string, description: text}\n", None, "declared but unused"),
        ("", "SELECT 1 AS x FROM t WHERE {{ window() }} AND a = {{ param('nope') }}", "undeclared"),
        ("", "SELECT 1 AS x FROM t", r"must use \{\{ window\(\) \}\}"),
        ("", "SELECT 1 AS x FROM t WHERE {{ window() }} AND {{ config }}", "unknown template syntax"),
        (
            "parameters:\n  s: {type: string, description: text}\n",
            "SELECT 1 AS x FROM t WHERE {{ window() }} AND a = '{{ param('s') }}'",
            "where a value goes",
        ),
        ("default_range: forever\n", None, "duration"),
    ],
)
def test_header_and_body_are_strict(tmp_path, extra, body, message):
    path = _write(
        tmp_path,
        "bad_hunt",
        BASE.format(id="bad_hunt") + extra,
        body or "SELECT 1 AS x FROM t WHERE {{ window() }}",
    )
    with pytest.raises(HuntError, match=message):
        load_hunt(path)


def test_id_must_match_filename(tmp_path):
    with pytest.raises(HuntError, match="differs from the filename"):
        load_hunt(_write(tmp_path, "one_name", BASE.format(id="other_name")))


def test_parameters_are_validated_by_type():
    hunts = load_hunts(REPO / "sql")
    with pytest.raises(HuntError, match="missing required parameter 'ip'"):
        hunts["s3_objects_read_by_ip"].bind_params({})
    with pytest.raises(HuntError, match="not an IPv4"):
        hunts["s3_objects_read_by_ip"].bind_params({"ip": "1.2.3.4' OR '1'='1"})
    with pytest.raises(HuntError, match="unknown parameter 'ipp'"):
        hunts["s3_objects_read_by_ip"].bind_params({"ip": "1.2.3.4", "ipp": "x"})
    with pytest.raises(HuntError, match="not an integer"):
        hunts["vpc_top_talkers"].bind_params({"limit": "5; DROP TABLE vpcflow"})
    with pytest.raises(HuntError, match="above the maximum"):
        hunts["vpc_top_talkers"].bind_params({"limit": "100000000"})
    assert parse_param_args(["principal=a=b", "limit=3"]) == {"principal": "a=b", "limit": "3"}
    with pytest.raises(HuntError, match="given twice"):
        parse_param_args(["a=1", "a=2"])


def test_cli_hunt(lake_env, capsys):
    assert main(["hunt", "list"]) == 0
    out = capsys.readouterr().out
    assert "s3_objects_read_by_ip" in out and "ip:ip" in out
    args = [
        "hunt",
        "s3_objects_read_by_ip",
        "-p",
        f"ip={ATTACKER}",
        "--from",
        "2026-10-31T21:00Z",
        "--to",
        "2026-11-01T03:00Z",
        "--format",
        "jsonl",
    ]
    assert main(args) == 0
    recs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert recs and all(r["bucket_name"] for r in recs)
    assert main(["hunt", "s3_objects_read_by_ip", "-p", "ip=1.2.3.4' OR '1'='1", "--last", "1h"]) == 2
    assert "not an IPv4" in capsys.readouterr().err
    assert main(["hunt", "no_such_hunt"]) == 2
    assert main(["hunt", "vpc_top_talkers", "--to", "2026-11-01T03:00Z", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "the hunt's default, last 24h" in err and "FROM vpcflow" in err
