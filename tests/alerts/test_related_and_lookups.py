"""Ticket context beyond the lake: earlier alerts on the same entity (ledger) and external lookups (off by
default; the shipped one reads a team-maintained reputation file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from mamori import detect
from mamori.alerts.ledger import Ledger
from mamori.alerts.lookups import configured_lookups
from mamori.config import load_settings
from mamori.detections.dedup import group_hits
from mamori.detections.loader import get_detection

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)


def hit(t: datetime, actor: str, ip: str) -> dict:
    return {
        "event_time": t,
        "account_id": "111111111111",
        "actor": actor,
        "principal": actor,
        "source_ip": ip,
        "event_name": "StopLogging",
    }


def record(ledger: Ledger, t: datetime, actor: str, ip: str) -> None:
    det = get_detection(REPO / "sql", "cloudtrail_trail_stopped_or_changed")
    ledger.record_window(
        det, t, t + timedelta(hours=1), group_hits(det, [hit(t + timedelta(minutes=5), actor, ip)])
    )


def enrichment_of(ledger: Ledger, actor: str) -> list[dict]:
    [alert] = [
        a for a in ledger.alerts() if a.dedup_values.get("principal") == actor and a.first_seen > "2026-11-20"
    ]
    return alert.enrichment or []


def test_related_alerts_from_the_ledger_within_30_days(settings):
    ledger = Ledger(settings.ledger_url)
    record(ledger, T0 - timedelta(days=3), "bob", "198.51.100.23")  # same IP, 3 days earlier
    record(ledger, T0 - timedelta(days=40), "carol", "198.51.100.23")  # same IP, too old
    record(ledger, T0 - timedelta(days=2), "dave", "203.0.113.50")  # unrelated
    record(ledger, T0, "alice", "198.51.100.23")
    detect.dispatch(settings)
    by = {(e["id"], e["entity"]): e for e in enrichment_of(ledger, "alice")}
    ip_related = by[("related_alerts", "198.51.100.23")]["rows"]
    assert [row[1] for row in ip_related] == ["cloudtrail_trail_stopped_or_changed"]
    assert ip_related[0][0].startswith("2026-11-17")
    assert by[("related_alerts", "alice")]["rows"] == []
    assert not any(e["id"].startswith("lookup:") for e in enrichment_of(ledger, "alice"))  # off by default


def test_reputation_file_lookup_when_configured(settings, monkeypatch, tmp_path):
    rep = tmp_path / "reputation.csv"
    rep.write_text(
        "# ip_or_cidr,label,source\n198.51.100.0/24,known scanner <img src=x>,internal-ti\nnot-an-ip,x,y\n"
    )
    monkeypatch.setenv("MAMORI_IP_REPUTATION_FILE", str(rep))
    settings = load_settings()  # read once per task, like every setting
    assert [lk.name for lk in configured_lookups(settings)] == ["ip_reputation_file"]
    ledger = Ledger(settings.ledger_url)
    record(ledger, T0, "alice", "198.51.100.23")
    detect.dispatch(settings)
    [entry] = [e for e in enrichment_of(ledger, "alice") if e["id"] == "lookup:ip_reputation_file"]
    assert dict(entry["rows"]) == {
        "match": "198.51.100.0/24",
        "label": "known scanner <img src=x>",
        "source": "internal-ti",
    }
    ticket = next((Path(settings.outbox_url.removeprefix("file://")) / "tickets").rglob("*.md")).read_text()
    assert "`known scanner <img src=x>`" in ticket  # a fact from a file is still rendered inert
