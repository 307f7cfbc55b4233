"""Incidents: alerts that share an entity within a horizon, so one attacker is triaged once, not 26 times.

An incident is a connected component of a graph whose nodes are alerts: two alerts are joined when they carry
the same entity and at most the horizon (`MAMORI_INCIDENT_HORIZON_HOURS`, 24 h) lies between them in event
time (the gap between their [first_seen, last_seen] spans; 24 h joins, 24 h + 1 s does not). Entities chain:
a scan and a web attack share the address, the address meets a console login, the login's user creates a
key for another user, that user stops CloudTrail: one incident.

Entities are read from an alert's dedup values and samples (the hit rows) by column name:

| column                              | entity                                                                |
|-------------------------------------|-----------------------------------------------------------------------|
| actor, principal, target_user       | principal: an ARN (IAM users without their path), or a bare IAM user  |
|                                     | name on CloudTrail, read as the user of the alert's account           |
| source_ip                           | ip (a service name such as `ec2.amazonaws.com` is not an address)     |
| access_key_id, new_access_key_id    | access_key (AKIA…/ASIA…)                                              |
| instance_id, log_stream             | instance (i-…; a log stream counts only when named after its instance)|
| target, bucket_name                 | resource, named within the alert's account (`111111111111/sg-…`)     |
| shared_with, target_account         | account (another account than the alert's own)                        |

Whatever the column, a value that is an IP address is an `ip`, an ARN of an IAM user, role or session is a
`principal`, `i-…` an instance and `AKIA…` a key: ALB and VPC flow rules put the client address in `actor`,
VPC flow rules the peer address in `target`. Not entities: the account alone (it would join every alert of
the account), CIDRs (`0.0.0.0/0` is a rule's argument, not a thing), a syslog user name (root and ec2-user
exist on every host: the host is the entity), user agents, and anything longer than 512 characters.

Noise never joins on its own: the reviewed stop list `sql/incidents.yaml` (AWS service principals, `AWS
Internal`, private / loopback / link-local networks, shared CI roles, ...), and the cardinality guard: an
entity already seen in more than `MAMORI_INCIDENT_MAX_ENTITY_ALERTS` alerts within the horizon before an alert
(that alert included) does not join that alert. The count looks back only, so it is fixed once the horizon
before the alert has been detected: later alerts never change how earlier ones were joined.

Deterministic and idempotent. The edges are a function of the alerts; membership is kept once written (an
alert stays in its incident), so incidents only grow or merge. A new incident's id is a hash of its earliest
member's alert key. When an alert bridges two incidents, the older one (earliest first_seen, then id)
survives under its id, and the merge is one `incident_merges` row keyed by the merged incident. Re-running a
window finds every touched alert already placed and writes the same values; a backfill into an empty ledger
replays the same windows in the same order and gives the same ids and members. (Windows recorded out of time
order give the same members; the merge history may then show fewer merges, since both sides were seen at once.)

Health and data-quality alerts (`mamori_*`) are about the pipeline, not an attacker: they are not grouped.
Severity is the highest of the members', raised one level (critical stays critical) when the members' rules
span at least `escalate_at_tactics` ATT&CK tactics (sql/incidents.yaml), with the reason stored.

The grouping for a window runs in one transaction, serialized across processes (an advisory lock on
PostgreSQL, the write lock on SQLite), because two detect runs may record at once (max_active_runs=2).
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.engine import Connection

from mamori.alerts import triage
from mamori.alerts.ledger import (
    ALERT_HITS,
    ALERTS,
    INCIDENT_ALERTS,
    INCIDENT_MERGES,
    INCIDENTS,
    Alert,
    Ledger,
    lock_incidents,
)
from mamori.alerts.render import one_line
from mamori.config import Settings, load_settings
from mamori.sources import SPECS

POLICY_FILE = "incidents.yaml"
SEVERITIES = ("info", "low", "medium", "high", "critical")
KINDS = ("principal", "ip", "access_key", "instance", "resource", "account")
HEALTH_PREFIX = "mamori_"  # sql/health/mamori_*.yaml: pipeline alerts, never grouped
MAX_VALUE = 512
MAX_LIST = 50
MAX_SHOWN_ENTITIES = 10

# Column name → the entity its values name (the table in the module docstring).
COLUMN_KINDS: Mapping[str, str] = {
    "actor": "principal",
    "principal": "principal",
    "target_user": "principal",
    "source_ip": "ip",
    "access_key_id": "access_key",
    "new_access_key_id": "access_key",
    "instance_id": "instance",
    "log_stream": "instance",
    "target": "resource",
    "bucket_name": "resource",
    "shared_with": "account",
    "target_account": "account",
}
# Sources whose bare principal names are IAM user names (console sign-in events name the user that way),
# as their specs declare.
IAM_NAME_SOURCES = frozenset(s.name for s in SPECS.values() if s.principal_names_are_iam_users)

_INSTANCE = re.compile(r"i-(?:[0-9a-f]{8}|[0-9a-f]{17})")
_ACCESS_KEY = re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}")
_ACCOUNT = re.compile(r"\d{12}")
_IAM_NAME = re.compile(r"[\w+=,.@-]{1,64}")
_SERVICE = re.compile(r"[a-z0-9.-]+\.amazonaws\.com(?:\.cn)?")
_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):(?P<service>[a-z0-9-]+):[a-z0-9-]*:(?P<account>\d{12})?:(?P<res>.+)"
)
_PLACEHOLDERS = frozenset({"-", "null", "none", "unknown", "n/a"})
_SLACK = timedelta(minutes=1)  # widens SQL prefilters on ISO text; the exact test is done on datetimes


class Entity(NamedTuple):
    kind: str
    value: str


class IncidentPolicyError(ValueError):
    """sql/incidents.yaml is missing or invalid; the message names the file and the entry."""


class _StopList(BaseModel):
    model_config = ConfigDict(extra="forbid")
    principal: list[str] = Field(default_factory=list)
    ip: list[str] = Field(default_factory=list)
    access_key: list[str] = Field(default_factory=list)
    instance: list[str] = Field(default_factory=list)
    resource: list[str] = Field(default_factory=list)
    account: list[str] = Field(default_factory=list)


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stop: _StopList
    escalate_at_tactics: int = Field(ge=1)


@dataclass(frozen=True)
class Policy:
    """What joins: the horizon and guard (settings) and the reviewed stop list and escalation (the file)."""

    horizon: timedelta = timedelta(hours=24)
    max_entity_alerts: int = 50
    escalate_at_tactics: int = 3
    patterns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def stopped(self, e: Entity) -> bool:
        """True for an entity the stop list says never joins alerts on its own."""
        if e.kind == "ip":
            addr = ipaddress.ip_address(e.value)
            return any(addr.version == n.version and addr in n for n in self.networks)
        return any(fnmatchcase(e.value, p) for p in self.patterns.get(e.kind, ()))


def load_policy(settings: Settings | None = None) -> Policy:
    """The policy for grouping: settings plus sql/incidents.yaml (a missing or malformed file raises)."""
    s = settings or load_settings()
    path = Path(s.sql_dir) / POLICY_FILE
    if not path.is_file():
        raise IncidentPolicyError(f"{path}: missing; it lists the entities that never join alerts")
    doc, networks = _read_policy(str(path), path.stat().st_mtime)
    stop = doc.stop.model_dump()
    return Policy(
        horizon=s.incident_horizon,
        max_entity_alerts=s.incident_max_entity_alerts,
        escalate_at_tactics=doc.escalate_at_tactics,
        patterns={k: tuple(v) for k, v in stop.items() if k != "ip"},
        networks=networks,
    )


@lru_cache(maxsize=8)
def _read_policy(
    path: str, mtime: float
) -> tuple[_PolicyFile, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]]:
    try:
        doc = _PolicyFile.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise IncidentPolicyError(f"{path}: invalid:\n{exc}") from exc
    networks = []
    for entry in doc.stop.ip:
        try:
            networks.append(ipaddress.ip_network(entry, strict=True))
        except ValueError as exc:
            raise IncidentPolicyError(f"{path}: stop.ip entry {entry!r} is not a network: {exc}") from exc
    return doc, tuple(networks)


# -- entities ------------------------------------------------------------------------------------------------


def alert_entities(alert: Alert) -> set[Entity]:
    """Every entity an alert names, by column (the table in the module docstring), before any noise filter."""
    account = _text(alert.dedup_values.get("account_id"))
    out: set[Entity] = set()
    for row in [alert.dedup_values, *alert.samples]:
        acct = _text(row.get("account_id")) or account
        for column, kind in COLUMN_KINDS.items():
            raw = row.get(column)
            for value in raw[:MAX_LIST] if isinstance(raw, list) else [raw]:
                e = _entity(kind, _text(value), acct, alert.log_source)
                if e is not None:
                    out.add(e)
    return out


def _text(v: Any) -> str | None:
    return v.strip() if isinstance(v, str) else None


def _entity(kind: str, v: str | None, account: str | None, log_source: str) -> Entity | None:
    if not v or len(v) > MAX_VALUE or v.lower() in _PLACEHOLDERS:
        return None
    addr = _ip(v)
    if addr is not None:
        return Entity("ip", addr)
    if kind == "ip" or ("/" in v and _is_network(v)):
        return None  # a service name where an address goes; a CIDR names no one
    if _INSTANCE.fullmatch(v):
        return Entity("instance", v)
    if _ACCESS_KEY.fullmatch(v):
        return Entity("access_key", v)
    if v.startswith("arn:"):
        return _arn_entity(v)
    if kind == "principal":
        if log_source not in IAM_NAME_SOURCES:
            return None  # a local account (syslog's root exists on every host) or a requester id
        if _SERVICE.fullmatch(v) or not _IAM_NAME.fullmatch(v) or not account:
            return Entity("principal", v)  # a service, "AWS Internal": as written, for the stop list to match
        return Entity("principal", f"arn:aws:iam::{account}:user/{v}")
    if kind == "resource" and account:
        return Entity("resource", f"{account}/{v}")
    if kind == "account" and _ACCOUNT.fullmatch(v) and v != account:
        return Entity("account", v)
    return None


def _ip(v: str) -> str | None:
    try:
        addr = ipaddress.ip_address(v)
    except ValueError:
        return None
    mapped = getattr(addr, "ipv4_mapped", None)
    return str(mapped or addr)


def _is_network(v: str) -> bool:
    try:
        ipaddress.ip_network(v, strict=False)
    except ValueError:
        return False
    return True


def _arn_entity(v: str) -> Entity:
    """IAM users, roles, root and sessions are principals (users without their path, as bare names map);
    any other ARN is a resource, already scoped by its account."""
    m = _ARN.fullmatch(v)
    if m is None:
        return Entity("resource", v)
    service, res = m["service"], m["res"]
    if service == "iam" and res.startswith("user/") and m["account"]:
        return Entity("principal", f"arn:{m['partition']}:iam::{m['account']}:user/{res.rsplit('/', 1)[1]}")
    if (service == "iam" and (res == "root" or res.startswith("role/"))) or (
        service == "sts" and res.startswith(("assumed-role/", "federated-user/"))
    ):
        return Entity("principal", v)
    return Entity("resource", v)


# -- tactics -------------------------------------------------------------------------------------------------
_HEADER = re.compile(r"\A\s*/\*(?P<header>.*?)\*/", re.S)


def rule_tactics(sql_dir: Path, detection_id: str) -> tuple[str, ...]:
    """The ATT&CK tactics (TA…) of a rule's `mitre` entries, from its header only (no SQL is parsed).
    A rule that was deleted or does not load has none: it cannot raise an incident's severity."""
    matches = sorted(Path(sql_dir).glob(f"detections/*/{detection_id}.sql"))
    if len(matches) != 1:
        return ()
    return _tactics_in(str(matches[0]), matches[0].stat().st_mtime)


