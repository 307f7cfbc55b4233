"""What every alert output shares: capabilities, connection lookup, retries, redaction, plain text.

An output is one module with one class on `Output`, registered by one line in `mamori.alerts.outputs.OUTPUTS`.
The dispatcher never names an output: it reads the class's `capabilities` (a typed declaration, never probed
with hasattr) to order deliveries (tickets first), to hand pages and chat messages the ticket's link, to
re-send what updates in place once the ticket exists, and to sync state (ticket closed ⇒ page resolved).

The retry policy (`with_retries`, honouring Retry-After) and the plain-text rendering (`plain`) moved here
unchanged from the PagerDuty module, where the Slack module used to import them from; `redact` is the Slack
module's, a superset of PagerDuty's (it also removes a secret URL's path). GitHub keeps its own retry loop
(it retries a whole find-then-write delivery, and refuses to wait past a Retry-After beyond its cap instead of
shortening it) but takes its capabilities, connection check and options from here.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from mamori.alerts.alert import Alert, IncidentTicket, IncidentView
from mamori.alerts.render import one_line
from mamori.config import Settings
from mamori.detections.loader import Detection

log = logging.getLogger(__name__)

T = TypeVar("T")

Kind = Literal["ticket", "page", "chat"]
KINDS: tuple[Kind, ...] = ("ticket", "page", "chat")  # also the delivery order: tickets first
MAX_VALUE = 1024  # one log-derived value shown as plain text
MAX_ERROR = 500  # error text from a server quoted in our exceptions
TICKET_URL = re.compile(r"https?://[^\s<>|]{1,2000}")  # what a linking output accepts as its ticket's link


@dataclass(frozen=True)
class Capabilities:
    """What an output is and can do; the dispatcher decides everything from these, never from the name.

    - kind: `ticket` (a record people work in: GitHub issue, local Markdown file), `page` (wakes the on-call:
      PagerDuty) or `chat` (a notification: Slack). Tickets are delivered first; pages and chats are quiet for
      experimental rules and backfills (they wake someone up).
    - links_to_ticket: `deliver` uses the `ticket_url` it is given (pages and chats point at the ticket).
    - updates_in_place: a re-send updates the same page/message, so one sent while the ticket output was down
      is sent again once the ticket exists, to add the link.
    - ticket_is_link (tickets): the reference `deliver` returns is a URL a responder can open, so it is the
      link other outputs get. A local file path is not.
    - syncs_state (tickets): `ticket_state(ref)` tells whether the ticket was closed, and with which labels.
    - resolves (pages): `resolve(ref)` closes the page (its reference: the dedup key) when its ticket is closed.
    - acknowledges (pages): `acknowledge(ref)` tells the on-call someone is on it (an incident acknowledged in
      mamori), so the page stops escalating.
    - mirrors_triage (tickets): `mirror_triage(ref, incident_id, change)` shows a close (verdict label,
      comment, ticket closed) or reopen done in mamori on the incident's ticket (detect.sync_triage).
    - per_incident: with routing `deliver_per: incident` (sql/routing.yaml), an alert that belongs to an
      incident is delivered by `deliver_member` as part of its incident's one ticket, page or message, and
      `fold` tidies up when its incident is merged into another (docs/incidents.md).
    """

    kind: Kind
    links_to_ticket: bool = False
    updates_in_place: bool = False
    ticket_is_link: bool = False
    syncs_state: bool = False
    resolves: bool = False
    per_incident: bool = False
    mirrors_triage: bool = False
    acknowledges: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {KINDS}")
        if self.kind != "ticket" and (self.ticket_is_link or self.syncs_state or self.mirrors_triage):
            raise ValueError("only a ticket output can be a ticket link, sync or mirror a ticket's state")
        if self.kind == "ticket" and (self.links_to_ticket or self.resolves or self.acknowledges):
            raise ValueError("a ticket output neither links to a ticket nor resolves or acknowledges a page")

    @property
    def wakes_someone(self) -> bool:
        """Pages and chats: left out for experimental rules and backfills."""
        return self.kind != "ticket"


class OutputOptions(BaseModel):
    """A rule's options for one output (`output_options: {<output>: {...}}` in its header), validated strictly
    by the output that owns them; an output without options accepts none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class TicketState:
    """A ticket's state as its system reports it, for the lifecycle sync: `closed_by` is the account that
    closed it (a GitHub login), recorded as the actor of the verdict it carries."""

    closed: bool
    labels: tuple[str, ...] = ()
    closed_by: str | None = None


@dataclass(frozen=True)
class TriageChange:
    """A triage action (an incident_actions row) to show on the incident's ticket: a close with its verdict,
    or a reopen. `action_id` makes the mirror idempotent (its comment carries it as a marker)."""

    action_id: int
    action: str  # close | reopen
    verdict: str | None
    note: str | None
    actor: str
    at: str
    comment: bool = True  # False: the ticket already says it (the verdict came from it; mamori's reopen)


class DeliveryError(RuntimeError):
    """The endpoint refused the request for good (4xx) or kept failing: the dispatcher records it and
    retries in a later run. The message never contains a routing key, token or webhook URL."""


