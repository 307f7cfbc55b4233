"""Deterministic S3 server access logs: routine bucket traffic with an injected bulk-download story.

The story continues the CloudTrail one: admin-bob's stolen access key (created by alice's hijacked console
session) is used from the attacker's address to list and then download a payroll export bucket in a few
minutes. The noise holds what such a detection must stay quiet on: application roles reading and writing far
more objects than the attacker (from private addresses, with SDK user agents), console browsing, AWS services
(lifecycle, a Glue crawler), anonymous probes denied with 403, and 404s.

Everything derives from ``random.Random(seed)`` and ``start`` (no wall clock), so objects are byte-identical
across runs. Objects are plain text, as AWS delivers them (no gzip). Most buckets use AWS's partitioned-prefix
key format under ``AWSLogs/``; one bucket per account/region uses the simple format under
``s3-access-logs/<acct>/<region>/<bucket>/``, so both layouts the source accepts are exercised.
"""

from __future__ import annotations

import base64
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mamori.sources.cloudtrail.generate import (
    ATTACKER_IP,
    BOTO_UA,
    CLI_UA,
    AttackStep,
    Put,
    put_in_landing_order,
    require_hour_aligned,
)

PAYROLL_BUCKET = "acme-payroll-exports"
ATTACK_USER = "admin-bob"
CONSOLE_UA = "S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10.198-187.748.amzn2int.x86_64"
GLUE_UA = "aws-sdk-java/1.12.470 Linux/5.10 OpenJDK_64-Bit_Server_VM/25.372-b08 java/1.8.0_372 vendor/Oracle"
CURL_UA = "curl/8.5.0"
_FILE = timedelta(minutes=5)
_TLS12 = ("ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2")
_TLS13 = ("TLS_AES_128_GCM_SHA256", "TLSv1.3")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class _Bucket:
    name: str
    account: str
    region: str
    owner: str  # canonical user id of the bucket owner
    rate: float  # mean requests per 5-minute file at the daily peak
    simple_layout: bool = False


@dataclass
class _Line:
    t: datetime
    text: str


def _clf_time(t: datetime) -> str:
    return f"[{t.day:02d}/{_MONTHS[t.month - 1]}/{t.year}:{t:%H:%M:%S} +0000]"


