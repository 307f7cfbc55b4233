"""Triage and search in the mamori view as an analyst does it: a real `airflow api-server` (login on) over a home
that mamori's own stages filled (generated CloudTrail with its attack story, ingested, detected and grouped
into incidents), and headless Chromium driven over the DevTools protocol, clicking.

The analyst signs in on Airflow's login page, opens the incident queue, opens the most severe incident,
acknowledges it, closes it as a false positive with a note carrying markup and a Markdown link; the ledger
(read through `mamori.status`, as the CLI reads it) holds the close with that verdict, note and user, and the
page shows the note as text: no element was made from it. Posts that do not come from the page's own form
(no token, a wrong token, a form on another origin even with the right token) are refused and change nothing.
Then the incident's entity pivots to the search page, and a search for an event whose fields carry markup
shows it as text.

With MAMORI_SCREENSHOT_DIR set (`make screenshot`), the run's screenshots of the incident queue, an incident
page, the search page and the charts are copied there (docs/).
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import chromium_cdp
import pytest
import view_support

pytestmark = pytest.mark.slow

ANALYST = "analyst"
NOTE = "scanner we run <img src=x onerror=alert(1)> see [runbook](https://evil.example/x) **bold**"
SHOTS = {
    "queue": "mamori-incidents.png",
    "incident": "mamori-incident.png",
    "search": "mamori-search.png",
    "charts": "mamori-charts.png",
}


@dataclass
class View:
    url: str
    airflow_home: Path
    seeded: view_support.Seeded
    out: Path


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[View]:
    chromium_cdp.chromium()  # skip (or fail, where required) before minutes of seeding, not after
    base = tmp_path_factory.mktemp("triage-browser")
    saved = {k: os.environ.get(k) for k in ("MAMORI_HOME", "MAMORI_SQL_DIR")}
    try:
        seeded = view_support.seed_home(base)
        airflow_home = base / "airflow"
        with view_support.api_server(
            airflow_home,
            seeded.home,
            f"{ANALYST}:USER,viewer:VIEWER",
            {"MAMORI_SQL_DIR": str(seeded.sql_dir)},
        ) as url:
            yield View(url, airflow_home, seeded, base)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _settings(view: View) -> Any:
    from mamori.config import load_settings

    return load_settings({"MAMORI_HOME": str(view.seeded.home), "MAMORI_SQL_DIR": str(view.seeded.sql_dir)})


def _sign_in(page: chromium_cdp.Page, view: View, user: str) -> None:
    """Airflow's own login page (SimpleAuthManager): the UI redirects there, the analyst types and signs in,
    and the `_token` cookie it sets is what the mamori view's requests carry."""
    page.goto(view.url + "/")
    page.wait_for("!!document.querySelector('input[name=password]')")
    page.type("input[name=username]", user)
    page.type("input[name=password]", view_support.passwords(view.airflow_home)[user])
    page.wait_for("!document.querySelector('button[type=submit]').disabled")
    page.click("button[type=submit]")
    page.wait_for("!location.pathname.startsWith('/auth/')")


def _cells(page: chromium_cdp.Page, table: str) -> list[list[str]]:
    return list(
        page.eval(
            f"[...document.querySelectorAll('table.{table} tbody tr')]"
            ".map(r => [...r.cells].map(c => c.textContent))"
        )
    )


def _forge_page(action: str, token: str) -> bytes:
    """Another site's page with a form aimed at a triage route, carrying even the right token (as if it had
    leaked): the browser sends the analyst's cookie along; only the request's origin gives it away."""
    return (
        "<!doctype html><html><body>"
        f"<form method='post' action='{action}'><input type='hidden' name='csrf' value='{token}'>"
        "<button id='go' type='submit'>win a prize</button></form></body></html>"
    ).encode()


