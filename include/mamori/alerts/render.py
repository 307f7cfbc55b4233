"""Tickets as Markdown in which every log-derived value is inert.

Log fields are attacker-controlled. In a GitHub-flavoured Markdown ticket a value could @mention a team,
auto-link, inject HTML or images, break a table, or reverse text with bidi controls. Every log-derived value
therefore goes through `cell()` (an inline code span in a table) or `block()` (a fenced code block), where
Markdown, HTML, mentions and links are not interpreted, after control and bidi characters are made visible
and the size is bounded. Only our own text (detection header, which is reviewed code) is rendered as Markdown,
through `prose()`: GitHub would otherwise drop its `<placeholder>`s as unknown HTML tags and link its `#1`s.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from mamori.alerts.alert import Alert, IncidentView
from mamori.detections.loader import Detection

MAX_CELL = 256
MAX_BLOCK = 20_000
# Every control (Cc, except \n and \t, handled by the callers), format (Cf: bidi marks, embeddings, overrides
# and isolates, zero-width characters, soft hyphen, invisible operators, Unicode tags that can smuggle hidden
# ASCII) and line/paragraph separator (Zl, Zp) character of Unicode 14 (Python 3.11's unicodedata); the
# render tests check every output against unicodedata itself.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)


def visible(text: str) -> str:
    """Replace invisible/control characters with a visible escape so nothing hides or reorders text."""
    return _INVISIBLE.sub(
        lambda m: f"\\u{ord(m[0]):04x}" if ord(m[0]) <= 0xFFFF else f"\\U{ord(m[0]):08x}", text
    )


def one_line(text: str) -> str:
    """`visible`, with line breaks and tabs escaped too: a value on one line of a terminal or a plain-text
    message, where a raw line break would start a line the value forged."""
    return visible(text).replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"…[+{len(text) - limit} chars]"


# GitHub turns `#26`, `user#26`, `owner/repo#26` and `GH-26` in text (not in code) into links that also put a
# cross-reference on the target issue; a closing keyword in front ("closes #1") reads as one more.
_REFERENCE_HASH = re.compile(r"#(?=\d)")
_REFERENCE_GH = re.compile(r"(?i)\b(gh)-(?=\d)")


def inert_references(text: str) -> str:
    """Issue references made unlinkable, the way mentions get a fullwidth `＠`: a fullwidth number sign (`＃26`)
    and a non-breaking hyphen (`GH‑26`) read the same but are not what GitHub's reference filter matches."""
    return _REFERENCE_GH.sub(lambda m: m[1] + "\u2011", _REFERENCE_HASH.sub("\uff03", text))


_FENCE_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})(.*)$")
_FENCE_CLOSE = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*")


def _prose_text(text: str) -> str:
    # Entities rather than backslashes: an author's own backslash in front cannot undo them into a tag.
    return inert_references(text.replace("<", "&lt;").replace(">", "&gt;"))


def _prose_paragraph(para: str) -> str:
    """Text outside code spans escaped; a span is a backtick run closed by the next run of the same length
    (CommonMark), an unclosed run is literal text."""
    out, i, j = [], 0, 0
    runs = list(re.finditer(r"`+", para))
    while j < len(runs):
        opener = runs[j]
        closer = next((k for k in range(j + 1, len(runs)) if len(runs[k][0]) == len(opener[0])), None)
        if closer is None:
            j += 1
            continue
        out += [_prose_text(para[i : opener.start()]), para[opener.start() : runs[closer].end()]]
        i, j = runs[closer].end(), closer + 1
    out.append(_prose_text(para[i:]))
    return "".join(out)


def prose(text: str) -> str:
    """Reviewed Markdown (a detection's title, description, runbook, false positives) as GitHub should show it.

    Outside code spans and fenced blocks, `<` and `>` become entities, so a placeholder such as `<day>` stays
    text instead of an HTML tag that GitHub's sanitizer drops (the runbook's SQL would read `dt = ''`), and
    issue references are made inert (see inert_references). Code is left as written: `<day>` is literal there
    and an escape would show. Lists, emphasis and links keep working.
    """
    out: list[str] = []
    para: list[str] = []
    fence: str | None = None

    def flush() -> None:
        if para:
            out.append(_prose_paragraph("\n".join(para)))
            para.clear()

    for line in text.split("\n"):
        if fence is not None:
            out.append(line)
            m = _FENCE_CLOSE.fullmatch(line)
            if m and m[1][0] == fence[0] and len(m[1]) >= len(fence):
                fence = None
            continue
        m = _FENCE_OPEN.match(line)
        if m and not (m[1][0] == "`" and "`" in m[2]):
            flush()
            fence = m[1]
            out.append(line)
        elif not line.strip():
            flush()
            out.append(line)
        else:
            para.append(line)
    flush()
    return "\n".join(out)


