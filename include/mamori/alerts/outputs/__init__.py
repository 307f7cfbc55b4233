"""Alert outputs, one registered module each. Credentials come from Airflow connections only.

Adding an output: one module with a class implementing `Output`, plus one line in OUTPUTS.
"""

from __future__ import annotations

from typing import Protocol

from mamori.alerts.ledger import Alert
from mamori.alerts.outputs.github import GitHubOutput
from mamori.alerts.outputs.local import LocalOutput
from mamori.alerts.outputs.pagerduty import PagerDutyOutput
from mamori.alerts.outputs.slack import SlackOutput
from mamori.config import Settings
from mamori.detections.loader import Detection


class Output(Protocol):
    """Delivers one alert; returns a reference to what it created (path, issue URL, incident key)."""

    name: str

    def deliver(self, alert: Alert, det: Detection | None, previous_ref: str | None) -> str:
        """Create the alert's ticket/page/message, or update it when previous_ref says it exists.

        Must be idempotent per alert key even when previous_ref is None: a crash between sending and the
        ledger recording the send means the thing may exist already (find it, don't duplicate it).
        """
        ...


class OutputFactory(Protocol):
    """An output class: built from settings, and able to say whether its connection exists."""

    def __call__(self, settings: Settings) -> Output: ...

    def configured(self, settings: Settings) -> bool: ...


OUTPUTS: dict[str, OutputFactory] = {
    "local": LocalOutput,
    "github": GitHubOutput,
    "pagerduty": PagerDutyOutput,
    "slack": SlackOutput,
}


def resolve_outputs(
    requested: list[str], settings: Settings, known: dict[str, bool] | None = None
) -> list[str]:
    """Requested outputs that are registered and configured; the local output when none is.

    The embedded default has no GitHub/PagerDuty/Slack connection, so everything lands as local tickets.
    `known` memoizes the configured() answers for one caller's run: inside a task each answer is a request to
    Airflow's execution API (~7 ms), asked once per alert and output otherwise.
    """
    cache = {} if known is None else known

    def ready(name: str) -> bool:
        if name not in cache:
            cache[name] = name in OUTPUTS and OUTPUTS[name].configured(settings)
        return cache[name]

    return [name for name in dict.fromkeys(requested) if ready(name)] or ["local"]


def make_output(name: str, settings: Settings) -> Output:
    return OUTPUTS[name](settings)
