"""Generic signed webhook: one JSON POST per alert to a URL the operator runs (a SOAR, an on-call or ticketing
bridge, a chat relay), signed so the receiver can tell the request came from mamori and is not a replay.

Capability: chat. Like a Slack message it is a notification sent once per alert, after the ticket, linking to
it: the receiver deduplicates by the alert key (`Idempotency-Key`), so a re-send can neither update nor
resolve what it created, and recurrences go to the ticket. Being a notification, it is quiet for experimental
rules and backfills, like every output that wakes someone up. (A receiver that pages would want `page`; that
needs an update-in-place and a resolve message this generic shape does not define.)

Wire format (what a receiver implements):

    POST <connection URL>
    Content-Type: application/json
    Idempotency-Key: <alert key>              the receiver keeps the first body per key and drops repeats
    X-Mamori-Timestamp: <unix seconds>
    X-Mamori-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

    {"version": 1, "alert_key": ..., "detection_id": ..., "title": ..., "severity": ..., "status": ...,
     "log_source": ..., "hit_count": ..., "first_seen": ..., "last_seen": ..., "dedup_window": {...},
     "dedup_values": {...}, "ticket": <url, when the alert has a ticket>, "mitre": [...], "runbook": ...}

A receiver recomputes the HMAC over the timestamp, a dot and the raw body bytes, compares in constant time,
and rejects timestamps more than a few minutes old (a captured request cannot be replayed later).

Exactly-once at the receiver: a crash between the receiver's 2xx and the ledger's record re-sends the same
key next run, which the receiver drops. Retries (429 honouring Retry-After, 5xx, timeouts) are the shared
policy; each attempt is signed afresh, so a retry after a long Retry-After still has a current timestamp.

Inert text: every log-derived value is one line of plain text (controls and bidi made visible, line breaks
escaped, bounded) inside a JSON string, and `<`, `>`, `&` are sent as JSON escapes, so a receiver that pastes
the body or a value into HTML renders no markup. Nothing is markup by contract: receivers show text as text.

Connection `mamori_webhook` (conn_type `http`): host = the endpoint URL (or host name with schema = http or
https, port, and extra `path`), password = the signing secret. The secret and the URL (which may itself carry
a token) never appear in an exception or log line.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Any

import orjson

from mamori.alerts.alert import Alert
from mamori.alerts.outputs.base import (
    TICKET_URL,
    Capabilities,
    DeliveryError,
    Output,
    base_url,
    connection,
    fit,
    plain,
    post_once,
    with_retries,
)
from mamori.alerts.render import visible
from mamori.detections.loader import Detection

log = logging.getLogger(__name__)

CONN_ID = "mamori_webhook"
VERSION = 1
SIGNATURE_HEADER = "X-Mamori-Signature"
TIMESTAMP_HEADER = "X-Mamori-Timestamp"
MAX_ENTRIES = 25  # dedup values sent
MAX_RUNBOOK = 8_000
# JSON escapes for the characters that start markup: the JSON stays equal, HTML pasted from it stays text.
_MARKUP_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"))


def body(alert: Alert, det: Detection | None, ticket_url: str | None = None) -> bytes:
    """The JSON body for an alert: every log-derived value plain, bounded text; markup characters escaped."""
    dedup = list(alert.dedup_values.items())
    doc: dict[str, Any] = {
        "version": VERSION,
        "alert_key": alert.key,
        "detection_id": plain(alert.detection_id, 200),
        "title": plain(det.header.title if det else alert.title, 200),
        "severity": plain(alert.severity, 10),
        "status": plain(alert.status, 20),
        "log_source": plain(alert.log_source, 100),
        "hit_count": int(alert.hit_count),
        "first_seen": plain(alert.first_seen, 64),
        "last_seen": plain(alert.last_seen, 64),
        "dedup_window": {"start": plain(alert.bucket_start, 64), "end": plain(alert.bucket_end, 64)},
        "dedup_values": {plain(k, 64): plain(v) for k, v in dedup[:MAX_ENTRIES]},
    }
    if len(dedup) > MAX_ENTRIES:
        doc["dedup_values_omitted"] = len(dedup) - MAX_ENTRIES
    if ticket_url and TICKET_URL.fullmatch(ticket_url):
        doc["ticket"] = ticket_url
    if det:
        doc["mitre"] = list(det.header.mitre)
        doc["runbook"] = fit(visible(det.header.runbook.strip()), MAX_RUNBOOK)  # reviewed text, still bounded
    raw = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    for char, escaped in _MARKUP_ESCAPES:
        raw = raw.replace(char, escaped)
    return raw


def signature(secret: str, timestamp: str, raw: bytes) -> str:
    """`v1=<hex>`: HMAC-SHA256 with the connection's secret over `<timestamp>.<raw body>`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


class WebhookOutput(Output):
    """Posts one signed JSON notification per alert to the `mamori_webhook` connection's URL."""

    name = "webhook"
    conn_id = CONN_ID
    capabilities = Capabilities(kind="chat", links_to_ticket=True)
    timeout: float = 10.0  # seconds per attempt (connect and read)
    retry_base_delay: float = 1.0  # backoff start; tests lower it
    attempts: int = 4

    def _endpoint(self) -> tuple[str, str]:
        """(URL, signing secret) from the connection; read per call so a rotated secret takes effect."""
        conn = connection(CONN_ID)
        secret = (conn.password or "").strip()
        if not secret:
            # Unsigned, anyone who learns the URL could forge alerts into the receiver: refuse to send.
            raise DeliveryError(f"connection {CONN_ID!r} has no signing secret in its password field")
        url = base_url(conn)
        if not url:
            raise DeliveryError(f"connection {CONN_ID!r} has no host (the webhook URL)")
        path = str((conn.extra_dejson or {}).get("path") or "")
        if path and "://" not in (conn.host or ""):
            url = f"{url}/{path.lstrip('/')}"
        return url, secret

    def deliver(
        self,
        alert: Alert,
        det: Detection | None,
        previous_ref: str | None = None,
        ticket_url: str | None = None,
    ) -> str:
        """Post the alert once; with a previous reference post nothing (the receiver would drop it anyway)."""
        if previous_ref is not None:
            return previous_ref
        url, secret = self._endpoint()
        raw = body(alert, det, ticket_url)
        what = f"webhook post {alert.key}"

        def attempt() -> None:
            timestamp = str(int(time.time()))
            post_once(
                url,
                content=raw,
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": alert.key,
                    TIMESTAMP_HEADER: timestamp,
                    SIGNATURE_HEADER: signature(secret, timestamp, raw),
                    "User-Agent": "mamori-webhook/1",
                },
                timeout=self.timeout,
                what=what,
                secrets=(secret, url),
            )

        with_retries(attempt, what=what, attempts=self.attempts, base_delay=self.retry_base_delay)
        log.info("%s: accepted", what)
        return f"webhook:{alert.key}"
