"""A recording reverse proxy in front of moto: every AWS request mamori makes, mapped to its IAM action.

Pointing the code's endpoint at this proxy (instead of at moto directly) lets a test list the IAM actions the
code really calls, whatever client library made the call (boto3, s3fs/aiobotocore, PyAthena), and compare them
with the least-privilege policy in docs/aws-iam-policy.json.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"}


def iam_action(method: str, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> str:
    """The IAM action AWS authorizes for one request (JSON protocols by X-Amz-Target, S3 by REST shape)."""
    target = headers.get("x-amz-target")
    if target:  # e.g. AmazonAthena.StartQueryExecution, AWSGlue.GetTable
        service, op = target.split(".", 1)
        prefix = {"AmazonAthena": "athena", "AWSGlue": "glue"}.get(service, service.lower())
        return f"{prefix}:{op}"
    parts = [p for p in path.split("/") if p]
    if len(parts) <= 1:  # bucket level
        if "location" in query:
            return "s3:GetBucketLocation"
        if method == "POST" and "delete" in query:
            return "s3:DeleteObject"
        if method in ("GET", "HEAD"):
            return "s3:ListBucket"
        if method == "PUT":
            return "s3:CreateBucket"
        return f"s3:{method}Bucket?"
    if method in ("GET", "HEAD"):
        return "s3:GetObject"
    if method in ("PUT", "POST"):
        return "s3:PutObject"
    if method == "DELETE":
        return "s3:AbortMultipartUpload" if "uploadId" in query else "s3:DeleteObject"
    return f"s3:{method}Object?"


class Recorder:
    def __init__(self, upstream: str) -> None:
        u = urlsplit(upstream)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.actions: list[tuple[str, str]] = []  # (IAM action, bucket or "" for non-S3 calls)
        self._lock = threading.Lock()

    def record(self, action: str, bucket: str) -> None:
        with self._lock:
            self.actions.append((action, bucket))


@contextmanager
def recording_proxy(upstream: str) -> Iterator[tuple[str, Recorder]]:
    rec = Recorder(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            u = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            action = iam_action(self.command, u.path, parse_qs(u.query, keep_blank_values=True), headers)
            bucket = u.path.strip("/").split("/", 1)[0] if action.startswith("s3:") else ""
            rec.record(action, bucket)
            if "x-amz-copy-source" in headers:
                rec.record("s3:GetObject", headers["x-amz-copy-source"].lstrip("/").split("/", 1)[0])
            conn = http.client.HTTPConnection(rec.host, rec.port, timeout=60)
            try:
                conn.request(
                    self.command,
                    self.path,
                    body=body,
                    headers={k: v for k, v in self.headers.items() if k.lower() not in HOP},
                )
                resp = conn.getresponse()
                data = resp.read()
            finally:
                conn.close()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", rec
    finally:
        server.shutdown()
        server.server_close()
