"""Alert outputs, one module each on the shared base (`base.Output`). Credentials come from Airflow connections.

Adding an output: one module with a class on `Output` that declares its `capabilities`, a fake server under
tests/ that speaks its protocol, a test over HTTP, one line in OUTPUTS and its connection id in .env.example;
tests/contracts/test_output_contracts.py checks each of these. Nothing else names outputs: the dispatcher and
the routing work from the capabilities.
"""

from __future__ import annotations

from mamori.alerts.alert import Alert
from mamori.alerts.outputs.base import KINDS, Output
from mamori.alerts.outputs.github import GitHubOutput
from mamori.alerts.outputs.local import LocalOutput
from mamori.alerts.outputs.pagerduty import PagerDutyOutput
from mamori.alerts.outputs.slack import SlackOutput
from mamori.alerts.outputs.webhook import WebhookOutput
from mamori.config import Settings

OUTPUTS: dict[str, type[Output]] = {
    "local": LocalOutput,
    "github": GitHubOutput,
    "pagerduty": PagerDutyOutput,
    "slack": SlackOutput,
    "webhook": WebhookOutput,
}

# The output of last resort: needs no connection, so an alert always lands somewhere (the embedded default,
# and what is left when an experimental rule or a backfill drops the outputs that wake people).
FALLBACK = "local"


def resolve_outputs(
    requested: list[str], settings: Settings, known: dict[str, bool] | None = None
) -> list[str]:
    """Requested outputs that are registered and configured; the fallback output when none is.

    The embedded default has no GitHub/PagerDuty/Slack connection, so everything lands as local tickets.
    `known` memoizes the configured() answers for one caller's run: inside a task each answer is a request to
    Airflow's execution API (~7 ms), asked once per alert and output otherwise.
    """
    cache = {} if known is None else known

    def ready(name: str) -> bool:
        if name not in cache:
            cache[name] = name in OUTPUTS and OUTPUTS[name].configured(settings)
        return cache[name]

    return [name for name in dict.fromkeys(requested) if ready(name)] or [FALLBACK]


def make_output(name: str, settings: Settings) -> Output:
    return OUTPUTS[name](settings)


def delivery_rank(name: str) -> tuple[int, str]:
    """Sort key of an alert's deliveries: tickets, then pages, then chats (by name within a kind), so pages and
    messages can link to the ticket; an unregistered name last."""
    cls = OUTPUTS.get(name)
    return (KINDS.index(cls.capabilities.kind) if cls else len(KINDS), name)


def ticket_link(refs: dict[str, str]) -> str | None:
    """The alert's ticket as a link for pages and messages: the reference of the first ticket output (in
    delivery order) whose references are links, among the alert's delivered outputs."""
    for name in sorted(refs, key=delivery_rank):
        cls = OUTPUTS.get(name)
        if cls is not None and cls.capabilities.ticket_is_link:
            return refs[name]
    return None


def wakes_someone(name: str) -> bool:
    """Whether a registered output pages or chats (left out for experimental rules and backfills)."""
    cls = OUTPUTS.get(name)
    return cls is not None and cls.capabilities.wakes_someone


def write_index(settings: Settings, alerts: list[Alert]) -> str:
    """The outbox's alerts.jsonl, rebuilt from the ledger after every dispatch (the fallback output's index)."""
    return LocalOutput(settings).write_index(alerts)