class _Gen:
    """The rng and the stable identities (canonical ids, role sessions) that repeat across lines."""

    def __init__(self, rng: random.Random, start: datetime) -> None:
        self.rng, self.start = rng, start
        self.canonical: dict[str, str] = {}

    def hex(self, n: int, upper: bool = False) -> str:
        s = f"{self.rng.getrandbits(4 * n):0{n}x}"
        return s.upper() if upper else s

    def owner(self, acct: str) -> str:
        if acct not in self.canonical:
            self.canonical[acct] = self.hex(64)
        return self.canonical[acct]

    def instances(self, acct: str) -> list[str]:
        """The app's EC2 instances (role session names), a small stable pool per account."""
        key = "instances:" + acct
        if key not in self.canonical:
            self.canonical[key] = " ".join(f"i-{self.hex(17)}" for _ in range(4))
        return self.canonical[key].split(" ")

    def host_id(self) -> str:
        return base64.b64encode(self.rng.getrandbits(456).to_bytes(57, "big")).decode()

    def line(
        self,
        b: _Bucket,
        t: datetime,
        *,
        ip: str,
        requester: str,
        operation: str,
        key: str | None,
        method: str | None,
        uri: str | None,
        status: int,
        error: str | None = None,
        size: int | None = None,
        sent: int | None = None,
        ua: str,
        auth: str = "AuthHeader",
        tls: tuple[str, str] | None = _TLS12,
        referrer: str | None = None,
        internal: bool = False,
        endpoint: str | None = None,
    ) -> _Line:
        """One line in AWS's field order: 27 fields (through the trailing region), `-` for n/a."""
        total = self.rng.randint(5, 40) + (size or 0) // 2_000_000
        turn = max(1, total - self.rng.randint(0, 4))
        signed = requester != "-"
        fields = [
            b.owner,
            b.name,
            _clf_time(t),
            ip,
            requester,
            self.hex(16, upper=True),
            operation,
            key or "-",
            f'"{method} {uri} HTTP/1.1"' if method and uri else "-",
            str(status) if status else "-",
            error or "-",
            str(sent) if sent else "-",
            str(size) if size is not None else "-",
            str(total) if method else "-",
            str(turn) if method else "-",
            f'"{referrer}"' if referrer else '"-"',
            f'"{ua}"' if ua else '"-"',
            "-",
            self.host_id(),
            "SigV4" if signed and method else "-",
            tls[0] if tls and method else "-",
            auth if signed and method else "-",
            (endpoint or f"{b.name}.s3.{b.region}.amazonaws.com") if method else "-",
            tls[1] if tls and method else "-",
            "-",
            "-",
            b.region if internal else "-",
        ]
        return _Line(t, " ".join(fields))

    # -- background ----------------------------------------------------------------------------------------
    def background(self, b: _Bucket, t: datetime) -> _Line:
        """A routine request on bucket `b`, weighted toward what a busy application bucket sees."""
        acct, rng = b.account, self.rng
        k = rng.random()
        obj = f"{t:%Y/%m/%d}/part-{rng.randrange(10**5):05d}.parquet"
        if b.name == PAYROLL_BUCKET:
            return self.payroll_noise(b, t, k)
        if k < 0.55:  # the application reads and writes through a VPC endpoint
            session = self.instances(acct)[int(k * 20) % 4] if k < 0.3 else "app-backend"
            requester = f"arn:aws:sts::{acct}:assumed-role/app-backend/{session}"
            ip = f"10.0.{rng.randrange(1, 32)}.{rng.randrange(2, 250)}"
            op = rng.choices(("GET", "PUT", "HEAD"), weights=(6, 3, 1))[0]
            size = rng.randrange(1_000, 40_000_000)
            miss = op != "PUT" and rng.random() < 0.04
            return self.line(
                b,
                t,
                ip=ip,
                requester=requester,
                operation=f"REST.{op}.OBJECT",
                key=obj,
                method=op,
                uri=f"/{obj}",
                status=404 if miss else 200,
                error="NoSuchKey" if miss else None,
                size=None if miss else size,
                sent=None if miss or op != "GET" else size,
                ua=BOTO_UA,
                internal=True,
            )
        if k < 0.70:  # people browsing in the S3 console (SSO session names are email addresses)
            person = rng.choice(("carol", "dave", "erin"))
            sso = "AWSReservedSSO_ReadOnlyAccess_9d1e4b7a3c2f6e05"
            requester = f"arn:aws:sts::{acct}:assumed-role/{sso}/{person}@example.com"
            listing = rng.random() < 0.6
            prefix = f"{t:%Y/%m}/"
            return self.line(
                b,
                t,
                ip=f"192.0.2.{rng.randrange(10, 60)}",
                requester=requester,
                operation="REST.GET.BUCKET" if listing else "REST.GET.OBJECT",
                key=None if listing else obj,
                method="GET",
                uri=f"/?list-type=2&prefix={prefix.replace('/', '%2F')}&delimiter=%2F"
                if listing
                else f"/{obj}",
                status=200,
                size=None if listing else rng.randrange(1_000, 5_000_000),
                sent=rng.randrange(600, 20_000),
                ua=CONSOLE_UA,
                referrer="https://us-east-1.console.aws.amazon.com/",
                tls=_TLS13,
            )
        if k < 0.80:  # a Glue crawler walks the bucket
            role = f"arn:aws:sts::{acct}:assumed-role/AWSGlueServiceRole-crawler/GlueJobRunnerSession"
            return self.line(
                b,
                t,
                ip=f"203.0.113.{rng.randrange(100, 120)}",
                requester=role,
                operation="REST.GET.BUCKET",
                key=None,
                method="GET",
                uri=f"/?list-type=2&prefix={t:%Y}%2F&max-keys=1000",
                status=200,
                sent=rng.randrange(2_000, 200_000),
                ua=GLUE_UA,
                internal=True,
            )
        if k < 0.88:  # lifecycle transitions and expirations: no HTTP request, the service acts itself
            expire = rng.random() < 0.5
            return self.line(
                b,
                t,
                ip="-",
                requester="AmazonS3" if expire else "-",
                operation="S3.EXPIRE.OBJECT" if expire else "S3.TRANSITION_SIA.OBJECT",
                key=f"{self.start - timedelta(days=400):%Y/%m/%d}/part-{rng.randrange(10**5):05d}.parquet",
                method=None,
                uri=None,
                status=0,
                size=rng.randrange(1_000, 40_000_000),
                ua="",
                tls=None,
            )
        if k < 0.94:  # the CI role reading artifacts with the CLI from its runners
            requester = f"arn:aws:sts::{acct}:assumed-role/ci-deploy/GitHubActions"
            size = rng.randrange(10_000, 80_000_000)
            return self.line(
                b,
                t,
                ip=f"203.0.113.{rng.randrange(150, 180)}",
                requester=requester,
                operation="REST.GET.OBJECT",
                key=obj,
                method="GET",
                uri=f"/{obj}",
                status=200,
                size=size,
                sent=size,
                ua=CLI_UA + "s3.cp",
                tls=_TLS13,
            )
        # anonymous probes, denied; some scanners put quotes in their User-Agent (escaped in the log)
        probe = rng.choice(("/", "/.env", "/backup.zip", "/.git/config"))
        ua = rng.choice((CURL_UA, 'Mozilla/5.0 (compatible; \\"scanner\\" 1.0; +https://example.com/bot)'))
        return self.line(
            b,
            t,
            ip=f"203.0.113.{rng.randrange(60, 90)}",
            requester="-",
            operation="REST.GET.BUCKET" if probe == "/" else "REST.GET.OBJECT",
            key=None if probe == "/" else probe[1:],
            method="GET",
            uri=probe,
            status=403,
            error="AccessDenied",
            sent=243,
            ua=ua,
        )

    def payroll_noise(self, b: _Bucket, t: datetime, k: float) -> _Line:
        """The payroll bucket is quiet: a nightly export job writes, finance reads a file or two."""
        rng, acct = self.rng, b.account
        name = f"exports/{t:%Y-%m}/payroll-{rng.randrange(1, 400):04d}.csv"
        size = rng.randrange(20_000, 2_000_000)
        if k < 0.6:
            requester = f"arn:aws:sts::{acct}:assumed-role/payroll-export/payroll-export-job"
            return self.line(
                b,
                t,
                ip=f"10.0.{rng.randrange(1, 32)}.{rng.randrange(2, 250)}",
                requester=requester,
                operation="REST.PUT.OBJECT",
                key=name,
                method="PUT",
                uri=f"/{name}",
                status=200,
                size=size,
                ua=BOTO_UA,
                internal=True,
            )
        sso = "AWSReservedSSO_FinanceRead_2b7c1e9f0a4d6e35"
        return self.line(
            b,
            t,
            ip=f"192.0.2.{rng.randrange(10, 60)}",
            requester=f"arn:aws:sts::{acct}:assumed-role/{sso}/dave@example.com",
            operation="REST.GET.OBJECT",
            key=name,
            method="GET",
            uri=f"/{name}",
            status=200,
            size=size,
            sent=size,
            ua=CONSOLE_UA,
            referrer="https://us-east-1.console.aws.amazon.com/",
            tls=_TLS13,
        )

    # -- the story -----------------------------------------------------------------------------------------
    def attack(self, b: _Bucket, t0: datetime) -> tuple[list[_Line], AttackStep]:
        """admin-bob's key, from the attacker's IP: 3 listings, then 64 downloads within ~8 minutes."""
        bob = f"arn:aws:iam::{b.account}:user/{ATTACK_USER}"
        lines: list[_Line] = []
        for i, prefix in enumerate(("", "exports/", f"exports/{t0:%Y-%m}/")):
            lines.append(
                self.line(
                    b,
                    t0 + timedelta(seconds=5 + 20 * i),
                    ip=ATTACKER_IP,
                    requester=bob,
                    operation="REST.GET.BUCKET",
                    key=None,
                    method="GET",
                    uri=f"/?list-type=2&prefix={prefix.replace('/', '%2F')}&encoding-type=url",
                    status=200,
                    sent=self.rng.randrange(4_000, 40_000),
                    ua=CLI_UA + "s3.ls",
                    tls=_TLS13,
                )
            )
        first = t0 + timedelta(seconds=90)
        n = 64
        for i in range(n):
            t = first + timedelta(seconds=i * 6 + self.rng.randrange(5))
            name = f"exports/{t0:%Y-%m}/payroll-{i + 1:04d}.csv"
            size = self.rng.randrange(20_000, 2_000_000)
            lines.append(
                self.line(
                    b,
                    t,
                    ip=ATTACKER_IP,
                    requester=bob,
                    operation="REST.GET.OBJECT",
                    key=name,
                    method="GET",
                    uri=f"/{name}",
                    status=200,
                    size=size,
                    sent=size,
                    ua=CLI_UA + "s3.cp",
                    tls=_TLS13,
                )
            )
        first, last = lines[3].t, lines[-1].t  # the first download is the step's key event
        step = AttackStep(
            first,
            b.account,
            b.region,
            ("s3access_bulk_object_download",),
            f"{ATTACK_USER} ({bob}) from {ATTACKER_IP} listed s3://{b.name} 3 times, then downloaded {n} "
            f"objects in {int((last - first).total_seconds()) // 60 + 1} minutes with the AWS CLI",
            {"s3access_bulk_object_download": {"actor": bob, "source_ip": ATTACKER_IP}},
        )
        return lines, step


