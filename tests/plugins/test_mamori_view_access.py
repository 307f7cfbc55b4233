"""Who may read the mamori view: the plugin's FastAPI app, served over real HTTP on 127.0.0.1 by uvicorn (as
the api-server serves it), with Airflow's own SimpleAuthManager deciding. The page and its JSON list every
alert with its entities and tickets, so being logged in is not enough: the reader needs read access to the
mamori DAGs and their runs (docs/operations.md, "The mamori view"). A user with no role is refused (403),
a Viewer is served (200), on the page and on status.json alike.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import view_support

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)
ACTOR = "mallory-the-attacker"


def _plugin() -> Any:
    spec = importlib.util.spec_from_file_location(
        "mamori_plugin_under_test", REPO / "plugins" / "mamori_plugin.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def alert_in_ledger(settings) -> str:
    """One open alert whose entity is ACTOR: what an unauthorised reader must not see."""
    from mamori.alerts.ledger import Ledger
    from mamori.detections.dedup import group_hits
    from mamori.detections.loader import get_detection

    det = get_detection(settings.sql_dir, "cloudtrail_console_login_brute_force")
    hits = [
        {
            "event_time": T0 + timedelta(minutes=m),
            "account_id": "111111111111",
            "actor": ACTOR,
            "source_ip": "198.51.100.23",
            "event_name": "ConsoleLogin",
        }
        for m in range(1, 7)
    ]
    (key,) = Ledger(settings.ledger_url).record_window(
        det, T0, T0 + timedelta(hours=1), group_hits(det, hits)
    )
    return key


@pytest.fixture
def auth_manager(airflow_db, monkeypatch) -> Iterator[Any]:
    """Airflow's SimpleAuthManager with login on (not the all-admins mode of a local instance)."""
    from airflow.api_fastapi import app as api_app

    monkeypatch.setenv(
        "AIRFLOW__CORE__AUTH_MANAGER",
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    )
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "mamori-test-only-" + "0123456789abcdef" * 4)
    from airflow.api_fastapi.auth.managers.base_auth_manager import BaseAuthManager

    # Token validators are cached per class with the secret of their first use: start and end clean.
    BaseAuthManager._get_token_validator.cache_clear()
    api_app.purge_cached_app()
    yield api_app.create_auth_manager()
    api_app.purge_cached_app()
    BaseAuthManager._get_token_validator.cache_clear()


@pytest.fixture
def view_url(auth_manager) -> Iterator[str]:
    """The plugin's app exactly as Airflow mounts it (`fastapi_apps[0]["app"]`), on a real port."""
    import uvicorn

    app = _plugin().MamoriPlugin.fastapi_apps[0]["app"]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _token(auth_manager: Any, role: str | None) -> str:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return auth_manager.generate_jwt(SimpleAuthManagerUser(username=f"user-{role}", role=role))


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


PATHS = ("/", "/status.json")


@pytest.mark.parametrize("path", PATHS)
def test_a_user_without_a_role_is_refused(view_url, auth_manager, alert_in_ledger, path):
    """Logged in (a valid token) but no role: 403, and nothing of the ledger in the answer."""
    code, body = _get(view_url + path, {"Authorization": f"Bearer {_token(auth_manager, None)}"})
    assert code == 403, body[:500]
    assert ACTOR not in body and alert_in_ledger not in body


@pytest.mark.parametrize("path", PATHS)
def test_no_credentials_is_unauthenticated(view_url, alert_in_ledger, path):
    code, body = _get(view_url + path)
    assert code == 401 and ACTOR not in body


@pytest.mark.parametrize("path", PATHS)
def test_a_viewer_reads_the_view_by_token_and_by_ui_cookie(view_url, auth_manager, alert_in_ledger, path):
    """A Viewer (read-only on DAGs and runs) is served, with the bearer token of the REST API and with the
    `_token` cookie the Airflow UI's iframe sends."""
    token = _token(auth_manager, "VIEWER")
    for headers in ({"Authorization": f"Bearer {token}"}, {"Cookie": f"_token={token}"}):
        code, body = _get(view_url + path, headers)
        assert code == 200, body[:500]
        assert ACTOR in body  # the alert's entity, on the page and in the JSON


