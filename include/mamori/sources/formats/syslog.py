"""Syslog text as the CloudWatch agent ships it: header fields plus the auth events detections care about.

The message is attacker-influenced (an SSH client picks the user name sshd logs), so every pattern here runs in
linear time on arbitrary input and anchors on the fields sshd appends *after* the user-controlled part: a user
name like ``x from 10.0.0.5 port 22`` cannot move the source address. Anything that does not parse leaves the
fields NULL; the caller always keeps the raw message, so nothing is lost, only left unstructured.

Formats:
- RFC 3164 (BSD) ``[<PRI>]Mmm dd hh:mm:ss host tag[pid]: msg``; also rsyslog's high-precision variant whose
  timestamp is RFC 3339 (Amazon Linux, Ubuntu defaults). Both are reported as ``rfc3164``: same header shape.
- RFC 5424 ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] msg``.
- JSON application logs (the whole message is one JSON object).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

from mamori.sources.base import is_ip

# Fields this module fills; the caller's row holds them all (NULL when not found).
FIELDS: tuple[str, ...] = (
    "syslog_format",
    "syslog_timestamp",
    "syslog_time",
    "hostname",
    "app_name",
    "proc_id",
    "msg",
    "ssh_event",
    "ssh_user",
    "ssh_src_ip",
    "ssh_src_port",
    "sudo_user",
    "sudo_run_as",
    "sudo_command",
    "sudo_error",
    "useradd_user",
)
_EMPTY: dict[str, Any] = dict.fromkeys(FIELDS)

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
# DOTALL everywhere: a message may legitimately contain newlines (stack traces, multi-line agent events).
# After the host comes an optional tag = program name (no blanks, brackets or colons) with an optional [pid];
# a line without a tag keeps app_name NULL and msg = everything after the host.
_TAG = r"(?:(?P<app>[^\s\[\]:]{1,128})(?:\[(?P<pid>[^\]\s]{1,32})\])?: ?)?(?P<msg>.*)"
_MON = r"(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_BSD = re.compile(
    r"(?:<\d{1,3}>)?(?P<ts>" + _MON + r" (?P<day>[ \d]\d) (?P<hms>\d\d:\d\d:\d\d)) (?P<host>\S+) " + _TAG,
    re.DOTALL,
)
_BSD3339 = re.compile(
    r"(?:<\d{1,3}>)?(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)) (?P<host>\S+) "
    + _TAG,
    re.DOTALL,
)
# RFC 5424 structured data: one or more [id k="v" ...] with \" \] \\ escapes inside values.
_SD = r'(?:-|(?:\[[^\s\]="]+(?: [^\s\]="]+="(?:[^"\\]|\\.)*")*\])+)'
_RFC5424 = re.compile(
    r"<\d{1,3}>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) (?P<msgid>\S+) (?P<sd>" + _SD + r")"
    r"(?: (?P<msg>.*))?",
    re.DOTALL,
)

# sshd: "<Accepted|Failed> <method> for [invalid user ]<user>" + " from <ip> port <port>[ ssh2][: key info]".
# The head is split from the tail at the LAST " from ", which sshd writes after the (client-chosen) user name.
_SSH_HEAD = re.compile(
    r"(?P<verb>Accepted|Failed) (?P<method>\S+) for (?:invalid user )?(?P<user>.*)", re.DOTALL
)
_SSH_TAIL = re.compile(r"(?P<ip>\S+) port (?P<port>\d{1,5})(?: ssh2)?(?::|$| \[preauth\])")
# "Disconnected from [invalid|authenticating ]user <user> <ip> port <port>" and "Connection closed by ...".
_SSH_BY = re.compile(
    r"(?:(?:invalid|authenticating) )?(?:user (?P<user>.*) )?(?P<ip>\S+) port (?P<port>\d{1,5})"
    r"(?: \[preauth\])?$",
    re.DOTALL,
)
_SSH_METHOD = {"keyboard-interactive/pam": "keyboard_interactive", "gssapi-with-mic": "gssapi"}
_SSHD = frozenset({"sshd", "sshd-session", "sshd-auth"})  # OpenSSH 9.8+ logs as sshd-session
_USERADD = re.compile(r"new user: name=(?P<user>[^,\s]+)")
_AUTH_APPS = _SSHD | {"sudo", "useradd"}
_BSD_CACHE: dict[tuple[str, int], datetime | None] = {}
_MAX_STRUCTURED = 16 * 1024  # longer messages keep header fields only; auth lines are far shorter


def parse_message(message: str, ref: datetime) -> dict[str, Any]:
    """Parse one log message into FIELDS; `ref` (the CloudWatch timestamp, UTC) supplies the missing year."""
    out = _EMPTY.copy()
    head = message[:1]
    if (head == "{" or (head.isspace() and message.lstrip().startswith("{"))) and _json(message, out):
        return out
    if head == "<":  # RFC 5424 always has a PRI; RFC 3164 may
        m5 = _RFC5424.match(message)
        if m5 is not None:
            _rfc5424(m5, out)
            if out["app_name"] in _AUTH_APPS:
                _auth(out)
            return out
    m = _BSD.match(message)
    if m is not None:
        ts, mon, day, hms, host, app, pid, msg = m.groups()
        out["syslog_time"] = _bsd_time(ts, mon, day, hms, ref)
    else:
        m = _BSD3339.match(message)
        if m is None:
            return out
        ts, host, app, pid, msg = m.groups()
        out["syslog_time"] = _iso_time(ts)
    out["syslog_format"] = "rfc3164"
    out["syslog_timestamp"] = ts
    out["hostname"] = host
    out["app_name"] = app
    out["proc_id"] = pid
    out["msg"] = msg
    if app in _AUTH_APPS:
        _auth(out)
    return out


def _json(message: str, out: dict[str, Any]) -> bool:
    """A JSON application log: keep it as-is, lift the common message/host/app/time keys when they are text."""
    try:
        doc = orjson.loads(message)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(doc, dict):
        return False
    out["syslog_format"] = "json"
    out["msg"] = _first_str(doc, ("msg", "message"))
    out["hostname"] = _first_str(doc, ("hostname", "host"))
    out["app_name"] = _first_str(doc, ("app", "app_name", "service"))
    pid = doc.get("pid")
    out["proc_id"] = str(pid) if isinstance(pid, int | str) and not isinstance(pid, bool) else None
    ts = _first_str(doc, ("time", "timestamp", "@timestamp", "ts"))
    out["syslog_timestamp"] = ts
    out["syslog_time"] = _iso_time(ts) if ts else None
    return True


def _first_str(doc: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for k in keys:
        v = doc.get(k)
        if isinstance(v, str):
            return v
    return None


def _rfc5424(m: re.Match[str], out: dict[str, Any]) -> None:
    nil = "-"
    ts = m["ts"]
    out["syslog_format"] = "rfc5424"
    out["syslog_timestamp"] = None if ts == nil else ts
    out["syslog_time"] = None if ts == nil else _iso_time(ts)
    out["hostname"] = None if m["host"] == nil else m["host"]
    out["app_name"] = None if m["app"] == nil else m["app"]
    out["proc_id"] = None if m["pid"] == nil else m["pid"]
    msg = m["msg"]
    out["msg"] = msg[1:] if msg and msg[0] == "\ufeff" else msg  # RFC 5424 marks UTF-8 text with a BOM


def _bsd_time(ts: str, mon: str, day: str, hms: str, ref: datetime) -> datetime | None:
    """RFC 3164 has no year: take ref's, or the one either side when the months are more than 6 apart.

    So a line written `Dec 31 23:59:59` and received by CloudWatch at 00:00:02 on Jan 1 lands in the old year,
    and `Jan  1 00:00:01` stamped by a host whose clock runs ahead of CloudWatch lands in the new one. The time
    is taken as UTC (the EC2 AMI default); a host on local time shows up as an offset from event_time.
    Resolved times are cached: a busy stream repeats the same second many times.
    """
    month = _MONTHS.get(mon)
    if month is None:
        return None
    year = ref.year
    if month - ref.month > 6:
        year -= 1
    elif ref.month - month > 6:
        year += 1
    key = (ts, year)
    try:
        return _BSD_CACHE[key]
    except KeyError:
        pass
    try:
        t: datetime | None = datetime(
            year, month, int(day), int(hms[:2]), int(hms[3:5]), int(hms[6:8]), tzinfo=UTC
        )
    except ValueError:  # Feb 29 in a non-leap year, 31 Nov, hour 24, ...
        t = None
    if len(_BSD_CACHE) >= 4096:
        _BSD_CACHE.clear()
    _BSD_CACHE[key] = t
    return t


def _iso_time(ts: str) -> datetime | None:
    """RFC 3339 / ISO-8601 with an offset → aware UTC; zone-less text is taken as UTC; garbage → None."""
    if len(ts) > 40:
        return None
    try:
        t = datetime.fromisoformat(ts.replace("Z", "+00:00") if ts.endswith(("Z", "z")) else ts)
    except ValueError:
        # Python 3.11 rejects >6 fractional digits (rsyslog/RFC 5424 allow 9): trim them.
        m = re.fullmatch(r"(.*\.\d{6})\d+(.*)", ts)
        if m is None:
            return None
        return _iso_time(m[1] + m[2])
    if t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    try:
        return t.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _auth(out: dict[str, Any]) -> None:
    """Structured fields for sshd logins, sudo and useradd, keyed on the program name."""
    app, msg = out["app_name"], out["msg"]
    if not msg or len(msg) > _MAX_STRUCTURED:
        return
    if app in _SSHD:
        _sshd(msg, out)
    elif app == "sudo":
        _sudo(msg, out)
    elif app == "useradd":
        m = _USERADD.match(msg)
        if m is not None:
            out["useradd_user"] = m["user"]


def _sshd(msg: str, out: dict[str, Any]) -> None:
    event: str | None = None
    user: str | None = None
    peer: re.Match[str] | None = None
    if msg.startswith(("Accepted ", "Failed ")):
        head, sep, tail = msg.rpartition(" from ")
        h = _SSH_HEAD.fullmatch(head) if sep else None
        peer = _SSH_TAIL.match(tail) if h is not None else None
        if h is not None:
            method = h["method"]
            event = f"{h['verb'].lower()}_{_SSH_METHOD.get(method, method.replace('-', '_'))}"
            user = h["user"]
    elif msg.startswith(("Invalid user ", "error: maximum authentication attempts exceeded for ")):
        head, sep, tail = msg.rpartition(" from ")
        peer = _SSH_TAIL.match(tail) if sep else None
        if msg[0] == "I":
            event, user = "invalid_user", head[len("Invalid user ") :]
        else:
            event, user = (
                "max_auth_exceeded",
                head[len("error: maximum authentication attempts exceeded for ") :],
            )
            user = user.removeprefix("invalid user ")
    elif msg.startswith("Received disconnect from "):
        # "Received disconnect from <ip> port <port>:11: <reason> [preauth]": no user name here
        event, peer = "disconnect", _SSH_TAIL.match(msg[len("Received disconnect from ") :])
    elif msg.startswith(("Disconnected from ", "Connection closed by ")):
        d = msg[0] == "D"
        event = "disconnect" if d else "connection_closed"
        peer = _SSH_BY.match(msg[len("Disconnected from ") if d else len("Connection closed by ") :])
        user = peer["user"] if peer is not None else None
    if event is None or peer is None:
        return
    out["ssh_event"], out["ssh_user"] = event, user or None
    if is_ip(peer["ip"]):
        out["ssh_src_ip"] = peer["ip"]
    port = int(peer["port"])
    if port <= 65535:
        out["ssh_src_port"] = port


def _sudo(msg: str, out: dict[str, Any]) -> None:
    """`alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash`, or with an error first
    (`3 incorrect password attempts ;`, `user NOT in sudoers ;`). COMMAND is last and may itself contain
    ` ; `, so it is cut off before the rest is split."""
    user, sep, rest = msg.lstrip().partition(" : ")
    if not sep or not user or " " in user:
        return
    body, csep, command = rest.partition("COMMAND=")
    fields = [f.strip() for f in body.split(" ; ")]
    kv: dict[str, str] = {}
    errors: list[str] = []
    for f in fields:
        if not f:
            continue
        k, eq, v = f.partition("=")
        if eq and k.isupper():
            kv[k] = v
        else:
            errors.append(f.rstrip(" ;"))
    if not csep and "TTY" not in kv and "USER" not in kv:
        return
    out["sudo_user"] = user
    out["sudo_run_as"] = kv.get("USER")
    out["sudo_command"] = command if csep else None
    out["sudo_error"] = "; ".join(e for e in errors if e) or None
