"""Per-rule quality from recorded verdicts: precision, counts, the last verdict, keep / tune / retire.

Verdicts are read back from the ledger, wherever they were given: an incident closed in mamori (CLI, view)
or on its GitHub issue (both set every member alert's resolution to the verdict), or a per-alert ticket
closed with a verdict label. The unit is the alert: a rule's alerts are what it produced, and an incident
closed as a false positive makes each of its alerts of that rule one false positive.

Precision = TP / (TP + FP). A benign true positive (the rule saw what it looks for, and it was expected: an
admin's planned change) is neither: it says nothing about whether the rule's logic is right, only that some
activity needs an exception. Precision is shown from MIN_VERDICTS judged alerts (TP + FP) on; below that it
is noise.

The recommendation, first match wins (the thresholds are this module's constants and docs/incidents.md):

| recommendation | when |
|---|---|
| keep | fewer than MIN_VERDICTS verdicts of any kind: not enough to judge |
| retire | no true positive and at least MIN_VERDICTS false positives: it has only ever been wrong |
| tune | precision below KEEP_PRECISION (0.8): propose a suppression (`mamori detections tune`) |
| tune | benign true positives are at least BENIGN_SHARE (half) of its verdicts: expected activity to except |
| keep | otherwise |

A rule that caught one real attack is never retired by this table, however noisy: it is tuned.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Literal

import sqlalchemy as sa

from mamori.alerts.ledger import ALERTS, INCIDENT_ACTIONS, INCIDENT_ALERTS, Ledger
from mamori.alerts.verdicts import VERDICTS

MIN_VERDICTS = 5  # verdicts before precision is shown and before a rule is judged
KEEP_PRECISION = 0.8  # below: tune
BENIGN_SHARE = 0.5  # at or above this share of benign true positives among verdicts: tune

Recommendation = Literal["keep", "tune", "retire"]


@dataclass(frozen=True)
class RuleScore:
    """One rule's line of the scorecard."""

    detection_id: str
    alerts: int
    incidents: int  # incidents holding at least one of its alerts
    open: int  # alerts not resolved yet
    true_positive: int
    benign_true_positive: int
    false_positive: int
    precision: float | None  # TP / (TP + FP); None below MIN_VERDICTS judged alerts
    last_verdict: str | None  # the latest incident close holding one of its alerts
    last_verdict_at: str | None  # wall clock (UTC) of that close
    last_verdict_by: str | None
    recommendation: Recommendation
    reason: str

    @property
    def verdicts(self) -> int:
        return self.true_positive + self.benign_true_positive + self.false_positive

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape (`mamori detections scorecard --json`, the view)."""
        return asdict(self) | {"verdicts": self.verdicts}


def recommend(tp: int, btp: int, fp: int) -> tuple[Recommendation, str, float | None]:
    """(recommendation, its reason, precision or None) for a rule's verdict counts: the table above."""
    judged = tp + fp
    precision = round(tp / judged, 4) if judged >= MIN_VERDICTS else None
    total = tp + btp + fp
    if total < MIN_VERDICTS:
        return "keep", f"{total} verdicts: fewer than {MIN_VERDICTS}, not enough to judge", precision
    if tp == 0 and fp >= MIN_VERDICTS:
        return "retire", f"no true positive in {total} verdicts, {fp} false positives", precision
    if precision is not None and precision < KEEP_PRECISION:
        return (
            "tune",
            f"precision {precision:.2f} below {KEEP_PRECISION:.2f} ({fp} false positives, {tp} true): "
            "propose a suppression with `mamori detections tune`",
            precision,
        )
    if btp >= BENIGN_SHARE * total:
        return (
            "tune",
            f"{btp} of {total} verdicts are benign true positives: except the expected activity",
            precision,
        )
    shown = f"precision {precision:.2f}" if precision is not None else f"{judged} judged alerts"
    return "keep", f"{shown}, {tp} true positives", precision


def scorecard(ledger: Ledger, include_health: bool = False) -> list[RuleScore]:
    """Every rule with alerts in the ledger, worst first (retire, tune, keep; then lowest precision), health
    and data-quality rules (`mamori_*`) left out unless asked: they judge the pipeline, not an attacker."""
    with ledger.engine.connect() as conn:
        alerts = conn.execute(
            sa.select(ALERTS.c.alert_key, ALERTS.c.detection_id, ALERTS.c.status, ALERTS.c.resolution)
        ).all()
        member = dict(
            conn.execute(sa.select(INCIDENT_ALERTS.c.alert_key, INCIDENT_ALERTS.c.incident_id)).all()
        )
        closes = conn.execute(
            sa.select(
                INCIDENT_ACTIONS.c.action_id,
                INCIDENT_ACTIONS.c.incident_id,
                INCIDENT_ACTIONS.c.verdict,
                INCIDENT_ACTIONS.c.actor,
                INCIDENT_ACTIONS.c.at,
            )
            .where(INCIDENT_ACTIONS.c.action == "close")
            .order_by(INCIDENT_ACTIONS.c.action_id)
        ).all()
    last_close = {r.incident_id: r for r in closes}  # ascending: the last one per incident wins
    counts: dict[str, Counter[str]] = {}
    incidents: dict[str, set[str]] = {}
    latest: dict[str, Any] = {}
    for a in alerts:
        if a.detection_id.startswith("mamori_") and not include_health:
            continue
        c = counts.setdefault(a.detection_id, Counter())
        c["alerts"] += 1
        c["open"] += a.status == "open"
        if a.resolution in VERDICTS:
            c[a.resolution] += 1
        iid = member.get(a.alert_key)
        if iid is None:
            continue
        incidents.setdefault(a.detection_id, set()).add(iid)
        close = last_close.get(iid)
        if close is not None and (
            a.detection_id not in latest or close.action_id > latest[a.detection_id].action_id
        ):
            latest[a.detection_id] = close
    scores = []
    for det_id, c in counts.items():
        tp, btp, fp = c["true-positive"], c["benign-true-positive"], c["false-positive"]
        rec, reason, precision = recommend(tp, btp, fp)
        last = latest.get(det_id)
        scores.append(
            RuleScore(
                detection_id=det_id,
                alerts=c["alerts"],
                incidents=len(incidents.get(det_id, ())),
                open=c["open"],
                true_positive=tp,
                benign_true_positive=btp,
                false_positive=fp,
                precision=precision,
                last_verdict=last.verdict if last else None,
                last_verdict_at=last.at if last else None,
                last_verdict_by=last.actor if last else None,
                recommendation=rec,
                reason=reason,
            )
        )
    order = {"retire": 0, "tune": 1, "keep": 2}
    return sorted(
        scores,
        key=lambda r: (
            order[r.recommendation],
            r.precision if r.precision is not None else 2.0,
            -r.alerts,
            r.detection_id,
        ),
    )
