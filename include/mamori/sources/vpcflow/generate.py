"""Deterministic VPC Flow Log files: a small web estate's background traffic with an injected attack story.

Network detections live or die on their thresholds, so the background is built from what a real VPC logs and
the near-misses a real VPC has: internet scanners that touch a few ports (never 10 per source in 10 minutes),
short SSH probes, a nightly 300 MB backup through the S3 gateway endpoint, a large package download,
NODATA/SKIPDATA records. Every connection is logged at each of its ENIs inside the VPC, in both directions,
with AWS's tcp-flags (SYN 2, SYN-ACK 18, FIN 1, RST 4 ORed per record) and traffic-path semantics.

What flow logs do NOT capture is left out on purpose: queries to the Amazon-provided resolver (VPC+2, e.g.
10.0.0.2) and Amazon Time Sync (169.254.169.123) never appear in real flow logs, so DNS here goes to a Route 53
Resolver endpoint ENI (10.0.0.10:53) and NTP to a public pool server (203.0.113.123:123), which are logged.

Formats: even-indexed accounts (111111111111 by default) use the default v2 format under the plain key layout;
odd-indexed ones (222222222222) use a custom v5 format (AWS's documented reordered example) under the
Hive-compatible layout with hourly folders. Every file starts with its header line, as S3 delivery does.

Everything derives from ``random.Random(seed)`` and ``start`` (no wall clock, gzip mtime=0). Addresses come from
the documentation ranges; the attacker owns 198.51.100.0/24, which the background never uses.
"""

from __future__ import annotations

import gzip
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mamori.sources.cloudtrail.generate import AttackStep, Put, put_in_landing_order, require_hour_aligned
from mamori.sources.vpcflow import DEFAULT_FORMAT

ATTACKER_IP = "198.51.100.23"
WEB_IP = "10.0.1.15"
SCAN_PORTS = 200
EXFIL_BYTES = 500 * 1024 * 1024

V2_FORMAT: tuple[str, ...] = DEFAULT_FORMAT
# AWS's documented v5 custom-format example: the same fields in a very different order.
V5_FORMAT: tuple[str, ...] = (
    "version",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "start",
    "end",
    "type",
    "packets",
    "bytes",
    "account-id",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "interface-id",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    "action",
    "tcp-flags",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "traffic-path",
    "flow-direction",
    "log-status",
)

_FILE = timedelta(minutes=10)
_TCP, _UDP = 6, 17
_SYN, _FIN, _RST, _SYNACK = 2, 1, 4, 18
_PATH_VPC, _PATH_S3_ENDPOINT, _PATH_IGW = 1, 7, 8  # traffic-path codes (egress records only)
_S3_PREFIX = {"us-east-1": "52.216", "eu-west-1": "52.218"}
_SCANNED = (23, 25, 445, 1433, 3306, 3389, 5900, 6379, 8080, 9200, 22)  # what background scanners try
_DIRS = {"east": "e", "west": "w", "north": "n", "south": "s", "central": "c", "southeast": "se"}
_DIRS |= {"northeast": "ne", "northwest": "nw", "southwest": "sw"}

Rec = dict[str, str | int | None]


@dataclass(frozen=True)
class _Eni:
    ip: str
    eni: str
    instance: str | None
    subnet: str