@lru_cache(maxsize=512)
def _tactics_in(path: str, mtime: float) -> tuple[str, ...]:
    m = _HEADER.match(Path(path).read_text(encoding="utf-8"))
    try:
        header = yaml.safe_load(m["header"]) if m else None
    except yaml.YAMLError:
        return ()
    mitre = header.get("mitre") if isinstance(header, dict) else None
    if not isinstance(mitre, list):
        return ()
    return tuple(sorted({str(x).split(":", 1)[0] for x in mitre if str(x).startswith("TA")}))


# -- grouping ------------------------------------------------------------------------------------------------


def incident_id(founder_key: str) -> str:
    """A new incident's id: a hash of its earliest member's alert key (stable across re-runs and backfills)."""
    return hashlib.sha256(f"incident:{founder_key}".encode()).hexdigest()[:32]


def record_incidents(start: datetime, end: datetime, settings: Settings | None = None) -> dict[str, int]:
    """Group the alerts the detection window [start, end) recorded, with their neighbours within the horizon.

    Called once per window after every rule's alerts are recorded (`detect.summarize_window`, backfill's
    detect step). Returns counts for the run's summary: alerts touched, incidents they are in, incidents
    opened and merged by this call.
    """
    s = settings or load_settings()
    sql_dir = Path(s.sql_dir)
    return group_window(Ledger(s.ledger_url), start, end, load_policy(s), lambda d: rule_tactics(sql_dir, d))


