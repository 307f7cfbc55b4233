"""GitHub issues as alert tickets: one issue per incident (or per alert key), one comment per member/recurrence.

Per incident (routing `deliver_per: incident`, the default): the incident's first delivered alert opens its
issue (label `mamori-incident:<id16>`, first-line marker `<!-- mamori:incident=<id> -->`, that alert's marker
`<!-- mamori:member=<key> hits=<n> -->` on line two); every later member adds one comment opening with its own
member marker, a member's new hit count one more, and the body (timeline, shared entities, runbooks) and
title are rewritten from the ledger's incident. The same find-before-write as below makes it exactly-once;
the dispatcher's incident lease keeps two dispatchers from opening the issue twice. A merged incident's
issue is closed with a comment pointing at its survivor's (`fold`). Per alert, as follows.

Exactly-once on top of an at-least-once dispatcher. The dispatcher may call `deliver` again for an alert whose
issue already exists (it crashed between "sent" and "recorded", or a response was lost to a timeout), so the
issue itself is the source of truth: it carries a label `mamori:<key16>` to find it and a hidden first-line
marker `<!-- mamori:alert_key=<key> -->` to confirm it, and every recurrence comment starts with
`<!-- mamori:hits=<n> -->`. A delivery first looks for what already exists and only then writes, so any
number of retries of the whole delivery converge on one issue and one comment per hit count.

Markers are trusted only at the very start of a body or comment. Log values are rendered further down (inside
code spans/blocks), so an attacker who puts `<!-- mamori:hits=999 -->` in a log field cannot suppress updates.

Retries are ours, not PyGithub's: its default urllib3 retry would retry 5xx/403 up to 10 times, sleeping on
rate limits, per request. We disable it and retry the whole idempotent delivery (4 attempts) on 429/403 rate
limits (honouring Retry-After up to 60 s), 5xx and timeouts, so waiting is bounded and a POST whose response
was lost is re-checked rather than blindly repeated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import orjson
import requests
from github import Auth, Github, GithubException
from github.GithubException import RateLimitExceededException
from pydantic import Field, field_validator

from mamori.alerts.alert import Alert, IncidentTicket, IncidentView
from mamori.alerts.outputs.base import (
    Capabilities,
    Output,
    OutputDown,
    OutputOptions,
    TicketState,
    TriageChange,
)
from mamori.alerts.render import (
    block,
    cell,
    incident_markdown,
    inert_references,
    member_markdown,
    samples_markdown,
    ticket_markdown,
    visible,
)
from mamori.alerts.verdicts import VERDICT_LABEL, label_verdicts, verdict_label
from mamori.config import Settings
from mamori.detections.loader import Detection

if TYPE_CHECKING:
    from github.Issue import Issue
    from github.Repository import Repository

log = logging.getLogger(__name__)

T = TypeVar("T")

CONN_ID = "mamori_github"
MAX_ATTEMPTS = 4
MAX_WAIT = 60.0  # seconds: cap on any single wait (Retry-After or backoff)
MAX_TITLE = 200  # GitHub allows 256; keep room and keep list views readable
MAX_LABEL = 50  # GitHub's limit on label names
MAX_BODY = 65_536  # GitHub's limit on issue/comment bodies (characters)
_BODY_BUDGET = 65_000  # what we aim under, leaving room for our own markers
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})

_KEY_MARKER = re.compile(r"<!-- mamori:alert_key=([^ >]+) -->")
_INCIDENT_MARKER = re.compile(r"<!-- mamori:incident=([^ >]+) -->")
_MEMBER_MARKER = re.compile(r"<!-- mamori:member=([^ >]+) hits=(\d+) -->")
_FOLD_MARKER = re.compile(r"<!-- mamori:(absorbed|merged_into)=([^ >]+) -->")
_HITS_MARKER = re.compile(r"<!-- mamori:hits=(\d+) -->")
_TRIAGE_MARKER = re.compile(r"<!-- mamori:triage=(\d+) -->")
# GitHub mentions start at an '@' not preceded by a word character (so e-mail addresses do not mention).
_MENTION_AT = re.compile(r"(?<![\w`])@")
_TOKENISH = re.compile(r"(?i)\b(token|bearer|basic)\s+[A-Za-z0-9_\-.=:+/]{6,}")
_GH_TOKEN = re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{10,}|github_pat_[A-Za-z0-9_]{10,})")


_SECRETS: set[str] = set()  # tokens seen by this process's outputs, scrubbed from PyGithub's debug log


def _scrub_text(text: str) -> str:
    """Remove known secrets and anything token-shaped (`token …`, `Bearer …`, ghp_/ghs_/github_pat_…)."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return _GH_TOKEN.sub("***", _TOKENISH.sub(r"\1 ***", text))


