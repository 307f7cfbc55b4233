"""The expectations every converted batch is held to: each source's declared rules (its spec's `rules`, see
mamori.sources.rules for the vocabulary and the meaning of each action) plus the checks every source gets
(common identity, the plausible event-time range). validate.py builds the Great Expectations suite from
checks_for(); docs/data-quality.md lists them (doc_tables.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mamori.sources import SPECS
from mamori.sources.rules import (
    COMMON_REQUIRED,
    EVENT_TIME_US,
    Check,
    SourceRules,
    not_null,
    present,
)

__all__ = ["EVENT_TIME_US", "RULES", "Check", "SourceRules", "checks_for", "rules_for"]

# Derived from the specs: the registry is the only list of sources.
RULES: dict[str, SourceRules] = {name: spec.rules for name, spec in SPECS.items()}


def rules_for(source: str) -> SourceRules:
    """A registered source without rules still gets the common checks (schema, identity, time window)."""
    return RULES.get(source, SourceRules((), (), ()))


def _epoch_us(t: datetime) -> int:
    """Exact epoch microseconds (integer arithmetic: a float loses the last digits of year-9999 instants)."""
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def checks_for(source: str) -> list[Check]:
    """Every row-level check of a source, in suite order (time window last: it needs the derived column)."""
    r = rules_for(source)
    out = list(not_null(tuple(dict.fromkeys((*COMMON_REQUIRED, *r.required)))))
    out += present(r.expected)
    out += r.checks
    earliest = _epoch_us(r.earliest)
    out.append(
        Check(
            "event_time:not_before_earliest",
            "between",
            EVENT_TIME_US,
            "quarantine",
            f"no {source} event happened before {r.earliest:%Y-%m-%d}: a corrupt or forged time, which would sit "
            "in a partition no detection window or Athena projection reads",
            {"min_value": earliest},
        )
    )
    out.append(
        Check(
            "event_time:not_older_than_late",
            "event_time_after",
            EVENT_TIME_US,
            "flag",
            f"events land within {r.late} of happening; older ones are genuine but late (re-evaluated)",
            # Rows before `earliest` are quarantined by the check above, not kept as merely late.
            {"row_condition": f"{EVENT_TIME_US} >= {earliest}", "condition_parser": "pandas"},
        )
    )
    out.append(
        Check(
            "event_time:not_after_window_plus_skew",
            "event_time_before",
            EVENT_TIME_US,
            "quarantine",
            f"no event can happen more than {r.skew} after the window it landed in closed",
        )
    )
    return out