class OutputDown(DeliveryError):
    """Every attempt of a delivery failed in a way worth retrying (429, 5xx, timeouts): the endpoint is down or
    throttling, not refusing this alert. The dispatcher tries that output no further in the same run (its
    other due deliveries are recorded failed without a request) and retries them all after the backoff."""


class TransientError(Exception):
    """One attempt failed in a way worth retrying (429, 5xx, timeout, connection error)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Output:
    """One alert output. Subclasses set `name`, `conn_id`, `capabilities` (and `options_model` when rules may
    configure them) and implement `deliver`; tickets that sync implement `ticket_state`, pages that resolve
    implement `resolve`."""

    name: ClassVar[str]
    # The Airflow connection holding the endpoint and secret (listed in .env.example); None: needs none.
    conn_id: ClassVar[str | None]
    capabilities: ClassVar[Capabilities]
    options_model: ClassVar[type[OutputOptions]] = OutputOptions

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A capability promised is a method provided: checked when the class is defined, not at 3 a.m."""
        super().__init_subclass__(**kwargs)
        caps = cls.__dict__.get("capabilities")
        if caps is None:
            return  # an intermediate base; the registry's contract test requires every output to declare
        if caps.syncs_state and cls.ticket_state is Output.ticket_state:
            raise TypeError(f"{cls.__name__} declares syncs_state but does not implement ticket_state()")
        if caps.resolves and cls.resolve is Output.resolve:
            raise TypeError(f"{cls.__name__} declares resolves but does not implement resolve()")
        if caps.acknowledges and cls.acknowledge is Output.acknowledge:
            raise TypeError(f"{cls.__name__} declares acknowledges but does not implement acknowledge()")
        if caps.mirrors_triage and cls.mirror_triage is Output.mirror_triage:
            raise TypeError(f"{cls.__name__} declares mirrors_triage but does not implement mirror_triage()")
        if caps.per_incident and cls.deliver_member is Output.deliver_member:
            raise TypeError(f"{cls.__name__} declares per_incident but does not implement deliver_member()")

    @classmethod
    def configured(cls, settings: Settings) -> bool:
        """True when the output's Airflow connection exists (a secrets-backend lookup, no network call);
        always True for an output that needs no connection."""
        if cls.conn_id is None:
            return True
        from airflow.sdk import BaseHook  # deferred: outputs are imported where Airflow is not (unit tests)
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            BaseHook.get_connection(cls.conn_id)
        except AirflowNotFoundException:
            return False
        return True

    @classmethod
    def option_problems(cls, raw: dict[str, Any]) -> list[str]:
        """Why a rule's options for this output are invalid, one line each; [] when they are valid."""
        try:
            cls.options_model.model_validate(raw)
        except ValidationError as exc:
            return [
                f"output_options.{cls.name}.{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
                for e in exc.errors()
            ]
        return []

    def raw_options(self, det: Detection | None) -> dict[str, Any]:
        """The rule's section for this output, for the output's own `options_model` to validate."""
        return dict(det.header.output_options.get(self.name, {})) if det is not None else {}

    def deliver(
        self,
        alert: Alert,
        det: Detection | None,
        previous_ref: str | None = None,
        ticket_url: str | None = None,
    ) -> str:
        """Create the alert's ticket/page/message, or update it when previous_ref says it exists; return a
        reference to it. `ticket_url` is the alert's ticket (outputs that link to tickets show it).

        Must be idempotent per alert key even when previous_ref is None: a crash between sending and the
        ledger recording the send means the thing may exist already (find it, don't duplicate it).
        """
        raise NotImplementedError

    def ticket_state(self, ref: str) -> TicketState:
        """State of the ticket at `ref` (outputs with `capabilities.syncs_state`)."""
        raise NotImplementedError

    def resolve(self, ref: str) -> None:
        """Resolve the page whose reference (what `deliver` or `deliver_member` returned: its dedup key) is
        `ref`; idempotent (outputs with `capabilities.resolves`)."""
        raise NotImplementedError

    def groups(self, det: Detection | None) -> bool:
        """Whether this rule's alerts may go into their incident's shared delivery (outputs with
        `capabilities.per_incident`); a rule may keep per-alert deliveries through its own options."""
        return self.capabilities.per_incident

    def deliver_member(
        self,
        alert: Alert,
        det: Detection | None,
        incident: IncidentView,
        ticket: IncidentTicket,
        previous_ref: str | None = None,
        ticket_url: str | None = None,
    ) -> tuple[str, IncidentTicket]:
        """Deliver `alert` as a member of `incident`, whose delivery so far on this output is `ticket`.

        Returns the alert's reference (recorded on its own delivery row; the incident's ticket link for
        ticket outputs, so pages and messages link to it and the lifecycle sync reads it) and the incident's
        new state. Called under the incident's lease (one sender per incident and output at a time), but,
        as `deliver`, it must be idempotent when the ledger missed the previous send (crash between send
        and record): find what exists before writing.
        """
        raise NotImplementedError

    def acknowledge(self, ref: str) -> None:
        """Acknowledge the page whose reference (its dedup key) is `ref`; idempotent (outputs with
        `capabilities.acknowledges`)."""
        raise NotImplementedError

    def mirror_triage(self, ref: str, incident_id: str, change: TriageChange) -> None:
        """Show `change` on the incident's ticket at `ref` (outputs with `capabilities.mirrors_triage`):
        idempotent, since a crash between the write and the ledger's record repeats it."""
        raise NotImplementedError

    def fold(self, merged_id: str, merged: IncidentTicket, into_id: str, into: IncidentTicket) -> None:
        """The incident `merged_id` was merged into `into_id` and both have a delivery on this output:
        point each at the other and retire the merged one (idempotent). Default: nothing to do."""