class _Stream:
    """One flow log (one account+region VPC): its interfaces and record builders."""

    def __init__(self, rng: random.Random, acct: str, region: str, custom: bool) -> None:
        self.rng, self.acct, self.region, self.custom = rng, acct, region, custom
        self.fl = "fl-" + self.hex(17)
        self.vpc = "vpc-" + self.hex(17)
        public, private, infra = ("subnet-" + self.hex(17) for _ in range(3))
        self.web = _Eni(WEB_IP, self.eni(), self.inst(), public)
        self.web2 = _Eni("10.0.1.16", self.eni(), self.inst(), public)
        self.db = _Eni("10.0.2.20", self.eni(), self.inst(), private)
        self.app = _Eni("10.0.2.31", self.eni(), self.inst(), private)
        self.resolver = _Eni("10.0.0.10", self.eni(), None, infra)  # Route 53 Resolver inbound endpoint
        self.idle = [_Eni(f"10.0.2.{40 + i}", self.eni(), self.inst(), private) for i in range(2)]
        self.hosts = (self.web, self.web2, self.db, self.app)
        self.by_ip = {e.ip: e for e in (*self.hosts, self.resolver, *self.idle)}
        self.web_v6 = "2001:db8:0:1::15"
        self.by_ip[self.web_v6] = self.web
        p = region.split("-")
        self.az = f"{p[0]}{''.join(_DIRS.get(x, x[0]) for x in p[1:-1])}{p[-1]}-az{1 + rng.randrange(3)}"
        self.s3 = _S3_PREFIX.get(region, "52.92")

    def hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def eni(self) -> str:
        return "eni-" + self.hex(17)

    def inst(self) -> str:
        return "i-" + self.hex(17)

    def eph(self) -> int:
        return self.rng.randrange(32768, 61000)

    def record(
        self,
        at: _Eni,
        start: int,
        dur: int,
        src: str,
        dst: str,
        sport: int,
        dport: int,
        proto: int,
        pkts: int,
        nbytes: int,
        flags: int,
        egress: bool,
        action: str = "ACCEPT",
        path: int | None = None,
        service: str | None = None,
    ) -> Rec:
        """One flow record as captured at interface `at`; pkt-* equal the addresses (no NAT in this VPC)."""
        return {
            "account-id": self.acct,
            "interface-id": at.eni,
            "srcaddr": src,
            "dstaddr": dst,
            "srcport": sport,
            "dstport": dport,
            "protocol": proto,
            "packets": pkts,
            "bytes": nbytes,
            "start": start,
            "end": start + dur,
            "action": action,
            "log-status": "OK",
            "vpc-id": self.vpc,
            "subnet-id": at.subnet,
            "instance-id": at.instance,
            "tcp-flags": flags if proto == _TCP else 0,
            "type": "IPv6" if ":" in src else "IPv4",
            "pkt-srcaddr": src,
            "pkt-dstaddr": dst,
            "region": self.region,
            "az-id": self.az,
            "pkt-src-aws-service": None if egress else service,
            "pkt-dst-aws-service": service if egress else None,
            "flow-direction": "egress" if egress else "ingress",
            "traffic-path": path if egress else None,
        }

    def conn(
        self,
        start: int,
        client: str,
        server: str,
        dport: int,
        up: int,
        down: int,
        proto: int = _TCP,
        dur: int | None = None,
        service: str | None = None,
        sport: int | None = None,
    ) -> list[Rec]:
        """A completed connection: one record per direction at each endpoint that is an ENI of this VPC."""
        sport = sport or self.eph()
        dur = dur if dur is not None else self.rng.randint(1, 55)
        # A TCP exchange costs a handshake and a teardown on top of its data segments; UDP is one datagram each way.
        extra = 3 if proto == _TCP else 0
        up_p, down_p = max(1, up // 900 + extra), max(1, down // 1300 + extra)
        out: list[Rec] = []
        c, s = self.by_ip.get(client), self.by_ip.get(server)
        inside = c is not None and s is not None
        if c is not None:
            path = _PATH_VPC if inside else (_PATH_S3_ENDPOINT if service == "S3" else _PATH_IGW)
            out.append(
                self.record(
                    c,
                    start,
                    dur,
                    client,
                    server,
                    sport,
                    dport,
                    proto,
                    up_p,
                    up,
                    _SYN | _FIN,
                    True,
                    path=path,
                    service=service,
                )
            )
            out.append(
                self.record(
                    c,
                    start,
                    dur,
                    server,
                    client,
                    dport,
                    sport,
                    proto,
                    down_p,
                    down,
                    _SYNACK | _FIN,
                    False,
                    service=service,
                )
            )
        if s is not None:
            out.append(
                self.record(s, start, dur, client, server, sport, dport, proto, up_p, up, _SYN | _FIN, False)
            )
            out.append(
                self.record(
                    s,
                    start,
                    dur,
                    server,
                    client,
                    dport,
                    sport,
                    proto,
                    down_p,
                    down,
                    _SYNACK | _FIN,
                    True,
                    path=_PATH_VPC if inside else _PATH_IGW,
                )
            )
        return out

    def probe(self, start: int, src: str, target: _Eni, port: int, open_: bool) -> list[Rec]:
        """A SYN probe: REJECTed by the security group, or answered with SYN-ACK and reset when open."""
        sport = self.eph()
        if not open_:
            return [
                self.record(
                    target, start, 0, src, target.ip, sport, port, _TCP, 1, 44, _SYN, False, action="REJECT"
                )
            ]
        return [
            self.record(target, start, 1, src, target.ip, sport, port, _TCP, 2, 84, _SYN | _RST, False),
            self.record(
                target, start, 1, target.ip, src, port, sport, _TCP, 1, 44, _SYNACK, True, path=_PATH_IGW
            ),
        ]

    def quiet(self, start: int, status: str) -> Rec:
        """NODATA (no traffic in the interval) / SKIPDATA (records lost): identity fields only."""
        eni = self.rng.choice(self.idle)
        return {
            "account-id": self.acct,
            "interface-id": eni.eni,
            "start": start,
            "end": start + 60,
            "log-status": status,
            "vpc-id": self.vpc,
            "subnet-id": eni.subnet,
            "instance-id": eni.instance,
            "region": self.region,
            "az-id": self.az,
        }

    def background(self, t0: int, hour: float) -> list[Rec]:
        """Ten minutes of a small web estate, busiest mid-afternoon UTC."""
        rng = self.rng
        load = 1 + 0.6 * math.cos(2 * math.pi * (hour - 14) / 24)
        out: list[Rec] = []

        def at() -> int:
            return t0 + rng.randrange(600)

        for _ in range(_poisson(rng, 14 * load)):  # HTTPS from the internet to the two web servers
            server = self.web if rng.random() < 0.6 else self.web2
            if rng.random() < 0.1:
                client, dst = f"2001:db8:ab::{rng.randrange(1, 0xFFFF):x}", self.web_v6
            else:
                client = rng.choice(
                    (f"192.0.2.{rng.randrange(1, 255)}", f"203.0.113.{rng.randrange(1, 120)}")
                )
                dst = server.ip
            out += self.conn(at(), client, dst, 443, rng.randrange(600, 4000), rng.randrange(2_000, 90_000))
        for _ in range(_poisson(rng, 6 * load)):  # web/app servers to the database
            app = rng.choice((self.web, self.web2, self.app))
            out += self.conn(
                at(), app.ip, self.db.ip, 5432, rng.randrange(300, 3000), rng.randrange(1_000, 60_000)
            )
        for _ in range(_poisson(rng, 5)):  # DNS to the resolver endpoint ENI
            host = rng.choice(self.hosts)
            out += self.conn(at(), host.ip, self.resolver.ip, 53, 70, 130, _UDP, dur=0)
        for host in self.hosts:  # NTP: each host polls a public server every few minutes
            if rng.random() < 0.6:
                out += self.conn(at(), host.ip, "203.0.113.123", 123, 76, 76, _UDP, dur=0, sport=123)
        for _ in range(_poisson(rng, 2 * load)):  # S3 through the gateway endpoint
            host = rng.choice(self.hosts)
            s3 = f"{self.s3}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"
            out += self.conn(at(), host.ip, s3, 443, rng.randrange(2_000, 5_000_000), 8_000, service="S3")
        # Internet scanners: distinct sources, at most 4 ports each per file, so no source ever reaches 10
        # distinct ports in any 10-minute window (which spans at most two files).
        for octet in rng.sample(range(200, 255), min(_poisson(rng, 1.5), 55)):
            src = f"203.0.113.{octet}"
            target = rng.choice((self.web, self.web2))
            for port in rng.sample(_SCANNED, rng.randint(1, 4)):
                out += self.probe(at(), src, target, port, open_=port == 22)
        for _ in range(_poisson(rng, 1.2)):
            out.append(self.quiet(t0 + 60 * rng.randrange(10), "NODATA"))
        if rng.random() < 0.01:
            out.append(self.quiet(t0 + 60 * rng.randrange(10), "SKIPDATA"))
        if hour == 2.0:  # nightly database backup to S3: large egress, but to AWS through the endpoint
            s3 = f"{self.s3}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"
            out += self.conn(t0 + 120, self.db.ip, s3, 443, 300 * 1024 * 1024, 900_000, dur=58, service="S3")
        if hour == 4.0:  # patch download: large, but ingress
            out += self.conn(t0 + 60, self.app.ip, "203.0.113.80", 443, 40_000, 200 * 1024 * 1024, dur=50)
        return out

    def render(self, recs: list[Rec]) -> bytes:
        fmt = V5_FORMAT if self.custom else V2_FORMAT
        version = "5" if self.custom else "2"
        lines = [" ".join(fmt)]
        for r in sorted(recs, key=lambda r: (int(r["start"] or 0), str(r["interface-id"]))):
            vals = [version if f == "version" else r.get(f) for f in fmt]
            lines.append(" ".join("-" if v is None else str(v) for v in vals))
        return ("\n".join(lines) + "\n").encode()

    def key(self, t_end: datetime, rng: random.Random) -> str:
        name = (
            f"{self.acct}_vpcflowlogs_{self.region}_{self.fl}_{t_end:%Y%m%dT%H%MZ}_{rng.getrandbits(32):08x}"
        )
        if self.custom:
            return (
                f"AWSLogs/aws-account-id={self.acct}/aws-service=vpcflowlogs/aws-region={self.region}/"
                f"year={t_end:%Y}/month={t_end:%m}/day={t_end:%d}/hour={t_end:%H}/{name}.log.gz"
            )
        return f"AWSLogs/{self.acct}/vpcflowlogs/{self.region}/{t_end:%Y/%m/%d}/{name}.log.gz"


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: small means only, exact and deterministic given the rng."""
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _attack(s: _Stream, start: datetime, hours: int) -> tuple[list[AttackStep], list[Rec]]:
    """Scan → SSH login → exfiltration from the web server, at fixed offsets; steps past `hours` are left out."""
    rng, base = s.rng, int(start.timestamp())
    steps: list[AttackStep] = []
    recs: list[Rec] = []
    scan_at = base + 3600
    if hours * 3600 > scan_at - base + 300:
        others = [p for p in range(1, 10_000) if p not in (22, 443)]
        ports = [22, 443, *rng.sample(others, SCAN_PORTS - 2)]
        rng.shuffle(ports)
        for i, port in enumerate(ports):  # 200 ports in under 5 minutes
            recs += s.probe(
                scan_at + i * 290 // SCAN_PORTS, ATTACKER_IP, s.web, port, open_=port in (22, 443)
            )
        steps.append(
            AttackStep(
                time=start + timedelta(hours=1),
                account=s.acct,
                region=s.region,
                detections=("vpcflow_port_scan",),
                summary=f"{ATTACKER_IP} scans {WEB_IP} on {SCAN_PORTS} distinct TCP ports in <5 min "
                f"(REJECT except 22 and 443, which ACCEPT) at {s.web.eni}",
                entities={"vpcflow_port_scan": {"source_ip": ATTACKER_IP, "target": WEB_IP}},
            )
        )
    ssh_at = base + 3600 + 40 * 60
    if hours * 3600 > ssh_at - base + 60:
        recs += s.conn(ssh_at, ATTACKER_IP, WEB_IP, 22, 9_800, 31_200, dur=52, sport=51514)
        steps.append(
            AttackStep(
                time=start + timedelta(hours=1, minutes=40),
                account=s.acct,
                region=s.region,
                detections=("vpcflow_ssh_from_internet_accepted",),
                summary=f"SSH session {ATTACKER_IP}:51514 → {WEB_IP}:22 ACCEPT, 9.8 KB in / 31.2 KB out "
                "(interactive login after the scan)",
                entities={"vpcflow_ssh_from_internet_accepted": {"source_ip": ATTACKER_IP, "target": WEB_IP}},
            )
        )
    exfil_at = base + 17 * 3600 + 40 * 60
    if hours * 3600 > exfil_at - base + 60:
        recs += s.conn(exfil_at, WEB_IP, ATTACKER_IP, 443, EXFIL_BYTES, 7_200_000, dur=58, sport=40022)
        steps.append(
            AttackStep(
                time=start + timedelta(hours=17, minutes=40),
                account=s.acct,
                region=s.region,
                detections=("vpcflow_large_egress",),
                summary=f"exfiltration: {WEB_IP}:40022 → {ATTACKER_IP}:443 egress ACCEPT, {EXFIL_BYTES} bytes "
                "(500 MiB) in one minute",
                entities={"vpcflow_large_egress": {"source_ip": WEB_IP, "target": ATTACKER_IP}},
            )
        )
    return steps, recs


def generate_vpcflow(
    put: Put,
    start: datetime,
    hours: int = 24,
    seed: int = 7,
    accounts: Sequence[str] = ("111111111111", "222222222222"),
    regions: Sequence[str] = ("us-east-1", "eu-west-1"),
) -> list[AttackStep]:
    """Write `hours` of flow logs (one flow log per account/region, a file every 10 minutes) through `put`.

    The attack runs in 111111111111/us-east-1 when present (else the first account/region). Objects are handed
    to `put` in landing order (landed_at, key), landed 1-5 minutes after the file's interval ends.
    """
    require_hour_aligned(start)
    if hours < 1:
        raise ValueError("hours must be >= 1")
    rng = random.Random(seed)  # noqa: S311 - reproducibility is the point; nothing here is a secret
    streams = [
        _Stream(rng, acct, region, custom=i % 2 == 1) for i, acct in enumerate(accounts) for region in regions
    ]
    target = next(
        (s for s in streams if (s.acct, s.region) == ("111111111111", "us-east-1")),
        streams[0],
    )
    steps, attack = _attack(target, start, hours)
    injected: dict[int, list[Rec]] = {}
    base = int(start.timestamp())
    for r in attack:
        injected.setdefault((int(r["start"] or 0) - base) // 600, []).append(r)

    objects: list[tuple[datetime, str, bytes]] = []
    health: dict[tuple[str, object], tuple[datetime, str]] = {}
    for k in range(hours * 6):
        t0 = start + k * _FILE
        t_end = t0 + _FILE
        hour = t0.hour + t0.minute / 60
        for s in streams:
            recs = s.background(base + k * 600, hour)
            for r in recs:
                # Records lost by the flow-log service are a health condition the skipdata rule reports (one
                # alert per account per day): they belong in the ground truth, not in "background".
                if r.get("log-status") == "SKIPDATA":
                    t = datetime.fromtimestamp(int(r["start"] or 0), UTC)
                    health.setdefault((s.acct, t.date()), (t, s.region))
            if s is target:
                recs += injected.get(k, [])
            key = s.key(t_end, rng)
            landed = t_end + timedelta(seconds=rng.randint(60, 300))
            objects.append((landed, key, gzip.compress(s.render(recs), compresslevel=6, mtime=0)))
    put_in_landing_order(put, objects)
    for (acct, _), (t, region) in sorted(health.items(), key=lambda h: h[1][0]):
        steps.append(
            AttackStep(
                t,
                acct,
                region,
                ("vpcflow_skipdata",),
                "health: flow log records skipped (SKIPDATA)",
                {"vpcflow_skipdata": {}},  # one alert per account and day
            )
        )
    return sorted(steps, key=lambda st: st.time)
