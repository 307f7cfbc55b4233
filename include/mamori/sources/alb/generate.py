"""Deterministic ALB access-log files: a day of web traffic with an injected web-attack story.

One internet-facing load balancer (`app/web-prod/<id>`) per account and region, two nodes, a file per node
every 5 minutes, named and foldered as ALB delivers them. The background is what a web detection must stay
quiet on: browsers, mobile/API clients, a Lambda target (target `-`), Route 53 and uptime health checks,
http→https redirects, the odd 404/5xx, a search for "select chair", and a few requests ALB classifies as
"Ambiguous". ELB's own target health checks (ELB-HealthChecker/2.0) are deliberately absent: they go from
the node straight to the target and never appear in access logs, so generating them would teach detections
a pattern that production never shows.

Everything derives from ``random.Random(seed)`` and ``start`` (no wall clock, gzip mtime=0). Addresses are
documentation ranges: clients in 192.0.2.0/24, 203.0.113.0/24 and 2001:db8::/32; the attacker owns
198.51.100.0/24 (the same 198.51.100.23 as the CloudTrail story), which the noise never uses.
"""

from __future__ import annotations

import gzip
import math
import random
import string
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from mamori.sources.cloudtrail.generate import (
    ATTACKER_IP,
    AttackStep,
    Put,
    put_in_landing_order,
    require_hour_aligned,
)

LB_NAME = "web-prod"
NIKTO_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Nikto/2.5.0"
SQLMAP_UA = "sqlmap/1.7.2#stable (https://sqlmap.org)"
SMUGGLE_UA = "python-requests/2.31.0"
ATTACK_OFFSET = timedelta(minutes=90)  # before the CloudTrail story's first step (hours*60/9 ≥ 40 min later)
_FILE = timedelta(minutes=5)
_LOWER = string.ascii_lowercase + string.digits
_BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 "
    "Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.3 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Mobile "
    "Safari/537.36",
)
_API_UAS = ("okhttp/4.12.0", "MyShop/3.14.1 (iPhone; iOS 17.3; Scale/3.00)", "Go-http-client/2.0")
_R53_UA = "Amazon-Route53-Health-Check-Service (ref 6d0a1f3e-2b7c-4e9a-8f15-0c3d9e2b4a77; report http://amzn.to/1vsZADi)"
_UPTIME_UA = "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"
_PAGES = ("/", "/products", "/products/{id}", "/cart", "/account", "/about", "/search?q={q}", "/blog/{slug}")
_ASSETS = ("/static/app.3f9c1b.js", "/static/style.8a2e4d.css", "/images/hero.webp", "/favicon.ico")
_QUERIES = ("red+shoes", "select+chair", "desk+lamp", "union+jack+mug", "gift+card", "drop+earrings")
_SLUGS = ("spring-sale", "how-we-ship", "sustainability-report", "new-arrivals")
_API = (("GET", "/api/v1/orders"), ("GET", "/api/v1/cart"), ("POST", "/api/v1/orders"), ("GET", "/api/v1/me"))
_NIKTO_PATHS = (
    "/admin/", "/administrator/", "/phpmyadmin/", "/.env", "/.git/config", "/.git/HEAD", "/wp-login.php",
    "/wp-admin/", "/cgi-bin/test.cgi", "/cgi-bin/printenv", "/server-status", "/backup.zip", "/db.sql",
    "/config.php.bak", "/.DS_Store", "/WEB-INF/web.xml", "/console/", "/manager/html", "/actuator/env",
    "/.aws/credentials", "/debug/pprof/", "/old/", "/test/", "/install.php", "/xmlrpc.php", "/.htaccess",
    "/etc/passwd", "/shell.php", "/solr/admin/", "/jmx-console/",
)  # fmt: skip
_FORBIDDEN = ("/.env", "/.git/config", "/.git/HEAD", "/server-status", "/.htaccess", "/.aws/credentials")
_TRAVERSALS = (
    "/static/../../../../etc/passwd",
    "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/images/..%2f..%2f..%2f..%2fetc%2fshadow",
    "/download?file=../../../../etc/passwd",
    "/download?file=%2e%2e%2f%2e%2e%2f%2e%2e%2fproc%2fself%2fenviron",
    "/static/%252e%252e%252f%252e%252e%252fwindows%252fwin.ini",
)
_SQLI = (
    ("/products?id=1'", 500),
    ("/products?id=1'+OR+1=1--", 200),
    ("/products?id=1%27%20OR%201%3D1--", 200),
    ("/products?id=1%20AND%20SLEEP(5)--", 200),
    ("/search?q=x%27%20UNION%20SELECT%20NULL,NULL,NULL--", 500),
    ("/search?q=x'+UNION+SELECT+username,password_hash,email+FROM+users--", 200),
    ("/products?id=-1%20UNION%20ALL%20SELECT%20table_name,2,3%20FROM%20information_schema.tables--", 200),
    ("/login?next=1'%20OR%20'1'='1", 302),
)
_Line = tuple[datetime, str]  # (response time, formatted log line)