class _ScrubFilter(logging.Filter):
    """PyGithub's DEBUG log prints every response body; a proxy error page can echo the request's token.

    PyGithub masks the Authorization request header itself; this catches the echoed copies.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = _scrub_text(record.getMessage()), None
        return True


if not any(isinstance(f, _ScrubFilter) for f in logging.getLogger("github.Requester").filters):
    logging.getLogger("github.Requester").addFilter(_ScrubFilter())


class GitHubOutputError(RuntimeError):
    """A delivery failure whose message is safe to store and log: no token, no raw headers."""


class GitHubOutputDown(GitHubOutputError, OutputDown):
    """Every attempt failed with a transient error (5xx, 429/403 rate limit, timeout): GitHub is down or
    throttling, so the dispatcher stops asking it for the rest of the run."""


def _plain(value: Any, limit: int) -> str:
    """A log-derived value made safe for a plain-text title: visible controls, one line, no mention, no issue
    reference, bounded."""
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    text = visible(text).replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    text = _MENTION_AT.sub("\uff20", text)  # fullwidth '@': visible, never a mention
    text = inert_references(text)  # `#12`, `owner/repo#12`, `GH-12` (so `closes #12` too): never a link
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def issue_title(alert: Alert, det: Detection | None) -> str:
    """`[SEVERITY] <detection title> — <dedup values>`, at most MAX_TITLE characters: two alerts of one rule
    (e.g. two actors in one account) get titles a responder can tell apart in the issue list."""
    head = f"[{alert.severity.upper()}] {_plain(det.header.title if det else alert.title, 120)}"
    values = [v for v in alert.dedup_values.values() if v not in (None, "")]
    if not values:
        return head[:MAX_TITLE]
    room = MAX_TITLE - len(head) - 3
    tail = " · ".join(v if isinstance(v, str) else orjson.dumps(v, default=str).decode() for v in values)
    return f"{head} — {_plain(tail, room)}" if room > 8 else head[:MAX_TITLE]


def label_name(prefix: str, value: str) -> str:
    """`prefix:value` within GitHub's 50 characters; a long one is truncated plus a hash so it stays unique.

    Commas are replaced: the issues list API takes labels as a comma-separated filter.
    """
    text = visible(f"{prefix}:{value}").replace(",", "_").replace("\n", " ").strip()
    if len(text) <= MAX_LABEL:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: MAX_LABEL - 9]}~{digest}"


def key_label(alert_key: str) -> str:
    return label_name("mamori", alert_key[:16])


def key_marker(alert_key: str) -> str:
    return f"<!-- mamori:alert_key={alert_key} -->"


def hits_marker(hits: int) -> str:
    return f"<!-- mamori:hits={hits} -->"


def issue_body(alert: Alert, det: Detection | None) -> str:
    """The shared ticket Markdown with our hits marker on line two, bounded under GitHub's body limit.

    An oversized ticket (it should not happen: render bounds every value) is shown whole as one inert code
    block rather than cut mid-Markdown, where a cut could leave a code fence open and make log text live.
    """
    md = ticket_markdown(alert, det)
    if len(md) > _BODY_BUDGET:
        note = f"**Ticket too long for GitHub ({len(md)} chars); shown as text.**\n\n"
        md = key_marker(alert.key) + "\n" + note + block(md, "markdown", limit=_BODY_BUDGET - 2_000) + "\n"
    first, _, rest = md.partition("\n")
    return f"{first}\n{hits_marker(alert.hit_count)}\n{rest}"


def recurrence_comment(alert: Alert) -> str:
    """One comment per new hit count; log-derived values go through cell/block like the ticket body."""
    lines = [
        hits_marker(alert.hit_count),
        f"### Recurrence: {alert.hit_count} hits",
        "",
        "| | |",
        "|---|---|",
        f"| Hits | {alert.hit_count} |",
        f"| First seen | {cell(alert.first_seen)} |",
        f"| Last seen | {cell(alert.last_seen)} |",
        f"| Alert key | {cell(alert.key)} |",
        *samples_markdown(alert.samples),
    ]
    return "\n".join(lines) + "\n"


# -- incident tickets ---------------------------------------------------------------------------------------


def incident_label(incident_id: str) -> str:
    return label_name("mamori-incident", incident_id[:16])


def incident_marker(incident_id: str) -> str:
    return f"<!-- mamori:incident={incident_id} -->"


def member_marker(alert_key: str, hits: int) -> str:
    return f"<!-- mamori:member={alert_key} hits={hits} -->"


def incident_title(inc: IncidentView) -> str:
    """`[SEVERITY] Incident: <main entities> — N alerts`, at most MAX_TITLE characters. Entity values are
    log-derived: the same neutralisation as alert titles (`_plain`: no mention, no issue reference, visible
    controls). An incident whose alerts share nothing (one alert) is named after its first rule."""
    n = len(inc.members)
    head = f"[{inc.severity.upper()}] Incident: "
    tail = f" — {n} alert{'s' if n != 1 else ''}"
    values = [str(e.get("value")) for e in inc.entities[:3] if e.get("value")]
    first = inc.rules.get(inc.members[0].detection_id) if inc.members else None
    what = " · ".join(values) if values else (first.header.title if first else inc.incident_id)
    room = MAX_TITLE - len(head) - len(tail)
    return f"{head}{_plain(what, room)}{tail}"


def incident_body(inc: IncidentView, founder: str) -> str:
    """The incident's issue body: our markers on lines one and two (the incident; the member that opened the
    issue, with its hit count), then the shared Markdown; runbooks dropped, then the whole shown as one inert
    block, when it would pass GitHub's limit."""
    head = f"{incident_marker(inc.incident_id)}\n{founder}\n"
    md = incident_markdown(inc)
    if len(md) > _BODY_BUDGET:
        md = incident_markdown(inc, runbooks=False)
    if len(md) > _BODY_BUDGET:
        note = f"**Incident too long for GitHub ({len(md)} chars); shown as text.**\n\n"
        md = note + block(md, "markdown", limit=_BODY_BUDGET - 2_000) + "\n"
    return head + md


