"""Verdicts: the words for how an alert or incident was judged, and the ticket labels that carry them.

Apart from `triage` (which records them in the ledger) because the outputs need them too (GitHub writes and
reads the labels) and the ledger imports the outputs' registry: this module imports nothing of mamori.
"""

from __future__ import annotations

from collections.abc import Iterable

# The words of the GitHub close labels, so `alerts.resolution` has one meaning whoever closed the alert.
VERDICTS = ("true-positive", "benign-true-positive", "false-positive")
VERDICT_LABEL = "verdict:"  # the ticket label carrying a verdict: `verdict:false-positive`


def normal(text: str) -> str | None:
    """A verdict as stored (`false-positive`) from either spelling (`false_positive`), any case; None when
    `text` is no verdict."""
    v = text.strip().lower().replace("_", "-")
    return v if v in VERDICTS else None


def verdict_label(verdict: str) -> str:
    """The ticket label mamori puts on an incident closed with `verdict` (`verdict:false-positive`)."""
    v = normal(verdict)
    if v is None:
        raise ValueError(f"not a verdict: {verdict[:40]!r}")
    return VERDICT_LABEL + v


def label_verdicts(labels: Iterable[str]) -> set[str]:
    """The verdicts a ticket's labels carry: `verdict:<v>` (what mamori writes) or the bare `<v>` (what the
    lifecycle sync read before verdict labels had a prefix), in either spelling and any case. More than one
    is ambiguous: the caller records none."""
    found = set()
    for label in labels:
        v = normal(label.strip().lower().removeprefix(VERDICT_LABEL))
        if v is not None:
            found.add(v)
    return found
