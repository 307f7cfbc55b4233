"""The mamori view inside the Airflow 3 UI: detection catalog, recent alerts with ticket links (local tickets
served as text under /mamori/tickets/<alert key>), per-source freshness and data quality, recent runs with
their metrics.

The incident queue on the main page takes filters as GET parameters (severity, status, source, rule, entity,
from/to, page), validated and applied by `mamori.status.incident_queue`.

A search page (/mamori/search) runs `mamori search`'s filters over a time range,
read only, through `mamori.status.search_page`.

Wiring only: the data and the HTML come from `mamori.status` (also behind `mamori status`). A FastAPI app is
mounted on the api-server under /mamori (`fastapi_apps`) and linked in the UI's navigation as an embedded
page at /plugin/mamori (`external_views` with a `url_route`).

Airflow imports plugin files in every component (scheduler, dag-processor, task processes), so this module
does no I/O and imports neither FastAPI nor mamori at import time: the app is built on its first request.
Airflow does not protect plugin apps, and being logged in is not enough: the page and its JSON list every alert
with its entities and tickets. A request needs read access, granted by Airflow's auth manager (Simple, FAB,
Keycloak, ...), to every DAG whose results it shows (`mamori.status.view_dag_ids()`), to their runs and to their
XComs (the runs' metrics): an Airflow Viewer has it, a user without a role gets 403. The page carries a
Content-Security-Policy without scripts: it is static HTML whose values come from attacker-controlled logs.

The plugin also registers a listener, `WarmTaskWorkers`: in the scheduler of a LocalExecutor deployment (which
forks its workers, each of which forks one process per task), it imports what the DAG files import
(`TASK_IMPORTS`) and loads Great Expectations once before the executor starts, so every task inherits them: the
task runner parses the task's DAG file in each task process, and detect's and dispatch_alerts' parses took
12-21 s each under load importing mamori.detect and the alert outputs anew; convert tasks also skip ~3 s of GX
start-up (mamori.ingest.warm_worker). Python code of mamori changed on disk reaches tasks when the scheduler
restarts (as for any installed package); detection SQL and YAML are read by each task, as before.
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
from typing import Any

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/mamori"
CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"


def requires_mamori_read() -> Any:
    """A FastAPI dependency: 401 without a valid Airflow token or UI cookie, 403 unless the auth manager lets
    the user read each of mamori's DAGs, their runs and XComs (one batch question, team-aware like Airflow's
    own `requires_access_dag`)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.batch_apis import IsAuthorizedDagRequest
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.api_fastapi.core_api.security import get_user
    from airflow.models.dag import DagModel
    from fastapi import Depends, HTTPException

    from mamori import status

    entities = (None, DagAccessEntity.RUN, DagAccessEntity.XCOM)

    # `Any`, not BaseUser: this module's annotations are strings that FastAPI resolves in module globals.
    def inner(user: Any = Depends(get_user)) -> None:  # noqa: B008 - FastAPI's dependency idiom
        dag_ids = status.view_dag_ids()
        teams = DagModel.get_dag_id_to_team_name_mapping(dag_ids)
        requests: list[IsAuthorizedDagRequest] = [
            {"method": "GET", "access_entity": e, "details": DagDetails(id=d, team_name=teams.get(d))}
            for d in dag_ids
            for e in entities
        ]
        if not get_auth_manager().batch_is_authorized_dag(requests, user=user):
            raise HTTPException(
                403, "Forbidden: reading mamori needs read access to its DAGs, their runs and XComs"
            )

    return inner


