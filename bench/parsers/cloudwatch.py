"""CloudWatch Logs (Firehose body) benchmark input and the naive parser a user would write.

The naive parser splits the concatenated stream on ``}{`` (wrong as soon as a message contains ``}{``, which
the sample avoids so the comparison is like for like) and runs one sshd regex per message; mamori's parser
does header, sshd/sudo/useradd parsing and builds complete rows, so the comparison is generous to the baseline.
"""

from __future__ import annotations

import json
import random
import re

import orjson

_HOSTS = ("ip-10-0-1-15", "ip-10-0-7-21", "ip-10-0-9-200")
_NAIVE = re.compile(
    r"^(\w{3} +\d+ [\d:]+) (\S+) ([^\[:]+)(?:\[(\d+)\])?: (?:(Accepted|Failed) (\S+) for (?:invalid user )?(\S+) "
    r"from (\S+) port (\d+))?"
)


def _line(rng: random.Random, i: int) -> str:
    host = rng.choice(_HOSTS)
    ts = f"Nov {1 + i % 28:>2} {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}"
    pid = rng.randrange(1000, 30000)
    ip = f"203.0.113.{rng.randrange(1, 255)}"
    port = rng.randrange(32768, 61000)
    k = rng.randrange(10)
    if k < 3:
        return f"{ts} {host} sshd[{pid}]: Failed password for invalid user admin from {ip} port {port} ssh2"
    if k < 5:
        return f"{ts} {host} sshd[{pid}]: Accepted publickey for ec2-user from 10.0.0.5 port {port} ssh2: RSA SHA256:x"
    if k < 6:
        return (
            f"{ts} {host} sudo: ec2-user : TTY=pts/0 ; PWD=/home/ec2-user ; USER=root ; COMMAND=/usr/bin/id"
        )
    if k < 8:
        return f"{ts} {host} sshd[{pid}]: pam_unix(sshd:session): session opened for user ec2-user(uid=1000) by (uid=0)"
    return f"{ts} {host} systemd[1]: Started Session {pid} of User ec2-user."


def make_sample(n_events: int, seed: int = 1) -> bytes:
    """An uncompressed Firehose body: DATA_MESSAGEs of up to 50 events, back to back with no separator."""
    rng = random.Random(seed)  # noqa: S311 - benchmark input, not a secret
    out: list[bytes] = []
    ts = 1_793_500_000_000
    i = 0
    while i < n_events:
        batch = min(50, n_events - i)
        events = []
        for _ in range(batch):
            ts += rng.randrange(1, 2000)
            events.append(
                {"id": f"{rng.getrandbits(160):056d}"[:56], "timestamp": ts, "message": _line(rng, i)}
            )
            i += 1
        msg = {
            "messageType": "DATA_MESSAGE",
            "owner": "111111111111",
            "logGroup": "/ec2/var/log/secure",
            "logStream": f"i-0{rng.getrandbits(64):016x}",
            "subscriptionFilters": ["mamori-to-firehose"],
            "logEvents": events,
        }
        out.append(orjson.dumps(msg))
    return b"".join(out)


def naive_parse(data: bytes) -> int:
    """Split on '}{', json.loads each piece, one regex per message into a dict; returns the event count."""
    text = data.decode()
    pieces = text.split("}{")
    n = 0
    rows = []
    for i, piece in enumerate(pieces):
        if i > 0:
            piece = "{" + piece
        if i < len(pieces) - 1:
            piece = piece + "}"
        doc = json.loads(piece)
        for ev in doc.get("logEvents", []):
            m = _NAIVE.match(ev["message"])
            rows.append(
                {"timestamp": ev["timestamp"], "message": ev["message"], "fields": m.groups() if m else None}
            )
            n += 1
    return n