def member_comment(alert: Alert, det: Detection | None, inc: IncidentView, joined: bool) -> str:
    """One comment per member: when it joins the incident, then one per new hit count (a recurrence)."""
    if joined:
        md = member_markdown(alert, det, inc)
        if len(md) > _BODY_BUDGET:  # related activity and samples are bounded one by one, not together
            md = member_markdown(dataclasses.replace(alert, enrichment=None), det, inc)
        if len(md) > _BODY_BUDGET:
            note = f"**Comment too long for GitHub ({len(md)} chars); shown as text.**\n\n"
            md = note + block(md, "markdown", limit=_BODY_BUDGET - 2_000) + "\n"
        return f"{member_marker(alert.key, alert.hit_count)}\n{md}"
    rest = recurrence_comment(alert).partition("\n")[2]
    return f"{member_marker(alert.key, alert.hit_count)}\n{rest}"


def triage_marker(action_id: int) -> str:
    return f"<!-- mamori:triage={action_id} -->"


def triage_comment(change: TriageChange) -> str:
    """The comment a close or reopen done in mamori leaves on the incident's issue. The actor (a user name)
    and the note are typed by people, maybe pasted from a log: inert like log values (code span, code block),
    so a note cannot mention a team, reference an issue (`closes #12`) or inject markup."""
    what = "Closed" if change.action == "close" else "Reopened"
    lines = [
        triage_marker(change.action_id),
        f"### {what} in mamori",
        "",
        "| | |",
        "|---|---|",
    ]
    if change.action == "close":
        lines.append(f"| Verdict | {cell(change.verdict)} |")
    lines += [f"| By | {cell(change.actor)} |", f"| At | {cell(change.at)} |"]
    if change.note:
        lines += ["", "Note:", "", block(change.note, "text")]
    return "\n".join(lines) + "\n"