def _buckets(g: _Gen, accounts: Sequence[str], regions: Sequence[str], attack_region: str) -> list[_Bucket]:
    out = []
    for acct in accounts:
        for region in regions:
            owner = g.owner(acct)
            out.append(_Bucket(f"app-artifacts-{acct}-{region}", acct, region, owner, 30.0))
            out.append(
                _Bucket(f"datalake-raw-{acct}-{region}", acct, region, owner, 12.0, simple_layout=True)
            )
    out.append(_Bucket(PAYROLL_BUCKET, accounts[0], attack_region, g.owner(accounts[0]), 0.6))
    return out


def _key(g: _Gen, b: _Bucket, written: datetime) -> str:
    name = f"{written:%Y-%m-%d-%H-%M-%S}-{g.hex(16, upper=True)}"
    if b.simple_layout:
        return f"s3-access-logs/{b.account}/{b.region}/{b.name}/{name}"
    return f"AWSLogs/{b.account}/{b.region}/{b.name}/{written:%Y/%m/%d}/{name}"


def generate_s3access(
    put: Put,
    start: datetime,
    hours: int = 24,
    seed: int = 7,
    accounts: Sequence[str] = ("111111111111", "222222222222"),
    regions: Sequence[str] = ("us-east-1", "eu-west-1"),
) -> list[AttackStep]:
    """Write `hours` of server access logs through `put`; return the story's ground truth.

    One object per bucket per 5 minutes that saw requests, landing 2-7 minutes after its last line (its key
    timestamp is the write time, a few seconds before landing); objects are handed over in landing order.
    The story sits at start + 17h30m for a 24-hour range (the same fraction of shorter ranges), after
    the CloudTrail story has handed admin-bob's key to the attacker.
    """
    require_hour_aligned(start)
    if hours < 1:
        raise ValueError("hours must be >= 1")
    rng = random.Random(seed)  # noqa: S311 - reproducibility is the point; nothing here is a secret
    g = _Gen(rng, start)
    attack_region = "us-east-1" if "us-east-1" in regions else regions[0]
    buckets = _buckets(g, accounts, regions, attack_region)
    payroll = buckets[-1]
    t_story = start + timedelta(minutes=hours * 60 * 35 / 48) - timedelta(minutes=4)
    story, step = g.attack(payroll, t_story.replace(microsecond=0))

    objects: list[tuple[datetime, str, bytes]] = []
    for b in buckets:
        injected = story if b is payroll else []
        for k in range(hours * 12):
            t0 = start + k * _FILE
            hour = t0.hour + t0.minute / 60  # busiest mid-afternoon UTC, quietest at night
            mean = b.rate * (0.55 + 0.45 * _cos_day(hour))
            n = _poisson(rng, mean)
            lines = [g.background(b, t0 + timedelta(seconds=rng.randrange(300))) for _ in range(n)]
            lines += [ln for ln in injected if t0 <= ln.t < t0 + _FILE]
            if not lines:
                continue
            lines.sort(key=lambda ln: ln.t)
            landed = lines[-1].t + timedelta(seconds=rng.randint(120, 420))
            written = landed - timedelta(seconds=rng.randint(1, 20))
            body = "".join(ln.text + "\n" for ln in lines).encode()
            objects.append((landed, _key(g, b, written), body))
    put_in_landing_order(put, objects)
    return [step]


def _cos_day(hour: float) -> float:
    return math.cos(2 * math.pi * (hour - 14) / 24)


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method (means here are small); random has no Poisson sampler."""
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def render_sample(n_lines: int, seed: int = 1, start: datetime | None = None) -> bytes:
    """`n_lines` of background traffic on one bucket as one log body (benchmarks; no I/O, no story)."""
    t0 = start or datetime(2026, 3, 14, 12, tzinfo=UTC)
    g = _Gen(random.Random(seed), t0)  # noqa: S311 - reproducibility, not secrecy
    b = _Bucket(
        "app-artifacts-111111111111-us-east-1", "111111111111", "us-east-1", g.owner("111111111111"), 1
    )
    span = max(1, n_lines // 50)  # ~50 requests a second, in time order
    lines = sorted(
        (g.background(b, t0 + timedelta(seconds=g.rng.randrange(span))) for _ in range(n_lines)),
        key=lambda ln: ln.t,
    )
    return "".join(ln.text + "\n" for ln in lines).encode()