def may_edit(user: Any) -> bool:
    """Whether the auth manager grants edit (`PUT`) on every mamori DAG: from Airflow's User role up. A Viewer
    reads the view but may not act on incidents."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.batch_apis import IsAuthorizedDagRequest
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
    from airflow.models.dag import DagModel

    from mamori import status

    dag_ids = status.view_dag_ids()
    teams = DagModel.get_dag_id_to_team_name_mapping(dag_ids)
    requests: list[IsAuthorizedDagRequest] = [
        {"method": "PUT", "details": DagDetails(id=d, team_name=teams.get(d))} for d in dag_ids
    ]
    return bool(get_auth_manager().batch_is_authorized_dag(requests, user=user))


def requires_mamori_edit() -> Any:
    """A FastAPI dependency for triage actions (on top of the app's read check): 403 unless `may_edit`.
    Returns the user, whose name is the action's actor."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends, HTTPException

    def inner(user: Any = Depends(get_user)) -> Any:  # noqa: B008 - FastAPI's dependency idiom
        if not may_edit(user):
            raise HTTPException(403, "Forbidden: triage needs edit access to the mamori DAGs")
        return user

    return inner


def _csrf_key() -> bytes:
    """The key of the triage forms' tokens: Airflow's JWT secret when configured (shared by every api-server
    worker), else one made for this process (a form then only posts back to the worker that served it)."""
    import secrets

    from airflow.configuration import conf

    global _PROCESS_KEY
    configured = conf.get("api_auth", "jwt_secret", fallback="") or ""
    if configured:
        return configured.encode()
    if _PROCESS_KEY is None:
        _PROCESS_KEY = secrets.token_bytes(32)
    return _PROCESS_KEY


_PROCESS_KEY: bytes | None = None


def csrf_token(user_id: str, incident_id: str) -> str:
    """A form token bound to the user and the incident: a page on another site cannot make the analyst's
    browser post a triage action (the UI cookie alone is not enough to act)."""
    import hashlib
    import hmac

    msg = f"mamori-triage\0{user_id}\0{incident_id}".encode()
    return hmac.new(_csrf_key(), msg, hashlib.sha256).hexdigest()


def build_app() -> Any:
    """The FastAPI app (imports Airflow's API security and mamori only now, in the api-server)."""
    from datetime import UTC, datetime

    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends, FastAPI, Form, Header, HTTPException, Query
    from fastapi.responses import HTMLResponse, Response

    from mamori import status

    app = FastAPI(
        title="mamori",
        dependencies=[Depends(requires_mamori_read())],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }

    def snapshot(queue: dict[str, list[str]] | None = None) -> dict[str, Any]:
        runs, error = status.safe_airflow_runs()
        return status.collect(datetime.now(UTC), runs=runs, runs_error=error, queue=queue)

    # Plain (sync) handlers: FastAPI runs them in its thread pool, so file and DB reads do not block the loop.
    @app.get("/", response_class=HTMLResponse)
    def index(
        # The incident queue's filters (validated and applied by mamori.status.incident_queue; a bad value
        # shows one line and runs nothing). Query() defaults for the reason given at the search handler.
        severity: list[str] = Query([]),  # noqa: B008 - FastAPI's parameter idiom
        status_: list[str] = Query([], alias="status"),  # noqa: B008
        source: list[str] = Query([]),  # noqa: B008
        rule: list[str] = Query([]),  # noqa: B008
        entity: list[str] = Query([]),  # noqa: B008
        match: list[str] = Query([]),  # noqa: B008
        start: list[str] = Query([], alias="from"),  # noqa: B008
        end: list[str] = Query([], alias="to"),  # noqa: B008
        page: list[str] = Query([]),  # noqa: B008
    ) -> HTMLResponse:
        given = {
            "severity": severity,
            "status": status_,
            "source": source,
            "rule": rule,
            "entity": entity,
            "match": match,
            "from": start,
            "to": end,
            "page": page,
        }
        queue = {k: v for k, v in given.items() if v}
        return HTMLResponse(status.render_html(snapshot(queue)), headers=headers)

    @app.get("/tickets/{key}", response_class=HTMLResponse)
    def ticket(key: str) -> HTMLResponse:
        # The embedded default's tickets are outbox files a browser cannot open from the page (file://):
        # served here as escaped text, under the same read permission as the page that links them.
        found = status.local_ticket(key)
        if found is None:
            raise HTTPException(404, "no local ticket for this alert key")
        return HTMLResponse(status.render_ticket_html(key, *found), headers=headers)

    @app.get("/incidents/{incident}", response_class=HTMLResponse)
    def incident(incident: str, user: Any = Depends(get_user)) -> HTMLResponse:  # noqa: B008
        try:
            page = status.incident_page(incident)
        except status.TriageError as exc:
            raise HTTPException(404, str(exc)) from None
        # The forms only for a user who may act; a reader sees the same page without them.
        csrf = csrf_token(user.get_id(), page["id"]) if may_edit(user) else None
        return HTMLResponse(status.render_incident_html(page, csrf), headers=headers)

    @app.post("/incidents/{incident}/{action}")
    def act(
        incident: str,
        action: str,
        # The browser's own account of where the post came from (Fetch Metadata; absent in old browsers).
        sec_fetch_site: str | None = Header(None),
        csrf: str = Form(""),
        verdict: str = Form(""),
        note: str = Form(""),
        user: Any = Depends(requires_mamori_edit()),  # noqa: B008
    ) -> Response:
        import hmac

        if action not in status.TRIAGE_ACTIONS:
            raise HTTPException(404, "no such triage action")
        if sec_fetch_site is not None and sec_fetch_site not in ("same-origin", "none"):
            raise HTTPException(403, "Forbidden: triage forms are posted from the mamori view only")
        try:
            found = status.resolve_incident(incident)
        except status.TriageError as exc:
            raise HTTPException(404, str(exc)) from None
        # As bytes: compare_digest refuses str with non-ASCII characters (a 500, not a 403).
        if not hmac.compare_digest(csrf.encode(), csrf_token(user.get_id(), found).encode()):
            raise HTTPException(403, "Forbidden: the form's token does not match (reload the incident page)")
        try:
            status.triage_incident(found, action, user.get_name(), verdict=verdict, note=note or None)
        except status.TriageError as exc:
            raise HTTPException(409, str(exc)) from None
        # Back to the incident page (Post/Redirect/Get): a reload does not post the action again.
        return Response(status_code=303, headers={**headers, "Location": f"../{found}"})

    @app.get("/search", response_class=HTMLResponse)
    def search(
        # Each filter may repeat (values OR, as repeated `mamori search` options); absent ≠ empty: the search
        # runs once the form was submitted. Query() defaults, not a Request: annotations here resolve in module
        # globals, which hold no FastAPI names (see requires_mamori_read).
        start: list[str] = Query([], alias="from"),  # noqa: B008 - FastAPI's parameter idiom
        end: list[str] = Query([], alias="to"),  # noqa: B008
        last: list[str] = Query([]),  # noqa: B008
        ip: list[str] = Query([]),  # noqa: B008
        principal: list[str] = Query([]),  # noqa: B008
        account: list[str] = Query([]),  # noqa: B008
        event_name: list[str] = Query([]),  # noqa: B008
        contains: list[str] = Query([]),  # noqa: B008
        source: list[str] = Query([]),  # noqa: B008
        order: list[str] = Query([]),  # noqa: B008
        page: list[str] = Query([]),  # noqa: B008
    ) -> HTMLResponse:
        given = {
            "from": start,
            "to": end,
            "last": last,
            "ip": ip,
            "principal": principal,
            "account": account,
            "event_name": event_name,
            "contains": contains,
            "source": source,
            "order": order,
            "page": page,
        }
        found = status.search_page({k: v for k, v in given.items() if v}, datetime.now(UTC))
        return HTMLResponse(status.render_search_html(found), headers=headers)

    @app.get("/scorecard", response_class=HTMLResponse)
    def scorecard() -> HTMLResponse:
        return HTMLResponse(status.render_scorecard_html(status.scorecard_rows()), headers=headers)

    @app.get("/status.json")
    def as_json() -> Response:
        body = status.status_json(snapshot())  # exact values, every non-ASCII character \u-escaped
        return Response(body, media_type="application/json", headers=headers)

    return app


class LazyApp:
    """An ASGI app that builds the real one on its first request (see the module docstring)."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            self._app = build_app()
        await self._app(scope, receive, send)


def forks_task_processes(component: Any, argv: list[str]) -> bool:
    """True in the process whose forks run the tasks: the scheduler (`airflow scheduler`, whose Job calls
    on_starting before its executor starts) of a LocalExecutor forking its workers. Not the dag-processor or
    triggerer (their Jobs call it too), a task process (TaskRunnerMarker), a Celery deployment's scheduler (its
    tasks run in Celery workers) or a spawning executor (its workers start fresh interpreters)."""
    if type(component).__name__ != "Job" or argv[1:2] != ["scheduler"]:
        return False
    import multiprocessing  # here, not at import: every component imports this file (no I/O there)

    from airflow.configuration import conf

    return "LocalExecutor" in conf.get("core", "executor") and multiprocessing.get_start_method() == "fork"


# The mamori modules the DAG files import at parse time (each task process parses its DAG file), and the DuckDB
# engine every detect chunk opens. tests/plugins/test_warm_task_parse.py checks that parsing every DAG file after
# the warm-up imports nothing else.
TASK_IMPORTS: tuple[str, ...] = (
    "mamori.dag_defaults",
    "mamori.detect",
    "mamori.engines.duckdb",
    "mamori.engines.tables",
    "mamori.health.tasks",
    "mamori.ingest",
    "mamori.lake.compact",
    "mamori.sources",
)


def warm_task_imports() -> float:
    """Import TASK_IMPORTS in this process; returns the seconds spent."""
    t0 = time.perf_counter()
    for name in TASK_IMPORTS:
        importlib.import_module(name)
    return time.perf_counter() - t0


class WarmTaskWorkers:
    """Airflow listener: where task processes are forked from, import what the DAG files import and warm the
    data-quality engine (see the module docstring). A failure is logged and costs nothing but the warm-up: each
    task then imports and loads what it needs itself."""

    @hookimpl
    def on_starting(self, component: Any) -> None:
        if not forks_task_processes(component, sys.argv):
            return
        log = logging.getLogger(__name__)
        try:
            imported = warm_task_imports()
            from mamori import detect, ingest

            spent = ingest.warm_worker()
            catalog = detect.warm_catalog()
        except Exception:
            log.exception("mamori: warming task processes up failed")
            return
        log.info(
            "mamori: DAG files' imports loaded for task processes in %.1fs, Great Expectations in %.1fs, "
            "the detection catalog in %.1fs",
            imported,
            spent,
            catalog,
        )


class MamoriPlugin(AirflowPlugin):
    name = "mamori"
    # AirflowPlugin declares these as class-level lists (mypy: instance variables, so no ClassVar here).
    fastapi_apps = [  # noqa: RUF012
        {"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "mamori"}
    ]
    external_views = [  # noqa: RUF012
        {
            "name": "mamori",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "mamori",
        }
    ]
    listeners = [WarmTaskWorkers()]  # noqa: RUF012
