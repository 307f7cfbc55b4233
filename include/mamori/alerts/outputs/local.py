"""The embedded default output: one Markdown ticket per alert key plus a JSONL index, in the outbox store.

File names are alert keys, so re-delivery overwrites the same ticket instead of creating another.
"""

from __future__ import annotations

import orjson

from mamori.alerts.alert import Alert
from mamori.alerts.outputs.base import Capabilities, Output
from mamori.alerts.render import ticket_markdown
from mamori.config import Settings
from mamori.detections.loader import Detection


class LocalOutput(Output):
    """Tickets under <outbox>/tickets/<detection>/<alert key>.md."""

    name = "local"
    conn_id = None  # the outbox store is settings, not a secret: always configured
    # A ticket, but its reference is a path in the outbox, not a link a page or message could carry.
    capabilities = Capabilities(kind="ticket")

    def __init__(self, settings: Settings) -> None:
        # Deferred: the store is built on Airflow's ObjectStoragePath, and the registry (read by the ledger's
        # routing for capabilities) must not make every ledger user import Airflow; only a sender needs it.
        from mamori.lake import Store

        super().__init__(settings)
        self.store = Store(settings.outbox_url)

    def deliver(
        self,
        alert: Alert,
        det: Detection | None,
        previous_ref: str | None = None,
        ticket_url: str | None = None,
    ) -> str:
        key = f"tickets/{alert.detection_id}/{alert.key}.md"
        self.store.write_atomic(key, ticket_markdown(alert, det).encode())
        return self.store.uri(key)

    def write_index(self, alerts: list[Alert]) -> str:
        """alerts.jsonl rebuilt from the ledger: one line per alert, same bytes on every re-run."""
        body = b"".join(
            orjson.dumps(
                {
                    "alert_key": a.key,
                    "detection_id": a.detection_id,
                    "severity": a.severity,
                    "title": a.title,
                    "status": a.status,
                    "first_seen": a.first_seen,
                    "last_seen": a.last_seen,
                    "hit_count": a.hit_count,
                    "dedup_values": a.dedup_values,
                },
                option=orjson.OPT_SORT_KEYS,
            )
            + b"\n"
            for a in alerts
        )
        self.store.write_atomic("alerts.jsonl", body)
        return self.store.uri("alerts.jsonl")