# --- connections -----------------------------------------------------------------------------------------


def connection(conn_id: str) -> Any:
    """The Airflow connection, read per call so a rotated secret takes effect without a restart."""
    from airflow.sdk import BaseHook  # deferred: see Output.configured

    return BaseHook.get_connection(conn_id)


def base_url(conn: Any, default: str = "") -> str:
    """Endpoint base URL of a connection: `host` as is when it holds a scheme, else schema://host[:port]."""
    host = (conn.host or "").strip().rstrip("/")
    if host and "://" not in host:
        host = f"{conn.schema or 'https'}://{host}"
        if conn.port:
            host = f"{host}:{conn.port}"
    return host or default


# --- retries -----------------------------------------------------------------------------------------------


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def with_retries(
    send: Callable[[], T],
    *,
    what: str,
    attempts: int = 4,
    base_delay: float = 1.0,
    max_delay: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `send` up to `attempts` times while it raises TransientError, then raise OutputDown.

    Backoff doubles from `base_delay`; a server's Retry-After wins over the backoff (capped at `max_delay`,
    so one throttled alert cannot hold the dispatch task for long). Anything else `send` raises is final
    and propagates at once: a 400 will not become valid by asking again.
    """
    last: TransientError | None = None
    for attempt in range(1, attempts + 1):
        try:
            return send()
        except TransientError as exc:
            last = exc
            if attempt == attempts:
                break
            delay = base_delay * 2 ** (attempt - 1)
            if exc.retry_after is not None:
                delay = exc.retry_after
            delay = min(delay, max_delay)
            log.warning(
                "%s: attempt %d/%d failed (%s); retrying in %.2fs", what, attempt, attempts, exc, delay
            )
            sleep(delay)
    raise OutputDown(f"{what}: gave up after {attempts} attempts: {last}")


def post_once(
    url: str,
    *,
    content: bytes | None = None,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float,
    what: str,
    secrets: tuple[str, ...],
    refused: Callable[[httpx.Response], str] | None = None,
) -> httpx.Response:
    """One POST, classified for `with_retries`: 429 (with its Retry-After), 5xx, timeouts and connection
    errors are TransientError; any other non-2xx is a final DeliveryError. Every message is redacted.

    `refused` describes a 400 in the service's own terms (e.g. PagerDuty's `errors` list).
    """
    try:
        with httpx.Client(timeout=timeout) as client:
            resp = client.post(url, content=content, json=json_body, headers=headers)
    except httpx.TimeoutException:
        raise TransientError(f"no response within {timeout}s") from None
    except httpx.TransportError as exc:
        # from None: the chained exception carries the request, and the request may carry the secret.
        raise TransientError(redact(f"{type(exc).__name__}: {exc}", *secrets)) from None
    if resp.status_code == 429:
        raise TransientError("429 rate limited", retry_after_seconds(resp.headers.get("Retry-After")))
    if resp.status_code >= 500:
        raise TransientError(f"{resp.status_code} {redact(plain(resp.text, 200), *secrets)}")
    if resp.status_code == 400 and refused is not None:
        raise DeliveryError(f"{what}: {redact(refused(resp), *secrets)}")
    if not 200 <= resp.status_code < 300:
        raise DeliveryError(
            f"{what}: HTTP {resp.status_code} (not retried): {redact(plain(resp.text, MAX_ERROR), *secrets)}"
        )
    return resp


# --- untrusted text ----------------------------------------------------------------------------------------


def plain(value: Any, limit: int = MAX_VALUE) -> str:
    """A log-derived value as one line of plain text: controls and bidi visible, line breaks escaped, bounded.

    Pages, chats and webhooks show values as text (also in SMS, push and e-mail notifications), so the risks
    are hidden/reordered characters, fake extra lines and sheer size; markup is each output's own concern.
    """
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    text = one_line(text)
    return text if len(text) <= limit else text[:limit] + f"…[+{len(text) - limit} chars]"


def fit(text: str, limit: int) -> str:
    """Cut already-plain text to `limit` characters including the marker."""
    if len(text) <= limit:
        return text
    marker = f"…[+{len(text) - limit} chars]"
    return text[: limit - len(marker)] + marker


def redact(text: str, *secrets: str) -> str:
    """Belt and braces: a server echoing a secret back must not put it into our exception or log. A secret
    URL's path alone (a webhook token) is removed too, since servers often quote just the path."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
            path = s.split("://", 1)[-1].split("/", 1)[-1]
            if len(path) >= 8:
                text = text.replace(path, "***")
    return text