@dataclass
class _Node:
    alert: Alert
    first: datetime
    last: datetime
    entities: set[Entity]


def group_window(
    ledger: Ledger,
    start: datetime,
    end: datetime,
    policy: Policy,
    tactics: Callable[[str], Iterable[str]],
    now: datetime | None = None,
) -> dict[str, int]:
    """`record_incidents` with its inputs given (the policy, and the tactics of a rule id). A closed incident
    that gains alerts is re-opened (`triage.reopen_grown`, an action by mamori at `now`, the wall clock)."""
    we = end.isoformat()
    h = policy.horizon
    summary = {"alerts": 0, "incidents": 0, "opened": 0, "merged": 0}
    with ledger.engine.begin() as conn:
        lock_incidents(conn)
        touched = {
            r[0]
            for r in conn.execute(
                sa.select(ALERTS.c.alert_key)
                .join(ALERT_HITS, ALERT_HITS.c.alert_key == ALERTS.c.alert_key)
                .where(ALERT_HITS.c.window_start == start.isoformat(), _not_health())
            )
        }
        if not touched:
            return summary
        nodes = _nodes(conn, ALERTS.c.alert_key.in_(sorted(touched)), policy)
        lo = min(n.first for n in nodes.values())
        hi = max(n.last for n in nodes.values())
        # Alerts that can join the touched ones: spans within the horizon of theirs.
        near = {
            k: n
            for k, n in _nodes(
                conn,
                sa.and_(
                    ALERTS.c.last_seen >= _iso(lo - h - _SLACK), ALERTS.c.first_seen <= _iso(hi + h + _SLACK)
                ),
                policy,
            ).items()
            if n.last >= lo - h and n.first <= hi + h
        }
        near.update(nodes)
        # The guard counts every alert of the horizon before each of those (they need not be near).
        c_lo = min(n.first for n in near.values()) - h
        c_hi = max(n.first for n in near.values())
        counted = _nodes(
            conn,
            sa.and_(ALERTS.c.first_seen > _iso(c_lo - _SLACK), ALERTS.c.first_seen <= _iso(c_hi + _SLACK)),
            policy,
        )
        counted.update(near)

        uf = _UnionFind()
        for k in near:
            uf.add(k)
        _join_on_entities(uf, near, counted, policy)
        member_of = {
            r.alert_key: r.incident_id
            for r in conn.execute(
                sa.select(INCIDENT_ALERTS).where(INCIDENT_ALERTS.c.alert_key.in_(sorted(near)))
            )
        }
        for k, iid in member_of.items():  # membership is kept: placed alerts stay with their incident
            uf.union(k, f"incident:{iid}")
        incident_first = {
            r.incident_id: r.first_seen
            for r in conn.execute(
                sa.select(INCIDENTS.c.incident_id, INCIDENTS.c.first_seen).where(
                    INCIDENTS.c.incident_id.in_(sorted(set(member_of.values())))
                )
            )
        }

        components: dict[str, list[str]] = {}
        for k in near:
            components.setdefault(uf.find(k), []).append(k)
        changed: set[str] = set()
        for keys in components.values():
            if touched.isdisjoint(keys):
                continue  # neighbours only: their own window places them
            order = sorted(keys, key=lambda k: (near[k].first, k))
            stored = sorted({member_of[k] for k in keys if k in member_of})
            new = [k for k in order if k not in member_of]
            losers: list[str] = []
            if not stored:
                iid = incident_id(order[0])
                conn.execute(INCIDENTS.insert().values(_placeholder(iid, we)))
                summary["opened"] += 1
            else:
                iid = min(stored, key=lambda i: (incident_first[i], i))
                losers += [i for i in stored if i != iid]
                for loser in losers:
                    _merge(conn, loser, iid, new[0] if new else None, we)
                    summary["merged"] += 1
            for k in new:
                conn.execute(
                    INCIDENT_ALERTS.insert().values(alert_key=k, incident_id=iid, joined_window_end=we)
                )
            if stored and (new or losers):
                triage.reopen_grown(conn, iid, _growth_note(new, losers, near, we), now)
            changed.add(iid)
        for iid in sorted(changed):
            _refresh(conn, iid, policy, tactics)
        summary.update(alerts=len(touched), incidents=len(changed))
    return summary