@contextlib.contextmanager
def _other_site(body: bytes) -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_an_analyst_triages_and_searches_in_the_browser(view: View) -> None:
    from mamori import status

    t0 = time.monotonic()
    s = _settings(view)
    shots: dict[str, Path] = {}
    with chromium_cdp.browser(view.out) as page:
        _sign_in(page, view, ANALYST)

        # The queue: the most severe open incident first; its link opens the incident page.
        page.goto(view.url + "/mamori/")
        queue = _cells(page, "incidents")
        assert queue and all(row[1] == "open" for row in queue), queue
        first = status.collect(datetime.now(UTC), s)["incidents"][0]
        assert queue[0][0] == first["id"][:12]
        shots["queue"] = page.screenshot(view.out / SHOTS["queue"])
        shots["charts"] = page.screenshot(view.out / SHOTS["charts"], "#charts")
        page.click("table.incidents tbody tr:first-child a", navigates=True)
        assert page.url() == f"{view.url}/mamori/incidents/{first['id']}"
        assert first["id"] in page.text() and "Acknowledge" in page.text()
        shots["incident"] = page.screenshot(view.out / SHOTS["incident"])

        # Acknowledge, then close as a false positive with the hostile note: each a click on the form.
        page.type("form[action$='/acknowledge'] input[name=note]", "looking")
        page.click("form[action$='/acknowledge'] button", navigates=True)
        assert status.incident_page(first["id"], s)["status"] == "acknowledged"
        assert page.url().endswith(f"/mamori/incidents/{first['id']}")  # back on the page (303)
        page.eval(
            "(() => { const s = document.querySelector(\"form[action$='/close'] select[name=verdict]\");"
            " s.value = 'false-positive'; s.dispatchEvent(new Event('change')); })()"
        )
        page.type("form[action$='/close'] input[name=note]", NOTE)
        page.click("form[action$='/close'] button", navigates=True)

        closed = status.incident_page(first["id"], s)
        assert (closed["status"], closed["verdict"]) == ("closed", "false-positive")
        assert [(a["action"], a["actor"], a["verdict"], a["note"]) for a in closed["actions"]] == [
            ("acknowledge", ANALYST, None, "looking"),
            ("close", ANALYST, "false-positive", NOTE),
        ]
        # The note on the page: the exact text in its cell, and no element made from it.
        record = _cells(page, "actions")
        assert record[-1][1:] == [ANALYST, "close false-positive", NOTE], record
        assert page.eval("document.images.length") == 0
        assert page.eval("document.querySelectorAll('a[href*=\"evil.example\"], strong, b').length") == 0
        assert (
            page.eval(
                "document.querySelector('table.actions tbody tr:last-child td:last-child').childElementCount"
            )
            == 0
        )
        assert not [e for e in page.events if e["method"] == "Page.javascriptDialogOpening"]

        # Forged posts change nothing: the Reopen form without its token, with another token, and the same
        # form on another origin (same site: the cookie goes along) carrying the right token.
        token = page.eval("document.querySelector(\"form[action$='/reopen'] input[name=csrf]\").value")
        page.eval("document.querySelector(\"form[action$='/reopen'] input[name=csrf]\").remove()")
        page.click("form[action$='/reopen'] button", navigates=True)
        assert "the form's token does not match" in page.text()
        page.goto(f"{view.url}/mamori/incidents/{first['id']}")
        page.eval(
            "document.querySelector(\"form[action$='/reopen'] input[name=csrf]\").value = '0'.repeat(64)"
        )
        page.click("form[action$='/reopen'] button", navigates=True)
        assert "the form's token does not match" in page.text()
        action = f"{view.url}/mamori/incidents/{first['id']}/reopen"
        with _other_site(_forge_page(action, token)) as port:
            # Same site, another port: the cookie goes along, the Fetch Metadata check refuses.
            page.goto(f"http://127.0.0.1:{port}/")
            page.click("#go", navigates=True)
            assert page.url() == action and "posted from the mamori view only" in page.text(), page.text()
            # Another site: refused too (by the same check, or sooner when the browser keeps the cookie home).
            page.goto(f"http://localhost:{port}/")
            page.click("#go", navigates=True)
            assert page.url() == action
            assert any(w in page.text() for w in ("mamori view only", "Not authenticated")), page.text()
        after = status.incident_page(first["id"], s)
        assert after["status"] == "closed" and len(after["actions"]) == 2

        # Search: the incident's IP pivots to its events; an event whose fields carry markup shows as text.
        page.goto(f"{view.url}/mamori/incidents/{first['id']}")
        ip = next(e["value"] for e in first["entities"] if e["kind"] == "ip")
        page.click(f"a.pivot[href*='ip={ip}']", navigates=True)
        rows = _cells(page, "results")
        assert rows and all(ip in r[6].split(",") for r in rows), rows[:3]
        shots["search"] = page.screenshot(view.out / SHOTS["search"])
        page.goto(f"{view.url}/mamori/search")
        page.type("input[name=from]", view_support.START.isoformat())
        page.type("input[name=to]", (view_support.START + timedelta(hours=6)).isoformat())
        page.type("input[name=ip]", view_support.MARKUP_IP)
        page.click("form.search button", navigates=True)
        (row,) = _cells(page, "results")
        assert row[4] == "GetCallerIdentity" and view_support.MARKUP in row[7], row
        assert page.eval("document.images.length") == 0
        assert page.eval("document.querySelectorAll('a[href*=\"evil.example\"]').length") == 0
        assert not [e for e in page.events if e["method"] == "Page.javascriptDialogOpening"]

    for shot in shots.values():
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000, shot
    target = os.environ.get("MAMORI_SCREENSHOT_DIR")  # `make screenshot` → docs/
    if target:
        for name, shot in shots.items():
            shutil.copyfile(shot, Path(target) / SHOTS[name])
    print(f"\ntriage browser test: {time.monotonic() - t0:.1f} s; screenshots in {view.out}")
