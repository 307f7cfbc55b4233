"""Deterministic Route 53 Resolver query logs → CloudWatch Logs → Firehose → S3, with one DNS tunnel.

The noise is what a VPC's resolver sees and what naive DNS-tunnelling rules trip over: AWS service endpoints
(SSM, EC2 messages, S3, STS, package repositories whose names carry long hashed labels such as
``al2023-repos-us-east-1-de612dc2.s3.dualstack...``), VPC endpoint names, internal ``ip-10-…`` names and
reverse lookups, public package and container registries, and a telemetry vendor whose names start with a
32-hex-digit label (at most 3 per instance and hour, so a threshold of 10 per source and domain and hour is a
clean boundary). The attack is the compromised instance of the SSH story (i-0abc1234def567890, 10.0.1.15 in
111111111111/us-east-1) tunnelling data out as TXT queries whose first label is 60 hex digits under
``attacker.example`` (a reserved name: never resolvable), 60 queries in 10 minutes.

Objects are shaped as Firehose writes them for a CloudWatch Logs subscription (see
:mod:`mamori.sources.formats.cloudwatch_logs`): every 5 minutes per account/region, one gzip member per
subscription message, one message per log stream (one stream per VPC), an occasional CONTROL_MESSAGE.
Everything derives from ``random.Random(seed)`` and ``start`` (no wall clock, gzip mtime=0).

``IN_DEMO = False``: `mamori demo` tells the story of the six original sources unchanged; `mamori generate`
and the detection tests (which take this source's key layout from here) use this generator.
"""

from __future__ import annotations

import gzip
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from mamori.sources.cloudtrail.generate import AttackStep, Put, put_in_landing_order, require_hour_aligned
from mamori.sources.cloudwatch.generate import (
    ATTACK_ACCOUNT,
    ATTACK_INSTANCE,
    ATTACK_INSTANCE_IP,
    ATTACK_REGION,
)

IN_DEMO = False
EXFIL_DOMAIN = "attacker.example"
LOG_GROUP = "/mamori/route53resolver/query-logs"
DELIVERY_STREAM = "mamori-route53resolver"
SUBSCRIPTION_FILTER = "mamori-to-firehose"
TELEMETRY_DOMAIN = "telemetry.vendor.example"
_SLOT = timedelta(minutes=5)
_PUBLIC = ("api.github.com", "pypi.org", "files.pythonhosted.org", "registry-1.docker.io", "auth.docker.io")


@dataclass(frozen=True)
class _Instance:
    instance_id: str
    ip: str


@dataclass(frozen=True)
class _Query:
    t: datetime
    account: str
    region: str
    vpc_id: str
    record: dict[str, object]