def cell(value: Any, limit: int = MAX_CELL) -> str:
    """One value as an inert inline code span, safe inside a Markdown table row."""
    if value is None or value == "":
        return "–"
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    text = _bounded(visible(text).replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t"), limit)
    text = text.replace("|", "\\|")  # GFM splits table cells on | even inside code spans
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def block(value: Any, lang: str = "", limit: int = MAX_BLOCK) -> str:
    """A fenced code block longer than any backtick run inside, so the content cannot close it."""
    text = (
        value
        if isinstance(value, str)
        else orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()
    )
    text = _bounded(visible(text), limit)
    fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


MAX_ENRICHMENT_ROWS = 20


def samples_markdown(samples: object) -> list[str]:
    """An alert's sample events as a folded JSON block (GitHub's <details>): one shape for every ticket."""
    return ["", "<details><summary>Sample events</summary>", "", block(samples, "json"), "", "</details>"]


def enrichment_markdown(results: list[dict[str, Any]]) -> list[str]:
    """One inert table per enrichment result; every cell (headers included) is a code span."""
    if not results:
        return []
    lines = ["", "### Related activity"]
    for r in results:
        title = prose(visible(str(r.get("title", r.get("id")))))
        lines += ["", f"**{title}** for {cell(r.get('entity'))}", ""]
        if "error" in r:
            lines.append(f"Query failed: {cell(r['error'])}")
            continue
        cols, rows = r.get("columns") or [], r.get("rows") or []
        if not rows:
            lines.append("No related events.")
            continue
        lines.append("| " + " | ".join(cell(c) for c in cols) + " |")
        lines.append("|" + "---|" * len(cols))
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows[:MAX_ENRICHMENT_ROWS]]
        if len(rows) > MAX_ENRICHMENT_ROWS:
            lines.append(f"…{len(rows) - MAX_ENRICHMENT_ROWS} more rows in the ledger")
    return lines


def ticket_markdown(alert: Alert, det: Detection | None) -> str:
    """The ticket body shared by every output that takes Markdown (local file, GitHub issue)."""
    h = det.header if det else None
    lines = [
        f"<!-- mamori:alert_key={alert.key} -->",
        f"## [{alert.severity.upper()}] {prose(h.title if h else alert.title)}",
        "",
        "| | |",
        "|---|---|",
        f"| Detection | {cell(alert.detection_id)} |",
        f"| Severity | {cell(alert.severity)} |",
        f"| Alert key | {cell(alert.key)} |",
        f"| Hits | {alert.hit_count} |",
        f"| First seen | {cell(alert.first_seen)} |",
        f"| Last seen | {cell(alert.last_seen)} |",
        f"| Dedup window | {cell(alert.bucket_start)} → {cell(alert.bucket_end)} |",
        "",
        "### Entities",
        "",
        "| Field | Value |",
        "|---|---|",
    ]
    lines += [f"| {cell(k)} | {cell(v)} |" for k, v in alert.dedup_values.items()]
    entity_cols = ("account_id", "actor", "source_ip", "event_name")
    for col in entity_cols:
        if col in alert.dedup_values:
            continue
        values = sorted({str(s.get(col)) for s in alert.samples if s.get(col) is not None})
        if values:
            lines.append(f"| {cell(col)} | {cell(', '.join(values[:10]))} |")
    if h:
        lines += [
            "",
            "### What this detects",
            "",
            prose(h.description.strip()),
            "",
            "### Runbook",
            "",
            prose(h.runbook.strip()),
        ]
        lines += ["", "### Known false positives", "", *[f"- {prose(fp)}" for fp in h.false_positives]]
    lines += enrichment_markdown(alert.enrichment or [])
    lines += samples_markdown(alert.samples)
    if det and det.body:  # health alerts have a definition but no SQL to reproduce
        sql = det.render(datetime.fromisoformat(alert.bucket_start), datetime.fromisoformat(alert.bucket_end))
        lines += ["", "### Reproduce in Athena", "", block(sql, "sql")]
    return "\n".join(lines) + "\n"


MAX_TIMELINE = 200  # member rows in one incident body; the rest are counted


