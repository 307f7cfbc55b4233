"""PagerDuty output: one Events API v2 alert per mamori incident (dedup key = incident id) or per alert.

Per incident (routing `deliver_per: incident`, the default): `deliver_member` triggers once per incident, again
only when its severity rises (same dedup key: an update, not a second page), and resolves it when the
incident's ticket is closed; a merged incident's page is resolved, its alerts now on the survivor's. Per
alert, as follows.

Exactly-once paging comes from PagerDuty, not from us: every event carries `dedup_key = alert.key`, and
PagerDuty folds every trigger with the dedup key of an open alert into that alert. So a retry, a re-run of
the dispatcher, or a crash between "PagerDuty accepted" and "ledger recorded" costs one extra event on the
same alert, never a second page. The one thing dedup cannot cover is a trigger *after* the alert was
resolved (PagerDuty then opens a new incident), which is why `deliver` sends a resolve instead of a trigger
for an alert the ledger no longer has open.

Why not `PagerdutyEventsHook`: its sync client (`pagerduty` 7.2.0 `EventsApiV2Client`) refuses any base URL
that is not https, so it cannot be pointed at a regional/proxy endpoint over plain http or at the local
fake server the tests use, and its retry policy is internal. The Events API v2 is one POST, so this module
is a small client for it on httpx (the HTTP library of Airflow core and the same API the pagerduty client's
`httpx2` exposes), with the base URL taken from the connection and our own retry policy.

Connection `mamori_pagerduty` (conn_type `pagerduty_events`, the provider's type): password = routing
(integration) key, host = Events API base URL, default https://events.pagerduty.com. The routing key is a
secret: it only ever travels in the request body and never appears in a log line or exception message.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from mamori.alerts.alert import Alert, IncidentTicket, IncidentView
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

CONN_ID = "mamori_pagerduty"
DEFAULT_BASE_URL = "https://events.pagerduty.com"
# PagerDuty has four severities; ours has five.
SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info", "info": "info"}
MAX_SUMMARY = 1024  # PagerDuty truncates summaries beyond this; we bound them ourselves, visibly
MAX_SOURCE = 255
MAX_ENTRIES = 25  # dedup values shown; a detection has a handful of dedup keys
MAX_RUNBOOK = 8_000
MAX_ERROR = 500  # error text from the server quoted in our exceptions


def tactics(det: Detection | None) -> str | None:
    """MITRE tactic ids of the detection (`TA0004:T1078.004` → `TA0004`), in header order."""
    if det is None:
        return None
    return ",".join(dict.fromkeys(m.split(":", 1)[0] for m in det.header.mitre)) or None


def account_of(alert: Alert) -> str | None:
    """The AWS account the alert is about, from the dedup values or else the samples."""
    acct = alert.dedup_values.get("account_id")
    if acct is None:
        acct = next((s["account_id"] for s in alert.samples if s.get("account_id") is not None), None)
    return None if acct is None else str(acct)


class PagerDutyOutput(Output):
    """Pages through an Events API v2 integration; the external reference is the dedup key (= alert key).

    The dispatcher hands `deliver` the alert's ticket link (e.g. the GitHub issue) when there is one; it is
    attached to the PagerDuty alert and shown in its details. A trigger is an update in place (same dedup
    key), so a page sent during a ticket outage is sent again once the ticket exists, with the link.
    """

    name = "pagerduty"
    conn_id = CONN_ID
    capabilities = Capabilities(
        kind="page",
        links_to_ticket=True,
        updates_in_place=True,
        resolves=True,
        per_incident=True,
        acknowledges=True,
    )
    timeout: float = 10.0  # seconds per attempt (connect and read)
    retry_base_delay: float = 1.0  # backoff start; tests lower it
    attempts: int = 4

    def _endpoint(self) -> tuple[str, str]:
        """(enqueue URL, routing key) from the connection; read per call so a rotated key takes effect."""
        conn = connection(CONN_ID)
        key = (conn.password or "").strip()
        if not key:
            raise DeliveryError(f"connection {CONN_ID!r} has no routing key in its password field")
        return f"{base_url(conn, DEFAULT_BASE_URL)}/v2/enqueue", key

    def event(
        self, alert: Alert, det: Detection | None, action: str = "trigger", ticket_url: str | None = None
    ) -> dict[str, Any]:
        """The Events API v2 body without the routing key (so it can be logged or asserted on)."""
        if action != "trigger":
            return {"event_action": action, "dedup_key": alert.key}
        title = det.header.title if det else alert.title
        entities = ", ".join(f"{plain(k, 64)}={plain(v, 200)}" for k, v in alert.dedup_values.items())
        summary = fit(
            f"[{alert.severity.upper()}] {plain(title, 200)}" + (f": {entities}" if entities else ""),
            MAX_SUMMARY,
        )
        account = account_of(alert)
        source = plain(f"aws:{account}" if account else alert.log_source, MAX_SOURCE)
        dedup = dict(list(alert.dedup_values.items())[:MAX_ENTRIES])
        details: dict[str, Any] = {
            "alert_key": alert.key,
            "detection_id": plain(alert.detection_id, 200),
            "hit_count": alert.hit_count,
            "dedup_values": {plain(k, 64): plain(v) for k, v in dedup.items()},
            "first_seen": plain(alert.first_seen, 64),
            "last_seen": plain(alert.last_seen, 64),
            "dedup_window": f"{plain(alert.bucket_start, 64)} → {plain(alert.bucket_end, 64)}",
        }
        if len(alert.dedup_values) > MAX_ENTRIES:
            details["dedup_values_omitted"] = len(alert.dedup_values) - MAX_ENTRIES
        if det:
            # Reviewed text from the detection header, still bounded and control-free.
            details["runbook"] = fit(visible(det.header.runbook.strip()), MAX_RUNBOOK)
            details["mitre"] = ", ".join(det.header.mitre)
        payload: dict[str, Any] = {
            "summary": summary,
            "source": source,
            "severity": SEVERITY.get(alert.severity, "info"),
            "timestamp": alert.first_seen,
            "component": plain(alert.detection_id, 200),
            "group": plain(alert.log_source, 200),
            "custom_details": details,
        }
        if tactic := tactics(det):
            payload["class"] = tactic
        body: dict[str, Any] = {
            "event_action": "trigger",
            "dedup_key": alert.key,
            "payload": payload,
            "client": "mamori",
        }
        ticket = ticket_url
        if ticket and TICKET_URL.fullmatch(ticket):
            details["ticket"] = plain(ticket, 2048)
            body["links"] = [{"href": ticket, "text": "ticket"}]
        return body

    def _send(self, body: dict[str, Any]) -> str:
        """POST one event with retries; returns the dedup key PagerDuty acknowledged."""
        url, key = self._endpoint()
        action, dedup_key = body["event_action"], body["dedup_key"]
        what = f"pagerduty {action} {dedup_key}"

        def attempt() -> str:
            resp = post_once(
                url,
                json_body={"routing_key": key, **body},
                timeout=self.timeout,
                what=what,
                secrets=(key,),
                refused=lambda r: f"PagerDuty rejected the event as invalid (400, not retried): {_errors(r)}",
            )
            try:
                ack = resp.json()
            except ValueError:
                ack = {}
            return str(ack.get("dedup_key") or dedup_key)

        ref = with_retries(attempt, what=what, attempts=self.attempts, base_delay=self.retry_base_delay)
        log.info("%s: accepted", what)
        return ref

    def deliver(
        self,
        alert: Alert,
        det: Detection | None,
        previous_ref: str | None = None,
        ticket_url: str | None = None,
    ) -> str:
        """Trigger (or re-trigger, which only updates the open PagerDuty alert) and return the dedup key.

        `previous_ref` does not change what is sent: the dedup key makes a re-send an update. An alert the
        ledger has closed is resolved instead, since a trigger would reopen it as a new incident.
        """
        if alert.status != "open":
            self.resolve(alert.key)
            return alert.key
        self._send(self.event(alert, det, ticket_url=ticket_url))
        return alert.key

    def resolve(self, ref: str) -> None:
        """Resolve the PagerDuty alert of this dedup key (an alert key, or an incident id per incident):
        lifecycle sync when the ticket is closed. Idempotent: resolving an unknown or already resolved key is
        accepted and changes nothing."""
        self._send({"event_action": "resolve", "dedup_key": ref})

    def acknowledge(self, ref: str) -> None:
        """Acknowledge the PagerDuty alert of this dedup key (an incident acknowledged in mamori): escalation
        stops, the page stays open until the incident is closed. Idempotent, like `resolve`."""
        self._send({"event_action": "acknowledge", "dedup_key": ref})

    def incident_event(self, inc: IncidentView, ticket_url: str | None = None) -> dict[str, Any]:
        """The trigger of an incident's one PagerDuty alert (dedup key = incident id), at its severity."""
        n = len(inc.members)
        values = ", ".join(plain(e.get("value"), 200) for e in inc.entities[:3])
        summary = fit(
            f"[{inc.severity.upper()}] Incident: {n} alert{'s' if n != 1 else ''}"
            + (f": {values}" if values else ""),
            MAX_SUMMARY,
        )
        account = next((a for a in map(account_of, inc.members) if a), None)
        details: dict[str, Any] = {
            "incident_id": inc.incident_id,
            "severity_reason": plain(inc.severity_reason),
            "tactics": ", ".join(inc.tactics),
            "alert_count": n,
            "first_seen": plain(inc.first_seen, 64),
            "last_seen": plain(inc.last_seen, 64),
            "entities": [f"{plain(e.get('kind'), 20)}={plain(e.get('value'), 200)}" for e in inc.entities],
            "alerts": [
                f"{plain(a.first_seen, 40)} {plain(a.detection_id, 100)} [{plain(a.severity, 10)}] {a.key}"
                for a in inc.members[:MAX_ENTRIES]
            ],
        }
        if n > MAX_ENTRIES:
            details["alerts_omitted"] = n - MAX_ENTRIES
        payload: dict[str, Any] = {
            "summary": summary,
            "source": plain(f"aws:{account}" if account else "mamori", MAX_SOURCE),
            "severity": SEVERITY.get(inc.severity, "info"),
            "timestamp": inc.first_seen,
            "component": "mamori-incident",
            "group": plain(",".join(sorted({a.log_source for a in inc.members})), 200),
            "custom_details": details,
        }
        if inc.tactics:
            payload["class"] = ",".join(inc.tactics)
        body: dict[str, Any] = {
            "event_action": "trigger",
            "dedup_key": inc.incident_id,
            "payload": payload,
            "client": "mamori",
        }
        if ticket_url and TICKET_URL.fullmatch(ticket_url):
            details["ticket"] = plain(ticket_url, 2048)
            body["links"] = [{"href": ticket_url, "text": "ticket"}]
        return body

    def deliver_member(
        self,
        alert: Alert,
        det: Detection | None,
        incident: IncidentView,
        ticket: IncidentTicket,
        previous_ref: str | None = None,
        ticket_url: str | None = None,
    ) -> tuple[str, IncidentTicket]:
        """One PagerDuty alert per incident: triggered by its first member, triggered again (an update of the
        same dedup key, at the new severity) only when the incident's severity rose or this member's own
        delivery is a re-send (a recurrence, or the ticket link that was missing); other new members send
        nothing: they are on the ticket. A new member of an incident whose alerts were all resolved (its ticket
        closed) triggers again: PagerDuty opens a new incident for new activity. An incident with no open
        member is resolved instead."""
        iid = incident.incident_id
        if not incident.open:
            self.resolve(iid)
            return iid, IncidentTicket(iid, ticket.notified)
        rises = ticket.notified is None or _rank(incident.severity) > _rank(ticket.notified)
        rises = rises or (previous_ref is None and incident.reopened_by(alert))  # resolved, then new activity
        if rises or previous_ref is not None:
            self._send(self.incident_event(incident, ticket_url))
            notified = incident.severity if rises else ticket.notified
            return iid, IncidentTicket(iid, notified)
        return iid, ticket

    def fold(self, merged_id: str, merged: IncidentTicket, into_id: str, into: IncidentTicket) -> None:
        """The merged incident's PagerDuty alert is resolved: its alerts are the survivor's now, whose page
        stays open (its members' references are re-pointed to it by the dispatcher)."""
        if merged.ref and merged.ref != into.ref:
            self.resolve(merged.ref)


def _rank(severity: str | None) -> int:
    order = ("info", "low", "medium", "high", "critical")
    return order.index(severity) if severity in order else -1


def _errors(resp: httpx.Response) -> str:
    """The `errors` list of an Events API 400 response, bounded; the raw body if it is not JSON."""
    try:
        data = resp.json()
    except ValueError:
        return plain(resp.text, MAX_ERROR)
    if isinstance(data, dict):
        msg = data.get("message") or data.get("status") or "invalid event"
        return plain(f"{msg}: {data.get('errors') or []}", MAX_ERROR)
    return plain(data, MAX_ERROR)
