"""Headless Chromium driven over the DevTools protocol (CDP), for tests that must really click.

`--dump-dom` and `--screenshot` (tests/e2e/test_scheduler.py) load one URL; triage needs a session: a login
cookie, a click on a form's button, the page the post lands on, a form submitted from another origin. This is
the small part of CDP that takes: one browser process started with `--remote-debugging-port=0` on 127.0.0.1 in
a throwaway profile and its own process group, one page target attached in flat mode, commands and events
over the `websockets` package's synchronous client (already in the lock through uvicorn's standard extras).

Clicks and typing are input events (`Input.dispatchMouseEvent` at the element's centre, `Input.insertText`),
as a user's would be: the page's own form handling, not a script, submits the form. Reading the DOM uses
`Runtime.evaluate`, which the pages' Content-Security-Policy (no scripts) does not govern: DevTools runs it,
and a page script would be refused.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

TIMEOUT = 60.0


def chromium() -> str:
    """The browser binary; a skip without one, unless MAMORI_REQUIRE_BROWSER=1 (set by .ci/run) makes it a
    failure: the triage test must not pass silently where the browser is supposed to be."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        if os.environ.get("MAMORI_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required here (MAMORI_REQUIRE_BROWSER=1) but not on PATH")
        pytest.skip("chromium not installed (apt-get install chromium; CI installs it)")
    return binary


# One set of headless flags for every browser the tests start (the DevTools session here and the scheduler
# e2e's --dump-dom runs): no sandbox (CI runs as root), no GPU, no /dev/shm (small in containers), and nothing
# that phones home or updates itself while a test runs.
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def run_headless(out: Path, *args: str, timeout: float = 180) -> str:
    """One headless run (e.g. `--dump-dom URL`) with a throwaway profile under `out`; its stdout.
    Runs in its own session so a hung browser is killed with its process group by the timeout."""
    profile = Path(tempfile.mkdtemp(prefix="mamori-chromium-", dir=out))
    try:
        proc = subprocess.run(
            [chromium(), *HEADLESS_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


class CdpError(RuntimeError):
    """The browser answered a command with an error, or did not answer in time."""


class Page:
    """One tab: navigate, click, type, read the DOM, take screenshots. Events are buffered as they arrive."""

    def __init__(self, ws: ClientConnection, session: str) -> None:
        self._ws = ws
        self._session = session
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = TIMEOUT) -> Any:
        self._next += 1
        msg_id = self._next
        self._ws.send(
            json.dumps({"id": msg_id, "sessionId": self._session, "method": method, "params": params or {}})
        )
        deadline = time.monotonic() + timeout
        while True:
            msg = self._recv(deadline, method)
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise CdpError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def _recv(self, deadline: float, what: str) -> dict[str, Any]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise CdpError(f"no answer to {what} in time")
        try:
            msg: dict[str, Any] = json.loads(self._ws.recv(timeout=left))
        except TimeoutError:
            raise CdpError(f"no answer to {what} in time") from None
        if "method" in msg and msg.get("sessionId") == self._session:
            self.events.append(msg)
        return msg

    def wait_event(self, method: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The first buffered or next `method` event (consumed)."""
        deadline = time.monotonic() + timeout
        while True:
            for n, ev in enumerate(self.events):
                if ev["method"] == method:
                    return self.events.pop(n)
            self._recv(deadline, method)

    def _loaded(self, act: Any) -> None:
        self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
        act()
        self.wait_event("Page.loadEventFired")

    def goto(self, url: str) -> None:
        self._loaded(lambda: self.send("Page.navigate", {"url": url}))

    def eval(self, expression: str) -> Any:
        out = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in out:
            raise CdpError(f"{expression[:80]}: {out['exceptionDetails']}")
        return out["result"].get("value")

    def wait_for(self, expression: str, timeout: float = TIMEOUT) -> Any:
        """Poll `expression` until it is truthy (a React page renders after load, a redirect replaces the
        document meanwhile: an evaluation lost to a navigation is retried)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.eval(expression)
            except CdpError:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise CdpError(f"{expression!r} not true in {timeout} s on {self.url()}")
            time.sleep(0.2)

    def url(self) -> str:
        return str(self.eval("location.href"))

    def html(self) -> str:
        return str(self.eval("document.documentElement.outerHTML"))

    def text(self) -> str:
        return str(self.eval("document.body ? document.body.innerText : ''"))

    def _centre(self, selector: str) -> tuple[float, float]:
        box = self.eval(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)}); if (!el) return null;"
            " el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        if box is None:
            raise CdpError(f"no element matches {selector!r} on {self.url()}")
        return float(box[0]), float(box[1])

    def click(self, selector: str, navigates: bool = False) -> None:
        """A left click at the element's centre, as a mouse would (press, release)."""
        x, y = self._centre(selector)

        def press() -> None:
            for kind in ("mousePressed", "mouseReleased"):
                self.send(
                    "Input.dispatchMouseEvent",
                    {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
                )

        if navigates:
            self._loaded(press)
        else:
            press()

    def type(self, selector: str, text: str) -> None:
        """Focus the field by clicking it and type `text` into it (one insertText input event)."""
        self.click(selector)
        self.send("Input.insertText", {"text": text})

    def screenshot(self, path: Path, selector: str | None = None) -> Path:
        """A PNG of the top of the page (one window's height at most), or of one element's bounding box."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
        if selector is None:
            size = self.eval("[innerWidth, Math.min(innerHeight, document.documentElement.scrollHeight)]")
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        else:
            r = self.eval(
                f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                " return [r.left + scrollX, r.top + scrollY, r.width, r.height]; })()"
            )
            params["clip"] = {"x": r[0], "y": r[1], "width": r[2], "height": r[3], "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


@contextlib.contextmanager
def browser(out: Path, width: int = 1400, height: int = 1000) -> Iterator[Page]:
    """Chromium in its own process group with a throwaway profile; one attached page of the given size.
    Stopped (SIGTERM, then SIGKILL) by process group, the profile removed."""
    profile = Path(tempfile.mkdtemp(prefix="mamori-chromium-", dir=out))
    log = (out / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [
            chromium(),
            *HEADLESS_FLAGS,
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        ws_url = _wait_listening(out / "chromium.log", proc)
        with connect(ws_url, max_size=64 * 1024 * 1024, open_timeout=TIMEOUT) as ws:
            target = root_send(ws, "Target.createTarget", {"url": "about:blank"})["targetId"]
            session = root_send(ws, "Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"
            ]
            page = Page(ws, session)
            page.send("Page.enable")
            page.send("Runtime.enable")
            page.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            )
            yield page
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
        shutil.rmtree(profile, ignore_errors=True)


_ROOT_IDS = iter(range(1_000_000, 2_000_000))


def root_send(ws: ClientConnection, method: str, params: dict[str, Any]) -> Any:
    """A browser-level command (no session); events of other sessions arriving meanwhile are dropped."""
    msg_id = next(_ROOT_IDS)
    ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if msg.get("id") == msg_id:
            if "error" in msg:
                raise CdpError(f"{method}: {msg['error']}")
            return msg.get("result", {})
    raise CdpError(f"no answer to {method} in time")


def _wait_listening(log: Path, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        found = _LISTENING.search(log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if proc.poll() is not None:
            raise CdpError(f"chromium exited ({proc.returncode}): {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    raise CdpError("chromium did not open its DevTools port in time")
