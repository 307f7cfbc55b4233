"""A moto server process on 127.0.0.1 (S3, Athena, Glue over HTTP) and Athena result seeding, shared by the
test tiers that need AWS API shapes. Each tier starts its own server: moto's seeded Athena results are a
queue, and sharing one between modules would let one test consume another's rows."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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


def seed_athena(moto_url: str, columns: list[tuple[str, str]], rows: list[list[str | None]]) -> None:
    """Queue one result set for the next Athena query (moto executes no SQL; first row is the header)."""
    info = [
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