class _Gen:
    def __init__(
        self, rng: random.Random, start: datetime, hours: int, accounts: Sequence[str], regions: Sequence[str]
    ) -> None:
        self.rng, self.start, self.end = rng, start, start + timedelta(hours=hours)
        self.accounts, self.regions = list(accounts), list(regions)
        self.attack_account = ATTACK_ACCOUNT if ATTACK_ACCOUNT in self.accounts else self.accounts[0]
        self.attack_region = ATTACK_REGION if ATTACK_REGION in self.regions else self.regions[0]
        self.vpcs: dict[tuple[str, str], str] = {}
        self.instances: dict[tuple[str, str], list[_Instance]] = {}
        used = {ATTACK_INSTANCE_IP}
        for a in self.accounts:
            for r in self.regions:
                self.vpcs[a, r] = f"vpc-0{self.rng.getrandbits(64):016x}"
                fleet = []
                for _ in range(3):
                    ip = ATTACK_INSTANCE_IP
                    while ip in used:  # unique per fleet: a threshold per source address stays per instance
                        ip = f"10.0.{self.rng.randrange(2, 250)}.{self.rng.randrange(10, 250)}"
                    used.add(ip)
                    fleet.append(_Instance(f"i-0{self.rng.getrandbits(64):016x}", ip))
                if (a, r) == (self.attack_account, self.attack_region):
                    fleet[0] = _Instance(ATTACK_INSTANCE, ATTACK_INSTANCE_IP)
                self.instances[a, r] = fleet
        self.queries: list[_Query] = []

    def query(
        self,
        t: datetime,
        acct: str,
        region: str,
        inst: _Instance,
        name: str,
        qtype: str = "A",
        answers: Sequence[tuple[str, str]] = (),
        rcode: str = "NOERROR",
    ) -> None:
        if not self.start <= t < self.end:
            return
        record: dict[str, object] = {
            "version": "1.100000",
            "account_id": acct,
            "region": region,
            "vpc_id": self.vpcs[acct, region],
            "query_timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "query_name": name,
            "query_type": qtype,
            "query_class": "IN",
            "rcode": rcode,
            "answers": [{"Rdata": rdata, "Type": rtype, "Class": "IN"} for rtype, rdata in answers],
            "srcaddr": inst.ip,
            "srcport": str(self.rng.randrange(32768, 61000)),
            "transport": "UDP",
            "srcids": {"instance": inst.instance_id},
        }
        self.queries.append(_Query(t, acct, region, self.vpcs[acct, region], record))

    def public_ip(self) -> str:
        return f"192.0.2.{self.rng.randrange(1, 255)}"

    # -- background ------------------------------------------------------------------------------------------
    def background(self) -> None:
        hours = int((self.end - self.start) / timedelta(hours=1))
        for acct in self.accounts:
            for region in self.regions:
                for h in range(hours):
                    t0 = self.start + timedelta(hours=h)
                    for inst in self.instances[acct, region]:
                        self.hour_of(t0, acct, region, inst)

    def at(self, t0: datetime) -> datetime:
        return t0 + timedelta(seconds=self.rng.randrange(3600))

    def hour_of(self, t0: datetime, acct: str, region: str, inst: _Instance) -> None:
        """One instance's hour: agents polling AWS endpoints, updates, a few public names, telemetry."""
        for svc in ("ssm", "ec2messages", "ssmmessages"):
            for _ in range(self.rng.randrange(2, 5)):
                name = f"{svc}.{region}.amazonaws.com."
                self.query(self.at(t0), acct, region, inst, name, answers=[("A", self.public_ip())])
        for _ in range(self.rng.randrange(0, 3)):
            self.query(
                self.at(t0),
                acct,
                region,
                inst,
                f"sts.{region}.amazonaws.com.",
                answers=[("A", self.public_ip())],
            )
        if self.rng.random() < 0.3:  # dnf makecache: the AL2023 repository bucket, a long hashed label
            bucket = f"al2023-repos-{region}-{self.rng.getrandbits(32):08x}"
            self.query(
                self.at(t0),
                acct,
                region,
                inst,
                f"{bucket}.s3.dualstack.{region}.amazonaws.com.",
                answers=[("A", self.public_ip())],
            )
        if self.rng.random() < 0.3:  # an interface endpoint: vpce-<17 hex>-<8 alnum>, 30 characters
            vpce = f"vpce-0{self.rng.getrandbits(64):016x}-{self.rng.getrandbits(32):08x}"
            self.query(
                self.at(t0),
                acct,
                region,
                inst,
                f"{vpce}.s3.{region}.vpce.amazonaws.com.",
                answers=[("A", f"10.0.0.{self.rng.randrange(100, 200)}")],
            )
        peer = self.rng.choice(self.instances[acct, region])
        host = "ip-" + peer.ip.replace(".", "-")
        internal = f"{host}.ec2.internal." if region == "us-east-1" else f"{host}.{region}.compute.internal."
        self.query(self.at(t0), acct, region, inst, internal, answers=[("A", peer.ip)])
        rev = ".".join(reversed(peer.ip.split("."))) + ".in-addr.arpa."
        self.query(self.at(t0), acct, region, inst, rev, "PTR", answers=[("PTR", internal)])
        for _ in range(self.rng.randrange(0, 3)):
            self.query(
                self.at(t0),
                acct,
                region,
                inst,
                self.rng.choice(_PUBLIC) + ".",
                answers=[("A", self.public_ip())],
            )
        if self.rng.random() < 0.1:
            self.query(self.at(t0), acct, region, inst, "wpad.ec2.internal.", rcode="NXDOMAIN")
        for _ in range(self.rng.randrange(0, 4)):  # the near miss: hashed labels, never 10 an hour
            label = f"{self.rng.getrandbits(128):032x}"
            self.query(
                self.at(t0),
                acct,
                region,
                inst,
                f"{label}.{TELEMETRY_DOMAIN}.",
                answers=[("A", self.public_ip())],
            )

    # -- attack ----------------------------------------------------------------------------------------------
    def attack(self) -> list[AttackStep]:
        acct, region = self.attack_account, self.attack_region
        inst = self.instances[acct, region][0]
        t0 = self.start + timedelta(hours=2, minutes=5)
        for i in range(60):  # one 30-byte chunk, hex-encoded, every 10 s
            chunk = f"{self.rng.getrandbits(240):060x}"
            self.query(
                t0 + timedelta(seconds=10 * i + self.rng.randrange(0, 3)),
                acct,
                region,
                inst,
                f"{chunk}.{EXFIL_DOMAIN}.",
                "TXT",
                answers=[("TXT", f'"{self.rng.getrandbits(32):08x}"')],
            )
        step = AttackStep(
            t0,
            acct,
            region,
            ("route53resolver_dns_tunneling",),
            f"DNS tunnelling from {inst.instance_id} ({inst.ip}) in {acct}/{region}: 60 TXT queries with "
            f"60-hex-digit labels under {EXFIL_DOMAIN} in 10 minutes",
            {"route53resolver_dns_tunneling": {"source_ip": inst.ip, "target": EXFIL_DOMAIN}},
        )
        return [step] if self.start <= step.time < self.end else []

    # -- delivery --------------------------------------------------------------------------------------------
    def objects(self) -> list[tuple[datetime, str, bytes]]:
        """Bucket queries into 5-minute Firehose deliveries per account/region, one message per VPC stream."""
        by_slot: dict[tuple[str, str, int], list[tuple[int, _Query]]] = {}
        for q in self.queries:
            ms = int(q.t.timestamp() * 1000) + self.rng.randrange(0, 1000)
            slot = int((q.t - self.start) / _SLOT)
            by_slot.setdefault((q.account, q.region, slot), []).append((ms, q))
        out: list[tuple[datetime, str, bytes]] = []
        for (acct, region, slot), items in sorted(by_slot.items(), key=lambda kv: kv[0]):
            items.sort(key=lambda x: (x[0], str(x[1].record["query_name"])))
            streams: dict[str, list[tuple[int, _Query]]] = {}
            for ms, q in items:
                streams.setdefault(q.vpc_id, []).append((ms, q))
            members = []
            if slot == 0:
                members.append(gzip.compress(orjson.dumps(_control(items[0][0])), mtime=0))
            for stream, events in sorted(streams.items()):
                msg = {
                    "messageType": "DATA_MESSAGE",
                    "owner": acct,
                    "logGroup": LOG_GROUP,
                    "logStream": stream,
                    "subscriptionFilters": [SUBSCRIPTION_FILTER],
                    "logEvents": [
                        {
                            "id": "".join(self.rng.choices("0123456789", k=56)),
                            "timestamp": ms,
                            "message": orjson.dumps(q.record).decode(),
                        }
                        for ms, q in events
                    ],
                }
                members.append(gzip.compress(orjson.dumps(msg), mtime=0))
            flushed = self.start + (slot + 1) * _SLOT + timedelta(seconds=self.rng.randrange(0, 30))
            rid = uuid.UUID(int=self.rng.getrandbits(128), version=4)
            key = (
                f"AWSLogs/{acct}/CloudWatchLogs-Route53Resolver/{region}/{flushed:%Y/%m/%d/%H}/"
                f"{DELIVERY_STREAM}-1-{flushed:%Y-%m-%d-%H-%M-%S}-{rid}.gz"
            )
            landed = flushed + timedelta(seconds=self.rng.randrange(1, 20))
            out.append((landed, key, b"".join(members)))
        return out


def _control(ms: int) -> dict[str, object]:
    return {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {
                "id": "",
                "timestamp": ms,
                "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
            }
        ],
    }


def generate_route53resolver(
    put: Put,
    start: datetime,
    hours: int = 24,
    seed: int = 7,
    accounts: Sequence[str] = ("111111111111", "222222222222"),
    regions: Sequence[str] = ("us-east-1", "eu-west-1"),
) -> list[AttackStep]:
    """Write `hours` of Firehose-delivered Resolver query logs through `put`; return the attack's ground truth.

    Objects are handed to `put` in landing order (landed_at, key), as an S3 notification consumer sees them.
    """
    require_hour_aligned(start)
    rng = random.Random(seed)  # noqa: S311 - reproducibility is the point; nothing here is a secret
    g = _Gen(rng, start, hours, accounts, regions)
    g.background()
    steps = g.attack()
    objects = g.objects()
    put_in_landing_order(put, objects)
    return steps