def _growth_note(new: list[str], merged: list[str], near: dict[str, _Node], window_end: str) -> str:
    """Why mamori re-opened a closed incident: the alerts that joined (rule and key) and the incidents merged
    into it, in the window ending at `window_end`. Rule ids and keys are ours, not log text."""
    parts = [f"{near[k].alert.detection_id} {k}" for k in new]
    parts += [f"incident {i} merged in" for i in merged]
    return f"alerts joined in the detect window ending {window_end}: " + "; ".join(parts)


def _not_health() -> sa.ColumnElement[bool]:
    return sa.not_(ALERTS.c.detection_id.startswith(HEALTH_PREFIX, autoescape=True))


def _iso(t: datetime) -> str:
    return t.isoformat()


def _nodes(conn: Connection, where: sa.ColumnElement[bool], policy: Policy) -> dict[str, _Node]:
    out = {}
    for r in conn.execute(sa.select(ALERTS).where(where, _not_health())):
        a = Alert.from_row(r)
        ents = {e for e in alert_entities(a) if not policy.stopped(e)}
        out[a.key] = _Node(a, datetime.fromisoformat(a.first_seen), datetime.fromisoformat(a.last_seen), ents)
    return out


def _join_on_entities(
    uf: _UnionFind, near: dict[str, _Node], counted: dict[str, _Node], policy: Policy
) -> None:
    """Union alerts of `near` that share an entity within the horizon, skipping alerts for which the entity
    is past the cardinality guard (more than N alerts carried it in the horizon up to that alert)."""
    h = policy.horizon
    seen_at: dict[Entity, list[datetime]] = {}
    for n in counted.values():
        for e in n.entities:
            seen_at.setdefault(e, []).append(n.first)
    for times in seen_at.values():
        times.sort()
    carriers: dict[Entity, list[str]] = {}
    for k, n in near.items():
        for e in n.entities:
            times = seen_at[e]
            in_horizon = bisect.bisect_right(times, n.first) - bisect.bisect_right(times, n.first - h)
            if in_horizon <= policy.max_entity_alerts:
                carriers.setdefault(e, []).append(k)
    for keys in carriers.values():
        # Sweep in start order: an alert within the horizon of any earlier one is within it of the earlier
        # one that ends last, and joining to that one gives the same components as every pairwise edge.
        keys.sort(key=lambda k: (near[k].first, near[k].last, k))
        reach_key, reach = keys[0], near[keys[0]].last
        for k in keys[1:]:
            n = near[k]
            if n.first - reach <= h:
                uf.union(k, reach_key)
            if n.last > reach:
                reach_key, reach = k, n.last


