"""The mamori view inside the Airflow 3 UI: detection catalog, recent alerts with ticket links, per-source
freshness and data quality, recent runs with their metrics.

Wiring only: the data and the HTML come from `mamori.status` (also behind `mamori status`). A FastAPI app is
mounted on the api-server under /mamori (`fastapi_apps`) and linked in the UI's navigation as an embedded
page at /plugin/mamori (`external_views` with a `url_route`).

Airflow imports plugin files in every component (scheduler, dag-processor, task processes), so this module
does no I/O and imports neither FastAPI nor mamori at import time: the app is built on its first request.
The page requires an authenticated Airflow user (plugin apps are not protected by default) and carries a
Content-Security-Policy without scripts: it is static HTML whose values come from attacker-controlled logs.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/mamori"
CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"


def build_app() -> Any:
    """The FastAPI app (imports Airflow's API security and mamori only now, in the api-server)."""
    import json
    from datetime import UTC, datetime

    from airflow.api_fastapi.core_api.security import requires_authenticated
    from fastapi import Depends, FastAPI
    from fastapi.responses import HTMLResponse, Response

    from mamori import status

    app = FastAPI(
        title="mamori",
        dependencies=[Depends(requires_authenticated())],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }

    def snapshot() -> dict[str, Any]:
        runs, error = status.safe_airflow_runs()
        return status.collect(datetime.now(UTC), runs=runs, runs_error=error)

    # Plain (sync) handlers: FastAPI runs them in its thread pool, so file and DB reads do not block the loop.
    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(status.render_html(snapshot()), headers=headers)

    @app.get("/status.json")
    def as_json() -> Response:
        body = json.dumps(snapshot(), sort_keys=True, default=str)
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