def _is_verdict_label(name: str) -> bool:
    return name.lower().startswith(VERDICT_LABEL) or bool(label_verdicts([name]))


def _has_incident_marker(body: str | None, incident_id: str) -> bool:
    m = _INCIDENT_MARKER.match(body or "")
    return m is not None and m[1] == incident_id


def _founder_line(body: str | None) -> str | None:
    """Line two of an incident issue's body when it is our member marker (only there is it trusted)."""
    lines = (body or "").replace("\r\n", "\n").split("\n", 2)
    return lines[1] if len(lines) > 1 and _MEMBER_MARKER.fullmatch(lines[1]) else None


def _member_hits(alert_key: str, body: str | None, comments: Iterable[str | None]) -> int:
    """Highest hit count the issue reports for one member (0: not on the issue yet): the founder marker on
    line two of the body, or a member marker opening a comment. Log values never render in those places."""
    best = 0
    founder = _founder_line(body)
    texts = ([founder] if founder else []) + [(c or "").replace("\r\n", "\n") for c in comments]
    for t in texts:
        m = _MEMBER_MARKER.match(t)
        if m and m[1] == alert_key:
            best = max(best, int(m[2]))
    return best


def _has_fold_marker(comments: Iterable[str | None], kind: str, incident_id: str) -> bool:
    for c in comments:
        m = _FOLD_MARKER.match(c or "")
        if m and m[1] == kind and m[2] == incident_id:
            return True
    return False


def _repo_of(ref: str) -> str | None:
    """`owner/name` of an issue html_url (`.../<owner>/<name>/issues/<n>`), or None."""
    parts = urlsplit(ref).path.rstrip("/").split("/")
    if len(parts) < 4 or parts[-2] != "issues":
        return None
    name = "/".join(parts[-4:-2])
    return name if re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", name) else None


def _has_key_marker(body: str | None, alert_key: str) -> bool:
    """Only a marker on the body's first line counts; log values never render there."""
    m = _KEY_MARKER.match(body or "")
    return m is not None and m[1] == alert_key


def _reported_hits(texts: Iterable[str | None]) -> int:
    """Highest hit count already on the issue: our marker at the start of a comment or on the body's line 2."""
    best = 0
    for text in texts:
        t = (text or "").replace("\r\n", "\n")
        if _KEY_MARKER.match(t):
            t = t.partition("\n")[2]
        m = _HITS_MARKER.match(t)
        if m:
            best = max(best, int(m[1]))
    return best


def _retry_after(exc: GithubException) -> float | None:
    """Seconds the server asked us to wait (Retry-After, or the primary rate-limit reset), if it said."""
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    if (ra := headers.get("retry-after")) is not None:
        try:
            return max(float(ra), 0.0)
        except ValueError:
            return None  # HTTP-date form: GitHub does not send it; fall back to backoff
    if headers.get("x-ratelimit-remaining") == "0" and (reset := headers.get("x-ratelimit-reset")):
        try:
            return max(float(reset) - time.time(), 0.0)
        except ValueError:
            return None
    return None


class GitHubOptions(OutputOptions):
    """A rule's `output_options.github`: where its issues go and who is assigned."""

    # Repository (owner/name) for this rule's issues; None = the mamori_github connection's repo.
    repo: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    # GitHub logins assigned to this rule's issues (the on-call rotation for the rule's area).
    assignees: list[str] = Field(default_factory=list, max_length=10)

    @field_validator("assignees")
    @classmethod
    def _assignees(cls, v: list[str]) -> list[str]:
        for item in v:
            if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})", item):
                raise ValueError(f"assignee {item!r} is not a GitHub login")
        return v