class _LB:
    """One account/region load balancer: stable ids, targets and ARNs, so every line of it agrees."""

    def __init__(self, rng: random.Random, acct: str, region: str) -> None:
        def hx(n: int) -> str:
            return f"{rng.getrandbits(4 * n):0{n}x}"

        self.acct, self.region = acct, region
        self.lb_id = hx(16)
        self.elb = f"app/{LB_NAME}/{self.lb_id}"
        self.nodes = [f"10.0.{i * 16 + rng.randrange(1, 15)}.{rng.randrange(10, 250)}" for i in range(2)]
        tg = f"arn:aws:elasticloadbalancing:{region}:{acct}:targetgroup"
        self.tg_web, self.tg_api, self.tg_fn = (f"{tg}/{LB_NAME}-{n}/{hx(16)}" for n in ("web", "api", "fn"))
        self.cert = (
            f"arn:aws:acm:{region}:{acct}:certificate/{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        )
        self.web = [f"10.0.{rng.randrange(32, 48)}.{rng.randrange(10, 250)}:80" for _ in range(4)]
        self.api = [f"10.0.{rng.randrange(48, 64)}.{rng.randrange(10, 250)}:8080" for _ in range(2)]


class _Gen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def client(self) -> str:
        r = self.rng.random()
        if r < 0.12:
            return f"2001:db8:{self.rng.randrange(1, 0xFFFF):x}::{self.rng.randrange(1, 0xFFFF):x}"
        if r < 0.55:
            return f"192.0.2.{self.rng.randrange(1, 255)}"
        return f"203.0.113.{self.rng.randrange(1, 200)}"

    def line(
        self,
        lb: _LB,
        t: datetime,
        *,
        client: str,
        verb: str,
        path: str,
        ua: str,
        status: int,
        kind: str = "h2",
        host: str = "www.example.com",
        target: str | None = None,
        tg: str | None = None,
        target_status: int | None = None,
        times: tuple[float, float, float] | None = None,
        received: int | None = None,
        sent: int | None = None,
        actions: str = "forward",
        redirect: str = "-",
        error: str = "-",
        rule: str = "1",
        classification: str = "-",
        reason: str = "-",
    ) -> _Line:
        """One line in ALB's field order (29 documented + 4 newer fields). `t` is when the response was sent."""
        rng = self.rng
        tls = kind in ("https", "h2", "wss", "grpcs")
        port = 443 if tls else 80
        scheme = "https" if tls else "http"
        proto = "HTTP/2.0" if kind == "h2" else "HTTP/1.1"
        if times is None:
            times = (rng.randrange(0, 3) / 1000, round(rng.lognormvariate(-3.2, 0.8), 3), 0.0)
        total = sum(x for x in times if x > 0)
        created = t - timedelta(seconds=total)
        tp = target or "-"
        ts = "-" if target_status is None else str(target_status)
        q = lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'  # noqa: E731
        fields = [
            kind,
            f"{t:%Y-%m-%dT%H:%M:%S.%f}Z",
            lb.elb,
            f"{client}:{rng.randrange(1024, 65535)}",
            tp,
            *(f"{x:.3f}" if x >= 0 else "-1" for x in times),
            str(status),
            ts,
            str(received if received is not None else rng.randrange(180, 900)),
            str(sent if sent is not None else rng.randrange(300, 30000)),
            q(f"{verb} {scheme}://{host}:{port}{path} {proto}"),
            q(ua),
            "TLS_AES_128_GCM_SHA256" if kind == "h2" else ("ECDHE-RSA-AES128-GCM-SHA256" if tls else "-"),
            ("TLSv1.3" if kind == "h2" else "TLSv1.2") if tls else "-",
            tg or "-",
            q(f"Root=1-{int(t.timestamp()):08x}-{self.hex(24)}"),
            q(host if tls else "-"),
            q(lb.cert if tls else "-"),
            rule,
            f"{created:%Y-%m-%dT%H:%M:%S}.{created.microsecond // 1000:03d}000Z",
            q(actions),
            q(redirect),
            q(error),
            q(tp),
            q(ts),
            q(classification),
            q(reason),
            f"TID_{self.hex(32)}",
            q("-"),
            q("-"),
            q("-"),
        ]
        return t, " ".join(fields)

    def background(self, lb: _LB, t: datetime) -> _Line:
        rng = self.rng
        r = rng.random()
        client = self.client()
        if r < 0.50:  # browsing: pages and their assets
            path = rng.choice(_PAGES + _ASSETS).format(
                id=rng.randrange(1000, 9999), q=rng.choice(_QUERIES), slug=rng.choice(_SLUGS)
            )
            status = rng.choices((200, 304, 404), (90, 8, 2))[0]
            if path == "/favicon.ico" and rng.random() < 0.3:
                status = 404
            target = rng.choice(lb.web)
            return self.line(
                lb, t, client=client, verb="GET", path=path, ua=rng.choice(_BROWSERS), status=status,
                target=target, tg=lb.tg_web, target_status=status, rule="2",
            )  # fmt: skip
        if r < 0.72:  # mobile app / partner API
            verb, path = rng.choice(_API)
            status = rng.choices((200, 201, 400, 401, 429, 500), (80, 6, 4, 4, 2, 1))[0]
            if verb == "POST" and status == 200:
                status = 201
            target = rng.choice(lb.api)
            return self.line(
                lb, t, client=client, verb=verb, path=path, ua=rng.choice(_API_UAS), status=status,
                host="api.example.com", target=target, tg=lb.tg_api, target_status=status, rule="3",
            )  # fmt: skip
        if r < 0.80:  # Lambda target: no target address, and now and then an invalid Lambda response
            if rng.random() < 0.03:
                return self.line(
                    lb, t, client=client, verb="GET", path="/fn/thumbnail?id=" + str(rng.randrange(10**5)),
                    ua=rng.choice(_BROWSERS), status=502, tg=lb.tg_fn, error="LambdaInvalidResponse", rule="4",
                )  # fmt: skip
            return self.line(
                lb, t, client=client, verb="GET", path="/fn/thumbnail?id=" + str(rng.randrange(10**5)),
                ua=rng.choice(_BROWSERS), status=200, tg=lb.tg_fn, target_status=200, rule="4",
            )  # fmt: skip
        if r < 0.88:  # external health checks (Route 53, uptime monitor)
            r53 = rng.random() < 0.7
            return self.line(
                lb, t, client=f"203.0.113.{rng.randrange(200, 250)}", verb="GET", path="/health",
                ua=_R53_UA if r53 else _UPTIME_UA, status=200, kind="https", target=rng.choice(lb.web),
                tg=lb.tg_web, target_status=200, received=120, sent=180, rule="5",
            )  # fmt: skip
        if r < 0.94:  # plain http: redirected to https by a listener rule, never reaches a target
            path = rng.choice(_PAGES).format(id=rng.randrange(1000, 9999), q="gift+card", slug="new-arrivals")
            return self.line(
                lb, t, client=client, verb="GET", path=path, ua=rng.choice(_BROWSERS), status=301, kind="http",
                times=(-1.0, -1.0, -1.0), actions="redirect", rule="1",
                redirect=f"https://www.example.com:443{path}", sent=190,
            )  # fmt: skip
        if r < 0.985:  # target trouble: 502/503/504 (targets slow, draining or restarting)
            status = rng.choice((502, 503, 504))
            target = rng.choice(lb.web)
            times = (0.0, -1.0, -1.0) if status != 504 else (0.001, -1.0, -1.0)
            return self.line(
                lb, t, client=client, verb="GET", path="/products", ua=rng.choice(_BROWSERS), status=status,
                target=target, tg=lb.tg_web, times=times, rule="2",
            )  # fmt: skip
        # GET with a body: RFC-compliant enough to forward, flagged "Ambiguous" by desync mitigation
        return self.line(
            lb, t, client=client, verb="GET", path="/api/v1/cart", ua=rng.choice(_API_UAS), status=200,
            host="api.example.com", target=rng.choice(lb.api), tg=lb.tg_api, target_status=200, rule="3",
            classification="Ambiguous", reason="UndefinedContentLengthSemantics",
        )  # fmt: skip

    def attack(self, lb: _LB, start: datetime) -> tuple[list[AttackStep], list[_Line]]:
        """Scanner burst → path traversal → SQL injection (one UNION SELECT answered 200) → 2 smuggling tries."""
        rng, a, r = self.rng, lb.acct, lb.region
        t0 = start + ATTACK_OFFSET
        lines: list[_Line] = []
        steps: list[AttackStep] = []

        def hit(
            t: datetime,
            path: str,
            ua: str,
            status: int,
            verb: str = "GET",
            sent: int | None = None,
            actions: str = "forward",
            classification: str = "-",
            reason: str = "-",
        ) -> None:
            # 400/403 are answered by the load balancer itself (blocked / fixed-response): no target.
            target = rng.choice(lb.web) if status not in (400, 403) else None
            lines.append(
                self.line(
                    lb, t, client=ATTACKER_IP, verb=verb, path=path, ua=ua, status=status, target=target,
                    tg=lb.tg_web if target else None, target_status=status if target else None,
                    times=None if target else (0.0, -1.0, -1.0), rule="2" if target else "0", sent=sent,
                    actions=actions, classification=classification, reason=reason,
                )
            )  # fmt: skip

        def story(t: datetime, detections: tuple[str, ...], summary: str) -> None:
            """Every ALB rule keys its alerts on the client address: the attacker's, in each step."""
            entities = {d: {"source_ip": ATTACKER_IP} for d in detections}
            steps.append(AttackStep(t, a, r, detections, summary, entities))

        # 1) Nikto: 240 requests in 9 minutes; nearly all 404, the sensitive files 403 (WAF/fixed-response).
        scan = sorted(t0 + timedelta(milliseconds=rng.randrange(9 * 60 * 1000)) for _ in range(240))
        n_4xx = 0
        for i, t in enumerate(scan):
            path = _NIKTO_PATHS[i % len(_NIKTO_PATHS)] + ("" if i < len(_NIKTO_PATHS) else f"?{i}")
            status = 403 if path.split("?")[0] in _FORBIDDEN else (200 if path == "/" else 404)
            n_4xx += status in (403, 404)
            hit(t, path, NIKTO_UA, status, actions="fixed-response" if status == 403 else "forward")
        story(
            scan[0], ("alb_scanner_user_agent", "alb_error_burst"),
            f"Nikto/2.5.0 scan of {LB_NAME} from {ATTACKER_IP}: {len(scan)} requests, {n_4xx} answered "
            "404/403 within 9 minutes",
        )  # fmt: skip
        # 2) Path traversal, raw and percent-encoded (single and double), woven into the scan's tail.
        trav = [scan[-1] + timedelta(seconds=20 + 7 * i) for i in range(len(_TRAVERSALS))]
        for t, path in zip(trav, _TRAVERSALS, strict=True):
            hit(t, path, NIKTO_UA, 400 if "%25" in path else 404)
        story(
            trav[0], ("alb_path_traversal", "alb_scanner_user_agent"),
            f"path traversal attempts (../, %2e%2e%2f, double-encoded) for /etc/passwd from {ATTACKER_IP}",
        )  # fmt: skip
        # 3) sqlmap: quote probes, boolean/time-based and UNION injections; one UNION returns 200 with a big body.
        t_sql = t0 + timedelta(minutes=12)
        for i in range(3):
            for j, (path, status) in enumerate(_SQLI):
                t = t_sql + timedelta(seconds=30 * i + 3 * j, milliseconds=rng.randrange(1000))
                sent = 48213 if "password_hash" in path else None
                hit(t, path, SQLMAP_UA, status, sent=sent)
        story(
            t_sql, ("alb_sql_injection", "alb_scanner_user_agent"),
            f"SQL injection with sqlmap/1.7.2 from {ATTACKER_IP} (' OR 1=1--, UNION SELECT), one UNION "
            "SELECT of users answered 200 with a 48 KB body",
        )  # fmt: skip
        # 4) Request smuggling: Transfer-Encoding and Content-Length together; ALB (defensive mode) blocks it.
        t_sm = t0 + timedelta(minutes=20)
        for i in range(2):
            hit(
                t_sm + timedelta(seconds=4 * i), "/api/v1/cart", SMUGGLE_UA, 400, verb="POST",
                classification="Severe", reason="BothTeClPresent", actions="-",
            )  # fmt: skip
        story(
            t_sm, ("alb_desync_severe",),
            f"2 request-smuggling attempts from {ATTACKER_IP} classified Severe (BothTeClPresent), blocked 400",
        )  # fmt: skip
        return steps, lines


def generate_alb(
    put: Put,
    start: datetime,
    hours: int = 24,
    seed: int = 7,
    accounts: Sequence[str] = ("111111111111", "222222222222"),
    regions: Sequence[str] = ("us-east-1", "eu-west-1"),
    requests_per_file: int = 25,
) -> list[AttackStep]:
    """Write `hours` of ALB access logs through `put`; return the attack's ground truth.

    Objects are handed to `put` in landing order (landed_at, key), as an S3 notification consumer sees them.
    The attack runs in the first account, in us-east-1 when configured (else the first region).
    """
    require_hour_aligned(start)
    if hours < 2:
        raise ValueError("the attack story needs hours >= 2 (it starts 90 minutes in)")
    rng = random.Random(seed)  # noqa: S311 - reproducibility is the point; nothing here is a secret
    g = _Gen(rng)
    lbs = {(a, r): _LB(rng, a, r) for a in accounts for r in regions}
    target = (accounts[0], "us-east-1" if "us-east-1" in regions else regions[0])
    steps, attack = g.attack(lbs[target], start)
    injected: dict[tuple[int, int], list[_Line]] = {}  # (5-minute slot, node) -> lines
    for line in attack:
        injected.setdefault((int((line[0] - start) / _FILE), rng.randrange(2)), []).append(line)

    objects: list[tuple[datetime, str, bytes]] = []
    for k in range(hours * 12):
        t0 = start + k * _FILE
        t_end = t0 + _FILE
        hour = t0.hour + t0.minute / 60  # web traffic peaks in the (UTC) evening, dips at night
        mean = requests_per_file * (1 + 0.6 * math.cos(2 * math.pi * (hour - 19) / 24))
        for (acct, region), lb in lbs.items():
            for node_i, node in enumerate(lb.nodes):
                n = max(0, round(rng.gauss(mean, math.sqrt(mean)))) if mean > 0 else 0
                lines = [
                    g.background(lb, t0 + timedelta(microseconds=rng.randrange(300_000_000)))
                    for _ in range(n)
                ]
                if (acct, region) == target:
                    lines += injected.get((k, node_i), [])
                if not lines:
                    continue
                lines.sort(key=lambda x: x[0])
                body = "".join(text + "\n" for _, text in lines).encode()
                key = (
                    f"AWSLogs/{acct}/elasticloadbalancing/{region}/{t_end:%Y/%m/%d}/{acct}_elasticloadbalancing_"
                    f"{region}_app.{LB_NAME}.{lb.lb_id}_{t_end:%Y%m%dT%H%MZ}_{node}_"
                    f"{''.join(rng.choices(_LOWER, k=8))}.log.gz"
                )
                landed = t_end + timedelta(seconds=rng.randint(60, 300))
                objects.append((landed, key, gzip.compress(body, compresslevel=6, mtime=0)))
    put_in_landing_order(put, objects)
    return steps
