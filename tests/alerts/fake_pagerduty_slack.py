"""Local stand-ins for the PagerDuty Events API v2 and a Slack incoming webhook, over real HTTP.

Each fake is a `ThreadingHTTPServer` on 127.0.0.1, port 0, served from a daemon thread (`start`/`stop`, or
use it as a context manager, or the `fake_pagerduty` / `fake_slack` fixtures). They model what the outputs
depend on:

- PagerDuty `POST /v2/enqueue`: validates the event like the real API (routing_key of 32 characters,
  event_action trigger/acknowledge/resolve, dedup_key ≤ 255 and required unless triggering, payload with
  summary/source/severity for a trigger) and answers 400 {"status": "invalid event", "message": ...,
  "errors": [...]}; otherwise 202 {"status": "success", "message": "Event processed", "dedup_key": ...}.
  Incidents are keyed by dedup key like PagerDuty alerts: a trigger on an open one only appends an event,
  a trigger after it was resolved opens a new one, resolve/acknowledge of an unknown key changes nothing.
- Slack `POST /services/<T>/<B>/<token>`: the registered webhook path records the JSON message and answers
  200 "ok"; another path 404 "no_service", a body that is not JSON 400 "invalid_payload", no text and no
  blocks 400 "no_text".

Scripted failures for the next N requests (`fail_next`): "429" (with Retry-After), "502", "timeout" (hold
the request past the client's timeout, then drop it unprocessed) and "lost_response" (process the request,
then hold the response past the client's timeout: the crash-between-send-and-record case seen from the
client). Every request, failed or not, is counted in `requests`, and per endpoint and per alert in
`received` ((path, key) → requests): the key is the event's dedup_key for PagerDuty and the alert key quoted
in the message for Slack. State merges re-sends (an incident per dedup key, one list of messages), so a test
that wants "sent once" must count `received`, not incidents.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import pytest

PD_ACTIONS = ("trigger", "acknowledge", "resolve")
PD_SEVERITIES = ("critical", "error", "warning", "info")
FAILURES = ("429", "502", "timeout", "lost_response")


@dataclass
class Incident:
    dedup_key: str
    state: str  # triggered | acknowledged | resolved
    events: list[dict[str, Any]] = field(default_factory=list)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_POST(self) -> None:
        fake: FakeServer = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        key = fake.request_key(raw)
        with fake.lock:
            fake.requests += 1
            fake.received[(self.path, key)] += 1
            failure = fake._failures.pop(0) if fake._failures else None
        if fake.delay:
            fake._stopping.wait(fake.delay)
        if failure == "429":
            self._reply(429, b'{"status":"throttle event"}', {"Retry-After": str(fake.retry_after)})
            return
        if failure == "502":
            self._reply(502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"})
            return
        if failure == "timeout":
            fake._stopping.wait(fake.hold_seconds)
            self.close_connection = True
            return
        status, body, headers = fake.handle(self.path, raw)
        if failure == "lost_response":
            fake._stopping.wait(fake.hold_seconds)
            self.close_connection = True
            return
        self._reply(status, body, headers)

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for k, v in {"Content-Type": "application/json", **headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (timeout); nothing to tell it
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:  # broken pipes after timeouts
        pass


class FakeServer:
    """Base: lifecycle and scripted failures; subclasses implement `handle`."""

    retry_after = 1  # seconds sent with scripted 429s
    hold_seconds = 2.0  # how long "timeout"/"lost_response" hold a request; > the client's timeout
    delay = 0.0  # every request waits this long before it is served: a slow service, so dispatchers overlap

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.received: Counter[tuple[str, str | None]] = Counter()  # (path, key) → requests, failed or not
        self._failures: list[str] = []
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # release held requests
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, n: int, mode: str) -> None:
        """The next `n` requests fail with `mode` (one of FAILURES) instead of being served."""
        assert mode in FAILURES, mode
        with self.lock:
            self._failures.extend([mode] * n)

    def handle(self, path: str, raw: bytes) -> tuple[int, bytes, dict[str, str]]:
        raise NotImplementedError

    def request_key(self, raw: bytes) -> str | None:
        """The alert a request is about (None when the body does not say); subclasses know where to look."""
        return None

    def received_for(self, key: str) -> int:
        """Requests received about `key`, on any path, whatever their outcome."""
        with self.lock:
            return sum(n for (_, k), n in self.received.items() if k == key)

    @staticmethod
    def _json(status: int, obj: Any) -> tuple[int, bytes, dict[str, str]]:
        return status, json.dumps(obj).encode(), {}


class FakePagerDuty(FakeServer):
    """Events API v2: `incidents` (every one, in order) and `events` (every accepted event)."""

    def __init__(self) -> None:
        super().__init__()
        self.incidents: list[Incident] = []
        self.events: list[dict[str, Any]] = []

    def open_incident(self, dedup_key: str) -> Incident | None:
        return next(
            (i for i in reversed(self.incidents) if i.dedup_key == dedup_key and i.state != "resolved"), None
        )

    def incidents_for(self, dedup_key: str) -> list[Incident]:
        return [i for i in self.incidents if i.dedup_key == dedup_key]

    def request_key(self, raw: bytes) -> str | None:
        try:
            event = json.loads(raw)
        except ValueError:
            return None
        key = event.get("dedup_key") if isinstance(event, dict) else None
        return key if isinstance(key, str) else None

    @staticmethod
    def validate(event: Any) -> list[str]:
        """The checks the real API makes that matter to a client (messages modelled on its errors)."""
        if not isinstance(event, dict):
            return ["Event object must be a JSON object"]
        errors = []
        key = event.get("routing_key")
        if not isinstance(key, str) or not key:
            errors.append("'routing_key' is missing or blank")
        elif len(key) != 32:
            errors.append("'routing_key' must be 32 characters")
        action = event.get("event_action")
        if action not in PD_ACTIONS:
            errors.append("'event_action' is missing or invalid")
        dedup = event.get("dedup_key")
        if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
            errors.append("'dedup_key' must be a string of at most 255 characters")
        if action in ("acknowledge", "resolve") and not dedup:
            errors.append("'dedup_key' is required for acknowledge and resolve")
        if action == "trigger":
            payload = event.get("payload")
            if not isinstance(payload, dict):
                errors.append("'payload' is missing or not an object")
            else:
                for f in ("summary", "source"):
                    if not isinstance(payload.get(f), str) or not payload[f].strip():
                        errors.append(f"'payload.{f}' is missing or blank")
                if payload.get("severity") not in PD_SEVERITIES:
                    errors.append("'payload.severity' is missing or invalid")
                cd = payload.get("custom_details")
                if cd is not None and not isinstance(cd, dict | str):
                    errors.append("'payload.custom_details' must be an object or a string")
        links = event.get("links")
        if links is not None and (
            not isinstance(links, list) or not all(isinstance(x, dict) and "href" in x for x in links)
        ):
            errors.append("'links' must be a list of objects with 'href'")
        return errors

    def handle(self, path: str, raw: bytes) -> tuple[int, bytes, dict[str, str]]:
        if path != "/v2/enqueue":
            return self._json(404, {"status": "not found"})
        try:
            event = json.loads(raw)
        except ValueError:
            return self._json(400, {"status": "invalid event", "message": "Malformed JSON", "errors": []})
        errors = self.validate(event)
        if errors:
            return self._json(
                400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
            )
        action = event["event_action"]
        dedup = event.get("dedup_key") or uuid.uuid4().hex
        with self.lock:
            self.events.append(event)
            incident = self.open_incident(dedup)
            if action == "trigger":
                if incident is None:
                    incident = Incident(dedup_key=dedup, state="triggered")
                    self.incidents.append(incident)
                incident.events.append(event)
            elif incident is not None:  # resolve/acknowledge of an unknown key: accepted, no effect
                incident.state = "resolved" if action == "resolve" else "acknowledged"
                incident.events.append(event)
        return self._json(202, {"status": "success", "message": "Event processed", "dedup_key": dedup})


class FakeSlack(FakeServer):
    """Incoming webhook: `messages` holds every accepted JSON body."""

    webhook_path = "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []

    @property
    def webhook_url(self) -> str:
        return self.url + self.webhook_path

    _ALERT_KEY = re.compile(r"alert `([^`]+)`")  # the message's "alert `<key>`" line

    def request_key(self, raw: bytes) -> str | None:
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        text = body.get("text") if isinstance(body, dict) else None
        m = self._ALERT_KEY.search(text) if isinstance(text, str) else None
        return m[1] if m else None

    def handle(self, path: str, raw: bytes) -> tuple[int, bytes, dict[str, str]]:
        text_plain = {"Content-Type": "text/plain"}
        if path != self.webhook_path:
            return 404, b"no_service", text_plain
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, b"invalid_payload", text_plain
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return 400, b"no_text", text_plain
        with self.lock:
            self.messages.append(body)
        return 200, b"ok", text_plain


@pytest.fixture
def fake_pagerduty() -> Iterator[FakePagerDuty]:
    with FakePagerDuty() as fake:
        yield fake


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake
