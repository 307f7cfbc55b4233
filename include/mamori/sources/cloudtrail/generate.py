"""Deterministic CloudTrail delivery files: background activity with an injected attack story.

A detection is only trustworthy if it fires on the attack *and* stays quiet on the look-alikes real accounts
are full of (MFA logins, SSO logins, key self-rotation, private ingress rules, root service events). So the
noise here deliberately contains those near-misses, and the attack's ground truth is returned, not guessed.

Everything derives from ``random.Random(seed)`` and ``start`` (no wall clock, gzip mtime=0), so a test or a
demo can regenerate byte-identical objects and diff alerts across runs. Addresses come from the
documentation ranges (RFC 5737 / RFC 3849): the attacker owns 198.51.100.0/24, which the noise never uses.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import random
import re
import string
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from itertools import accumulate
from typing import Any

import orjson

Put = Callable[[str, bytes, datetime], None]  # (key relative to the raw bucket root, bytes, landed_at UTC)
Record = dict[str, Any]
_Template = Callable[[str, str, datetime], Record]  # (account, region, eventTime) -> one background record

ATTACKER_IP = "198.51.100.23"
ATTACKER_IPV6 = "2001:db8::23"
TRAIL_NAME = "org-trail"
TRAIL_BUCKET = "org-cloudtrail-logs"  # only named inside digests; put() keys are bucket-relative
CLI_UA = "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.ubuntu.22 prompt/off command/"
BOTO_UA = "Boto3/1.34.40 md/Botocore#1.34.40 ua/2.0 os/linux#6.1 lang/python#3.11.8 Botocore/1.34.40"
TF_UA = "APN/1.0 HashiCorp/1.0 Terraform/1.7.4"
LAMBDA_UA = BOTO_UA + " exec-env/AWS_Lambda_python3.11"
BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Safari/537.36"
)
USERS = ("alice", "admin-bob", "carol", "dave", "erin")
SSO_ROLE = "AWSReservedSSO_ReadOnlyAccess_9d1e4b7a3c2f6e05"
ROLES: dict[str, str] = {  # role name -> IAM path, so ARNs look like the real ones
    "platform-automation": "/",
    "security-audit": "/",
    "ci-deploy": "/",
    "inventory-collector": "/service-role/",
    SSO_ROLE: "/aws-reserved/sso.amazonaws.com/",
    "AWSServiceRoleForAutoScaling": "/aws-service-role/autoscaling.amazonaws.com/",
}
_FILE = timedelta(minutes=5)
_KEBAB = re.compile(r"(?<=[a-z])(?=[A-Z])")
_ALNUM = string.ascii_letters + string.digits
_UPPER = string.ascii_uppercase + string.digits
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LOGIN_TO = "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true"
_EC2_READS: dict[str, Record] = {  # routine Describe* calls, with the empty sets the EC2 API logs
    f"Describe{n}": {f"{k}Set": {}, "filterSet": {}}
    for n, k in (
        ("Instances", "instances"),
        ("Vpcs", "vpc"),
        ("SecurityGroups", "securityGroup"),
        ("Subnets", "subnet"),
        ("Volumes", "volume"),
        ("NetworkInterfaces", "networkInterfaceId"),
        ("InstanceStatus", "instances"),
    )
}
_EC2_READS["DescribeFlowLogs"] = {"DescribeFlowLogsRequest": {"MaxResults": 1000}}
_EC2_READ_NAMES = tuple(_EC2_READS)
_S3_SUBRESOURCE = {
    "GetBucketAcl": "acl",
    "GetBucketPolicyStatus": "policyStatus",
    "GetBucketLocation": "location",
    "GetBucketEncryption": "encryption",
}
_BUCKETS = ("app-artifacts", "datalake-raw", "backups")
_ALWAYS = ("requestParameters", "responseElements")  # AWS writes these as null rather than omitting them
_GLOBAL_HOSTS = {"iam": "iam.amazonaws.com", "signin": "signin.aws.amazon.com"}
_IAM_READS = ("ListUsers", "ListRoles", "GetAccountSummary", "ListPolicies", "GetAccountPasswordPolicy")


@dataclass(frozen=True)
class AttackStep:
    """Ground truth for one attack step: the key event's time/place, the detections it must trigger, and for
    each of them the entities its alert names (the rule's dedup values besides `account_id`: principal, IP,
    target, ...), so an alert on the same rule, account and hour about someone else is not taken for it."""

    time: datetime
    account: str
    region: str
    detections: tuple[str, ...]
    summary: str
    entities: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        unnamed = [d for d in self.detections if d not in self.entities]
        stray = [d for d in self.entities if d not in self.detections]
        if unnamed or stray:
            raise ValueError(
                f"step {self.summary!r}: name the entities of every expected detection and of no other "
                f"(unnamed: {unnamed}, not expected: {stray})"
            )

    def expected_dedup_values(self, detection_id: str) -> dict[str, str]:
        """The exact dedup values of the alert this step must raise for `detection_id`."""
        return {"account_id": self.account, **self.entities[detection_id]}


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _root(acct: str) -> Record:
    return {"type": "Root", "principalId": acct, "arn": f"arn:aws:iam::{acct}:root", "accountId": acct}


def _human(t: datetime) -> str:
    """IAM/STS render dates in responseElements as 'Mar 14, 2026, 3:04:05 PM', not ISO; keep that quirk."""
    half = "AM" if t.hour < 12 else "PM"
    return f"{_MONTHS[t.month - 1]} {t.day}, {t.year}, {(t.hour % 12) or 12}:{t:%M:%S} {half}"


class _Gen:
    """Holds the rng and the stable per-account identities, so principal/key ids repeat across events."""

    def __init__(
        self, rng: random.Random, start: datetime, hours: int, accounts: Sequence[str], regions: Sequence[str]
    ) -> None:
        self.rng, self.start, self.hours = rng, start, hours
        self.accounts, self.regions = list(accounts), list(regions)
        # IAM and sign-in are global services whose events land in us-east-1 files.
        self.gregion = "us-east-1" if "us-east-1" in self.regions else self.regions[0]
        self.ids: dict[tuple[str, str], str] = {}
        for a in self.accounts:
            for u in USERS:
                self.ids[a, u], self.ids[a, "key:" + u] = "AIDA" + self.tok(17), "AKIA" + self.tok(16)
            self.ids.update({(a, r): "AROA" + self.tok(17) for r in ROLES})
            for reg in self.regions:
                self.ids[a, "detector:" + reg], self.ids[a, "kms:" + reg] = self.hex(32), self.uuid()
                self.ids[a, "vpc:" + reg] = "vpc-" + self.hex(17)
        self.instances: dict[tuple[str, str], list[str]] = {}
        self.failed: dict[tuple[str, str, datetime], int] = {}

    def tok(self, n: int, alphabet: str = _UPPER) -> str:
        return "".join(self.rng.choices(alphabet, k=n))

    def hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def office_ip(self) -> str:
        return f"192.0.2.{self.rng.randrange(10, 60)}"

    def ci_ip(self) -> str:
        return f"203.0.113.{self.rng.randrange(150, 180)}"

    def user(self, acct: str, name: str, key: str = "", console_since: datetime | None = None) -> Record:
        arn = f"arn:aws:iam::{acct}:user/{name}"
        ui: Record = {
            "type": "IAMUser",
            "principalId": self.ids[acct, name],
            "arn": arn,
            "accountId": acct,
            "accessKeyId": key,
            "userName": name,
        }
        if console_since is not None:
            ui["sessionContext"] = {
                "sessionIssuer": {},
                "webIdFederationData": {},
                "attributes": {"creationDate": _ts(console_since), "mfaAuthenticated": "false"},
            }
        return ui

    def role(self, acct: str, role: str, session: str, t: datetime, invoked_by: str | None = None) -> Record:
        """Sessions renew hourly: one role+session reuses one ASIA key within an hour, as in real logs."""
        rid = self.ids[acct, role]
        hour = t.replace(minute=0, second=0)
        key = hashlib.blake2b(f"{acct}{role}{session}{hour}".encode(), digest_size=8).hexdigest().upper()
        ui: Record = {
            "type": "AssumedRole",
            "principalId": f"{rid}:{session}",
            "arn": f"arn:aws:sts::{acct}:assumed-role/{role}/{session}",
            "accountId": acct,
            "accessKeyId": "ASIA" + key,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": rid,
                    "accountId": acct,
                    "userName": role,
                    "arn": f"arn:aws:iam::{acct}:role{ROLES[role]}{role}",
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": _ts(hour), "mfaAuthenticated": "false"},
            },
        }
        if invoked_by:
            ui["invokedBy"] = invoked_by
        return ui

    def actor(self, acct: str, t: datetime) -> tuple[Record, str, str, bool]:
        """A plausible caller for a routine API call: (userIdentity, sourceIPAddress, userAgent, console)."""
        k = self.rng.random()
        if k < 0.45:
            session = f"botocore-session-{int(t.replace(minute=0, second=0).timestamp())}"
            nat = f"203.0.113.{10 + 10 * (self.accounts.index(acct) % 8) + self.rng.randrange(3)}"
            return self.role(acct, "platform-automation", session, t), nat, BOTO_UA, False
        if k < 0.70:
            ip = f"10.0.{self.rng.randrange(1, 64)}.{self.rng.randrange(2, 250)}"
            return self.role(acct, "inventory-collector", "inventory-collector", t), ip, LAMBDA_UA, False
        if k < 0.85:
            return self.role(acct, "security-audit", "cspm-scanner", t), "203.0.113.200", BOTO_UA, False
        person = self.rng.choice(("carol", "dave", "erin"))
        if k < 0.95:
            ui = self.role(acct, SSO_ROLE, f"{person}@example.com", t)
            return ui, self.office_ip(), BROWSER_UA, True
        ui = self.user(acct, person, self.ids[acct, "key:" + person])
        return ui, self.office_ip(), CLI_UA, False

    def rec(
        self,
        t: datetime,
        acct: str,
        region: str,
        source: str,
        name: str,
        ui: Record,
        ip: str,
        ua: str,
        *,
        params: Record | None = None,
        resp: Record | None = None,
        read_only: bool = True,
        error: tuple[str | None, str] | None = None,
        extra: Record | None = None,
        resources: list[Record] | None = None,
        event_type: str = "AwsApiCall",
        console: bool = False,
        data: bool = False,
        service_details: Record | None = None,
    ) -> Record:
        """One record in CloudTrail's field order; optional fields appear only when AWS would write them."""
        svc, api = source.split(".")[0], event_type == "AwsApiCall"
        if ua == CLI_UA:  # the CLI names its command in the UA: `command/ec2.describe-instances`
            ua += f"{svc}.{_KEBAB.sub('-', name).lower()}"
        tls = None  # service-invoked calls carry a DNS name or 'AWS Internal' and no TLS details
        if ip[0].isdigit() and event_type != "AwsServiceEvent":
            tls = {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": _GLOBAL_HOSTS.get(svc, f"{svc}.{region}.amazonaws.com"),
            }
        r: Record = {
            "eventVersion": "1.09" if api else "1.08",
            "userIdentity": ui,
            "eventTime": _ts(t),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": ua,
            "errorCode": error and error[0],
            "errorMessage": error and error[1],
            "requestParameters": params,
            "responseElements": resp,
            "additionalEventData": extra,
            "requestID": self.uuid() if api else None,
            "eventID": self.uuid(),
            "readOnly": read_only,
            "resources": resources,
            "eventType": event_type,
            "managementEvent": not data,
            "recipientAccountId": acct,
            "serviceEventDetails": service_details,
            "eventCategory": "Data" if data else "Management",
            "tlsDetails": tls,
            "sessionCredentialFromConsole": "true" if console else None,
        }
        return {k: v for k, v in r.items() if v is not None or k in _ALWAYS}

    def login(self, t: datetime, acct: str, ui: Record, ip: str, ok: bool, mfa: bool) -> Record:
        return self.rec(
            t,
            acct,
            self.gregion,
            "signin.amazonaws.com",
            "ConsoleLogin",
            ui,
            ip,
            BROWSER_UA,
            resp={"ConsoleLogin": "Success" if ok else "Failure"},
            read_only=False,
            error=None if ok else (None, "Failed authentication"),
            event_type="AwsConsoleSignIn",
            extra={"LoginTo": _LOGIN_TO, "MobileVersion": "No", "MFAUsed": ("No", "Yes")[mfa]},
        )

    def t_read(self, acct: str, region: str, t: datetime, source: str, names: Sequence[str]) -> Record:
        """The bulk of any trail: automation and people listing things, mostly with no parameters."""
        name = self.rng.choice(names)
        ui, ip, ua, console = self.actor(acct, t)
        return self.rec(
            t, acct, region, source, name, ui, ip, ua, params=_EC2_READS.get(name), console=console
        )

    def t_s3_read(self, acct: str, region: str, t: datetime) -> Record:
        name = self.rng.choice(("ListBuckets", *_S3_SUBRESOURCE))
        ui, ip, ua, console = self.actor(acct, t)
        bucket = f"{self.rng.choice(_BUCKETS)}-{acct}"
        params = (
            {"Host": "s3.amazonaws.com"}
            if name == "ListBuckets"
            else {
                "bucketName": bucket,
                "Host": f"{bucket}.s3.{region}.amazonaws.com",
                _S3_SUBRESOURCE[name]: "",
            }
        )
        return self.rec(
            t,
            acct,
            region,
            "s3.amazonaws.com",
            name,
            ui,
            ip,
            ua,
            params=params,
            console=console,
            extra={"SignatureVersion": "SigV4", "AuthenticationMethod": "AuthHeader"},
        )

    def t_s3_object(self, acct: str, region: str, t: datetime) -> Record:
        put = self.rng.random() < 0.3
        bucket = f"{self.rng.choice(_BUCKETS)}-{acct}"
        key = f"{t:%Y/%m/%d}/part-{self.rng.randrange(10**5):05d}.parquet"
        if self.rng.random() < 0.2:  # replication / lifecycle copies arrive from inside AWS
            ui: Record = {"type": "AWSService", "invokedBy": "s3.amazonaws.com"}
            ip = ua = "AWS Internal"
        else:
            ui, ip, ua, _ = self.actor(acct, t)
        size = self.rng.randrange(1_000, 50_000_000)
        return self.rec(
            t,
            acct,
            region,
            "s3.amazonaws.com",
            "PutObject" if put else "GetObject",
            ui,
            ip,
            ua,
            params={"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com", "key": key},
            read_only=not put,
            data=True,
            extra={
                "SignatureVersion": "SigV4",
                "CipherSuite": "TLS_AES_128_GCM_SHA256",
                "bytesTransferredIn": size if put else 0,
                "bytesTransferredOut": 0 if put else size,
                "AuthenticationMethod": "AuthHeader",
                "x-amz-id-2": self.tok(56, _ALNUM),
            },
            resources=[
                {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                {"accountId": acct, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
            ],
        )

    def t_assume_role(self, acct: str, region: str, t: datetime) -> Record:
        expires = _human(t + timedelta(hours=1))
        if self.rng.random() < 0.25:  # CI runners federate through GitHub OIDC
            sub = "repo:example-org/platform:ref:refs/heads/main"
            idp = f"arn:aws:iam::{acct}:oidc-provider/token.actions.githubusercontent.com"
            ui: Record = {
                "type": "WebIdentityUser",
                "principalId": f"{idp}:sts.amazonaws.com:{sub}",
                "userName": sub,
                "identityProvider": idp,
            }
            role, session, name = "ci-deploy", "GitHubActions", "AssumeRoleWithWebIdentity"
            ip, ua = self.ci_ip(), "configure-aws-credentials-for-github-actions"
        else:
            svc = self.rng.choice(("lambda.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com"))
            ui, ip, ua, name = {"type": "AWSService", "invokedBy": svc}, svc, svc, "AssumeRole"
            role = "inventory-collector"
            session = self.rng.choice(("inventory-collector", "i-" + self.hex(17)))
        role_arn = f"arn:aws:iam::{acct}:role{ROLES[role]}{role}"
        return self.rec(
            t,
            acct,
            region,
            "sts.amazonaws.com",
            name,
            ui,
            ip,
            ua,
            params={"roleArn": role_arn, "roleSessionName": session},
            resp={
                "credentials": {"accessKeyId": "ASIA" + self.tok(16), "expiration": expires},
                "assumedRoleUser": {
                    "assumedRoleId": f"{self.ids[acct, role]}:{session}",
                    "arn": f"arn:aws:sts::{acct}:assumed-role/{role}/{session}",
                },
            },
            resources=[{"accountId": acct, "type": "AWS::IAM::Role", "ARN": role_arn}],
        )

    def t_autoscaling(self, acct: str, region: str, t: datetime) -> Record:
        """Scale-out/in by the service-linked role; terminations pick instances this run launched."""
        pool, svc = self.instances.setdefault((acct, region), []), "autoscaling.amazonaws.com"
        ui = self.role(acct, "AWSServiceRoleForAutoScaling", "AutoScaling", t, svc)
        if pool and self.rng.random() < 0.5:
            iid = pool.pop(self.rng.randrange(len(pool)))
            gone = {
                "requestId": self.uuid(),
                "instancesSet": {
                    "items": [
                        {
                            "instanceId": iid,
                            "currentState": {"code": 32, "name": "shutting-down"},
                            "previousState": {"code": 16, "name": "running"},
                        }
                    ]
                },
            }
            iids = {"instancesSet": {"items": [{"instanceId": iid}]}}
            return self.rec(
                t,
                acct,
                region,
                "ec2.amazonaws.com",
                "TerminateInstances",
                ui,
                svc,
                svc,
                params=iids,
                resp=gone,
                read_only=False,
            )
        iid = "i-" + self.hex(17)
        pool.append(iid)
        params = {
            "instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]},
            "instanceType": "m6i.large",
            "launchTemplate": {"launchTemplateId": "lt-0a1b2c3d4e5f67890", "version": "7"},
            "subnetId": "subnet-" + self.hex(17),
            "clientToken": self.uuid(),
        }
        resp = {
            "requestId": self.uuid(),
            "reservationId": "r-" + self.hex(17),
            "ownerId": acct,
            "requesterId": "940372691376",
            "instancesSet": {
                "items": [
                    {
                        "instanceId": iid,
                        "imageId": "ami-0c7217cdde317cfec",
                        "instanceType": "m6i.large",
                        "instanceState": {"code": 0, "name": "pending"},
                        "vpcId": self.ids[acct, "vpc:" + region],
                    }
                ]
            },
        }
        return self.rec(
            t,
            acct,
            region,
            "ec2.amazonaws.com",
            "RunInstances",
            ui,
            svc,
            svc,
            params=params,
            resp=resp,
            read_only=False,
        )

    def t_kms_decrypt(self, acct: str, region: str, t: datetime) -> Record:
        svc = self.rng.choice(("s3.amazonaws.com", "secretsmanager.amazonaws.com", "AWS Internal"))
        key_arn = f"arn:aws:kms:{region}:{acct}:key/{self.ids[acct, 'kms:' + region]}"
        if svc == "s3.amazonaws.com":
            ui = self.role(acct, "inventory-collector", "inventory-collector", t, svc)
            ctx = {"aws:s3:arn": f"arn:aws:s3:::datalake-raw-{acct}/{t:%Y/%m/%d}/"}
        else:
            ui = {"type": "AWSService", "invokedBy": svc}
            ctx = {"SecretARN": f"arn:aws:secretsmanager:{region}:{acct}:secret:app/db-AbCdEf"}
        return self.rec(
            t,
            acct,
            region,
            "kms.amazonaws.com",
            "Decrypt",
            ui,
            svc,
            svc,
            params={"encryptionContext": ctx, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
            resources=[{"accountId": acct, "type": "AWS::KMS::Key", "ARN": key_arn}],
        )

    def t_denied(self, acct: str, region: str, t: datetime) -> Record:
        ui, ip, ua, console = self.actor(acct, t)
        src, name, code = self.rng.choice(
            (
                ("ec2.amazonaws.com", "DescribeSnapshots", "Client.UnauthorizedOperation"),
                ("s3.amazonaws.com", "GetBucketPolicy", "AccessDenied"),
                ("kms.amazonaws.com", "DescribeKey", "AccessDeniedException"),
                ("secretsmanager.amazonaws.com", "GetSecretValue", "AccessDeniedException"),
            )
        )
        msg = (
            f"User: {ui.get('arn')} is not authorized to perform: {src.split('.')[0]}:{name} "
            "because no identity-based policy allows the action"
        )
        return self.rec(t, acct, region, src, name, ui, ip, ua, error=(code, msg), console=console)

    def t_login(self, acct: str, region: str, t: datetime) -> Record:
        """IAM users always sign in with MFA; SSO sign-ins say MFAUsed "No" since MFA happened at the IdP."""
        if self.rng.random() < 0.5:
            name = self.rng.choice(("alice", "carol", "dave", "erin"))
            return self.login(t, acct, self.user(acct, name), self.office_ip(), ok=True, mfa=True)
        ui = self.role(acct, SSO_ROLE, f"{self.rng.choice(('carol', 'dave', 'erin'))}@example.com", t)
        return self.login(t, acct, ui, self.office_ip(), ok=True, mfa=False)

    def t_login_failed(self, acct: str, region: str, t: datetime) -> Record:
        """A typo'd password: capped at 2 per user per hour so no brute-force threshold is ever reached."""
        name = self.rng.choice(("alice", "carol", "dave", "erin"))
        slot = (acct, name, t.replace(minute=0, second=0))
        if self.failed.get(slot, 0) >= 2:
            return self.t_login(acct, region, t)
        self.failed[slot] = self.failed.get(slot, 0) + 1
        return self.login(t, acct, self.user(acct, name), self.office_ip(), ok=False, mfa=False)

    def t_own_key(self, acct: str, region: str, t: datetime) -> Record:
        name = self.rng.choice(("carol", "dave"))
        ui = self.user(acct, name, self.ids[acct, "key:" + name])
        params = {"userName": name} if self.rng.random() < 0.5 else None
        resp = {
            "accessKey": {
                "accessKeyId": "AKIA" + self.tok(16),
                "status": "Active",
                "userName": name,
                "createDate": _human(t),
            }
        }
        return self.rec(
            t,
            acct,
            region,
            "iam.amazonaws.com",
            "CreateAccessKey",
            ui,
            self.office_ip(),
            CLI_UA,
            params=params,
            resp=resp,
            read_only=False,
        )

    def t_sg_private(self, acct: str, region: str, t: datetime) -> Record:
        ui = self.role(acct, "ci-deploy", "GitHubActions", t)
        port, cidr = self.rng.choice((443, 5432, 6379)), self.rng.choice(("10.0.0.0/8", "172.16.0.0/12"))
        return self.rec(
            t,
            acct,
            region,
            "ec2.amazonaws.com",
            "AuthorizeSecurityGroupIngress",
            ui,
            self.ci_ip(),
            TF_UA,
            params=_sg_params("sg-" + self.hex(17), port, cidr),
            resp={"requestId": self.uuid(), "_return": True},
            read_only=False,
        )

    def t_guardduty(self, acct: str, region: str, t: datetime) -> Record:
        det = self.ids[acct, "detector:" + region]
        if self.rng.random() < 0.8:
            ui, ip, ua, _ = self.actor(acct, t)
            return self.rec(
                t,
                acct,
                region,
                "guardduty.amazonaws.com",
                "GetDetector",
                ui,
                ip,
                ua,
                params={"detectorId": det},
            )
        ui = self.role(acct, "ci-deploy", "GitHubActions", t)
        return self.rec(
            t,
            acct,
            region,
            "guardduty.amazonaws.com",
            "UpdateDetector",
            ui,
            self.ci_ip(),
            TF_UA,
            read_only=False,
            params={"detectorId": det, "enable": True, "findingPublishingFrequency": "FIFTEEN_MINUTES"},
        )

    def t_trail_read(self, acct: str, region: str, t: datetime) -> Record:
        name = self.rng.choice(("DescribeTrails", "GetTrailStatus", "LookupEvents", "GetEventSelectors"))
        arn = f"arn:aws:cloudtrail:{self.regions[0]}:{acct}:trail/{TRAIL_NAME}"
        params: Record = {
            "DescribeTrails": {"trailNameList": [], "includeShadowTrails": True},
            "LookupEvents": {
                "maxResults": 50,
                "lookupAttributes": [{"attributeKey": "EventName", "attributeValue": "ConsoleLogin"}],
            },
        }.get(name, {"trailName" if name == "GetEventSelectors" else "name": arn})
        ui, ip, ua, console = self.actor(acct, t)
        return self.rec(
            t, acct, region, "cloudtrail.amazonaws.com", name, ui, ip, ua, params=params, console=console
        )

    def t_create_flow_logs(self, acct: str, region: str, t: datetime) -> Record:
        vpc = self.ids[acct, "vpc:" + region]
        req = {
            "ResourceId": {"tag": 1, "content": vpc},
            "ResourceType": "VPC",
            "TrafficType": "ALL",
            "LogDestinationType": "s3",
            "LogDestination": f"arn:aws:s3:::vpc-flow-logs-{acct}",
        }
        return self.rec(
            t,
            acct,
            region,
            "ec2.amazonaws.com",
            "CreateFlowLogs",
            self.role(acct, "ci-deploy", "GitHubActions", t),
            self.ci_ip(),
            TF_UA,
            params={"CreateFlowLogsRequest": req},
            resp={
                "CreateFlowLogsResponse": {
                    "flowLogIdSet": {"item": "fl-" + self.hex(17)},
                    "requestId": self.uuid(),
                }
            },
            read_only=False,
        )

    def t_service_event(self, acct: str, region: str, t: datetime) -> Record:
        """Non-API events; Root is the identity of some of them, which is not someone using root."""
        kid, aws, kind = self.ids[acct, "kms:" + region], "AWS Internal", "AwsServiceEvent"
        if region == self.gregion and self.rng.random() < 0.5:
            return self.rec(
                t,
                acct,
                region,
                "trustedadvisor.amazonaws.com",
                "RefreshCheck",
                _root(acct),
                aws,
                aws,
                read_only=False,
                event_type=kind,
                service_details={"checkId": "Pfx0RwqBli"},
            )
        ui = {"accountId": acct, "invokedBy": aws}
        arn = f"arn:aws:kms:{region}:{acct}:key/{kid}"
        return self.rec(
            t,
            acct,
            region,
            "kms.amazonaws.com",
            "RotateKey",
            ui,
            aws,
            aws,
            read_only=False,
            event_type=kind,
            service_details={"keyId": kid},
            resources=[{"accountId": acct, "type": "AWS::KMS::Key", "ARN": arn}],
        )

    def catalog(self, global_region: bool) -> tuple[list[_Template], list[float]]:
        """Weighted templates; global-service ones (IAM, sign-in) only where AWS logs them."""
        table: list[tuple[float, bool, _Template]] = [
            (25, False, partial(self.t_read, source="ec2.amazonaws.com", names=_EC2_READ_NAMES)),
            (6, True, partial(self.t_read, source="iam.amazonaws.com", names=_IAM_READS)),
            (8, False, partial(self.t_read, source="sts.amazonaws.com", names=("GetCallerIdentity",))),
            (8, False, self.t_s3_read),
            (20, False, self.t_s3_object),
            (10, False, self.t_assume_role),
            (2, False, self.t_autoscaling),
            (8, False, self.t_kms_decrypt),
            (3, False, self.t_denied),
            (0.8, True, self.t_login),
            (0.12, True, self.t_login_failed),
            (0.06, True, self.t_own_key),
            (0.15, False, self.t_sg_private),
            (0.3, False, self.t_guardduty),
            (1.5, False, self.t_trail_read),
            (0.06, False, self.t_create_flow_logs),
            (0.05, False, self.t_service_event),
        ]
        rows = [(w, f) for w, g, f in table if global_region or not g]
        return [f for _, f in rows], list(accumulate(w for w, _ in rows))

    def attack(self) -> tuple[list[AttackStep], list[tuple[str, str, Record]]]:
        """The story, spread over the range at deterministic times; returns ground truth and its records."""
        if self.hours < 6:
            raise ValueError("the attack story needs hours >= 6 to keep its steps ~20+ minutes apart")
        spacing = self.hours * 60 / 9
        base = [
            self.start + timedelta(minutes=spacing * (i + 1), seconds=self.rng.randrange(300))
            for i in range(8)
        ]
        a, gr, r0 = self.accounts[0], self.gregion, self.regions[0]
        out: list[tuple[str, str, Record]] = []
        steps: list[AttackStep] = []

        def step(
            t: datetime,
            acct: str,
            region: str,
            entities: dict[str, dict[str, str]],
            summary: str,
            rec: Record,
        ) -> None:
            """`entities`: per expected detection, the dedup values (besides the account) its alert names."""
            steps.append(AttackStep(t, acct, region, tuple(entities), summary, entities))
            out.append((acct, region, rec))

        root = {**_root(a), "accessKeyId": ""}
        step(
            base[0],
            a,
            gr,
            {"cloudtrail_root_activity": {}},  # keyed on the account alone
            f"root console login from {ATTACKER_IP}",
            self.login(base[0], a, root, ATTACKER_IP, ok=True, mfa=True),
        )

        bucket = base[1].replace(minute=base[1].minute // 15 * 15, second=0)
        fails = sorted(bucket + timedelta(seconds=60 + self.rng.randrange(360)) for _ in range(8))
        tries = [self.login(t, a, self.user(a, "alice"), ATTACKER_IP, ok=False, mfa=False) for t in fails]
        step(
            fails[0],
            a,
            gr,
            {"cloudtrail_console_login_brute_force": {"actor": "alice"}},  # the user name typed at sign-in
            f"8 failed console logins for alice from {ATTACKER_IP} within 6 minutes",
            tries[0],
        )
        out += [(a, gr, r) for r in tries[1:]]
        t_in = fails[-1] + timedelta(minutes=2)
        step(
            t_in,
            a,
            gr,
            {
                "cloudtrail_console_login_without_mfa": {"actor": self.user(a, "alice")["arn"]},
                "cloudtrail_console_login_after_failures": {"actor": "alice"},
            },
            f"alice console login without MFA from {ATTACKER_IP}, 2 minutes after 8 failures",
            self.login(t_in, a, self.user(a, "alice"), ATTACKER_IP, ok=True, mfa=False),
        )
        alice = self.user(a, "alice", "ASIA" + self.tok(16), console_since=t_in)
        recons = (("ListUsers", None), ("ListAccessKeys", {"userName": "admin-bob"}))
        for i, (name, recon) in enumerate(recons):
            t = t_in + timedelta(seconds=40 + 50 * i)
            out.append(
                (
                    a,
                    gr,
                    self.rec(
                        t,
                        a,
                        gr,
                        "iam.amazonaws.com",
                        name,
                        alice,
                        ATTACKER_IP,
                        BROWSER_UA,
                        params=recon,
                        console=True,
                    ),
                )
            )

        # alice works in the console she just broke into, so her calls carry the browser UA.
        new_key = "AKIA" + self.tok(16)
        step(
            base[2],
            a,
            gr,
            {
                "cloudtrail_access_key_created_for_other_user": {
                    "actor": alice["arn"],
                    "target_user": "admin-bob",
                }
            },
            f"alice created access key {new_key} for admin-bob",
            self.rec(
                base[2],
                a,
                gr,
                "iam.amazonaws.com",
                "CreateAccessKey",
                alice,
                ATTACKER_IP,
                BROWSER_UA,
                params={"userName": "admin-bob"},
                read_only=False,
                console=True,
                resp={
                    "accessKey": {
                        "accessKeyId": new_key,
                        "status": "Active",
                        "userName": "admin-bob",
                        "createDate": _human(base[2]),
                    }
                },
            ),
        )
        bob = self.user(a, "admin-bob", new_key)
        t = base[2] + timedelta(minutes=3)
        # The rule waits for 6 h of the account's history; a shorter story has the call but no expected alert.
        warmed_up = t - self.start >= timedelta(hours=6, minutes=10)
        step(
            t,
            a,
            r0,
            {"cloudtrail_first_seen_caller_identity": {"actor": bob["arn"]}} if warmed_up else {},
            "admin-bob (never seen calling it) runs GetCallerIdentity with the new key",
            self.rec(t, a, r0, "sts.amazonaws.com", "GetCallerIdentity", bob, ATTACKER_IP, CLI_UA),
        )
        t = base[2] + timedelta(minutes=7)
        out.append(
            (
                a,
                r0,
                self.rec(t, a, r0, "cloudtrail.amazonaws.com", "DescribeTrails", bob, ATTACKER_IP, CLI_UA),
            )
        )

        trail = f"arn:aws:cloudtrail:{r0}:{a}:trail/{TRAIL_NAME}"
        sg = "sg-" + self.hex(17)
        actions: list[tuple[str, str, str, Record, Record | None, str]] = [
            (
                "cloudtrail",
                "StopLogging",
                "cloudtrail_trail_stopped_or_changed",
                {"name": trail},
                None,
                f"admin-bob stopped trail {TRAIL_NAME}",
            ),
            (
                "guardduty",
                "DeleteDetector",
                "cloudtrail_guardduty_disabled",
                {"detectorId": self.ids[a, "detector:" + r0]},
                None,
                "admin-bob deleted the GuardDuty detector",
            ),
            (
                "ec2",
                "DeleteFlowLogs",
                "cloudtrail_vpc_flow_logs_deleted",
                {"DeleteFlowLogsRequest": {"FlowLogId": {"tag": 1, "content": "fl-0123456789abcdef0"}}},
                {
                    "DeleteFlowLogsResponse": {
                        "xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
                        "requestId": self.uuid(),
                        "unsuccessful": "",
                    }
                },
                "admin-bob deleted VPC flow log fl-0123456789abcdef0",
            ),
            (
                "ec2",
                "AuthorizeSecurityGroupIngress",
                "cloudtrail_security_group_opened_to_world",
                _sg_params(sg, 22, "0.0.0.0/0"),
                _sg_resp(self.uuid(), a, sg, "sgr-" + self.hex(17), "cidrIpv4", "0.0.0.0/0"),
                f"admin-bob opened {sg} tcp/22 to 0.0.0.0/0",
            ),
        ]
        for t, (svc, name, det, params, resp, summary) in zip(base[3:7], actions, strict=True):
            step(
                t,
                a,
                r0,
                {det: {} if det == "cloudtrail_guardduty_disabled" else {"actor": bob["arn"]}},
                summary,
                self.rec(
                    t,
                    a,
                    r0,
                    f"{svc}.amazonaws.com",
                    name,
                    bob,
                    ATTACKER_IP,
                    CLI_UA,
                    params=params,
                    resp=resp,
                    read_only=False,
                ),
            )

        b = self.accounts[1] if len(self.accounts) > 1 else a
        rb = self.regions[1] if len(self.regions) > 1 else r0
        sg2 = "sg-" + self.hex(17)
        world6 = _sg_params(sg2, 22, None)
        world6["ipPermissions"]["items"][0]["ipv6Ranges"] = {"items": [{"cidrIpv6": "::/0"}]}
        ci = self.role(b, "ci-deploy", "GitHubActions", base[7])
        step(
            base[7],
            b,
            rb,
            {"cloudtrail_security_group_opened_to_world": {"actor": ci["arn"]}},
            f"ci-deploy session opened {sg2} tcp/22 to ::/0 from {ATTACKER_IPV6}",
            self.rec(
                base[7],
                b,
                rb,
                "ec2.amazonaws.com",
                "AuthorizeSecurityGroupIngress",
                ci,
                ATTACKER_IPV6,
                CLI_UA,
                params=world6,
                read_only=False,
                resp=_sg_resp(self.uuid(), b, sg2, "sgr-" + self.hex(17), "cidrIpv6", "::/0"),
            ),
        )
        # No background typo-failures for alice in the brute-force hour: the attack's count stays exactly 8.
        self.failed[a, "alice", bucket.replace(minute=0)] = 2
        return steps, out


def _sg_params(group: str, port: int, cidr: str | None) -> Record:
    ranges = {"items": [{"cidrIp": cidr}]} if cidr else {}
    return {
        "groupId": group,
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": "tcp",
                    "fromPort": port,
                    "toPort": port,
                    "groups": {},
                    "ipRanges": ranges,
                    "ipv6Ranges": {},
                    "prefixListIds": {},
                }
            ]
        },
    }


def _sg_resp(request_id: str, acct: str, group: str, rule: str, field: str, cidr: str) -> Record:
    return {
        "requestId": request_id,
        "_return": True,
        "securityGroupRuleSet": {
            "items": [
                {
                    "groupOwnerId": acct,
                    "groupId": group,
                    "securityGroupRuleId": rule,
                    "isEgress": False,
                    "ipProtocol": "tcp",
                    "fromPort": 22,
                    "toPort": 22,
                    field: cidr,
                }
            ]
        },
    }


def generate_cloudtrail(
    put: Put,
    start: datetime,
    hours: int = 24,
    seed: int = 7,
    accounts: Sequence[str] = ("111111111111", "222222222222"),
    regions: Sequence[str] = ("us-east-1", "eu-west-1"),
    events_per_file: int = 40,
) -> list[AttackStep]:
    """Write `hours` of CloudTrail (events + hourly digests) through `put`; return the attack's ground truth.

    Objects are handed to `put` in landing order (landed_at, key), as an S3 notification consumer sees them.
    """
    require_hour_aligned(start)
    rng = random.Random(seed)  # noqa: S311 - reproducibility is the point; nothing here is a secret
    g = _Gen(rng, start, hours, accounts, regions)
    steps, attack = g.attack()
    injected: dict[tuple[str, str, int], list[Record]] = {}
    for acct, region, rec in attack:
        k = int((datetime.fromisoformat(rec["eventTime"].replace("Z", "+00:00")) - start) / _FILE)
        injected.setdefault((acct, region, k), []).append(rec)

    catalogs = {r: g.catalog(r == g.gregion) for r in g.regions}
    pairs = [(acct, region) for acct in g.accounts for region in g.regions]
    objects: list[tuple[datetime, str, bytes]] = []
    logs: dict[tuple[str, str], list[tuple[datetime, str, str, str, str]]] = {}  # landed, key, hash, old, new
    for k in range(hours * 12):
        t0 = start + k * _FILE
        t_end = t0 + _FILE
        hour = t0.hour + t0.minute / 60  # busiest mid-afternoon UTC, quietest at night
        mean = events_per_file * (1 + 0.6 * math.cos(2 * math.pi * (hour - 14) / 24))
        for acct, region in pairs:
            n = max(0, round(rng.gauss(mean, math.sqrt(mean)))) if mean > 0 else 0
            funcs, cum = catalogs[region]
            picks = rng.choices(funcs, cum_weights=cum, k=n)
            offsets = sorted(rng.randrange(300) for _ in range(n))
            recs = [f(acct, region, t0 + timedelta(seconds=o)) for f, o in zip(picks, offsets, strict=True)]
            recs += injected.get((acct, region, k), [])
            if not recs:
                continue
            recs.sort(key=lambda r: r["eventTime"])
            body = orjson.dumps({"Records": recs})
            key = (
                f"AWSLogs/{acct}/CloudTrail/{region}/{t_end:%Y/%m/%d}/"
                f"{acct}_CloudTrail_{region}_{t_end:%Y%m%dT%H%MZ}_{g.tok(16, _ALNUM)}.json.gz"
            )
            landed = t_end + timedelta(seconds=rng.randint(30, 240))
            objects.append((landed, key, gzip.compress(body, compresslevel=6, mtime=0)))
            sha = hashlib.sha256(body).hexdigest()
            first, last = recs[0]["eventTime"], recs[-1]["eventTime"]
            logs.setdefault((acct, region), []).append((landed, key, sha, first, last))

    objects += _digests(g, logs)
    put_in_landing_order(put, objects)
    return steps


def _digests(
    g: _Gen, logs: dict[tuple[str, str], list[tuple[datetime, str, str, str, str]]]
) -> list[tuple[datetime, str, bytes]]:
    """Hourly digests chained by hash, listing the files that *landed* in their hour, as AWS does. Hashes are
    SHA-256 of uncompressed content (AWS's definition); signatures are random hex: no CloudTrail key here."""
    out: list[tuple[datetime, str, bytes]] = []
    for acct in g.accounts:
        for region in g.regions:
            fingerprint = g.hex(32)
            prev: tuple[str | None, ...] = (None, None, None)  # key, sha256, signature of the previous digest
            files = logs.get((acct, region), [])
            for h in range(g.hours + 1):  # one more hour: the last files land after the range ends
                lo, hi = g.start + timedelta(hours=h), g.start + timedelta(hours=h + 1)
                listed = [f for f in files if lo <= f[0] < hi]
                ts = hi + timedelta(seconds=g.rng.randrange(5, 90))
                key = (
                    f"AWSLogs/{acct}/CloudTrail-Digest/{region}/{ts:%Y/%m/%d}/{acct}_CloudTrail-Digest_"
                    f"{region}_{TRAIL_NAME}_{g.regions[0]}_{ts:%Y%m%dT%H%M%SZ}.json.gz"
                )
                doc = {
                    "awsAccountId": acct,
                    "digestStartTime": _ts(lo),
                    "digestEndTime": _ts(hi),
                    "digestS3Bucket": TRAIL_BUCKET,
                    "digestS3Object": key,
                    "digestPublicKeyFingerprint": fingerprint,
                    "digestSignatureAlgorithm": "SHA256withRSA",
                    "newestEventTime": max((f[4] for f in listed), default=None),
                    "oldestEventTime": min((f[3] for f in listed), default=None),
                    "previousDigestS3Bucket": prev[0] and TRAIL_BUCKET,
                    "previousDigestS3Object": prev[0],
                    "previousDigestHashValue": prev[1],
                    "previousDigestHashAlgorithm": "SHA-256",
                    "previousDigestSignature": prev[2],
                    "logFiles": [
                        {
                            "s3Bucket": TRAIL_BUCKET,
                            "s3Object": f[1],
                            "hashValue": f[2],
                            "hashAlgorithm": "SHA-256",
                            "newestEventTime": f[4],
                            "oldestEventTime": f[3],
                        }
                        for f in listed
                    ],
                }
                body = orjson.dumps(doc)
                prev = (key, hashlib.sha256(body).hexdigest(), g.hex(512))
                landed = ts + timedelta(seconds=g.rng.randrange(1, 30))
                out.append((landed, key, gzip.compress(body, mtime=0)))
    return out


def require_hour_aligned(start: datetime) -> None:
    """Generators lay files out from an hour mark; anything else would shift every key and time."""
    if start.utcoffset() != timedelta(0) or start.minute or start.second or start.microsecond:
        raise ValueError("start must be a tz-aware UTC datetime aligned to the hour")


def put_in_landing_order(put: Put, objects: list[tuple[datetime, str, bytes]]) -> None:
    """Hand objects to `put` in landing order (landed_at, key), as an S3 notification consumer sees them."""
    for landed, key, data in sorted(objects, key=lambda o: (o[0], o[1])):
        put(key, data, landed)