class GitHubOutput(Output):
    """Issues in the repository named by the `mamori_github` connection's extra `repo`."""

    name = "github"
    conn_id = CONN_ID
    # The issue URL is the link pages and messages carry; a closed issue resolves the alert.
    # One issue per incident when routing says so (`deliver_per: incident`).
    # A close or reopen in mamori is mirrored on the incident's issue (label, comment, state).
    capabilities = Capabilities(
        kind="ticket", ticket_is_link=True, syncs_state=True, per_incident=True, mirrors_triage=True
    )
    options_model = GitHubOptions

    def __init__(
        self,
        settings: Settings,
        *,
        conn_id: str = CONN_ID,
        timeout: int = 15,
        backoff: float = 2.0,
        max_attempts: int = MAX_ATTEMPTS,
        throttle: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Knobs are for tests (short backoff, no write throttling); the dispatcher uses the defaults."""
        super().__init__(settings)
        self.connection_id = conn_id
        self.timeout = timeout
        self.backoff = backoff
        self.max_attempts = max_attempts
        self.throttle = throttle
        self.sleep = sleep
        self._client: Github | None = None
        self._repos: dict[str, Repository] = {}
        self._full_name = ""

    # -- public contract -------------------------------------------------------------------------------

    def deliver(
        self,
        alert: Alert,
        det: Detection | None,
        previous_ref: str | None = None,
        ticket_url: str | None = None,
    ) -> str:
        """Create the alert's issue, or comment once on it for a new hit count; returns the issue's html_url."""
        return self._with_retries(
            f"deliver {alert.key}", lambda: self._deliver_once(alert, det, previous_ref)
        )

    def groups(self, det: Detection | None) -> bool:
        """A rule that sends its tickets to its owners' repository keeps per-alert issues there; incident
        issues live in the connection's repository."""
        return GitHubOptions.model_validate(self.raw_options(det)).repo is None

    def deliver_member(
        self,
        alert: Alert,
        det: Detection | None,
        incident: IncidentView,
        ticket: IncidentTicket,
        previous_ref: str | None = None,
        ticket_url: str | None = None,
    ) -> tuple[str, IncidentTicket]:
        """The incident's one issue: opened by its first delivered member, one comment for each later member
        (and one per new hit count of any member), the body's timeline kept current. Returns the issue URL,
        for the alert and for the incident."""
        url = self._with_retries(
            f"deliver {alert.key} in incident {incident.incident_id}",
            lambda: self._deliver_member_once(alert, det, incident, ticket.ref),
        )
        return url, IncidentTicket(url, ticket.notified)

    def fold(self, merged_id: str, merged: IncidentTicket, into_id: str, into: IncidentTicket) -> None:
        """The merged incident's issue gets a comment pointing at the survivor's and is closed; the
        survivor's issue gets a comment linking the merged one. Each comment once (markers), so a retry
        after a crash writes nothing twice."""
        if not merged.ref or not into.ref or merged.ref == into.ref:
            return

        def once() -> None:
            repo, name = self._repo(), self._repo_name()
            loser = self._incident_issue_from_ref(repo, name, merged.ref or "", merged_id)
            survivor = self._incident_issue_from_ref(repo, name, into.ref or "", into_id)
            if loser is None or survivor is None:
                return  # not ours any more (deleted, transferred): nothing to point at
            if not _has_fold_marker((c.body for c in survivor.get_comments()), "absorbed", merged_id):
                survivor.create_comment(
                    f"<!-- mamori:absorbed={merged_id} -->\n"
                    f"Incident {cell(merged_id)} was merged into this one (an alert connected them): its "
                    f"alerts are now in the timeline above. Its issue, now closed: {loser.html_url}\n"
                )
            if not _has_fold_marker((c.body for c in loser.get_comments()), "merged_into", into_id):
                loser.create_comment(
                    f"<!-- mamori:merged_into={into_id} -->\n"
                    f"This incident was merged into incident {cell(into_id)} (an alert connected them). "
                    f"Follow {survivor.html_url}: later alerts are added there.\n"
                )
            if loser.state != "closed":
                loser.edit(state="closed")
            log.info("github: incident issue #%s folded into #%s", loser.number, survivor.number)

        self._with_retries(f"fold incident {merged_id} into {into_id}", once)

    def issue_state(self, ref: str) -> tuple[str, list[str]]:
        """("open"|"closed", label names) of the issue at `ref`, for the lifecycle sync task."""
        state, labels, _ = self._issue_state(ref)
        return state, labels

    def ticket_state(self, ref: str) -> TicketState:
        """The issue's state for the lifecycle sync: closed or not, its labels (the resolution, the verdict)
        and who closed it."""
        state, labels, closer = self._issue_state(ref)
        return TicketState(closed=state == "closed", labels=tuple(labels), closed_by=closer)

    def _issue_state(self, ref: str) -> tuple[str, list[str], str | None]:
        def once() -> tuple[str, list[str], str | None]:
            name = _repo_of(ref)
            number = self._issue_number(ref, name) if name else None
            if name is None or number is None:
                raise GitHubOutputError(f"not an issue reference: {ref[:200]!r}")
            issue = self._repo(name).get_issue(number)
            closer = issue.closed_by.login if issue.state == "closed" and issue.closed_by else None
            return issue.state, [lb.name for lb in issue.labels], closer

        return self._with_retries("issue_state", once)

    def mirror_triage(self, ref: str, incident_id: str, change: TriageChange) -> None:
        """A close in mamori: the issue gets one comment (verdict, who, when, the note inert), its verdict label
        `verdict:<v>` (any other verdict label removed: the verdict was corrected) and is closed. A reopen:
        one comment, the verdict labels removed, the issue open. The comment carries the action's id, so a
        retry after a crash between the write and the ledger's record comments once. No comment when the
        change says none is needed (`comment`: a verdict read from this issue, mamori's own reopen on new
        activity, which the new member's comment explains)."""
        closing = change.action == "close"

        def once() -> None:
            repo, name = self._repo(), self._repo_name()
            issue = self._incident_issue_from_ref(repo, name, ref, incident_id)
            if issue is None:
                log.warning("github: incident %s's issue %s is gone; triage not mirrored", incident_id, ref)
                return
            if change.comment and not any(
                (m := _TRIAGE_MARKER.match((c.body or "").replace("\r\n", "\n")))
                and int(m[1]) == change.action_id
                for c in issue.get_comments()
            ):
                issue.create_comment(triage_comment(change))
            labels = [lb.name for lb in issue.labels]
            wanted = [lb for lb in labels if not _is_verdict_label(lb)]
            if closing and change.verdict:
                wanted.append(verdict_label(change.verdict))
            changes: dict[str, Any] = {}
            if wanted != labels:
                changes["labels"] = wanted
            if issue.state != ("closed" if closing else "open"):
                changes["state"] = "closed" if closing else "open"
            if changes:
                issue.edit(**changes)
            log.info("github: incident %s's issue #%s shows its %s", incident_id, issue.number, change.action)

        self._with_retries(f"mirror {change.action} of incident {incident_id}", once)

    # -- one attempt -----------------------------------------------------------------------------------

    def _deliver_once(self, alert: Alert, det: Detection | None, previous_ref: str | None) -> str:
        # A detection may send its tickets to its owners' repository; otherwise the connection's.
        options = GitHubOptions.model_validate(self.raw_options(det))
        name = options.repo or self._repo_name()
        repo = self._repo(name)
        issue = self._issue_from_ref(repo, name, previous_ref, alert.key) if previous_ref else None
        if issue is None:
            issue = self._find_issue(repo, alert.key)
        if issue is None:
            labels = [
                label_name("severity", alert.severity),
                label_name("detection", alert.detection_id),
                label_name("source", alert.log_source),
                key_label(alert.key),
            ]
            created = repo.create_issue(
                title=issue_title(alert, det),
                body=issue_body(alert, det),
                labels=labels,
                assignees=list(options.assignees),
            )
            log.info("github: opened issue #%s for alert %s", created.number, alert.key)
            return created.html_url
        comments = list(issue.get_comments())
        if alert.hit_count > _reported_hits([issue.body, *(c.body for c in comments)]):
            issue.create_comment(recurrence_comment(alert))
            log.info(
                "github: commented on #%s for alert %s (%d hits)", issue.number, alert.key, alert.hit_count
            )
        return issue.html_url

    def _deliver_member_once(
        self, alert: Alert, det: Detection | None, inc: IncidentView, incident_ref: str | None
    ) -> str:
        repo, name = self._repo(), self._repo_name()
        iid = inc.incident_id
        issue = self._incident_issue_from_ref(repo, name, incident_ref, iid) if incident_ref else None
        if issue is None:
            issue = self._find_incident_issue(repo, iid)
        if issue is None:
            options = GitHubOptions.model_validate(self.raw_options(det))
            created = repo.create_issue(
                title=incident_title(inc),
                body=incident_body(inc, member_marker(alert.key, alert.hit_count)),
                labels=[label_name("severity", inc.severity), "mamori-incident", incident_label(iid)],
                assignees=list(options.assignees),
            )
            log.info("github: opened issue #%s for incident %s (alert %s)", created.number, iid, alert.key)
            return created.html_url
        body = issue.body
        comments = [c.body for c in issue.get_comments()]
        reported = _member_hits(alert.key, body, comments)
        if alert.hit_count > reported:
            issue.create_comment(member_comment(alert, det, inc, joined=reported == 0))
            log.info("github: commented on #%s for alert %s in incident %s", issue.number, alert.key, iid)
        founder = _founder_line(body) or member_marker(alert.key, alert.hit_count)
        new_body, new_title = incident_body(inc, founder), incident_title(inc)
        changes: dict[str, Any] = {}
        if (body or "").replace("\r\n", "\n") != new_body or issue.title != new_title:
            changes.update(title=new_title, body=new_body)
        if reported == 0 and inc.reopened_by(alert) and issue.state == "closed":
            # New activity after the responder closed the incident: the case is open again (else the
            # lifecycle sync would resolve the new alert at once, reading the closed issue).
            changes["state"] = "open"
        if changes:
            issue.edit(**changes)
        return issue.html_url

    def _incident_issue_from_ref(
        self, repo: Repository, name: str, ref: str, incident_id: str
    ) -> Issue | None:
        """The incident issue a previous delivery recorded, if it is still in this repo and still ours."""
        number = self._issue_number(ref, name)
        if number is None:
            return None
        try:
            issue = repo.get_issue(number)
            body = issue.body
        except GithubException as exc:
            if exc.status in (404, 410):
                return None
            raise
        return issue if _has_incident_marker(body, incident_id) else None

    def _find_incident_issue(self, repo: Repository, incident_id: str) -> Issue | None:
        """The oldest issue (any state) labelled with the incident and carrying its marker."""
        found = [
            i
            for i in repo.get_issues(state="all", labels=[incident_label(incident_id)])
            if i.pull_request is None and _has_incident_marker(i.body, incident_id)
        ]
        return min(found, key=lambda i: i.number) if found else None

    def _issue_from_ref(self, repo: Repository, name: str, ref: str, alert_key: str) -> Issue | None:
        """The issue a previous delivery recorded, if it is still in this repo and still ours."""
        number = self._issue_number(ref, name)
        if number is None:
            return None
        try:
            issue = repo.get_issue(number)
            body = issue.body
        except GithubException as exc:
            if exc.status in (404, 410):  # deleted or transferred: find by label, else open a new one
                return None
            raise
        return issue if _has_key_marker(body, alert_key) else None

    def _find_issue(self, repo: Repository, alert_key: str) -> Issue | None:
        """The oldest issue (any state) labelled with the key and carrying its marker; pull requests skipped."""
        found = [
            i
            for i in repo.get_issues(state="all", labels=[key_label(alert_key)])
            if i.pull_request is None and _has_key_marker(i.body, alert_key)
        ]
        return min(found, key=lambda i: i.number) if found else None

    def _issue_number(self, ref: str, repo_name: str) -> int | None:
        """Issue number from an html_url of the given repo (`.../<owner>/<name>/issues/<n>`)."""
        parts = urlsplit(ref).path.rstrip("/").split("/")
        if len(parts) < 4 or parts[-2] != "issues" or not parts[-1].isdigit():
            return None
        if "/".join(parts[-4:-2]).lower() != repo_name.lower():
            return None
        return int(parts[-1])

    # -- client ----------------------------------------------------------------------------------------

    def _repo_name(self) -> str:
        """The connection's repository (extra `repo`): the default home of tickets."""
        self._connect()
        return self._full_name

    def _repo(self, name: str | None = None) -> Repository:
        """A lazy handle on `name` (default: the connection's repository), one per name per output."""
        client = self._connect()
        name = name or self._full_name
        if name not in self._repos:
            self._repos[name] = client.get_repo(name)
        return self._repos[name]

    def _connect(self) -> Github:
        """The configured repository, via GithubHook, with our retry/timeout/laziness settings.

        GithubHook.get_conn() (provider 2.12.1) builds `Github(auth=..., base_url=host)` with PyGithub's
        defaults: a 10-retry urllib3 policy, 15 s timeout, eager objects. The hook exposes no knobs, so we
        keep its auth logic (token or GitHub App) and connection handling and rebuild the client from the
        requester's own kwargs with retry disabled, an explicit timeout and lazy objects (no GET per object).
        """
        if self._client is not None:
            return self._client
        from airflow.providers.github.hooks.github import GithubHook

        hook = GithubHook(github_conn_id=self.connection_id)
        conn = hook.get_connection(self.connection_id)
        if conn.password:
            _SECRETS.add(conn.password)
        full_name = str((conn.extra_dejson or {}).get("repo") or "")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", full_name):
            raise GitHubOutputError(f'connection {self.connection_id} needs extra {{"repo": "owner/name"}}')
        kwargs = hook.get_conn().requester.kwargs
        auth = kwargs.get("auth")
        if isinstance(auth, Auth.Token):
            _SECRETS.add(auth.token)
        kwargs.update(retry=None, timeout=self.timeout, lazy=True, per_page=100)
        if not self.throttle:
            kwargs.update(seconds_between_requests=None, seconds_between_writes=None)
        self._full_name = full_name
        self._client = Github(**kwargs)
        return self._client

    # -- retries ---------------------------------------------------------------------------------------

    def _with_retries(self, what: str, attempt_once: Callable[[], T]) -> T:
        """Run an idempotent operation up to max_attempts times; raise a token-free error at the end."""
        final, transient = "", False
        for attempt in range(1, self.max_attempts + 1):
            try:
                return attempt_once()
            except GitHubOutputError:
                raise
            except Exception as exc:  # every failure is re-raised below, scrubbed
                wait = self._wait_for(exc, attempt)
                reason = self._describe(exc)
            if wait is None or attempt == self.max_attempts:
                final = f"github {what} failed after {attempt} attempt(s): {reason}"
                transient = wait is not None
                break
            log.warning(
                "github %s: attempt %d/%d failed (%s); retrying in %.1f s",
                what,
                attempt,
                self.max_attempts,
                reason,
                wait,
            )
            self.sleep(wait)
        # Raised outside the except block on purpose: no __context__ chaining to PyGithub's exception, whose
        # data/headers may carry whatever the server echoed (a proxy error page can include the request).
        raise (GitHubOutputDown if transient else GitHubOutputError)(self._scrub(final))

    def _wait_for(self, exc: Exception, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None when the failure is not transient.

        A Retry-After beyond MAX_WAIT is not shortened: retrying before GitHub allows it risks a longer
        block, so we give up and let a later dispatcher run retry.
        """
        backoff = min(self.backoff * 2 ** (attempt - 1), MAX_WAIT)
        if isinstance(exc, requests.Timeout | requests.ConnectionError):
            return backoff
        if isinstance(exc, GithubException):
            rate_limited = exc.status == 429 or (
                exc.status == 403
                and (isinstance(exc, RateLimitExceededException) or _retry_after(exc) is not None)
            )
            if rate_limited:
                asked = _retry_after(exc)
                if asked is None:
                    return backoff
                return asked if asked <= MAX_WAIT else None
            if exc.status in RETRYABLE_STATUS:
                return backoff
        return None

    def _describe(self, exc: Exception) -> str:
        """Type, status and a bounded message: never headers, never the request."""
        if isinstance(exc, GithubException):
            detail = exc.message or (exc.data.get("message") if isinstance(exc.data, dict) else None)
            suffix = f": {str(detail)[:300]}" if detail else ""
            return self._scrub(f"{type(exc).__name__} HTTP {exc.status}{suffix}")
        return self._scrub(f"{type(exc).__name__}: {str(exc)[:300]}")

    def _scrub(self, text: str) -> str:
        return _scrub_text(text)