def _placeholder(iid: str, window_end: str) -> dict[str, Any]:
    return {
        "incident_id": iid,
        "status": "open",
        "severity": "info",
        "severity_reason": "",
        "tactics": "[]",
        "entities": "[]",
        "alert_count": 0,
        "first_seen": "",
        "last_seen": "",
        "opened_window_end": window_end,
    }


def _merge(conn: Connection, loser: str, survivor: str, bridge: str | None, window_end: str) -> None:
    """Fold `loser` into `survivor`: one merge row (keyed by the merged incident), its members moved."""
    done = conn.execute(
        sa.select(INCIDENT_MERGES.c.merged_id).where(INCIDENT_MERGES.c.merged_id == loser)
    ).first()
    if done is None:
        conn.execute(
            INCIDENT_MERGES.insert().values(
                merged_id=loser, into_id=survivor, bridge_alert=bridge, window_end=window_end
            )
        )
    conn.execute(INCIDENTS.update().where(INCIDENTS.c.incident_id == loser).values(status="merged"))
    conn.execute(
        INCIDENT_ALERTS.update().where(INCIDENT_ALERTS.c.incident_id == loser).values(incident_id=survivor)
    )


def _members(conn: Connection, iid: str) -> list[Alert]:
    q = (
        sa.select(ALERTS)
        .join(INCIDENT_ALERTS, INCIDENT_ALERTS.c.alert_key == ALERTS.c.alert_key)
        .where(INCIDENT_ALERTS.c.incident_id == iid)
        .order_by(ALERTS.c.first_seen, ALERTS.c.alert_key)
    )
    return [Alert.from_row(r) for r in conn.execute(q)]


