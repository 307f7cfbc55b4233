"""Suppressions: active entries hide matching hits and the ledger records it; expired entries stop hiding
and are reported; expiry follows the window, so re-runs agree; malformed files fail loudly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mamori.alerts.ledger import Ledger
from mamori.detections.suppressions import SuppressionError, apply, load_suppressions

REPO = Path(__file__).resolve().parents[2]
W_END = datetime(2026, 11, 1, 11, tzinfo=UTC)


def write(tmp_path: Path, body: str) -> Path:
    sql = tmp_path / "sql"
    sql.mkdir(exist_ok=True)
    (sql / "suppressions.yaml").write_text(body)
    return sql


ENTRIES = """
- id: drill-office-ip
  detection: cloudtrail_root_activity
  match: {source_ip: "192.0.2.10"}
  owner: security-engineering
  reason: quarterly break-glass drill from the office egress IP
  expires: 2026-11-01
- id: old-migration
  detection: "*"
  match: {actor: "arn:aws:iam::111111111111:role/migration"}
  owner: platform
  reason: data migration finished in October, should have been removed
  expires: 2026-10-15
"""


def hits() -> list[dict]:
    return [
        {"source_ip": "192.0.2.10", "actor": "arn:aws:iam::111111111111:root"},
        {"source_ip": "198.51.100.23", "actor": "arn:aws:iam::111111111111:root"},
        {"source_ip": "10.0.0.1", "actor": "arn:aws:iam::111111111111:role/migration"},
    ]


def test_active_entries_hide_and_expired_ones_do_not(tmp_path):
    entries = load_suppressions(write(tmp_path, ENTRIES))
    res = apply("cloudtrail_root_activity", hits(), entries, W_END)
    assert [h["source_ip"] for h in res.kept] == ["198.51.100.23", "10.0.0.1"]  # migration entry expired
    assert dict(res.hidden) == {"drill-office-ip": 1}
    assert res.expired == ["old-migration"]
    # The day after its expiry date the drill entry stops hiding too: same input, later window.
    later = apply("cloudtrail_root_activity", hits(), entries, W_END + timedelta(days=1))
    assert len(later.kept) == 3 and sorted(later.expired) == ["drill-office-ip", "old-migration"]
    # Other detections are untouched by a detection-specific entry.
    assert len(apply("cloudtrail_guardduty_disabled", hits(), entries, W_END).kept) == 3


@pytest.mark.parametrize(
    "body",
    [
        "- {id: x1x, detection: d, match: {a: b}, owner: o, reason: long enough reason, expires: 2026-01-01, extra: 1}",
        "- {id: x1x, detection: d, match: {}, owner: o, reason: long enough reason, expires: 2026-01-01}",
        "- {id: x1x, detection: d, match: {a: b}, owner: o, reason: short, expires: 2026-01-01}",
        "{not: a list}",
    ],
)
def test_malformed_files_fail_loudly(tmp_path, body):
    with pytest.raises(SuppressionError):
        load_suppressions(write(tmp_path, body))


def test_the_ledger_records_what_was_hidden_per_window(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    start = W_END - timedelta(hours=1)
    ledger.record_suppressed("cloudtrail_root_activity", start, W_END, {"drill-office-ip": 2})
    ledger.record_suppressed("cloudtrail_root_activity", start, W_END, {"drill-office-ip": 2})  # re-run
    ledger.record_suppressed(
        "cloudtrail_root_activity", W_END, W_END + timedelta(hours=1), {"drill-office-ip": 1}
    )
    assert ledger.suppressed(start, W_END + timedelta(hours=1)) == [
        {"suppression": "drill-office-ip", "detection": "cloudtrail_root_activity", "hits": 3}
    ]


def test_the_shipped_file_is_valid():
    load_suppressions(REPO / "sql")
