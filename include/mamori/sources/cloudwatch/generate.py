"""Deterministic CloudWatch Logs → Firehose → S3 objects: EC2 auth/syslog noise with an injected SSH intrusion.

The noise is what a real fleet's /var/log/secure holds and what naive SSH detections trip over: hourly cron
sessions, engineers logging in with keys from the bastion (10.0.0.5) and running sudo, and internet scanners
guessing passwords a few times each (never 5 or more per IP per hour, so a brute-force threshold of 5 is a
clean boundary). The attack comes from 198.51.100.0/24, which the noise never uses; its ground truth is
returned as :class:`AttackStep` entries.

Objects are shaped as Firehose writes them for a CloudWatch subscription: every 5 minutes per account/region,
one gzip member per subscription message (CloudWatch compresses each record it hands Firehose), so the object
is a multi-member gzip of back-to-back JSON objects, with an occasional CONTROL_MESSAGE. Keys follow mamori's
convention (see :mod:`mamori.sources.cloudwatch`). Everything derives from ``random.Random(seed)`` and
``start`` (no wall clock, gzip mtime=0), so runs are byte-identical.
"""

from __future__ import annotations

import base64
import gzip
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from mamori.sources.cloudtrail.generate import AttackStep, Put, put_in_landing_order, require_hour_aligned

ATTACKER_IP = "198.51.100.23"
ATTACK_ACCOUNT, ATTACK_REGION = "111111111111", "us-east-1"
ATTACK_INSTANCE, ATTACK_INSTANCE_IP = "i-0abc1234def567890", "10.0.1.15"
BASTION_IP = "10.0.0.5"
SECURE, MESSAGES = "/ec2/var/log/secure", "/ec2/var/log/messages"
DELIVERY_STREAM = "mamori-cloudwatch-logs"
SUBSCRIPTION_FILTER = "mamori-to-firehose"
_SLOT = timedelta(minutes=5)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SCAN_USERS = ("admin", "test", "oracle", "ubuntu", "user", "postgres", "pi", "git", "ftpuser", "root")
_SUDO_COMMANDS = (
    "/usr/bin/systemctl status nginx",
    "/usr/bin/systemctl restart nginx",
    "/usr/bin/yum -y update",
    "/usr/bin/tail -n 200 /var/log/messages",
    "/usr/bin/journalctl -u amazon-ssm-agent --since today",
)


@dataclass(frozen=True)
class _Instance:
    instance_id: str
    ip: str

    @property
    def host(self) -> str:
        return "ip-" + self.ip.replace(".", "-")


@dataclass(frozen=True)
class _Line:
    """One log line before delivery: when it was written, where (account/region/group/stream), and the text."""

    t: datetime
    account: str
    region: str
    group: str
    stream: str
    text: str


def _syslog_ts(t: datetime) -> str:
    """RFC 3164 timestamp as rsyslog's traditional format writes it: space-padded day, no year."""
    return f"{_MONTHS[t.month - 1]} {t.day:>2} {t:%H:%M:%S}"


