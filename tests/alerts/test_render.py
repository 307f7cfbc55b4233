"""Log-derived values are inert in everything an output sends: the GitHub issue (title, body, recurrence
comment), the local Markdown ticket, the Slack message and the PagerDuty event. A hostile value is put in every
place a log value can reach (dedup values, every sampled field, enrichment entity, columns, rows and errors),
and the whole rendering is scanned, not only table rows: outside code spans and fenced blocks it must be the
same text as with a benign value (so nothing in it is a live mention, link, HTML or Markdown), code spans and
blocks must close where they should, and no control, format (bidi, zero-width, tag) or separator character
may survive anywhere."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from mamori.alerts.ledger import Alert
from mamori.alerts.outputs.github import MAX_TITLE, issue_body, issue_title, recurrence_comment
from mamori.alerts.outputs.local import LocalOutput
from mamori.alerts.outputs.pagerduty import MAX_SUMMARY, PagerDutyOutput
from mamori.alerts.outputs.slack import MAX_MESSAGE, message
from mamori.alerts.render import block, cell
from mamori.detections.loader import Detection, get_detection

REPO = Path(__file__).resolve().parents[2]
TICKET = "https://github.com/acme/security-alerts/issues/7"
BENIGN = "alice"
HOSTILE = [
    "@org/team",
    "@here @channel @everyone",
    "<!channel> <@U123ABC> <!subteam^S1>",
    "<http://evil|click me>",
    "[x](http://evil)",
    "![img](http://evil/x.png)",
    "http://evil.example/path www.evil.example",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "</details><details open><summary>x</summary>",
    "<!-- mamori:hits=999 -->",
    "| table | break |",
    "`code` ``x`` *bold* _it_ ~s~",
    "```\n# heading\n```",
    "~~~\n# heading",
    "\\`escaped backtick\\|",
    "#1 GH-1 acme/repo#2 :shipit: $x$",
    "&lt;!channel&gt; &amp;",
    "a\u202eb\u200bc\x00d\x1b[31m",
    "\u2066isolate\u2069 \u061cmark \u200emark",
    "tag\U000e0041\U000e0042 joiner\u2060 soft\u00adhyphen",
    "line\nbreak\r\n# heading\n- item",
    "line\u2028separator\u2029paragraph",
    "x" * 100_000,
]
IDS = [f"{i:02d}" for i in range(len(HOSTILE))]
# Control, format (bidi, zero-width, tag, soft hyphen) and line/paragraph separator characters.
HIDDEN = {"Cc", "Cf", "Zl", "Zp"}


def alert(value: str, key: str = "a" * 32) -> Alert:
    return Alert(
        key=key,
        detection_id="cloudtrail_root_activity",
        title="Root account activity",
        severity="high",
        status="open",
        log_source="cloudtrail",
        dedup_values={"account_id": value, "actor": value},
        bucket_start="2026-11-01T10:00:00+00:00",
        bucket_end="2026-11-01T11:00:00+00:00",
        first_seen="2026-11-01T10:01:00+00:00",
        last_seen="2026-11-01T10:02:00+00:00",
        hit_count=3,
        samples=[
            {
                "account_id": value,
                "actor": value,
                "source_ip": value,
                "event_name": value,
                "user_agent": value,
            },
            {"event_time": "2026-11-01T10:02:00+00:00", value[:64]: value},  # a hostile field name too
        ],
        routes=["github", "pagerduty", "slack"],
        enrichment=[
            {
                "id": "principal_activity",
                "title": "Recent activity of the principal",
                "entity": value,
                "columns": ["event_name", value[:64]],
                "rows": [[value, value], [None, 1]],
            },
            {"id": "lookup:reputation", "title": "Lookup reputation", "entity": value, "error": value},
            {"id": "related_alerts", "title": "Other alerts", "entity": value, "columns": ["x"], "rows": []},
        ],
    )


@pytest.fixture(scope="module")
def det() -> Detection:
    return get_detection(REPO / "sql", "cloudtrail_root_activity")


def hidden(text: str, allowed: str = "") -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in HIDDEN and c not in allowed})


# -- CommonMark / GFM --------------------------------------------------------------------------------------


def outside_spans(line: str) -> str | None:
    """Text outside inline code spans, scanning like CommonMark (a span closes at the next backtick run of
    the same length); None when a span never closes, i.e. content could escape it."""
    out, i = [], 0
    runs = list(re.finditer(r"`+", line))
    j = 0
    while j < len(runs):
        opener = runs[j]
        out.append(line[i : opener.start()])
        closer = next((k for k in range(j + 1, len(runs)) if len(runs[k][0]) == len(opener[0])), None)
        if closer is None:
            return None
        i, j = runs[closer].end(), closer + 1
    out.append(line[i:])
    return "".join(out)


def _spans_as_placeholders(line: str) -> str:
    """The line with each code span replaced by `<code>`; in a table row, an unescaped `|` inside a span (GFM
    splits cells on it before reading spans) stays visible as `<code|>`. A backtick run that opens no span is
    literal text, and so stays in the line."""
    out, i = [], 0
    runs = list(re.finditer(r"`+", line))
    j = 0
    while j < len(runs):
        opener = runs[j]
        closer = next((k for k in range(j + 1, len(runs)) if len(runs[k][0]) == len(opener[0])), None)
        if closer is None:
            j += 1
            continue
        content = line[opener.end() : runs[closer].start()]
        pipes = len(re.findall(r"(?<!\\)\|", content)) if line.startswith("|") else 0
        out += [line[i : opener.start()], "<code" + "|" * pipes + ">"]
        i, j = runs[closer].end(), closer + 1
    out.append(line[i:])
    return "".join(out)


def markdown_skeleton(md: str) -> list[str]:
    """The Markdown as CommonMark reads its structure, with the content of every fenced block and code span
    replaced by a placeholder: a fence closes only at a line of its own character at least as long."""
    out: list[str] = []
    fence: str | None = None
    for line in md.split("\n"):
        if fence is not None:
            m = re.fullmatch(r" {0,3}(`{3,}|~{3,})[ \t]*", line)
            if m and m[1][0] == fence[0] and len(m[1]) >= len(fence):
                fence = None
            continue
        m = re.match(r" {0,3}(`{3,}|~{3,})(.*)$", line)
        if m and not (m[1][0] == "`" and "`" in m[2]):
            fence = m[1]
            out.append("<block>")
            continue
        out.append(_spans_as_placeholders(line))
    if fence is not None:
        out.append("<unclosed block: content runs to the end>")
    return out


def markdown_renderings(a: Alert, det: Detection, settings: Any) -> dict[str, str]:
    local = LocalOutput(settings)
    local.deliver(a, det, None)
    return {
        "github issue body": issue_body(a, det),
        "github recurrence comment": recurrence_comment(a),
        "local ticket": local.store.read_bytes(f"tickets/{a.detection_id}/{a.key}.md").decode(),
    }


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_markdown_renderings_are_inert_throughout(value, det, settings):
    benign = markdown_renderings(alert(BENIGN), det, settings)
    for name, md in markdown_renderings(alert(value), det, settings).items():
        assert len(md) < 60_000, name
        assert hidden(md, allowed="\n") == [], name
        # Same structure and same text outside code as with a benign value: nothing of the value is live.
        assert markdown_skeleton(md) == markdown_skeleton(benign[name]), name


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_github_title_is_one_inert_bounded_line(value, det):
    title = issue_title(alert(value), det)
    assert len(title) <= MAX_TITLE and hidden(title) == []
    assert "\n" not in title and "\r" not in title
    assert not re.search(r"(?<![\w`])@\w", title)  # no mention


def test_cell_is_a_single_inert_code_span():
    for v in HOSTILE:
        c = cell(v)
        assert "\n" not in c
        assert hidden(c) == []
        assert len(c) < 400
        assert "|" not in c.replace("\\|", "")  # every pipe escaped: the table row cannot split
        assert outside_spans(c) == ""  # exactly one span, nothing outside it


def test_block_fence_cannot_be_closed_by_content():
    b = block("```\n@org/team\n````")
    fence = b.split("\n", 1)[0]
    assert len(fence) >= 5 and b.endswith("\n" + fence)
    assert markdown_skeleton(b) == ["<block>"]


def test_the_skeleton_sees_what_the_renderer_could_get_wrong():
    """The checks above are only as good as this reading of Markdown."""
    assert markdown_skeleton("a `@x` b") == ["a <code> b"]
    assert markdown_skeleton("| `a|b` |") == ["| <code|> |"]
    assert markdown_skeleton("| `a\\|b` |") == ["| <code> |"]
    assert markdown_skeleton("a ``x` @y") == ["a ``x` @y"]  # unclosed: literal, and the rest is live
    assert markdown_skeleton("````\n```\n@x\n````\nafter") == ["<block>", "after"]
    assert markdown_skeleton("```\n@x") == ["<block>", "<unclosed block: content runs to the end>"]
    assert markdown_skeleton("```\n```\n@x\n```") == [
        "<block>",
        "@x",
        "<block>",
        "<unclosed block: content runs to the end>",
    ]


# -- Slack mrkdwn --------------------------------------------------------------------------------------------

SLACK_LINK = re.compile(r"<(https://[^|<>]+)\|open the ticket>")


def slack_skeleton(text: str) -> str:
    """Slack text with each inline code span as `<code>`; content never holds a backtick, so spans pair up."""
    assert text.count("`") % 2 == 0, "an unclosed code span would let content out"
    return "".join(p if i % 2 == 0 else "<code>" for i, p in enumerate(text.split("`")))


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_slack_message_is_inert_throughout(value, det):
    text = message(alert(value), det, TICKET)
    assert len(text) <= MAX_MESSAGE
    assert hidden(text, allowed="\n") == []
    assert slack_skeleton(text) == slack_skeleton(message(alert(BENIGN), det, TICKET))
    # Slack reads <...> control sequences (mentions, links) and &-entities even inside code: only our link.
    assert SLACK_LINK.findall(text) == [TICKET]
    rest = SLACK_LINK.sub("", text)
    assert "<" not in rest and ">" not in rest
    assert not re.search(r"&(?!amp;|lt;|gt;)", rest)
    assert all("\n" not in span for span in text.split("`")[1::2])


# -- PagerDuty -----------------------------------------------------------------------------------------------


def strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in [*strings(k), *strings(v)]]
    if isinstance(obj, list):
        return [s for v in obj for s in strings(v)]
    return []


def shape(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: shape(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [shape(v) for v in obj]
    return type(obj).__name__


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_pagerduty_event_is_plain_bounded_text(value, det, settings):
    """PagerDuty shows summary and custom_details as text (UI, SMS, push, e-mail): one line each, nothing
    hidden, bounded, and the only link is our ticket."""
    out = PagerDutyOutput(settings)
    event = out.event(alert(value), det, ticket_url=TICKET)
    benign = out.event(alert(BENIGN), det, ticket_url=TICKET)
    assert shape(event) == shape(benign)  # no field appears or disappears with the value
    assert event["links"] == [{"href": TICKET, "text": "ticket"}]
    assert len(event["payload"]["summary"]) <= MAX_SUMMARY
    runbook = event["payload"]["custom_details"].pop("runbook")  # our own reviewed multi-line text
    assert hidden(runbook, allowed="\n") == []
    for s in strings(event):
        assert hidden(s) == [] and len(s) <= 1_200, s[:200]  # one line each: \n and \r are hidden too
    assert len(json.dumps(event)) < 16_000
