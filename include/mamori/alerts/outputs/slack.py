"""Slack output: one message per incident (or per alert) through an incoming webhook, every value inert.

Per incident (routing `deliver_per: incident`, the default): the incident's first member posts one message
linking the incident's ticket, and a member that raises the incident's severity one more; other members post
nothing (they are comments on the ticket). A webhook can neither thread nor edit. Per alert, as follows.

Incoming webhooks can only post: they return "ok", not a message id, so a message can be neither threaded
under nor edited later. Hence one message per alert, posted once: when the ledger already holds a reference
(`previous_ref`), `deliver` posts nothing and returns it, and later hits on the same alert update the ticket
(and PagerDuty), not Slack. The reference is the stable `slack:<alert key>`.

Slack has no idempotency key and a webhook returns no message id, so delivery is at-least-once. A duplicate
appears in two ways: Slack processed a post but the response was lost (read timeout, connection reset) and
the retry posts a copy; or the worker died after the post and before the ledger recorded it, and the next
dispatch posts again (tests/alerts/test_dispatch_outputs.py::test_crash_between_send_and_record). A lost page
is worse than a duplicate chat line.

Inert text. The message is `mrkdwn`, and log fields are attacker-controlled. Every log-derived value is shown
as an inline code span: inside one Slack renders no formatting, no link and no mention, so `@here`,
`@channel`, `[x](http://evil)` or `*bold*` are shown literally. Before that, control and bidi characters are
made visible (render.visible), line breaks are escaped, the value is bounded, backticks (which would close
the span) become the visible escape `\\u0060`, and `&`, `<`, `>` are escaped as Slack documents. The last
step matters even inside code: Slack parses `<...>` control sequences (`<!channel>`, `<@U123>`,
`<http://evil|x>`) before formatting. The whole message stays under MAX_MESSAGE characters (the limit of a
section block; Slack's 40k text limit is far away). Unfurling is off so Slack fetches no URL on our behalf.

Client: `SlackWebhookHook` (slack provider 9.11.1) is used for what it is good at, reading the connection:
a full URL in the password is used as-is (plain http works, which the tests rely on), otherwise host +
token. The post goes through the hook's `slack_sdk.WebhookClient` with its retry handlers disabled and its
logger silenced: that logger writes the request URL, i.e. the secret, at debug level, and `hook.send_dict`
folds every non-200 into one AirflowException, hiding the status and Retry-After that our retry policy
needs. Retries are the shared policy of base.with_retries (429 honouring Retry-After, 5xx, timeouts).
"""

from __future__ import annotations

import http.client
import logging
import re
import urllib.error
from typing import TYPE_CHECKING, Any

from mamori.alerts.alert import Alert, IncidentTicket, IncidentView
from mamori.alerts.outputs.base import (
    TICKET_URL,
    Capabilities,
    DeliveryError,
    Output,
    TransientError,
    plain,
    redact,
    retry_after_seconds,
    with_retries,
)
from mamori.detections.loader import Detection

if TYPE_CHECKING:
    from slack_sdk import WebhookClient

log = logging.getLogger(__name__)

CONN_ID = "mamori_slack"
MAX_MESSAGE = 3000
MAX_VALUE = 200  # characters of one value before escaping
MAX_TITLE = 150
ENTITY_COLUMNS = ("account_id", "actor", "source_ip", "event_name")

# slack_sdk logs "Sending a request - url: <webhook URL>" whenever its logger's *own* level is <= DEBUG
# (NOTSET included), whatever the handlers. A dedicated logger pinned above CRITICAL keeps the URL out.
_SDK_LOG = logging.getLogger("mamori.alerts.outputs.slack.sdk")
_SDK_LOG.setLevel(logging.CRITICAL + 1)
_SDK_LOG.propagate = False