def rule_tactics(det: Detection | None) -> list[str]:
    """ATT&CK tactic ids of a rule's `mitre` entries (`TA0004:T1078.004` → `TA0004`), in header order."""
    return list(dict.fromkeys(m.split(":", 1)[0] for m in det.header.mitre)) if det else []


def entity_summary(values: dict[str, Any]) -> str:
    """An alert's dedup values as one line `k=v · k=v` (log-derived: callers pass it through `cell`)."""
    return " · ".join(
        f"{k}={v if isinstance(v, str) else orjson.dumps(v, default=str).decode()}" for k, v in values.items()
    )


def incident_markdown(inc: IncidentView, runbooks: bool = True) -> str:
    """The body of an incident's ticket: what it is and why its severity, the entities its alerts share, a
    timeline of its member alerts and the runbook of each member rule once. Every log-derived value (entity,
    dedup value, time) is a code span; only rule headers (reviewed) and our own text are Markdown."""
    n = len(inc.members)
    lines = [
        f"## [{inc.severity.upper()}] Incident: {n} alert{'s' if n != 1 else ''}",
        "",
        "| | |",
        "|---|---|",
        f"| Incident | {cell(inc.incident_id)} |",
        f"| Severity | {cell(inc.severity)} |",
        f"| Why this severity | {cell(inc.severity_reason, 1000)} |",
        f"| ATT&CK tactics | {cell(', '.join(inc.tactics))} |",
        f"| Alerts | {n} |",
        f"| First seen | {cell(inc.first_seen)} |",
        f"| Last seen | {cell(inc.last_seen)} |",
    ]
    if inc.entities:
        lines += ["", "### Entities its alerts share", "", "| Kind | Value | Alerts |", "|---|---|---|"]
        lines += [
            f"| {cell(e.get('kind'))} | {cell(e.get('value'))} | {int(e.get('alerts') or 0)} |"
            for e in inc.entities
        ]
    lines += [
        "",
        "### Timeline",
        "",
        "| Time | Rule | Severity | Tactics | Entities | Hits | Alert |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in inc.members[:MAX_TIMELINE]:
        tactics = ", ".join(rule_tactics(inc.rules.get(a.detection_id)))
        lines.append(
            f"| {cell(a.first_seen)} | {cell(a.detection_id)} | {cell(a.severity)} | {cell(tactics)} "
            f"| {cell(entity_summary(a.dedup_values))} | {int(a.hit_count)} | {cell(a.key)} |"
        )
    if n > MAX_TIMELINE:
        lines.append(
            f"| …{n - MAX_TIMELINE} more alerts in the ledger (`mamori incidents list`) | | | | | | |"
        )
    if runbooks:
        lines += ["", "### Runbooks"]
        for det_id in dict.fromkeys(a.detection_id for a in inc.members):
            det = inc.rules.get(det_id)
            if det is None:
                continue
            lines += [
                "",
                f"#### {prose(det.header.title)} ({cell(det_id)})",
                "",
                prose(det.header.runbook.strip()),
            ]
    else:
        lines += [
            "",
            "_The member rules' runbooks are too long for one issue: see each rule's ticket comment._",
        ]
    return "\n".join(lines) + "\n"


def member_markdown(alert: Alert, det: Detection | None, inc: IncidentView) -> str:
    """A comment announcing one more alert in an incident: the alert's facts, entities and sample events."""
    h = det.header if det else None
    n = len(inc.members)
    lines = [
        f"### New alert in this incident: [{alert.severity.upper()}] {prose(h.title if h else alert.title)}",
        "",
        "| | |",
        "|---|---|",
        f"| Detection | {cell(alert.detection_id)} |",
        f"| Severity | {cell(alert.severity)} |",
        f"| ATT&CK tactics | {cell(', '.join(rule_tactics(det)))} |",
        f"| Alert key | {cell(alert.key)} |",
        f"| Hits | {alert.hit_count} |",
        f"| First seen | {cell(alert.first_seen)} |",
        f"| Last seen | {cell(alert.last_seen)} |",
    ]
    lines += [f"| {cell(k)} | {cell(v)} |" for k, v in alert.dedup_values.items()]
    lines += [
        "",
        f"The incident now holds {n} alert{'s' if n != 1 else ''}, severity {cell(inc.severity)}: "
        f"{cell(inc.severity_reason, 1000)}. The timeline and runbooks above are updated.",
    ]
    lines += enrichment_markdown(alert.enrichment or [])
    lines += samples_markdown(alert.samples)
    return "\n".join(lines) + "\n"