class _Gen:
    def __init__(
        self, rng: random.Random, start: datetime, hours: int, accounts: Sequence[str], regions: Sequence[str]
    ) -> None:
        self.rng, self.start, self.end = rng, start, start + timedelta(hours=hours)
        self.accounts, self.regions = list(accounts), list(regions)
        self.attack_account = ATTACK_ACCOUNT if ATTACK_ACCOUNT in self.accounts else self.accounts[0]
        self.attack_region = ATTACK_REGION if ATTACK_REGION in self.regions else self.regions[0]
        self.instances: dict[tuple[str, str], list[_Instance]] = {}
        for a in self.accounts:
            for r in self.regions:
                pair = [self.instance() for _ in range(2)]
                if (a, r) == (self.attack_account, self.attack_region):
                    pair[0] = _Instance(ATTACK_INSTANCE, ATTACK_INSTANCE_IP)
                self.instances[a, r] = pair
        self.pids: dict[str, int] = {}
        self.lines: list[_Line] = []
        self.scan_hour: dict[str, int] = {}  # scanner IP -> hour index it was last used

    def instance(self) -> _Instance:
        ip = f"10.0.{self.rng.randrange(2, 250)}.{self.rng.randrange(10, 250)}"
        return _Instance(f"i-0{self.rng.getrandbits(64):016x}", ip)

    def pid(self, host: str) -> int:
        """Process ids grow per host, as they do on a real box (so sshd children are distinct)."""
        self.pids[host] = self.pids.get(host, self.rng.randrange(1500, 4000)) + self.rng.randrange(1, 40)
        return self.pids[host]

    def port(self) -> int:
        return self.rng.randrange(32768, 61000)

    def fingerprint(self) -> str:
        return "SHA256:" + base64.b64encode(self.rng.randbytes(32)).decode().rstrip("=")

    def log(
        self, t: datetime, acct: str, region: str, group: str, inst: _Instance, program: str, msg: str
    ) -> None:
        if self.start <= t < self.end:
            text = f"{_syslog_ts(t)} {inst.host} {program}: {msg}"
            self.lines.append(_Line(t, acct, region, group, inst.instance_id, text))

    # -- background ------------------------------------------------------------------------------------------
    def background(self) -> None:
        hours = int((self.end - self.start) / timedelta(hours=1))
        for acct in self.accounts:
            for region in self.regions:
                for h in range(hours):
                    t0 = self.start + timedelta(hours=h)
                    for inst in self.instances[acct, region]:
                        self.cron(t0, acct, region, inst)
                        self.system(t0, acct, region, inst)
                        for _ in range(self.rng.choice((0, 1, 1, 2))):
                            self.admin_session(
                                t0 + timedelta(seconds=self.rng.randrange(3600)), acct, region, inst
                            )
                    self.scanners(t0, acct, region)

    def cron(self, t0: datetime, acct: str, region: str, inst: _Instance) -> None:
        t = t0 + timedelta(minutes=1)
        pid = self.pid(inst.host)
        self.log(
            t,
            acct,
            region,
            SECURE,
            inst,
            f"crond[{pid}]",
            "pam_unix(crond:session): session opened for user root(uid=0) by (uid=0)",
        )
        t += timedelta(seconds=self.rng.randrange(1, 4))
        self.log(
            t,
            acct,
            region,
            SECURE,
            inst,
            f"crond[{pid}]",
            "pam_unix(crond:session): session closed for user root",
        )
        self.log(
            t0 + timedelta(minutes=1),
            acct,
            region,
            MESSAGES,
            inst,
            f"CROND[{pid}]",
            "(root) CMD (run-parts /etc/cron.hourly)",
        )

    def system(self, t0: datetime, acct: str, region: str, inst: _Instance) -> None:
        for _ in range(self.rng.randrange(2, 6)):
            t = t0 + timedelta(seconds=self.rng.randrange(3600))
            kind = self.rng.randrange(4)
            if kind == 0:
                msg = ("chronyd[612]", "Selected source 169.254.169.123")
            elif kind == 1:
                msg = (
                    f"dhclient[{self.rng.randrange(2000, 2100)}]",
                    f"XMT: Solicit on eth0, interval {self.rng.randrange(100000, 130000)}ms.",
                )
            elif kind == 2:
                msg = ("systemd[1]", "Starting dnf makecache...")
                self.log(
                    t + timedelta(seconds=2),
                    acct,
                    region,
                    MESSAGES,
                    inst,
                    "systemd[1]",
                    "Started dnf makecache.",
                )
            else:
                msg = ("amazon-ssm-agent[2811]", "INFO [HealthCheck] HealthCheck reporting agent health.")
            self.log(t, acct, region, MESSAGES, inst, *msg)

    def admin_session(self, t: datetime, acct: str, region: str, inst: _Instance) -> None:
        """A key-based login from the bastion, maybe a benign sudo, then logout: what every engineer does."""
        pid, port, uid = self.pid(inst.host), self.port(), 1000
        self.login(t, acct, region, inst, pid, "ec2-user", uid, BASTION_IP, port, "publickey")
        t += timedelta(seconds=self.rng.randrange(20, 120))
        if self.rng.random() < 0.6:
            self.sudo(t, acct, region, inst, "ec2-user", self.rng.choice(_SUDO_COMMANDS))
        t += timedelta(seconds=self.rng.randrange(60, 900))
        sshd = f"sshd[{pid}]"
        self.log(
            t,
            acct,
            region,
            SECURE,
            inst,
            sshd,
            f"Received disconnect from {BASTION_IP} port {port}:11: disconnected by user",
        )
        self.log(
            t, acct, region, SECURE, inst, sshd, f"Disconnected from user ec2-user {BASTION_IP} port {port}"
        )
        self.log(
            t, acct, region, SECURE, inst, sshd, "pam_unix(sshd:session): session closed for user ec2-user"
        )

    def login(
        self,
        t: datetime,
        acct: str,
        region: str,
        inst: _Instance,
        pid: int,
        user: str,
        uid: int,
        ip: str,
        port: int,
        method: str,
    ) -> None:
        sshd = f"sshd[{pid}]"
        suffix = f": RSA {self.fingerprint()}" if method == "publickey" else ""
        self.log(
            t,
            acct,
            region,
            SECURE,
            inst,
            sshd,
            f"Accepted {method} for {user} from {ip} port {port} ssh2{suffix}",
        )
        self.log(
            t,
            acct,
            region,
            SECURE,
            inst,
            sshd,
            f"pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)",
        )
        self.log(
            t + timedelta(seconds=1),
            acct,
            region,
            MESSAGES,
            inst,
            "systemd-logind[702]",
            f"New session {self.rng.randrange(1, 900)} of user {user}.",
        )

    def sudo(self, t: datetime, acct: str, region: str, inst: _Instance, user: str, command: str) -> None:
        self.log(
            t,
            acct,
            region,
            SECURE,
            inst,
            "sudo",
            f"{user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND={command}",
        )
        self.log(
            t,
            acct,
            region,
            SECURE,
            inst,
            "sudo",
            f"pam_unix(sudo:session): session opened for user root(uid=0) by {user}(uid=1000)",
        )

    def scanners(self, t0: datetime, acct: str, region: str) -> None:
        """Internet background radiation: each IP tries 1-4 passwords in the hour, then goes away.

        An IP is never reused within two hours anywhere in the fleet, so even a sliding one-hour window
        counts at most 4 failures per IP: a threshold of 5 separates the attack from this noise exactly.
        """
        hour = int((t0 - self.start) / timedelta(hours=1))
        for _ in range(self.rng.randrange(0, 4)):
            ip = f"203.0.113.{self.rng.randrange(1, 255)}"
            if hour - self.scan_hour.get(ip, -9) < 2:
                continue
            self.scan_hour[ip] = hour
            inst = self.rng.choice(self.instances[acct, region])
            t = t0 + timedelta(seconds=self.rng.randrange(3300))
            for _ in range(self.rng.randrange(1, 5)):
                self.failed(t, acct, region, inst, ip, self.rng.choice(_SCAN_USERS))
                t += timedelta(seconds=self.rng.randrange(2, 30))

    def failed(self, t: datetime, acct: str, region: str, inst: _Instance, ip: str, user: str) -> None:
        pid, port = self.pid(inst.host), self.port()
        sshd = f"sshd[{pid}]"
        if user == "root":
            self.log(
                t, acct, region, SECURE, inst, sshd, f"Failed password for root from {ip} port {port} ssh2"
            )
        else:
            self.log(t, acct, region, SECURE, inst, sshd, f"Invalid user {user} from {ip} port {port}")
            self.log(
                t + timedelta(seconds=2),
                acct,
                region,
                SECURE,
                inst,
                sshd,
                f"Failed password for invalid user {user} from {ip} port {port} ssh2",
            )
        self.log(
            t + timedelta(seconds=3),
            acct,
            region,
            SECURE,
            inst,
            sshd,
            f"Connection closed by {'authenticating' if user == 'root' else 'invalid'} user {user} {ip} "
            f"port {port} [preauth]",
        )

    # -- attack ----------------------------------------------------------------------------------------------
    def attack(self) -> list[AttackStep]:
        acct, region = self.attack_account, self.attack_region
        inst = self.instances[acct, region][0]
        t0 = self.start + timedelta(hours=1, minutes=20)
        users = ("admin", "root", "ubuntu")
        for i in range(40):  # 40 guesses in 10 minutes: one every ~15 s
            self.failed(
                t0 + timedelta(seconds=15 * i + self.rng.randrange(0, 5)),
                acct,
                region,
                inst,
                ATTACKER_IP,
                users[i % 3],
            )
        t_login = t0 + timedelta(minutes=11)
        self.login(
            t_login, acct, region, inst, self.pid(inst.host), "ec2-user", 1000, ATTACKER_IP, 50022, "password"
        )
        t_sudo = t0 + timedelta(minutes=13)
        self.sudo(t_sudo, acct, region, inst, "ec2-user", "/bin/bash")
        t_add = t0 + timedelta(minutes=15)
        self.log(t_add, acct, region, SECURE, inst, "useradd[1234]", "new group: name=backdoor, GID=1001")
        self.log(
            t_add,
            acct,
            region,
            SECURE,
            inst,
            "useradd[1234]",
            "new user: name=backdoor, UID=1001, GID=1001, home=/home/backdoor, shell=/bin/bash",
        )
        t_root = t0 + timedelta(minutes=25)
        self.login(
            t_root, acct, region, inst, self.pid(inst.host), "root", 0, ATTACKER_IP, self.port(), "publickey"
        )
        where = f"on {inst.instance_id} ({inst.ip}) in {acct}/{region}"
        stream = inst.instance_id  # the agent's log stream: one per instance
        from_attacker = {"log_stream": stream, "source_ip": ATTACKER_IP}
        steps = [
            AttackStep(
                t0,
                acct,
                region,
                ("syslog_ssh_brute_force",),
                f"SSH password brute force from {ATTACKER_IP} {where}: 40 failed passwords for "
                "admin/root/ubuntu within 10 minutes",
                {"syslog_ssh_brute_force": {"source_ip": ATTACKER_IP}},
            ),
            AttackStep(
                t_login,
                acct,
                region,
                ("syslog_ssh_password_login_from_internet", "syslog_ssh_login_after_failures"),
                f"successful SSH password login as ec2-user from {ATTACKER_IP} port 50022 after the "
                f"brute force {where}",
                {
                    "syslog_ssh_password_login_from_internet": from_attacker,
                    "syslog_ssh_login_after_failures": from_attacker,
                },
            ),
            AttackStep(
                t_sudo,
                acct,
                region,
                ("syslog_sudo_root_shell",),
                f"ec2-user escalates to a root shell: sudo COMMAND=/bin/bash {where}",
                {"syslog_sudo_root_shell": {"log_stream": stream, "actor": "ec2-user"}},
            ),
            AttackStep(
                t_add,
                acct,
                region,
                ("syslog_new_local_user",),
                f"persistence: useradd -m backdoor (UID 1001, /bin/bash) {where}",
                {"syslog_new_local_user": {"log_stream": stream, "actor": "backdoor"}},
            ),
            AttackStep(
                t_root,
                acct,
                region,
                ("syslog_ssh_root_login",),
                f"root logs in over SSH with a public key from {ATTACKER_IP} {where}",
                {"syslog_ssh_root_login": from_attacker},
            ),
        ]
        return [s for s in steps if self.start <= s.time < self.end]

    # -- delivery --------------------------------------------------------------------------------------------
    def objects(self) -> list[tuple[datetime, str, bytes]]:
        """Bucket lines into 5-minute Firehose deliveries per account/region, one message per group/stream."""
        by_slot: dict[tuple[str, str, int], list[tuple[int, _Line]]] = {}
        for line in self.lines:
            # The agent reads the file a moment after the write; CloudWatch stamps the event at ingestion.
            ms = int(line.t.timestamp() * 1000) + self.rng.randrange(50, 1500)
            slot = int((line.t - self.start) / _SLOT)
            by_slot.setdefault((line.account, line.region, slot), []).append((ms, line))
        out: list[tuple[datetime, str, bytes]] = []
        for (acct, region, slot), items in sorted(by_slot.items()):
            items.sort(key=lambda x: (x[0], x[1].group, x[1].stream, x[1].text))
            streams: dict[tuple[str, str], list[tuple[int, str]]] = {}
            for ms, line in items:
                streams.setdefault((line.group, line.stream), []).append((ms, line.text))
            members = []
            if slot == 0 or self.rng.random() < 0.03:
                members.append(gzip.compress(orjson.dumps(self.control(items[0][0])), mtime=0))
            for (group, stream), events in sorted(streams.items()):
                msg = {
                    "messageType": "DATA_MESSAGE",
                    "owner": acct,
                    "logGroup": group,
                    "logStream": stream,
                    "subscriptionFilters": [SUBSCRIPTION_FILTER],
                    "logEvents": [
                        {"id": self.event_id(), "timestamp": ms, "message": text} for ms, text in events
                    ],
                }
                members.append(gzip.compress(orjson.dumps(msg), mtime=0))
            flushed = self.start + (slot + 1) * _SLOT + timedelta(seconds=self.rng.randrange(0, 30))
            rid = uuid.UUID(int=self.rng.getrandbits(128), version=4)
            key = (
                f"AWSLogs/{acct}/CloudWatchLogs/{region}/{flushed:%Y/%m/%d/%H}/"
                f"{DELIVERY_STREAM}-1-{flushed:%Y-%m-%d-%H-%M-%S}-{rid}.gz"
            )
            landed = flushed + timedelta(seconds=self.rng.randrange(1, 20))
            out.append((landed, key, b"".join(members)))
        return out

    def control(self, ms: int) -> dict[str, object]:
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

    def event_id(self) -> str:
        """CloudWatch event ids are 56-digit decimal strings."""
        return "".join(self.rng.choices("0123456789", k=56))


def generate_cloudwatch(
    put: Put,
    start: datetime,
    hours: int = 24,
    seed: int = 7,
    accounts: Sequence[str] = ("111111111111", "222222222222"),
    regions: Sequence[str] = ("us-east-1", "eu-west-1"),
) -> list[AttackStep]:
    """Write `hours` of Firehose-delivered CloudWatch Logs through `put`; return the attack's ground truth.

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