def escape(text: str) -> str:
    """Slack's documented mrkdwn escaping; turns `<!channel>`, `<@U1>`, `<http://x|y>` into literal text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(value: Any, limit: int = MAX_VALUE) -> str:
    """One log-derived value as an inert inline code span (see the module docstring for each step)."""
    if value is None or value == "":
        return "–"
    text = plain(value, limit).replace("`", "\\u0060")
    return f"`{escape(text)}`"


def _own_text(text: str, limit: int) -> str:
    """Our own (reviewed) text outside code spans: bounded, visible, escaped, no emphasis markers."""
    return escape(re.sub(r"[*_~`]", "", plain(text, limit)))


def message(alert: Alert, det: Detection | None, ticket_url: str | None = None) -> str:
    """The mrkdwn text of the one message posted for an alert, at most MAX_MESSAGE characters."""
    title = det.header.title if det else alert.title
    status = "" if alert.status == "open" else f" ({_own_text(alert.status, 20)})"
    head = [
        f"*[{_own_text(alert.severity.upper(), 10)}] {_own_text(title, MAX_TITLE)}*{status}",
        f"Detection {code(alert.detection_id, 100)} · hits *{int(alert.hit_count)}* · alert {code(alert.key, 64)}",
        f"First seen {code(alert.first_seen, 40)} · last seen {code(alert.last_seen, 40)}",
    ]
    tail = []
    if ticket_url and TICKET_URL.fullmatch(ticket_url):
        tail.append(f"Ticket: <{escape(ticket_url)}|open the ticket>")
    tail.append("_Later hits update the ticket, not this message._")
    entities = [(k, v) for k, v in alert.dedup_values.items()]
    for col in ENTITY_COLUMNS:
        if col not in alert.dedup_values:
            seen = sorted({str(s[col]) for s in alert.samples if s.get(col) is not None})
            if seen:
                entities.append((col, ", ".join(seen[:10])))
    lines = [*head, "Entities:"] if entities else list(head)
    budget = MAX_MESSAGE - sum(len(t) + 1 for t in tail) - 60  # 60: room for the "more" line
    used = sum(len(t) + 1 for t in lines)
    for shown, (k, v) in enumerate(entities):
        line = f"• {code(k, 64)}: {code(v)}"
        if used + len(line) + 1 > budget:
            lines.append(f"• …and {len(entities) - shown} more (see the ticket)")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join([*lines, *tail])


def incident_message(
    inc: IncidentView, ticket_url: str | None = None, escalated_from: str | None = None
) -> str:
    """The mrkdwn text posted for an incident (its first member, or an escalation), under MAX_MESSAGE."""
    n = len(inc.members)
    verb = f"raised from {_own_text(escalated_from.upper(), 10)} to" if escalated_from else "at"
    head = [
        f"*[{_own_text(inc.severity.upper(), 10)}] Incident: {n} alert{'s' if n != 1 else ''}* "
        f"({verb} {_own_text(inc.severity, 10)})",
        f"Incident {code(inc.incident_id, 64)} · first seen {code(inc.first_seen, 40)} · "
        f"last seen {code(inc.last_seen, 40)}",
        f"Why: {code(inc.severity_reason, 400)}",
    ]
    tail = []
    if ticket_url and TICKET_URL.fullmatch(ticket_url):
        tail.append(f"Ticket: <{escape(ticket_url)}|open the incident's ticket>")
    tail.append(
        "_Later alerts of this incident go to the ticket; a message here only when its severity rises._"
    )
    lines = list(head)
    if inc.entities:
        lines.append("Shared entities:")
        lines += [f"• {code(e.get('kind'), 20)}: {code(e.get('value'))}" for e in inc.entities[:5]]
    rules = list(dict.fromkeys(a.detection_id for a in inc.members))
    lines.append("Rules: " + ", ".join(code(r, 100) for r in rules[:10]) + (" …" if len(rules) > 10 else ""))
    budget = MAX_MESSAGE - sum(len(t) + 1 for t in tail)
    text = "\n".join(lines)
    if len(text) > budget:
        text = text[: budget - 20].rsplit("\n", 1)[0] + "\n• …(see the ticket)"
    return "\n".join([text, *tail])


class SlackOutput(Output):
    """Posts one message per alert to the channel of the `mamori_slack` incoming webhook."""

    name = "slack"
    conn_id = CONN_ID
    # A message cannot be edited or threaded through a webhook: not an update in place, nothing to resolve.
    capabilities = Capabilities(kind="chat", links_to_ticket=True, per_incident=True)
    timeout: int = 10  # seconds per attempt; the hook's and slack_sdk's timeout is an int
    retry_base_delay: float = 1.0  # backoff start; tests lower it
    attempts: int = 4

    def _client(self) -> WebhookClient:
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        hook = SlackWebhookHook(
            slack_webhook_conn_id=CONN_ID, timeout=self.timeout, retry_handlers=[], logger=_SDK_LOG
        )
        return hook.client

    def deliver(
        self,
        alert: Alert,
        det: Detection | None,
        previous_ref: str | None = None,
        ticket_url: str | None = None,
    ) -> str:
        """Post the alert's message once; with a previous reference post nothing (see module docstring)."""
        if previous_ref is not None:
            return previous_ref
        self._post(message(alert, det, ticket_url), f"slack post {alert.key}")
        return f"slack:{alert.key}"

    def deliver_member(
        self,
        alert: Alert,
        det: Detection | None,
        incident: IncidentView,
        ticket: IncidentTicket,
        previous_ref: str | None = None,
        ticket_url: str | None = None,
    ) -> tuple[str, IncidentTicket]:
        """One message per incident, posted by its first delivered member; another only when a member raises
        the incident's severity (an escalation). Other members post nothing: the ticket, which the message
        links, has them. A webhook cannot thread or edit, so this is the quiet alternative to one message
        per alert."""
        iid = incident.incident_id
        ref = f"slack:incident:{iid}"
        if previous_ref is not None:
            return previous_ref, ticket
        order = ("info", "low", "medium", "high", "critical")
        rank = {s: i for i, s in enumerate(order)}
        rises = ticket.notified is None or rank.get(incident.severity, -1) > rank.get(ticket.notified, -1)
        if not rises and not incident.reopened_by(alert):
            return ref, ticket
        text = incident_message(incident, ticket_url, escalated_from=ticket.notified if rises else None)
        self._post(text, f"slack post incident {iid}")
        return ref, IncidentTicket(ref, incident.severity)

    def _post(self, text: str, what: str) -> None:
        """Post one message with the shared retry policy; errors never carry the webhook URL."""
        client = self._client()
        secret = client.url
        body = {"text": text, "unfurl_links": False, "unfurl_media": False}

        def attempt() -> None:
            try:
                resp = client.send_dict(body)
            except (TimeoutError, urllib.error.URLError, ConnectionError, http.client.HTTPException) as exc:
                # from None everywhere: urllib exceptions may carry the request, whose URL is the secret.
                raise TransientError(redact(f"{type(exc).__name__}: {exc}", secret)) from None
            except Exception as exc:
                raise DeliveryError(f"{what}: {redact(f'{type(exc).__name__}: {exc}', secret)}") from None
            if resp.status_code == 200:
                return
            text = redact(plain(resp.body or "", 200), secret)
            if resp.status_code == 429:
                headers = {k.lower(): v for k, v in (resp.headers or {}).items()}
                raise TransientError("429 rate limited", retry_after_seconds(headers.get("retry-after")))
            if resp.status_code >= 500:
                raise TransientError(f"{resp.status_code} {text}")
            raise DeliveryError(
                f"{what}: Slack refused the message (HTTP {resp.status_code}, not retried): {text}"
            )

        with_retries(attempt, what=what, attempts=self.attempts, base_delay=self.retry_base_delay)
        log.info("%s: posted", what)
