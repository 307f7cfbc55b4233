"""A local receiver for the signed webhook output, over real HTTP on 127.0.0.1 (port 0, daemon thread).

It does what a careful receiver does, so the tests prove the output works with one: `POST <path>` must carry
`X-Mamori-Timestamp` within MAX_SKEW seconds of now and `X-Mamori-Signature: v1=<hex>` equal (compared in
constant time) to HMAC-SHA256(secret, "<timestamp>.<raw body>"), else 401; a body that is not a JSON object
is 400; another path 404. An accepted request is deduplicated by its `Idempotency-Key`: the first body per
key is kept in `deliveries` (202), a repeat is answered 200 and counted in `duplicates`, never stored twice.

Every request, failed or not, is counted in `received` (Idempotency-Key → requests). Scripted failures for
the next N requests (`fail_next`): "429" (with Retry-After), "503", and "echo" (a 400 whose body quotes the
request's path and signature header, as a hostile or buggy proxy might: the output must not repeat either).
Start/stop by handle (`start()`/`stop()`, a context manager, or the `fake_webhook` fixture).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import pytest

SECRET = "whsec_fakeSIGNINGsecret0123456789"
PATH = "/hooks/mamori/T0KEN-in-the-path-0123456789"  # receivers often put a token in the URL too
MAX_SKEW = 300  # seconds a signed timestamp may be old (replay window)
FAILURES = ("429", "503", "echo")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = self.headers.get("Idempotency-Key")
        with fake.lock:
            fake.requests += 1
            fake.received[key] += 1
            failure = fake._failures.pop(0) if fake._failures else None
        if failure == "429":
            self._reply(429, {"error": "slow down"}, {"Retry-After": str(fake.retry_after)})
            return
        if failure == "503":
            self._reply(503, {"error": "unavailable"})
            return
        if failure == "echo":
            quoted = f"bad request to {self.path} signed {self.headers.get('X-Mamori-Signature')}"
            self._reply(400, {"error": quoted})
            return
        status, reply = fake.receive(self.path, dict(self.headers.items()), raw)
        self._reply(status, reply)

    def _reply(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(obj).encode()
        try:
            self.send_response(status)
            for k, v in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up; nothing to tell it
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeWebhook

    def handle_error(self, request: Any, client_address: Any) -> None:  # broken pipes after timeouts
        pass


class FakeWebhook:
    """The receiver's state: `deliveries` (Idempotency-Key → first body), `raw` (its bytes), `headers`."""

    retry_after = 1  # seconds sent with scripted 429s

    def __init__(self, secret: str = SECRET, path: str = PATH) -> None:
        self.secret = secret
        self.path = path
        self.lock = threading.Lock()
        self.requests = 0
        self.received: Counter[str | None] = Counter()
        self.deliveries: dict[str, dict[str, Any]] = {}
        self.raw: dict[str, bytes] = {}
        self.headers: dict[str, dict[str, str]] = {}
        self.duplicates = 0
        self.verified = 0  # requests whose signature checked out
        self.rejected: list[str] = []  # why requests were refused (401/400/404)
        self._failures: list[str] = []
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    def start(self) -> Self:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
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

    def verify(self, headers: dict[str, str], raw: bytes) -> str | None:
        """Why the request is not authentic (None when it is): what a receiver must check."""
        h = {k.lower(): v for k, v in headers.items()}
        stamp, sig = h.get("x-mamori-timestamp"), h.get("x-mamori-signature")
        if not stamp or not sig:
            return "unsigned"
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > MAX_SKEW:
            return "stale timestamp"
        mac = hmac.new(self.secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig, f"v1={mac}"):
            return "bad signature"
        return None

    def receive(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        if path != self.path:
            with self.lock:
                self.rejected.append("no such hook")
            return 404, {"error": "no such hook"}
        problem = self.verify(headers, raw)
        if problem is not None:
            with self.lock:
                self.rejected.append(problem)
            return 401, {"error": problem}
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = None
        key = {k.lower(): v for k, v in headers.items()}.get("idempotency-key")
        if not isinstance(doc, dict) or not key:
            with self.lock:
                self.rejected.append("not a JSON object with an Idempotency-Key")
            return 400, {"error": "bad request"}
        with self.lock:
            self.verified += 1
            if key in self.deliveries:
                self.duplicates += 1
                return 200, {"status": "duplicate"}
            self.deliveries[key] = doc
            self.raw[key] = raw
            self.headers[key] = dict(headers)
        return 202, {"status": "accepted"}


@pytest.fixture
def fake_webhook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as fake:
        yield fake
