"""Reviewed lists a rule reads with {{ lookup('name') }}: rendered as literals, checked at load, and run on DuckDB."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from mamori.config import load_settings
from mamori.detections.loader import DetectionError, load_detection
from mamori.detections.lookups import load_lookup, sql_array
from mamori.engines.duckdb import DuckDBEngine

REPO = Path(__file__).resolve().parents[2]
ROOT_RULE = REPO / "sql" / "detections" / "cloudtrail" / "cloudtrail_root_activity.sql"
START, END = datetime(2026, 11, 1, 10, tzinfo=UTC), datetime(2026, 11, 1, 11, tzinfo=UTC)
BODY = (
    "SELECT event_time, account_id, actor, source_ip, event_name FROM cloudtrail\n"
    "WHERE {{ window() }} AND NOT contains({{ lookup('approved') }}, account_id)"
)
LIST = """description: accounts approved for the probe rule
pattern: '^[0-9]{12}$'
values:
  - value: "111111111111"
    note: production
"""


def _rule(tmp_path: Path, body: str = BODY, lookup: str | None = LIST) -> Path:
    header = ROOT_RULE.read_text().split("*/", 1)[0].replace("id: cloudtrail_root_activity", "id: ct_probe")
    path = tmp_path / "sql" / "detections" / "cloudtrail" / "ct_probe.sql"
    path.parent.mkdir(parents=True)
    path.write_text(header + "*/\n" + body)
    if lookup is not None:
        (tmp_path / "sql" / "lookups").mkdir()
        (tmp_path / "sql" / "lookups" / "approved.yaml").write_text(lookup)
    return path


def test_a_lookup_renders_as_an_array_literal_of_its_values(tmp_path: Path) -> None:
    sql = load_detection(_rule(tmp_path)).render(START, END)
    assert "NOT contains(ARRAY['111111111111'], account_id)" in sql


def test_values_are_escaped_and_an_empty_list_is_a_typed_empty_array() -> None:
    assert sql_array(["o'brien"]) == "ARRAY['o''brien']"
    assert sql_array([]) == "CAST(ARRAY[] AS ARRAY(VARCHAR))"


@pytest.mark.parametrize(
    ("lookup", "message"),
    [
        (None, "no file"),
        (LIST.replace('"111111111111"', '"11111111111"'), "do not match the pattern"),
        (LIST.replace("    note: production\n", ""), "note"),
        (LIST + '  - value: "111111111111"\n    note: again\n', "duplicate"),
        (LIST.replace("description:", "descripton:"), "descripton"),
    ],
)
def test_a_missing_or_malformed_list_stops_the_rule_from_loading(
    tmp_path: Path, lookup: str | None, message: str
) -> None:
    with pytest.raises(DetectionError, match=message):
        load_detection(_rule(tmp_path, lookup=lookup))


def test_a_changed_list_is_read_again(tmp_path: Path) -> None:
    det = load_detection(_rule(tmp_path))
    path = tmp_path / "sql" / "lookups" / "approved.yaml"
    path.write_text(LIST + '  - value: "222222222222"\n    note: staging\n')
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert load_lookup(tmp_path / "sql", "approved") == ("111111111111", "222222222222")
    assert "ARRAY['111111111111', '222222222222']" in det.render(START, END)


@pytest.mark.parametrize("values", [LIST, "description: nothing approved yet\nvalues: []\n"])
def test_the_rendered_lookup_runs_on_duckdb(tmp_path: Path, values: str) -> None:
    body = (
        "SELECT event_time, account_id, actor, source_ip, event_name FROM probe\n"
        "WHERE {{ window() }} AND NOT contains({{ lookup('approved') }}, account_id)"
    )
    det = load_detection(_rule(tmp_path, body=body, lookup=values))
    engine = DuckDBEngine(
        load_settings({"MAMORI_HOME": str(tmp_path / "home")}), threads=1, create_views=False
    )
    t = datetime(2026, 11, 1, 10, 30)
    rows = [
        {"event_time": t, "account_id": acct, "actor": "a", "source_ip": "192.0.2.1", "event_name": "X"}
        for acct in ("111111111111", "333333333333")
    ]
    rows = [
        r | {"account": r["account_id"], "region": "us-east-1", "dt": "2026-11-01", "hour": "10"}
        for r in rows
    ]
    try:
        engine.register_table("probe", pa.Table.from_pylist(rows))
        got = sorted(r["account_id"] for r in engine.query(det.render(START, END)).to_pylist())
    finally:
        engine.close()
    assert got == (["333333333333"] if values == LIST else ["111111111111", "333333333333"])


def test_the_shipped_known_accounts_list_loads() -> None:
    assert load_lookup(REPO / "sql", "known_accounts")


def test_copying_a_lookup_rule_without_its_lists_fails_loudly(tmp_path: Path) -> None:
    """A rule copied elsewhere without sql/lookups must not run with an empty list by accident."""
    path = _rule(tmp_path)
    shutil.rmtree(tmp_path / "sql" / "lookups")
    with pytest.raises(DetectionError, match="no file"):
        load_detection(path)
