"""Tuning a noisy rule without blinding it: a proposed suppression is replayed against the ledger's stored hits
and refused when it would hide any alert judged a true positive.

A suppression (`sql/suppressions.yaml`, `mamori.detections.suppressions`) hides a rule's hits whose output
columns equal every value of its `match`. The ledger keeps, per alert and detect window, the hit rows it saw
(`alert_hits.samples`, up to MAX_SAMPLES per window) and the alert's dedup values, so a proposal can be
replayed exactly as detect would apply it, without running a query. An alert counts as hidden when any of
its stored hits would be: a true positive that loses even part of its evidence (fewer hits, maybe under its
threshold) is a true positive the responder may no longer see, so the proposal is refused, naming each one.

A true positive is an alert whose resolution is `true-positive` (its incident closed so in mamori or on
GitHub, or its own ticket closed with the label) or whose incident's verdict is. Benign true positives are
what suppressions are for: hiding them is the point.

Without a `match`, a proposal is made from the rule's false positives: the (column, value) of their dedup
values and stored hits that covers most false-positive alerts and touches no true positive. The replay then
shows the before/after counts per verdict. Not replayed: hits the ledger did not keep (beyond MAX_SAMPLES in a
window) and windows that raised no alert; a backtest over the lake (`mamori detections backtest`) covers those.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
import yaml

from mamori.alerts.ledger import ALERT_HITS, ALERTS, INCIDENT_ALERTS, INCIDENTS, Ledger
from mamori.detections.suppressions import Suppression, SuppressionError, load_suppressions

TRUE_POSITIVE = "true-positive"
# Columns never proposed: time and counts differ per hit, the account alone is the whole account.
_NOT_PROPOSED = {"event_time", "first_seen", "last_seen", "hits", "hit_count", "account_id", "region"}


class TuneError(ValueError):
    """A proposal that cannot be checked (no alerts, no false positive to learn from, a malformed entry)."""


@dataclass(frozen=True)
class HiddenAlert:
    """One alert the proposal would hide (some or all of its stored hits)."""

    alert_key: str
    detection_id: str
    verdict: str | None  # the alert's resolution, else its incident's verdict
    incident_id: str | None
    first_seen: str
    hidden_hits: int  # stored hit rows the proposal matches
    stored_hits: int  # stored hit rows in all


@dataclass(frozen=True)
class Replay:
    """What a proposal would have hidden among the ledger's alerts of its rule."""

    suppression: Suppression
    alerts: int  # the rule's alerts replayed
    hidden: list[HiddenAlert]
    unknown_columns: list[str]  # match columns that no stored hit of the rule has: it would hide nothing
    before: Counter[str] = field(default_factory=Counter)  # verdict (or "unjudged") → alerts
    after: Counter[str] = field(default_factory=Counter)  # the same, without the hidden alerts

    @property
    def true_positives(self) -> list[HiddenAlert]:
        return [h for h in self.hidden if h.verdict == TRUE_POSITIVE]

    @property
    def accepted(self) -> bool:
        return not self.true_positives


@dataclass(frozen=True)
class _Stored:
    key: str
    detection_id: str
    verdict: str | None
    incident_id: str | None
    first_seen: str
    rows: list[dict[str, Any]]


def _stored(ledger: Ledger, detection: str) -> list[_Stored]:
    """The rule's alerts (every rule's for "*") with their verdicts and stored hit rows."""
    where = [] if detection == "*" else [ALERTS.c.detection_id == detection]
    with ledger.engine.connect() as conn:
        alerts = conn.execute(
            sa.select(
                ALERTS.c.alert_key,
                ALERTS.c.detection_id,
                ALERTS.c.resolution,
                ALERTS.c.dedup_values,
                ALERTS.c.first_seen,
                INCIDENT_ALERTS.c.incident_id,
                INCIDENTS.c.verdict,
            )
            .select_from(
                ALERTS.outerjoin(
                    INCIDENT_ALERTS, INCIDENT_ALERTS.c.alert_key == ALERTS.c.alert_key
                ).outerjoin(INCIDENTS, INCIDENTS.c.incident_id == INCIDENT_ALERTS.c.incident_id)
            )
            .where(*where, ~ALERTS.c.detection_id.startswith("mamori_"))
            .order_by(ALERTS.c.first_seen, ALERTS.c.alert_key)
        ).all()
        hits: dict[str, list[dict[str, Any]]] = {}
        q = sa.select(ALERT_HITS.c.alert_key, ALERT_HITS.c.samples).order_by(
            ALERT_HITS.c.alert_key, ALERT_HITS.c.window_start
        )
        if detection != "*":
            q = q.where(ALERT_HITS.c.detection_id == detection)
        for r in conn.execute(q):
            hits.setdefault(r.alert_key, []).extend(x for x in orjson.loads(r.samples) if isinstance(x, dict))
    out = []
    for a in alerts:
        verdict = a.resolution if a.resolution else a.verdict
        if a.verdict == TRUE_POSITIVE:  # the incident's verdict covers its alerts, whatever else was said
            verdict = TRUE_POSITIVE
        rows = hits.get(a.alert_key) or [orjson.loads(a.dedup_values)]
        out.append(_Stored(a.alert_key, a.detection_id, verdict, a.incident_id, a.first_seen, rows))
    return out


