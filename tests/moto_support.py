"""A moto server process on 127.0.0.1 (S3, Athena, Glue over HTTP), Athena result seeding, and an Athena that
executes what it is sent (`executing_athena`), shared by the test tiers that need AWS API shapes. Each tier
starts its own server: moto's seeded Athena results are a queue, and sharing one between modules would let one
test consume another's rows."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_process() -> Iterator[str]:
    """Start `moto_server` in its own process group, yield its URL, stop the group."""
    port = free_port()
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("moto_server exited") from None
                time.sleep(0.1)
        else:
            raise RuntimeError("moto_server did not start")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def athena_connection(moto_url: str, monkeypatch: Any) -> dict[str, str]:
    """Fake AWS credentials and the `mamori_athena` Airflow connection pointed at the moto server (workgroup
    primary, results in s3://athena-results/, which it creates); returns the connection's extra, for tests that
    point other connections at the same server."""
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    extra = {
        "endpoint_url": moto_url,
        "region_name": "us-east-1",
        "s3_staging_dir": "s3://athena-results/",
        "work_group": "primary",
    }
    monkeypatch.setenv("AIRFLOW_CONN_MAMORI_ATHENA", json.dumps({"conn_type": "aws", "extra": extra}))
    import boto3

    boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1").create_bucket(Bucket="athena-results")
    return extra


def column_info(columns: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """ResultSetMetadata.ColumnInfo for (name, Athena type) pairs, as GetQueryResults returns it."""
    return [
        {
            "CatalogName": "hive",
            "SchemaName": "",
            "TableName": "",
            "Name": n,
            "Label": n,
            "Type": t,
            "Precision": 2147483647,
            "Scale": 0,
            "Nullable": "UNKNOWN",
            "CaseSensitive": True,
        }
        for n, t in columns
    ]


def seed_athena(moto_url: str, columns: list[tuple[str, str]], rows: list[list[str | None]]) -> None:
    """Queue one result set for the next Athena query (moto executes no SQL; first row is the header)."""
    info = column_info(columns)
    data = [{"Data": [{"VarCharValue": n} for n, _ in columns]}] + [
        {"Data": [{} if v is None else {"VarCharValue": v} for v in r]} for r in rows
    ]
    body = {
        "account_id": "123456789012",
        "region": "us-east-1",
        "results": [{"rows": data, "column_info": info}],
    }
    req = urllib.request.Request(
        f"{moto_url}/moto-api/static/athena/query-results",
        method="POST",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(req).read()


# What a query returns: (column name, Athena type) pairs and rows of Python values.
Result = tuple[list[tuple[str, str]], list[tuple[Any, ...]]]


def wire_value(value: Any, athena_type: str) -> dict[str, str]:
    """One value as GetQueryResults carries it: text in VarCharValue (Athena's own formats), NULL as {}."""
    if value is None:
        return {}
    if athena_type == "timestamp" and isinstance(value, datetime):
        return {"VarCharValue": value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]}
    if athena_type == "boolean":
        return {"VarCharValue": "true" if value else "false"}
    if athena_type == "date" and isinstance(value, date):
        return {"VarCharValue": value.isoformat()}
    return {"VarCharValue": str(value)}


@dataclass
class ExecutingAthena:
    """What the proxy saw: each StartQueryExecution's SQL, and each GetQueryResults request it answered."""

    url: str = ""
    queries: list[str] = field(default_factory=list)
    result_requests: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, Result] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def executing_athena(moto_url: str, execute: Callable[[str], Result]) -> Iterator[ExecutingAthena]:
    """A proxy in front of moto whose Athena runs the SQL it receives (`execute`) and pages the answer like
    Athena: GetQueryResults honours MaxResults (at most 1000 rows a page, the header row counting on the first)
    and NextToken, and every value travels as text to be converted by the client. Everything else (query
    state, S3, Glue) is moto's. Unlike `seed_athena`, what comes back is what the query selects, not what the
    test queued."""
    state = ExecutingAthena()
    host, port = moto_url.split("://", 1)[1].split(":")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _reply(self, status: int, reason: str, headers: list[tuple[str, str]], data: bytes) -> None:
            self.send_response(status, reason)
            for k, v in headers:
                if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = self.headers.get("X-Amz-Target", "")
            if target == "AmazonAthena.GetQueryResults":
                request = json.loads(body)
                with state.lock:
                    result = state.results.get(request["QueryExecutionId"])
                    if result is not None:
                        state.result_requests.append(request)
                if result is not None:
                    page = _results_page(result, request)
                    return self._reply(200, "OK", [("Content-Type", "application/x-amz-json-1.1")], page)
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "host")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            finally:
                conn.close()
            if target == "AmazonAthena.StartQueryExecution" and resp.status == 200:
                sql = json.loads(body)["QueryString"]
                with state.lock:
                    state.queries.append(sql)
                try:
                    result = execute(sql)
                except Exception as exc:  # what Athena says to SQL it cannot run (the test sees the message)
                    error = {"__type": "InvalidRequestException", "Message": f"{type(exc).__name__}: {exc}"}
                    return self._reply(400, "Bad Request", [], json.dumps(error).encode())
                with state.lock:
                    state.results[json.loads(data)["QueryExecutionId"]] = result
            self._reply(resp.status, resp.reason, resp.getheaders(), data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _results_page(result: Result, request: dict[str, Any]) -> bytes:
    columns, rows = result
    wire = [{"Data": [{"VarCharValue": n} for n, _ in columns]}] + [
        {"Data": [wire_value(v, t) for v, (_, t) in zip(row, columns, strict=True)]} for row in rows
    ]
    size = min(int(request.get("MaxResults") or 1000), 1000)
    start = int(request.get("NextToken") or 0)
    page: dict[str, Any] = {
        "ResultSet": {
            "Rows": wire[start : start + size],
            "ResultSetMetadata": {"ColumnInfo": column_info(columns)},
        },
        "UpdateCount": 0,
    }
    if start + size < len(wire):
        page["NextToken"] = str(start + size)
    return json.dumps(page).encode()