def _refresh(conn: Connection, iid: str, policy: Policy, tactics: Callable[[str], Iterable[str]]) -> None:
    """Recompute an incident's summary from all its members (so a re-run writes the same values)."""
    members = _members(conn, iid)
    tacts = sorted({t for d in {a.detection_id for a in members} for t in tactics(d)})
    severity, reason = incident_severity([a.severity for a in members], tacts, policy.escalate_at_tactics)
    conn.execute(
        INCIDENTS.update()
        .where(INCIDENTS.c.incident_id == iid)
        .values(
            severity=severity,
            severity_reason=reason,
            tactics=orjson.dumps(tacts).decode(),
            entities=orjson.dumps(shared_entities(members, policy)).decode(),
            alert_count=len(members),
            first_seen=min(a.first_seen for a in members),
            last_seen=max(a.last_seen for a in members),
        )
    )


def incident_severity(severities: Iterable[str], tactics: list[str], escalate_at: int) -> tuple[str, str]:
    """(severity, reason): the members' highest, one level up when they span `escalate_at`+ tactics."""
    base = max(severities, key=_rank)
    reason = f"{base} (highest of its alerts)"
    if len(tactics) < escalate_at:
        return base, reason
    span = (
        f"the alerts span {len(tactics)} ATT&CK tactics ({', '.join(tactics)}; "
        f"{escalate_at} or more raise it one level)"
    )
    if base == SEVERITIES[-1]:
        return base, f"{reason}; {span}, and it is already the highest level"
    raised = SEVERITIES[_rank(base) + 1]
    return raised, f"{reason}, raised to {raised}: {span}"


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def shared_entities(members: list[Alert], policy: Policy) -> list[dict[str, Any]]:
    """The entities an incident's alerts share, most shared first (an alert alone: its own entities), not
    stop-listed; what a responder pivots on first."""
    counts: Counter[Entity] = Counter()
    for a in members:
        counts.update(e for e in alert_entities(a) if not policy.stopped(e))
    floor = 2 if len(members) > 1 else 1
    ranked = sorted(
        (e for e, n in counts.items() if n >= floor), key=lambda e: (-counts[e], KINDS.index(e.kind), e.value)
    )
    return [{"kind": e.kind, "value": e.value, "alerts": counts[e]} for e in ranked[:MAX_SHOWN_ENTITIES]]


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def add(self, x: str) -> None:
        self.parent.setdefault(x, x)

    def find(self, x: str) -> str:
        self.add(x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(
                ra, rb
            )  # deterministic roots (not that the result depends on them)


# -- reads ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    """An incident as the CLI and the demo show it, members included."""

    incident_id: str
    status: str  # open | acknowledged | closed | merged
    severity: str
    severity_reason: str
    tactics: list[str]
    entities: list[dict[str, Any]]
    first_seen: str
    last_seen: str
    opened_window_end: str
    members: list[Alert]
    verdict: str | None = None  # a closed incident's (triage.VERDICTS)

    @property
    def open(self) -> bool:
        """Not closed or merged away, and at least one member alert still open (its ticket not closed)."""
        return self.status in ("open", "acknowledged") and any(a.status == "open" for a in self.members)

    @property
    def state(self) -> str:
        """The state a responder reads: open, acknowledged, closed (verdict), merged, or resolved (every
        alert's own ticket was closed)."""
        if self.status == "closed":
            return f"closed ({self.verdict})"
        if self.status == "merged":
            return "merged"
        return self.status if self.open else "resolved"


def incident_from_row(conn: Connection, r: Any) -> Incident:
    """One `Incident` from a row of the incidents table, with its member alerts read on `conn`. Public because
    the queue filters rows in Python and builds the page's incidents itself."""
    return Incident(
        incident_id=r.incident_id,
        status=r.status,
        severity=r.severity,
        severity_reason=r.severity_reason,
        tactics=orjson.loads(r.tactics),
        entities=orjson.loads(r.entities),
        first_seen=r.first_seen,
        last_seen=r.last_seen,
        opened_window_end=r.opened_window_end,
        members=_members(conn, r.incident_id),
        verdict=r.verdict,
    )


def list_incidents(ledger: Ledger, open_only: bool = False) -> list[Incident]:
    """Live incidents (merged ones are folded into their survivors), oldest first, with their members."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(INCIDENTS)
            .where(INCIDENTS.c.status != "merged")
            .order_by(INCIDENTS.c.first_seen, INCIDENTS.c.incident_id)
        ).all()
        out = [incident_from_row(conn, r) for r in rows]
    return [i for i in out if i.open] if open_only else out


def get_incident(ledger: Ledger, incident: str) -> tuple[Incident, list[triage.Action]]:
    """One live incident by its id or a unique prefix, with its triage record (a merged one names the
    incident that holds its alerts)."""
    with ledger.engine.connect() as conn:
        row = triage.find(conn, incident)
        if row.status == "merged":
            raise triage.TriageError(
                f"incident {row.incident_id} was merged into {triage.survivor(conn, row.incident_id)}: "
                "show that one, which holds its alerts"
            )
        return incident_from_row(conn, row), triage.actions(conn, row.incident_id)


def merges(ledger: Ledger) -> list[dict[str, Any]]:
    """Every merge, in the order they happened (window), then by merged id."""
    with ledger.engine.connect() as conn:
        q = sa.select(INCIDENT_MERGES).order_by(INCIDENT_MERGES.c.window_end, INCIDENT_MERGES.c.merged_id)
        return [dict(r._mapping) for r in conn.execute(q)]


def describe(inc: Incident, members: bool = True) -> Iterator[str]:
    """Lines for a terminal: the incident, why its severity, what it shares, its rules or its alerts.
    Entity values and dedup values come from logs: shown through `one_line` so nothing hides, rewrites the
    screen or starts a line of its own."""
    yield _headline(inc)
    yield f"  severity  {inc.severity_reason}"
    if inc.entities:
        yield "  entities  " + ", ".join(
            f"{e['kind']} {one_line(str(e['value']))}"
            + (f" ({e['alerts']} alerts)" if e["alerts"] > 1 else "")
            for e in inc.entities
        )
    rules = Counter(a.detection_id for a in inc.members)
    if not members:
        yield "  rules     " + ", ".join(
            f"{d}" + (f" ×{n}" if n > 1 else "") for d, n in sorted(rules.items())
        )
        return
    for a in inc.members:
        values = " ".join(f"{k}={one_line(str(v))}" for k, v in a.dedup_values.items())
        yield f"    {_short(a.first_seen)}  {a.severity:8}  {a.detection_id}  {a.key[:12]}  {values}"


def _headline(inc: Incident) -> str:
    return (
        f"{inc.incident_id}  {inc.severity:8}  {len(inc.members)} alert(s)  "
        f"{_short(inc.first_seen)} → {_short(inc.last_seen)}  {inc.state}"
    )


def timeline(
    inc: Incident,
    actions: list[triage.Action],
    tactics: Callable[[str], Iterable[str]],
    policy: Policy | None = None,
) -> Iterator[str]:
    """`mamori incidents show`: the incident, its alerts oldest first (time, severity, rule, tactics, the
    entities each names, stop-listed ones left out when a policy is given) and its triage record. Log-derived
    values and the analysts' notes go through `one_line`."""
    yield _headline(inc)
    yield f"  severity  {inc.severity_reason}"
    if inc.tactics:
        yield f"  tactics   {', '.join(inc.tactics)}"
    if inc.entities:
        yield "  shared    " + ", ".join(f"{e['kind']} {one_line(str(e['value']))}" for e in inc.entities)
    yield "  alerts"
    rule_w = max([len("rule"), *(len(a.detection_id) for a in inc.members)])
    rows = []
    for a in inc.members:
        ents = sorted(
            (e for e in alert_entities(a) if policy is None or not policy.stopped(e)),
            key=lambda e: (KINDS.index(e.kind), e.value),
        )
        shown = ", ".join(f"{e.kind} {one_line(e.value)}" for e in ents[:MAX_SHOWN_ENTITIES])
        if len(ents) > MAX_SHOWN_ENTITIES:
            shown += f", +{len(ents) - MAX_SHOWN_ENTITIES} more"
        rows.append(
            (_short(a.first_seen), a.severity, a.detection_id, ",".join(tactics(a.detection_id)), shown)
        )
    tact_w = max([len("tactics"), *(len(r[3]) for r in rows)])
    yield f"    {'time':20}  {'severity':8}  {'rule':{rule_w}}  {'tactics':{tact_w}}  entities"
    for t, sev, rule, tac, ents_text in rows:
        yield f"    {t:20}  {sev:8}  {rule:{rule_w}}  {tac or '-':{tact_w}}  {ents_text or '-'}"
    yield "  actions"
    if not actions:
        yield "    (none)"
    for act in actions:
        what = " ".join(x for x in (act.action, act.verdict) if x)
        note = f"  {one_line(act.note)}" if act.note else ""
        yield f"    {_short(act.at)}  {one_line(act.actor)}  {what}{note}"


def _short(iso: str) -> str:
    return iso[:19].replace("T", " ") + "Z" if iso else "-"


def incidents_of(ledger: Ledger, alert_keys: Iterable[str]) -> dict[str, Incident]:
    """Alert key → the live incident it belongs to (members included), for the keys that are in one: what
    the dispatcher delivers per incident. Each incident is read once, however many of its alerts are asked."""
    keys = sorted(set(alert_keys))
    out: dict[str, Incident] = {}
    if not keys:
        return out
    with ledger.engine.connect() as conn:
        owner: dict[str, str] = {}
        for i in range(0, len(keys), 500):  # bounded IN lists
            q = sa.select(INCIDENT_ALERTS.c.alert_key, INCIDENT_ALERTS.c.incident_id).where(
                INCIDENT_ALERTS.c.alert_key.in_(keys[i : i + 500])
            )
            owner.update({r.alert_key: r.incident_id for r in conn.execute(q)})
        loaded: dict[str, Incident] = {}
        for iid in sorted(set(owner.values())):
            r = conn.execute(sa.select(INCIDENTS).where(INCIDENTS.c.incident_id == iid)).first()
            if r is not None and r.status != "merged":
                loaded[iid] = incident_from_row(conn, r)
    return {k: loaded[iid] for k, iid in owner.items() if iid in loaded}


def closed_ids(ledger: Ledger, incident_ids: Iterable[str]) -> set[str]:
    """Which of these incidents are closed (triage): their pages are resolved at the next dispatch."""
    ids = sorted(set(incident_ids))
    with ledger.engine.connect() as conn:
        return {
            r[0]
            for i in range(0, len(ids), 500)
            for r in conn.execute(
                sa.select(INCIDENTS.c.incident_id).where(
                    INCIDENTS.c.incident_id.in_(ids[i : i + 500]), INCIDENTS.c.status == "closed"
                )
            )
        }
