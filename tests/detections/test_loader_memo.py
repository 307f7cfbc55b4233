"""Loading a rule again in the same process reuses its parsed header and SQL check, yet an edit is checked afresh.

The demo runs every task of every DAG run in one process (dag.test()), and a detect run loads the catalog in its
sensor, its chunk listing and each chunk: YAML and sqlglot were ~18 % of the demo's wall time. The memo is keyed
on the header's and the rendered SQL's text, so these tests pin the two halves of the bargain: the second load of
unchanged text parses nothing, and a changed header or body (or a lookup list, which changes the rendered SQL) is
checked as if never seen.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlglot
import yaml

from mamori.detections.loader import DetectionError, load_detection

REPO = Path(__file__).resolve().parents[2]
ROOT_RULE = REPO / "sql" / "detections" / "cloudtrail" / "cloudtrail_root_activity.sql"


def _rule(tmp_path: Path, body: str) -> Path:
    """A copy of a shipped rule's header under a fresh id, with `body`; a unique YAML comment so no other test
    of this process has loaded the same header text (the memo is process-wide)."""
    header = (
        ROOT_RULE.read_text()
        .split("*/", 1)[0]
        .replace("id: cloudtrail_root_activity", f"id: ct_memo\n# memo probe {uuid.uuid4().hex}")
    )
    path = tmp_path / "sql" / "detections" / "cloudtrail" / "ct_memo.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "*/\n" + body)
    return path


def _counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"yaml": 0, "sqlglot": 0}
    real_yaml, real_parse = yaml.safe_load, sqlglot.parse

    def safe_load(*a: Any, **k: Any) -> Any:
        calls["yaml"] += 1
        return real_yaml(*a, **k)

    def parse(*a: Any, **k: Any) -> Any:
        calls["sqlglot"] += 1
        return real_parse(*a, **k)

    monkeypatch.setattr(yaml, "safe_load", safe_load)
    monkeypatch.setattr(sqlglot, "parse", parse)
    return calls


BODY = (
    f"-- {uuid.uuid4().hex}\nSELECT event_time, account_id, actor, source_ip, event_name FROM cloudtrail\n"
    "WHERE {{ window() }} AND actor = 'root'"
)


def test_a_second_load_of_the_same_text_parses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _rule(tmp_path, BODY)
    calls = _counting(monkeypatch)
    first = load_detection(path)
    assert calls == {"yaml": 1, "sqlglot": 1}
    second = load_detection(path)
    assert calls == {"yaml": 1, "sqlglot": 1}
    assert second == first


def test_an_edited_body_or_header_is_checked_again(tmp_path: Path) -> None:
    path = _rule(tmp_path, BODY)
    good = path.read_text()
    load_detection(path)

    path.write_text(good.replace("SELECT event_time", "SELECT SELECT event_time"))
    with pytest.raises(DetectionError, match="not valid Athena SQL"):
        load_detection(path)

    path.write_text(good.replace("FROM cloudtrail", "FROM cloudtrail; SELECT 1 FROM cloudtrail"))
    with pytest.raises(DetectionError, match="exactly one SELECT"):
        load_detection(path)

    path.write_text(good.replace("severity: high", "severity: [critical"))
    with pytest.raises(DetectionError, match="not valid YAML"):
        load_detection(path)

    path.write_text(good.replace("severity: high", "severity: catastrophic"))
    with pytest.raises(DetectionError, match="severity"):
        load_detection(path)

    path.write_text(good)
    assert load_detection(path).id == "ct_memo"