# -- the real api-server -------------------------------------------------------------------------------------
def _post_json(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {"error": exc.read().decode()}


@pytest.fixture
def api_server(settings, alert_in_ledger, tmp_path) -> Iterator[tuple[str, Path]]:
    """`airflow api-server` as a process (this repo's plugins folder, SimpleAuthManager with login) with two
    users: `viewer` (VIEWER) and `nobody` (no role); stopped by its process group."""
    airflow_home = tmp_path / "airflow"
    with view_support.api_server(airflow_home, settings.home, "viewer:VIEWER,nobody:") as url:
        yield url, airflow_home


@pytest.mark.slow
def test_the_api_server_serves_the_view_to_a_viewer_only(api_server):
    """The plugin as Airflow itself loads and mounts it, users logged in through POST /auth/token."""
    url, airflow_home = api_server
    passwords = view_support.passwords(airflow_home)
    tokens = {}
    for user in ("viewer", "nobody"):
        code, body = _post_json(url + "/auth/token", {"username": user, "password": passwords[user]})
        assert code == 201, body
        tokens[user] = body["access_token"]
    for path in PATHS:
        code, body = _get(f"{url}/mamori{path}", {"Authorization": f"Bearer {tokens['nobody']}"})
        assert code == 403 and ACTOR not in body, (path, code, body[:300])
        code, body = _get(f"{url}/mamori{path}", {"Cookie": f"_token={tokens['nobody']}"})
        assert code == 403 and ACTOR not in body, (path, code, body[:300])
        code, body = _get(f"{url}/mamori{path}")
        assert code == 401 and ACTOR not in body, (path, code, body[:300])
        for headers in (
            {"Authorization": f"Bearer {tokens['viewer']}"},
            {"Cookie": f"_token={tokens['viewer']}"},
        ):
            code, body = _get(f"{url}/mamori{path}", headers)
            assert code == 200 and ACTOR in body, (path, code, body[:300])


@pytest.fixture
def local_ticket(settings, alert_in_ledger) -> str:
    """The alert delivered by the local output: a Markdown file in the outbox, as on the embedded default."""
    from mamori.alerts.ledger import Ledger
    from mamori.alerts.outputs.local import LocalOutput
    from mamori.detections.loader import get_detection

    ledger = Ledger(settings.ledger_url)
    (alert,) = [a for a in ledger.alerts() if a.key == alert_in_ledger]
    det = get_detection(settings.sql_dir, alert.detection_id)
    ref = LocalOutput(settings).deliver(alert, det)
    ledger.ensure_delivery(alert.key, "local")
    ledger.mark_delivered(alert.key, "local", ref, alert.hit_count)
    return alert.key


def test_a_viewer_opens_a_local_ticket_from_the_page(view_url, auth_manager, local_ticket):
    """The page links the outbox ticket to the view's own route (a file:// path is not clickable), which
    serves it as inert text; no role gets 403, an unknown or malformed key 404 (never a path)."""
    viewer = {"Authorization": f"Bearer {_token(auth_manager, 'VIEWER')}"}
    code, page = _get(view_url + "/", viewer)
    assert code == 200 and f"<a href='tickets/{local_ticket}'>" in page
    code, body = _get(view_url + f"/tickets/{local_ticket}", viewer)
    assert code == 200, body[:500]
    assert ACTOR in body and "<pre class='ticket'>" in body and "<script" not in body
    none = {"Authorization": f"Bearer {_token(auth_manager, None)}"}
    code, body = _get(view_url + f"/tickets/{local_ticket}", none)
    assert code == 403 and ACTOR not in body
    for bad in ("0" * 32, "..%2F..%2Fetc%2Fpasswd", local_ticket.upper()):
        code, _ = _get(view_url + f"/tickets/{bad}", viewer)
        assert code == 404, bad


# -- triage in the view --------------------------------------------------------------------------------------
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 303 itself is what the tests look at


def _post(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str, str | None]:
    from urllib.parse import urlencode

    req = urllib.request.Request(
        url,
        data=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        method="POST",
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=60) as resp:
            return resp.status, resp.read().decode(), resp.headers.get("Location")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers.get("Location")


@pytest.fixture
def incident(settings, alert_in_ledger) -> str:
    """The alert grouped into its incident, as the detect run does after each window."""
    from mamori.alerts.incidents import list_incidents, record_incidents
    from mamori.alerts.ledger import Ledger

    record_incidents(T0, T0 + timedelta(hours=1), settings)
    (inc,) = list_incidents(Ledger(settings.ledger_url))
    return inc.incident_id


def _csrf(page: str) -> str:
    import re

    found = re.search(r"name='csrf' value='([0-9a-f]{64})'", page)
    assert found, "no triage form on the page"
    return found.group(1)


def test_a_viewer_sees_the_queue_and_the_incident_but_cannot_act(view_url, auth_manager, incident):
    viewer = {"Authorization": f"Bearer {_token(auth_manager, 'VIEWER')}"}
    code, page = _get(view_url + "/", viewer)
    assert code == 200 and f"<a href='incidents/{incident}'>" in page
    code, page = _get(view_url + f"/incidents/{incident}", viewer)
    assert code == 200 and ACTOR in page and "<form" not in page and "Read only" in page
    code, body, _ = _post(
        view_url + f"/incidents/{incident}/close",
        {"csrf": "0" * 64, "verdict": "false-positive"},
        viewer,
    )
    assert code == 403, body
    code, _ = _get(view_url + f"/incidents/{'f' * 32}", viewer)
    assert code == 404


def test_a_user_closes_an_incident_as_a_false_positive_from_the_page(
    view_url, auth_manager, incident, settings
):
    """Acknowledge then close from the incident page's forms: each post is checked (edit permission, the
    form's token), recorded with the user's name, and lands back on the page (303); the member alert gets
    the verdict as its resolution."""
    from mamori.alerts.incidents import get_incident
    from mamori.alerts.ledger import Ledger

    user = {"Authorization": f"Bearer {_token(auth_manager, 'USER')}"}
    code, page = _get(view_url + f"/incidents/{incident}", user)
    assert code == 200 and "Acknowledge" in page
    token = _csrf(page)
    hostile = "<script>alert(1)</script>\u202egnp.exe"
    code, body, where = _post(
        view_url + f"/incidents/{incident}/acknowledge", {"csrf": token, "note": hostile}, user
    )
    assert (code, where) == (303, f"../{incident}"), body
    code, _, _ = _post(
        view_url + f"/incidents/{incident}/close",
        {"csrf": token, "verdict": "false-positive", "note": "scanner we run"},
        user,
    )
    assert code == 303
    ledger = Ledger(settings.ledger_url)
    inc, actions = get_incident(ledger, incident)
    assert (inc.status, inc.verdict) == ("closed", "false-positive")
    assert [(a.action, a.actor) for a in actions] == [("acknowledge", "user-USER"), ("close", "user-USER")]
    (alert,) = inc.members
    (resolution,) = [a["resolution"] for a in ledger.dump()["alerts"] if a["alert_key"] == alert.key]
    assert (alert.status, resolution) == ("resolved", "false-positive")
    code, page = _get(view_url + f"/incidents/{incident}", user)
    assert "<script>" not in page and "\\u202e" in page and "Reopen" in page  # the note, inert and visible


def test_a_triage_post_needs_its_form_token_and_the_same_site(view_url, auth_manager, incident):
    user = {"Authorization": f"Bearer {_token(auth_manager, 'USER')}"}
    _, page = _get(view_url + f"/incidents/{incident}", user)
    token = _csrf(page)
    for form, extra in (
        ({"verdict": "false-positive"}, {}),  # no token
        ({"csrf": "0" * 64, "verdict": "false-positive"}, {}),  # a forged one
        ({"csrf": "é" * 64, "verdict": "false-positive"}, {}),  # not even ASCII: refused, not a server error
        (
            {"csrf": token, "verdict": "false-positive"},
            {"Sec-Fetch-Site": "cross-site"},
        ),  # posted from elsewhere
    ):
        code, body, _ = _post(view_url + f"/incidents/{incident}/close", form, {**user, **extra})
        assert code == 403, (form, extra, body)
    other = {"Authorization": f"Bearer {_token(auth_manager, 'OP')}"}  # a token is bound to its user
    code, _, _ = _post(
        view_url + f"/incidents/{incident}/close", {"csrf": token, "verdict": "false-positive"}, other
    )
    assert code == 403
    code, body, _ = _post(
        view_url + f"/incidents/{incident}/close", {"csrf": token, "verdict": "maybe"}, user
    )
    assert code == 409 and "unknown verdict" in body


# -- search in the view --------------------------------------------------------------------------------------
def test_the_search_page_reads_with_the_views_permission(view_url, auth_manager, alert_in_ledger):
    """/search is behind the same read check as the page; a Viewer runs a search (GET, no token needed: it
    changes nothing), its values shown back escaped, and a bad value is a message on the page, not an error."""
    viewer = {"Authorization": f"Bearer {_token(auth_manager, 'VIEWER')}"}
    code, page = _get(view_url + "/search", viewer)
    assert code == 200 and "<form method='get' action='search'" in page and "search-summary" not in page
    from urllib.parse import urlencode

    query = urlencode(
        [
            ("from", "2026-11-01T10:00Z"),
            ("to", "2026-11-01T11:00Z"),
            ("principal", ACTOR + "'<b>"),
            ("ip", "198.51.100.23"),
            ("ip", "203.0.113.9"),
        ]
    )
    code, page = _get(view_url + "/search?" + query, viewer)
    assert code == 200, page[:500]
    assert "no matching events" in page and f"value='{ACTOR}&#x27;&lt;b&gt;'" in page and "<b>" not in page
    assert "--ip 198.51.100.23 --ip 203.0.113.9" in page  # a repeated filter keeps every value
    code, page = _get(view_url + "/search?ip=not-an-ip", viewer)
    assert code == 200 and "id='search-error'" in page and "not an IPv4/IPv6 address" in page
    code, page = _get(
        view_url + "/search?ip=198.51.100.23", {"Authorization": f"Bearer {_token(auth_manager, None)}"}
    )
    assert code == 403 and "<form" not in page
    code, page = _get(view_url + "/search")
    assert code == 401


# -- the scorecard in the view -------------------------------------------------------------------------------
def test_the_scorecard_page_reads_with_the_views_permission(view_url, auth_manager, alert_in_ledger):
    """/scorecard is behind the same read check as the page: a Viewer gets the rule's line (one open alert, no
    verdict yet), a user without a role 403 without it, no credentials 401."""
    code, page = _get(view_url + "/scorecard", {"Authorization": f"Bearer {_token(auth_manager, 'VIEWER')}"})
    assert code == 200, page[:500]
    assert '<table class="scorecard">' in page and "<code>cloudtrail_console_login_brute_force</code>" in page
    code, page = _get(view_url + "/scorecard", {"Authorization": f"Bearer {_token(auth_manager, None)}"})
    assert code == 403 and "cloudtrail_console_login_brute_force" not in page
    assert _get(view_url + "/scorecard")[0] == 401


def test_the_queue_filters_are_get_parameters_checked_before_anything_runs(view_url, auth_manager, incident):
    """The queue's filters through the mounted app: a matching filter lists the incident, a non-matching one
    does not, a hostile value gets the one-line error, escaped, and no queue (mamori.alerts.queue)."""
    from urllib.parse import urlencode

    viewer = {"Authorization": f"Bearer {_token(auth_manager, 'VIEWER')}"}
    link = f"<a href='incidents/{incident}'>"
    query = {"rule": "cloudtrail_console_login_brute_force", "entity": ACTOR[:7], "status": "open"}
    code, page = _get(view_url + "/?" + urlencode(query), viewer)
    assert code == 200 and link in page and "1 matching" in page
    code, page = _get(view_url + "/?" + urlencode({"severity": "low"}), viewer)
    assert code == 200 and link not in page and "No incidents match these filters." in page
    code, page = _get(view_url + "/?" + urlencode({"severity": "<script>x</script>", "page": "1"}), viewer)
    assert code == 200 and link not in page and "<script>x" not in page
    assert "<p class='failed' id='queue-error'>severity must be one of critical, high" in page
