"""A fake GitHub REST API (Enterprise-style `/api/v3` prefix) for end-to-end tests of the GitHub output.

It speaks just enough of the issues API, with the JSON fields PyGithub reads, for the output to run over real
HTTP through GithubHook and PyGithub: repository, issues (list with `state`/`labels` filters and Link-header
pagination, create, get, patch) and issue comments (list, create). It enforces what GitHub enforces and the
output must respect (token auth, 50-char label names, 256-char titles, 65536-char bodies), records every
request (`received()` counts them per method and path, `writes_for()` per alert: the issue list merges a
re-send into the issue it finds, the counts do not), and can be scripted to fail the next requests with
429 + Retry-After, 502, or a hang past the client timeout (before or after the request takes effect, the
latter being a POST that succeeded but whose response was lost). `delay` slows every request down.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

TOKEN = "ghp_fakeTOKEN0123456789abcdefSECRET"
PREFIX = "/api/v3"
MAX_BODY = 65536
MAX_TITLE = 256
MAX_LABEL = 50


@dataclass
class Recorded:
    """One request as the server saw it (the Authorization value is never kept)."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorized: bool
    at: float


@dataclass
class Failure:
    """A scripted failure, consumed by the next request matching `method` (any when None)."""

    kind: str  # "429" | "502" | "hang" (no effect) | "hang_after" (effect applied, response late)
    method: str | None = None


@dataclass
class FakeGitHub:
    """State and scripting; the HTTP handler below reads and mutates it under `lock`."""

    token: str = TOKEN
    hang_seconds: float = 3.0
    # Every request waits this long before it is served (after being recorded): a slow GitHub, so that
    # concurrent dispatchers really overlap between "search for the issue" and "create it".
    delay: float = 0.0
    echo_auth_in_errors: bool = False  # a hostile/buggy proxy echoing the request's Authorization header
    repos: set[str] = field(default_factory=lambda: {"acme/security-alerts"})
    issues: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    fail_always: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    base: str = ""  # http://127.0.0.1:PORT, set on start
    _next_id: int = 1000

    @property
    def api_url(self) -> str:
        return self.base + PREFIX

    def fail_next(self, n: int, kind: str, method: str | None = None) -> None:
        """Make the next `n` requests (of `method`, if given) fail with `kind`."""
        assert kind in ("429", "502", "hang", "hang_after"), kind
        with self.lock:
            self.failures += [Failure(kind, method) for _ in range(n)]

    def issue_list(self, repo: str = "acme/security-alerts") -> list[dict[str, Any]]:
        with self.lock:
            return [dict(i) for _, i in sorted(self.issues.get(repo, {}).items())]

    def comment_list(self, number: int, repo: str = "acme/security-alerts") -> list[dict[str, Any]]:
        with self.lock:
            return list(self.comments.get((repo, number), []))

    def close_issue(
        self,
        number: int,
        repo: str = "acme/security-alerts",
        by: str = "octocat",
        labels: tuple[str, ...] = (),
    ) -> None:
        """What a human closing the issue in the UI does: `by` is their login, `labels` those they added."""
        with self.lock:
            issue = self.issues[repo][number]
            have = [lb["name"] for lb in issue["labels"]]
            issue["labels"] = [
                _label(self.base, repo, n) for n in [*have, *(x for x in labels if x not in have)]
            ]
            issue.update(
                state="closed",
                state_reason="completed",
                closed_at=_now(),
                updated_at=_now(),
                closed_by=_user(self.base) | {"login": by, "type": "User"},
            )

    def calls(self, method: str | None = None, path_suffix: str = "") -> list[Recorded]:
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and r.path.endswith(path_suffix)
            ]

    def received(self) -> Counter[tuple[str, str]]:
        """(method, path) → requests received, failed or not. The issue list cannot show a re-send (the output
        finds its issue again and writes nothing new, or the same thing), the request log can."""
        with self.lock:
            return Counter((r.method, r.path) for r in self.requests)

    def writes_for(self, alert_key: str, repo: str = "acme/security-alerts") -> int:
        """POST/PATCH requests about one alert: creating its issue (labelled `mamori:<key16>`) and any write
        to the issue carrying that label (comments, edits)."""
        label = "mamori:" + alert_key[:16]
        with self.lock:
            numbers = {
                n for n, i in self.issues.get(repo, {}).items() if label in {lb["name"] for lb in i["labels"]}
            }
            issues = f"{PREFIX}/repos/{repo}/issues"
            count = 0
            for r in self.requests:
                if r.method not in ("POST", "PATCH") or not r.path.startswith(issues):
                    continue
                rest = r.path[len(issues) :].strip("/")
                if not rest:
                    count += label in ((r.body or {}).get("labels") or [])
                elif rest.split("/")[0].isdigit() and int(rest.split("/")[0]) in numbers:
                    count += 1
            return count

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _user(base: str) -> dict[str, Any]:
    return {
        "login": "mamori-bot",
        "id": 1,
        "node_id": "U_1",
        "type": "Bot",
        "site_admin": False,
        "url": f"{base}{PREFIX}/users/mamori-bot",
        "html_url": f"{base}/mamori-bot",
    }


