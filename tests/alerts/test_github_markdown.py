"""What GitHub makes of a ticket, beyond CommonMark: the body is parsed as GitHub-flavoured Markdown by
GitHub's own parser (cmark-gfm, through cmarkgfm, with its GFM extensions: tables, strikethrough, autolinks,
tag filter, task lists) and the HTML is read the way GitHub's sanitizer and reference filter treat it.

Two things GitHub does on top of GFM matter here. Its HTML sanitizer drops tags it does not know, so a
runbook placeholder written as `<source_ip>` outside a code span is read as a tag and vanishes (the runbook's
SQL then reads `client_ip = ''`). Its reference filter turns `#123`, `owner/repo#2` and `GH-123` in text
(not in code) into links that also put a cross-reference on the target issue, so a log value in an issue
title, or a `#1` in header prose, would link to and notify unrelated issues; with a closing keyword it reads
as "closes #1". Titles are plain text where only mentions were neutralised so far.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from mamori.alerts.ledger import Alert
from mamori.alerts.outputs.github import MAX_TITLE, issue_body, issue_title, recurrence_comment
from mamori.detections.loader import Detection, get_detection, load_catalog

REPO = Path(__file__).resolve().parents[2]
# What GitHub links as an issue or pull-request reference: `#26`, `user#26`, `owner/repo#26`, `GH-26`.
REFERENCE = re.compile(r"(?i)#\d|\bgh-\d")
MENTION = re.compile(r"(?<![\w`])@\w")
# Tags GitHub's sanitizer keeps that a Markdown rendering of a ticket can contain; any other tag is dropped.
GITHUB_TAGS = {
    "a", "blockquote", "br", "code", "del", "details", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li",
    "ol", "p", "pre", "s", "strong", "summary", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
HOSTILE = "closes #1, Fixes acme/security-alerts#7, resolves GH-42, gh-9 x#5 <source_ip> @org/team"
TITLE_VALUES = [
    "#123",
    "acme/repo#2",
    "closes #1",
    "Fixes acme/security-alerts#7",
    "resolved: GH-42",
    "gh-9",
    "user#5",
    "#1#2 ##3",
    "@org/team #1",
]


class GitHubView(HTMLParser):
    """The rendered HTML as a GitHub reader gets it: tags outside GitHub's allowlist are dropped (their text is
    kept, the tag itself disappears), and text outside <code>/<pre>/<a> is what the reference filter links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.live: list[str] = []
        self.dropped: list[str] = []
        self._inert = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in GITHUB_TAGS:
            self.dropped.append(tag)
        elif tag in ("code", "pre", "a"):
            self._inert += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("code", "pre", "a"):
            self._inert -= 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if not self._inert:
            self.live.append(data)


def github_view(md: str) -> GitHubView:
    # cmark-gfm as GitHub runs it: the GFM extensions, raw HTML passed through (UNSAFE) to the sanitizer that
    # GitHubView stands for.
    view = GitHubView()
    view.feed(cmarkgfm.github_flavored_markdown_to_html(md, options=Options.CMARK_OPT_UNSAFE))
    view.close()
    return view


def alert(det: Detection, value: str) -> Alert:
    return Alert(
        key="b" * 32,
        detection_id=det.id,
        title=det.header.title,
        severity=det.header.severity,
        status="open",
        log_source=det.header.log_source,
        dedup_values={k: value for k in det.header.dedup.keys} or {"actor": value},
        bucket_start="2026-11-01T10:00:00+00:00",
        bucket_end="2026-11-01T11:00:00+00:00",
        first_seen="2026-11-01T10:01:00+00:00",
        last_seen="2026-11-01T10:02:00+00:00",
        hit_count=2,
        samples=[{"actor": value, "source_ip": value, "event_name": value}],
        routes=["github"],
        enrichment=[{"id": "e", "title": "Related", "entity": value, "columns": ["c"], "rows": [[value]]}],
    )


def placeholders(text: str) -> list[str]:
    """`<word>` placeholders a header writes outside code spans (inside them GitHub shows them anyway)."""
    return re.findall(r"<[^<>\n]+>", re.sub(r"`[^`]*`", "", text))


CATALOG = load_catalog(REPO / "sql")


@pytest.mark.parametrize("value", TITLE_VALUES)
def test_issue_title_references_are_inert(value):
    det = get_detection(REPO / "sql", "cloudtrail_root_activity")
    title = issue_title(alert(det, value), det)
    assert len(title) <= MAX_TITLE
    assert not REFERENCE.search(title), title
    assert not MENTION.search(title), title
    # Still readable: the digits and the rest of the value are there, only the trigger character changed.
    digits = re.sub(r"\D", "", value)
    assert re.sub(r"\D", "", title.split(" — ", 1)[1]) == digits * len(det.header.dedup.keys)


def test_runbook_placeholders_survive_github_rendering():
    det = get_detection(REPO / "sql", "alb_sql_injection")
    view = github_view(issue_body(alert(det, HOSTILE), det))
    assert view.dropped == []
    text = "".join(view.text)
    assert "client_ip = '<source_ip>'" in text and "dt = '<day>'" in text
    assert "client_ip = ''" not in text


@pytest.mark.parametrize("det", CATALOG, ids=[d.id for d in CATALOG])
def test_every_ticket_keeps_header_text_and_links_no_reference(det):
    body = issue_body(alert(det, HOSTILE), det)
    view = github_view(body)
    assert view.dropped == [], "a tag GitHub would drop, taking its text with it"
    text = " ".join("".join(view.text).split())
    h = det.header
    for prose in (h.description, h.runbook, *h.false_positives):
        for ph in placeholders(prose):
            assert " ".join(ph.split()) in text, ph
    live = "".join(view.live)
    assert not REFERENCE.search(live), REFERENCE.search(live)
    assert not MENTION.search(live), MENTION.search(live)
    # The hostile value reaches the ticket only inside code: in the rendered text it is whole and literal.
    assert HOSTILE in "".join(view.text)


def test_recurrence_comment_links_no_reference():
    det = get_detection(REPO / "sql", "cloudtrail_root_activity")
    view = github_view(recurrence_comment(alert(det, HOSTILE)))
    assert view.dropped == []
    assert not REFERENCE.search("".join(view.live)) and not MENTION.search("".join(view.live))


def test_the_github_view_sees_what_github_would_drop_or_link():
    """The checks above are only as good as this reading of GitHub's rendering."""
    view = github_view("a <day> b `<kept>` #1 `#2` <details><summary>s</summary>\n\nx\n\n</details>")
    assert view.dropped == ["day"]
    assert "<kept>" in "".join(view.text) and "<day>" not in "".join(view.text)
    assert REFERENCE.findall("".join(view.live)) == ["#1"]
    assert github_view(r"a \<x\> b &lt;y&gt;").dropped == []
    # A tag name is letters, digits and hyphens (CommonMark, as cmark-gfm): `<source_ip>` is text already,
    # `<day>`, `<actor>` or `<day-1>` are tags.
    assert github_view("<source_ip> <day-1>").dropped == ["day-1"]