def replay(ledger: Ledger, proposal: Suppression) -> Replay:
    """Apply the proposal to every stored hit of its rule as detect would (`Suppression.matches`)."""
    stored = _stored(ledger, proposal.detection)
    if not stored:
        raise TuneError(
            f"no alerts of {proposal.detection!r} in the ledger: nothing to replay the proposal on"
        )
    seen_columns = {c for s in stored for row in s.rows for c in row}
    hidden, before, after = [], Counter[str](), Counter[str]()
    for s in stored:
        matched = sum(proposal.matches(s.detection_id, row) for row in s.rows)
        label = s.verdict or "unjudged"
        before[label] += 1
        if matched:
            hidden.append(
                HiddenAlert(
                    s.key, s.detection_id, s.verdict, s.incident_id, s.first_seen, matched, len(s.rows)
                )
            )
        else:
            after[label] += 1
    unknown = sorted(c for c in proposal.match if c not in seen_columns)
    return Replay(proposal, len(stored), hidden, unknown, before, after)


def propose_match(ledger: Ledger, detection: str) -> dict[str, str]:
    """A one-column match learnt from the rule's false positives: the (column, value) found in the most
    false-positive alerts' stored hits and in no true positive's (ties: the column, then the value, sorted).
    TuneError when the rule has no false positive or every candidate touches a true positive."""
    stored = _stored(ledger, detection)
    fps = [s for s in stored if s.verdict == "false-positive"]
    if not fps:
        raise TuneError(
            f"{detection}: no false positives recorded to propose a suppression from; give --match"
        )
    tp_pairs = {
        (c, str(v)) for s in stored if s.verdict == TRUE_POSITIVE for row in s.rows for c, v in row.items()
    }
    counts: Counter[tuple[str, str]] = Counter()
    for s in fps:
        pairs = {
            (c, str(v))
            for row in s.rows
            for c, v in row.items()
            if c not in _NOT_PROPOSED and v not in (None, "") and not isinstance(v, dict | list)
        }
        counts.update(pairs - tp_pairs)
    if not counts:
        raise TuneError(
            f"{detection}: every value of its false positives is also in a true positive; give --match"
        )
    (column, value), _ = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {column: value}


def proposal(
    detection: str,
    match: dict[str, str],
    owner: str,
    reason: str,
    expires: date,
    suppression_id: str | None = None,
) -> Suppression:
    """A suppression entry as `sql/suppressions.yaml` holds it, validated by its own model."""
    sid = suppression_id or _default_id(detection, match)
    try:
        return Suppression(
            id=sid, detection=detection, match=match, owner=owner, reason=reason, expires=expires
        )
    except ValueError as exc:
        raise TuneError(f"not a valid suppression: {' '.join(str(exc).split())[:300]}") from None


def _default_id(detection: str, match: dict[str, str]) -> str:
    first = next(iter(match.values()), "")
    slug = re.sub(r"[^a-z0-9]+", "-", f"{detection}-{first}".lower()).strip("-")
    return ("t-" + slug)[:80].rstrip("-")


def write_entry(sql_dir: Path, entry: Suppression) -> Path:
    """Append the entry to `sql/suppressions.yaml` (its comments kept), for review like any change to rules.
    The values go through YAML quoting (a value learnt from a log is attacker-controlled text); the file is
    loaded back and restored when it no longer validates (a duplicate id)."""
    path = sql_dir / "suppressions.yaml"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    item = yaml.safe_dump(
        [entry.model_dump(mode="json")], sort_keys=False, allow_unicode=False, default_flow_style=False
    )
    if re.search(r"^\[\]\s*$", old, flags=re.M):  # the empty list the file ships with
        # A function, not a replacement string: re.sub would turn the YAML's `\n` escapes into line breaks.
        new = re.sub(r"^\[\]\s*$", lambda _m: item.rstrip("\n"), old, count=1, flags=re.M)
    else:
        new = old + ("" if not old or old.endswith("\n") else "\n") + item
    path.write_text(new, encoding="utf-8")
    try:
        load_suppressions(sql_dir)
    except SuppressionError as exc:
        path.write_text(old, encoding="utf-8")
        raise TuneError(
            f"{path.name} would not load with the entry: {' '.join(str(exc).split())[:300]}"
        ) from None
    return path