def _label(base: str, repo: str, name: str) -> dict[str, Any]:
    return {
        "id": abs(hash(name)) % 10**9,
        "node_id": f"L_{name}",
        "url": f"{base}{PREFIX}/repos/{repo}/labels/{name}",
        "name": name,
        "color": "ededed",
        "default": False,
        "description": None,
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # silence the stderr access log
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        auth = self.headers.get("Authorization") or ""
        authorized = auth in (f"token {fake.token}", f"Bearer {fake.token}")
        with fake.lock:
            fake.requests.append(
                Recorded(method, parts.path, parse_qs(parts.query), body, authorized, time.monotonic())
            )
            failure = fake.fail_always or next(
                (f.kind for f in fake.failures if f.method in (None, method)), None
            )
            if failure and not fake.fail_always:
                idx = next(i for i, f in enumerate(fake.failures) if f.method in (None, method))
                del fake.failures[idx]
        if fake.delay:
            time.sleep(fake.delay)
        echo = f" (request had Authorization: {auth})" if fake.echo_auth_in_errors else ""
        if failure == "429":
            return self._send(
                429,
                {"message": "You have exceeded a secondary rate limit." + echo},
                {"Retry-After": "1"},
            )
        if failure == "502":
            return self._send_raw(502, f"<html><h1>502 Bad Gateway</h1>{echo}</html>".encode(), "text/html")
        if failure == "hang":
            time.sleep(fake.hang_seconds)
            return self._send(504, {"message": "too late"})
        if not authorized:
            return self._send(401, {"message": "Bad credentials"})
        try:
            status, payload, headers = self._route(method, parts.path, parse_qs(parts.query), body)
        except ApiError as e:
            return self._send(e.status, {"message": e.message}, e.headers)
        if failure == "hang_after":
            time.sleep(fake.hang_seconds)
        self._send(status, payload, headers)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        fake = self.server.fake
        m = re.fullmatch(rf"{PREFIX}/repos/([^/]+/[^/]+)(/issues(?:/(\d+)(/comments)?)?)?/?", path)
        if not m or m[1] not in fake.repos:
            raise ApiError(404, "Not Found")
        repo, rest, number, comments = m[1], m[2], m[3], m[4]
        base = fake.base
        with fake.lock:
            issues = fake.issues.setdefault(repo, {})
            if not rest:
                if method != "GET":
                    raise ApiError(404, "Not Found")
                return 200, self._repo_json(repo), {}
            if number is None:
                if method == "GET":
                    state = (query.get("state") or ["open"])[0]
                    wanted = [x for x in (query.get("labels") or [""])[0].split(",") if x]
                    found = [
                        i
                        for _, i in sorted(issues.items(), reverse=True)  # GitHub: newest first
                        if state in ("all", i["state"])
                        and all(w in {lb["name"] for lb in i["labels"]} for w in wanted)
                    ]
                    return self._page(path, query, found)
                if method == "POST":
                    return 201, self._create_issue(repo, issues, body or {}), {}
                raise ApiError(404, "Not Found")
            issue = issues.get(int(number))
            if issue is None:
                raise ApiError(404, "Not Found")
            if comments:
                thread = fake.comments.setdefault((repo, issue["number"]), [])
                if method == "GET":
                    return self._page(path, query, thread)
                if method == "POST":
                    text = (body or {}).get("body") or ""
                    if len(text) > MAX_BODY:
                        raise ApiError(
                            422, "Validation Failed: body is too long (maximum is 65536 characters)"
                        )
                    cid = fake.new_id()
                    c = {
                        "id": cid,
                        "node_id": f"IC_{cid}",
                        "url": f"{base}{PREFIX}/repos/{repo}/issues/comments/{cid}",
                        "html_url": f"{issue['html_url']}#issuecomment-{cid}",
                        "issue_url": issue["url"],
                        "body": text,
                        "user": _user(base),
                        "author_association": "NONE",
                        "created_at": _now(),
                        "updated_at": _now(),
                    }
                    thread.append(c)
                    issue["comments"] = len(thread)
                    return 201, c, {}
                raise ApiError(404, "Not Found")
            if method == "GET":
                return 200, issue, {}
            if method == "PATCH":
                patch = body or {}
                for k in ("title", "body", "state"):
                    if k in patch:
                        issue[k] = patch[k]
                if "labels" in patch:
                    issue["labels"] = [_label(base, repo, n) for n in patch["labels"]]
                issue["updated_at"] = _now()
                if issue["state"] == "closed" and not issue["closed_at"]:
                    issue["closed_at"], issue["closed_by"] = _now(), _user(base)
                if issue["state"] == "open":
                    issue["closed_at"] = issue["closed_by"] = None
                return 200, issue, {}
            raise ApiError(404, "Not Found")

    def _create_issue(self, repo: str, issues: dict[int, dict[str, Any]], body: dict[str, Any]) -> Any:
        base = self.server.fake.base
        title, text, labels = body.get("title") or "", body.get("body") or "", body.get("labels") or []
        if not title or len(title) > MAX_TITLE:
            raise ApiError(422, "Validation Failed: title is missing or too long")
        if len(text) > MAX_BODY:
            raise ApiError(422, "Validation Failed: body is too long (maximum is 65536 characters)")
        if any(len(n) > MAX_LABEL for n in labels):
            raise ApiError(422, "Validation Failed: label name is too long (maximum is 50 characters)")
        n = max(issues, default=0) + 1
        iid = self.server.fake.new_id()
        api = f"{base}{PREFIX}/repos/{repo}/issues/{n}"
        issue = {
            "id": iid,
            "node_id": f"I_{iid}",
            "number": n,
            "title": title,
            "body": text,
            "state": "open",
            "state_reason": None,
            "locked": False,
            "url": api,
            "repository_url": f"{base}{PREFIX}/repos/{repo}",
            "labels_url": api + "/labels{/name}",
            "comments_url": api + "/comments",
            "events_url": api + "/events",
            "html_url": f"{base}/{repo}/issues/{n}",
            "labels": [_label(base, repo, name) for name in labels],
            "user": _user(base),
            "assignee": None,
            "assignees": [_user(base) | {"login": a, "type": "User"} for a in body.get("assignees") or []],
            "milestone": None,
            "comments": 0,
            "author_association": "NONE",
            "created_at": _now(),
            "updated_at": _now(),
            "closed_at": None,
            "closed_by": None,
        }
        issues[n] = issue
        return issue

    def _repo_json(self, repo: str) -> dict[str, Any]:
        base = self.server.fake.base
        owner, name = repo.split("/")
        return {
            "id": 42,
            "node_id": "R_42",
            "name": name,
            "full_name": repo,
            "owner": {**_user(base), "login": owner},
            "private": True,
            "html_url": f"{base}/{repo}",
            "url": f"{base}{PREFIX}/repos/{repo}",
            "issues_url": f"{base}{PREFIX}/repos/{repo}/issues{{/number}}",
            "has_issues": True,
            "default_branch": "main",
        }

    def _page(
        self, path: str, query: dict[str, list[str]], items: list[dict[str, Any]]
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = int((query.get("per_page") or ["30"])[0])
        page = int((query.get("page") or ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        headers: dict[str, str] = {}
        if page * per_page < len(items):
            q = {k: v[0] for k, v in query.items()} | {"page": str(page + 1)}
            headers["Link"] = f'<{self.server.fake.base}{path}?{urlencode(q)}>; rel="next"'
        return 200, chunk, headers

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)

    def _send_raw(self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test); nothing to deliver


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeGitHub


def start(fake: FakeGitHub | None = None) -> tuple[FakeGitHub, _Server]:
    """Serve `fake` on 127.0.0.1, an ephemeral port, in a daemon thread."""
    fake = fake or FakeGitHub()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-github", daemon=True
    ).start()
    return fake, server


def stop(server: _Server) -> None:
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    fake, server = start()
    try:
        yield fake
    finally:
        stop(server)
