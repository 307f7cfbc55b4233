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
from collections import Counter
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
# Roles of the automation background (`_Gen.automation`). Kept apart from ROLES because their ids are drawn
# after the attack story, so adding background families never moves the story's own random ids.
AUTOMATION_ROLES: dict[str, str] = {
    "backup-runner": "/service-role/",
    "orders-api": "/service-role/",
    "okta-PlatformAdmins": "/",
}
# Roles of the newer rules' near-misses (`_Gen.near_misses`), drawn after every other family for the same reason.
NEAR_MISS_ROLES: dict[str, str] = {
    "asset-inventory": "/service-role/",
    "finops-report": "/service-role/",
    "AWSServiceRoleForConfig": "/aws-service-role/config.amazonaws.com/",
    "AWSServiceRoleForAmazonInspector2": "/aws-service-role/inspector2.amazonaws.com/",
    "AWSServiceRoleForAWSControlTower": "/aws-service-role/controltower.amazonaws.com/",
    "AWSBackupDefaultServiceRole": "/service-role/",
    "AWSDataLifecycleManagerDefaultRole": "/service-role/",
    "AWSGlueServiceRole-lake": "/service-role/",
}
_PATHS = {**ROLES, **AUTOMATION_ROLES, **NEAR_MISS_ROLES}
WORKLOAD_REGIONS = ("us-east-1", "eu-west-1")  # the demo organization's regions with workloads (the default)
# Regions the organization has enabled but runs nothing in: they hold only what sweeps every region (AWS Config's
# aggregator, the EC2 console's Global View, a Terraform plan of the multi-region baseline, a report job), which is
# what cloudtrail_region_enumeration must tell from a stolen key's sweep. With the two workload regions: ten.
QUIET_REGIONS = (
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-central-1",
    "eu-west-2",
    "eu-north-1",
    "ap-southeast-1",
)
# Read APIs by service, beyond the routine ones above: what an inventory, a posture scanner, AWS Config or a
# Terraform plan reads (CloudTrail's names: Lambda's carry their API version). No GetCallerIdentity (a new caller
# would be "first seen") and no reads a rule watches (secrets, parameters, instance attributes, objects).
_SWEEP_READS: dict[str, tuple[str, ...]] = {
    "ec2.amazonaws.com": (
        "DescribeInstances",
        "DescribeVolumes",
        "DescribeSnapshots",
        "DescribeSecurityGroups",
        "DescribeVpcs",
        "DescribeImages",
    ),
    "iam.amazonaws.com": ("ListUsers", "ListRoles", "ListPolicies", "GetAccountSummary", "ListAccessKeys"),
    "s3.amazonaws.com": (
        "ListBuckets",
        "GetBucketPolicy",
        "GetBucketPublicAccessBlock",
        "GetBucketEncryption",
    ),
    "lambda.amazonaws.com": ("ListFunctions20150331", "GetPolicy20150331v2"),
    "rds.amazonaws.com": ("DescribeDBInstances", "DescribeDBClusters", "DescribeDBSnapshots"),
    "kms.amazonaws.com": ("ListKeys", "ListAliases", "DescribeKey"),
    "secretsmanager.amazonaws.com": ("ListSecrets",),
    "dynamodb.amazonaws.com": ("ListTables", "DescribeTable", "DescribeContinuousBackups"),
    "sns.amazonaws.com": ("ListTopics", "ListSubscriptions"),
    "sqs.amazonaws.com": ("ListQueues",),
    "elasticloadbalancing.amazonaws.com": ("DescribeLoadBalancers", "DescribeTargetGroups"),
    "elasticfilesystem.amazonaws.com": ("DescribeFileSystems",),
    "logs.amazonaws.com": ("DescribeLogGroups",),
    "ecr.amazonaws.com": ("DescribeRepositories",),
    "eks.amazonaws.com": ("ListClusters",),
    "ses.amazonaws.com": ("GetSendQuota", "GetAccount"),
}
_SWEEP = tuple((src, name) for src, names in _SWEEP_READS.items() for name in names)
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
        self,
        rng: random.Random,
        start: datetime,
        hours: int,
        accounts: Sequence[str],
        regions: Sequence[str],
        quiet: Sequence[str] = (),
    ) -> None:
        self.rng, self.start, self.hours = rng, start, hours
        self.accounts, self.regions = list(accounts), list(regions)
        self.quiet = [r for r in quiet if r not in self.regions]  # enabled, no workload: see QUIET_REGIONS
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
                    "arn": f"arn:aws:iam::{acct}:role{_PATHS[role]}{role}",
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
        params = None
        if name == "GetSecretValue":  # the one secret this caller is configured with, by name
            who = ui.get("userName") or ui["sessionContext"]["sessionIssuer"]["userName"]
            params = {"secretId": f"{who}/config"}
        return self.rec(
            t, acct, region, src, name, ui, ip, ua, params=params, error=(code, msg), console=console
        )

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

    # -- automation background ------------------------------------------------------------------------------
    def automation(self) -> tuple[list[tuple[str, str, Record]], Counter[str]]:
        """Benign activity that a naive rule would take for an attack, one family per rule negative case.

        Infrastructure-as-code creating and destroying security groups, IAM roles, buckets and CloudFormation
        stacks; CI pipelines assuming roles across the organization's accounts; a nightly backup reading
        hundreds of objects below the bulk-read limits; KMS decryption by an application (one key) and by AWS
        services (many keys); automation denied at volumes below the denial rules' limits; federated console
        sign-ins. Each is what a rule's negative cases say it must ignore, so the demo's "0 alerts from
        background" measures precision rather than an empty trail. Drawn after the attack story (its records
        and ids do not move); returns the records and how many each family wrote.
        """
        out: list[tuple[str, str, Record]] = []
        counts: Counter[str] = Counter()
        end = self.start + timedelta(hours=self.hours)
        for a in self.accounts:
            self.ids.update({(a, r): "AROA" + self.tok(17) for r in AUTOMATION_ROLES})
            for v in range(3):
                self.ids[a, f"kms:vault{v}"] = self.uuid()
            for e in range(6):
                self.ids[a, f"kms:ebs{e}"] = self.uuid()

        def emit(family: str, acct: str, region: str, recs: Sequence[Record]) -> None:
            """Keep what falls inside the range (an episode may run past its end, as real ones do)."""
            for r in recs:
                if self.start <= datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")) < end:
                    out.append((acct, region, r))
                    counts[family] += 1

        def at(lo: timedelta, hi: timedelta) -> datetime:
            return self.start + lo + timedelta(seconds=self.rng.randrange(int((hi - lo).total_seconds())))

        span = timedelta(hours=self.hours)
        r0 = self.regions[0]
        for a in self.accounts:
            emit("caller_identity_history", a, r0, self._known_callers(a))
            for _ in range(max(1, self.hours // 3)):
                region = self.rng.choice(self.regions)
                t = at(timedelta(minutes=10), span - timedelta(minutes=30))
                emit("terraform_security_groups", a, region, self._tf_security_group(a, region, t))
            for _ in range(max(1, self.hours // 6)):
                t = at(timedelta(minutes=10), span - timedelta(minutes=30))
                emit("terraform_iam_roles", a, self.gregion, self._tf_iam_role(a, t))
            for _ in range(max(1, self.hours // 8)):
                region = self.rng.choice(self.regions)
                t = at(timedelta(minutes=10), span - timedelta(minutes=30))
                emit("terraform_buckets", a, region, self._tf_bucket(a, region, t))
            for _ in range(max(1, self.hours // 12)):
                region = self.rng.choice(self.regions)
                t = at(timedelta(minutes=10), span - timedelta(minutes=30))
                for rg, recs in self._cfn_stack(a, region, t):
                    emit("cloudformation_stacks", a, rg, recs)
            for h in range(self.hours):  # the deploy pipeline runs hourly, from the first hour on
                t = at(timedelta(hours=h), timedelta(hours=h, minutes=50))
                for acct, recs in self._ci_role_chain(a, t):
                    emit("ci_role_chain", acct, r0, recs)
            emit("backup_s3_reads", a, r0, self._backup(a))
            emit("kms_service_decrypts", a, r0, self._kms_services(a))
            for region in self.regions:
                emit("denied_automation", a, region, self._denied_automation(a, region))
            emit("federated_console_sign_ins", a, self.gregion, self._saml_logins(a))
        # Identity and access changes made as code, and routine identity administration: drawn after every
        # other family (and account) so that adding them moved none of the earlier families' random values.
        for a in self.accounts:
            for _ in range(max(1, self.hours // 12)):
                t = at(timedelta(minutes=10), span - timedelta(hours=2))
                for rg, recs in self._tf_identity_access(a, t):
                    emit("terraform_identity_access", a, rg, recs)
            t = at(timedelta(minutes=10), span - timedelta(minutes=30))
            for rg, recs in self._identity_admin_routine(a, t):
                emit("identity_admin_routine", a, rg, recs)
        for family, acct, rg, recs in self.near_misses(at):
            emit(family, acct, rg, recs)
        return out, counts

    def _known_callers(self, a: str) -> list[Record]:
        """Every routine caller's GetCallerIdentity once in the range's first hour: the history a real account
        has from before the range (cloudtrail_first_seen_caller_identity's baseline), which a generated day
        otherwise lacks, so that a rare caller (a person's CLI) is not "first seen" at 06:00 by chance."""
        sts, r0, out = "sts.amazonaws.com", self.regions[0], []
        t = self.start + timedelta(seconds=self.rng.randrange(600))
        session = f"botocore-session-{int(t.replace(minute=0, second=0).timestamp())}"
        nat = f"203.0.113.{10 + 10 * (self.accounts.index(a) % 8)}"
        callers: list[tuple[Record, str, str]] = [
            (self.role(a, "platform-automation", session, t), nat, BOTO_UA),
            (self.role(a, "inventory-collector", "inventory-collector", t), "10.0.1.20", LAMBDA_UA),
            (self.role(a, "security-audit", "cspm-scanner", t), "203.0.113.200", BOTO_UA),
            (self.role(a, SSO_ROLE, "carol@example.com", t), self.office_ip(), BROWSER_UA),
        ]
        callers += [
            (self.user(a, p, self.ids[a, "key:" + p]), self.office_ip(), CLI_UA)
            for p in ("carol", "dave", "erin")
        ]
        for ui, ip, ua in callers:
            t += timedelta(seconds=self.rng.randrange(30, 400))
            out.append(self.rec(t, a, r0, sts, "GetCallerIdentity", ui, ip, ua))
        return out

    def _ci(self, acct: str, t: datetime) -> Record:
        return self.role(acct, "ci-deploy", "GitHubActions", t)

    def _tf_security_group(self, a: str, region: str, t: datetime) -> list[Record]:
        """terraform apply, then destroy of a preview environment's security group: private ingress, egress
        to anywhere (outbound 0.0.0.0/0 is the default, not an exposure), and AWS's default rule revoked."""
        ip, sg, ec2 = self.ci_ip(), "sg-" + self.hex(17), "ec2.amazonaws.com"
        port, cidr = (
            self.rng.choice((443, 5432, 6379, 8080)),
            self.rng.choice(("10.0.0.0/16", "10.20.0.0/16")),
        )
        default_egress = _sg_params(sg, 0, "0.0.0.0/0")
        item = default_egress["ipPermissions"]["items"][0]
        item["ipProtocol"] = "-1"
        del item["fromPort"], item["toPort"]
        name = f"tf-{self.rng.choice(('api', 'worker', 'cache', 'db'))}-{self.hex(6)}"
        t_destroy = t + timedelta(minutes=self.rng.randrange(15, 90))

        def call(when: datetime, event: str, params: Record, resp: Record | None = None) -> Record:
            ok = {"requestId": self.uuid(), "_return": True}
            return self.rec(
                when,
                a,
                region,
                ec2,
                event,
                self._ci(a, when),
                ip,
                TF_UA,
                params=params,
                resp=resp or ok,
                read_only=False,
            )

        vpc = self.ids[a, "vpc:" + region]
        return [
            call(
                t,
                "CreateSecurityGroup",
                {"groupName": name, "groupDescription": "Managed by Terraform", "vpcId": vpc},
                {"requestId": self.uuid(), "_return": True, "groupId": sg},
            ),
            call(t + timedelta(seconds=3), "RevokeSecurityGroupEgress", default_egress),
            call(t + timedelta(seconds=5), "AuthorizeSecurityGroupIngress", _sg_params(sg, port, cidr)),
            call(t + timedelta(seconds=6), "AuthorizeSecurityGroupEgress", _sg_params(sg, 443, "0.0.0.0/0")),
            call(t_destroy, "RevokeSecurityGroupIngress", _sg_params(sg, port, cidr)),
            call(t_destroy + timedelta(seconds=4), "DeleteSecurityGroup", {"groupId": sg}),
        ]

    def _tf_iam_role(self, a: str, t: datetime) -> list[Record]:
        """terraform apply/destroy of a workload role: trusted by a service or by the CI role of another
        account of the organization (sql/lookups/known_accounts), a scoped inline policy, ReadOnlyAccess."""
        ip, iam = self.ci_ip(), "iam.amazonaws.com"
        role = f"tf-{self.rng.choice(('etl', 'reports', 'preview', 'batch'))}-{self.hex(6)}"
        others = [x for x in self.accounts if x != a]
        if others and self.rng.random() < 0.5:
            principal: Record = {"AWS": f"arn:aws:iam::{self.rng.choice(others)}:role/ci-deploy"}
        else:
            principal = {"Service": "ec2.amazonaws.com"}
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        }
        bucket = f"arn:aws:s3:::{self.rng.choice(_BUCKETS)}-{a}"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": [bucket, bucket + "/*"],
                }
            ],
        }
        arn = f"arn:aws:iam::{a}:role/{role}"
        t_destroy = t + timedelta(minutes=self.rng.randrange(20, 120))

        def call(when: datetime, event: str, params: Record, resp: Record | None = None) -> Record:
            ui = self._ci(a, when)
            return self.rec(
                when, a, self.gregion, iam, event, ui, ip, TF_UA, params=params, resp=resp, read_only=False
            )

        created = {
            "role": {
                "path": "/",
                "roleName": role,
                "roleId": "AROA" + self.tok(17),
                "arn": arn,
                "createDate": _human(t),
            }
        }
        readonly = "arn:aws:iam::aws:policy/ReadOnlyAccess"
        return [
            call(
                t,
                "CreateRole",
                {
                    "roleName": role,
                    "path": "/",
                    "assumeRolePolicyDocument": orjson.dumps(trust).decode(),
                    "maxSessionDuration": 3600,
                    "tags": [{"key": "managed-by", "value": "terraform"}],
                },
                created,
            ),
            call(
                t + timedelta(seconds=2),
                "PutRolePolicy",
                {"roleName": role, "policyName": "s3-read", "policyDocument": orjson.dumps(policy).decode()},
            ),
            call(t + timedelta(seconds=3), "AttachRolePolicy", {"roleName": role, "policyArn": readonly}),
            call(t_destroy, "DetachRolePolicy", {"roleName": role, "policyArn": readonly}),
            call(
                t_destroy + timedelta(seconds=1),
                "DeleteRolePolicy",
                {"roleName": role, "policyName": "s3-read"},
            ),
            call(t_destroy + timedelta(seconds=3), "DeleteRole", {"roleName": role}),
        ]

    def _tf_bucket(self, a: str, region: str, t: datetime) -> list[Record]:
        """terraform apply/destroy of a preview bucket: public access blocked, versioning on, the account's own
        KMS key, a TLS-only policy granting one of its own roles. The destroy removes the policy and the Block
        Public Access, then the bucket, a second apart, as Terraform's dependency order does: the near-miss of
        cloudtrail_s3_public_access_block_removed, which spares a block removed just before its bucket goes."""
        ip, b = self.ci_ip(), f"preview-{self.hex(8)}-{a}"
        host, xmlns = f"{b}.s3.{region}.amazonaws.com", "http://s3.amazonaws.com/doc/2006-03-01/"
        key = f"arn:aws:kms:{region}:{a}:key/{self.ids[a, 'kms:' + region]}"
        t_destroy = t + timedelta(minutes=self.rng.randrange(30, 150))

        def call(when: datetime, event: str, params: Record) -> Record:
            return self.rec(
                when,
                a,
                region,
                "s3.amazonaws.com",
                event,
                self._ci(a, when),
                ip,
                TF_UA,
                params={"bucketName": b, "Host": host, **params},
                read_only=False,
                extra={
                    "SignatureVersion": "SigV4",
                    "CipherSuite": "TLS_AES_128_GCM_SHA256",
                    "bytesTransferredIn": 0,
                    "AuthenticationMethod": "AuthHeader",
                    "x-amz-id-2": self.tok(56, _ALNUM),
                },
                resources=[{"accountId": a, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{b}"}],
            )

        where = {"CreateBucketConfiguration": {"LocationConstraint": region, "xmlns": xmlns}}
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "PreviewRead",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{a}:role/ci-deploy"},
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{b}/*",
                },
            ],
        }
        block = {
            k: True
            for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        }
        sse = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}
        lifecycle = {
            "Rule": {
                "ID": "expire-noncurrent",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            }
        }
        s = timedelta(seconds=1)
        # Its ids come from a stream of its own (seeded by the bucket's name): the record was added after the
        # day was settled, and drawing them from the shared rng would move every later value of the day.
        main, self.rng = self.rng, random.Random(b)  # noqa: S311 - reproducibility, no secret
        try:
            unblock = call(t_destroy + s, "DeleteBucketPublicAccessBlock", {"publicAccessBlock": ""})
        finally:
            self.rng = main
        return [
            call(t, "CreateBucket", where if region != "us-east-1" else {}),
            call(
                t + 2 * s,
                "PutBucketPublicAccessBlock",
                {"publicAccessBlock": "", "PublicAccessBlockConfiguration": {"xmlns": xmlns, **block}},
            ),
            call(
                t + 3 * s,
                "PutBucketVersioning",
                {"versioning": "", "VersioningConfiguration": {"xmlns": xmlns, "Status": "Enabled"}},
            ),
            call(
                t + 4 * s,
                "PutBucketEncryption",
                {
                    "encryption": "",
                    "ServerSideEncryptionConfiguration": {
                        "xmlns": xmlns,
                        "Rule": {**sse, "BucketKeyEnabled": True},
                    },
                },
            ),
            call(t + 5 * s, "PutBucketPolicy", {"policy": "", "bucketPolicy": policy}),
            call(
                t + 6 * s,
                "PutBucketLifecycleConfiguration",
                {"lifecycle": "", "LifecycleConfiguration": {"xmlns": xmlns, **lifecycle}},
            ),
            call(t_destroy, "DeleteBucketPolicy", {"policy": ""}),
            unblock,
            call(t_destroy + 2 * s, "DeleteBucket", {}),
        ]

    def _cfn_stack(self, a: str, region: str, t: datetime) -> list[tuple[str, list[Record]]]:
        """A CloudFormation stack created and deleted by CI: the stack calls carry the CI role's identity with
        invokedBy cloudformation.amazonaws.com (IAM's in the global region), a service-trusted Lambda role with
        an AWS managed policy and a security group open to another group only."""
        cfn, ip, stack = "cloudformation.amazonaws.com", self.ci_ip(), f"orders-preview-{self.hex(6)}"
        stack_id = f"arn:aws:cloudformation:{region}:{a}:stack/{stack}/{self.uuid()}"
        role, sg, src_sg = f"{stack}-FnRole-{self.tok(12)}", "sg-" + self.hex(17), "sg-" + self.hex(17)
        basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        ingress = _sg_params(sg, 8080, None)
        ingress["ipPermissions"]["items"][0]["groups"] = {"items": [{"groupId": src_sg}]}
        t_delete = t + timedelta(minutes=self.rng.randrange(40, 180))
        s = timedelta(seconds=1)

        def by_stack(when: datetime, rg: str, source: str, event: str, params: Record) -> Record:
            ui = self.role(a, "ci-deploy", "GitHubActions", when, cfn)
            return self.rec(when, a, rg, source, event, ui, cfn, cfn, params=params, read_only=False)

        def by_ci(when: datetime, event: str, params: Record, resp: Record | None) -> Record:
            return self.rec(
                when,
                a,
                region,
                cfn,
                event,
                self._ci(a, when),
                ip,
                CLI_UA,
                params=params,
                resp=resp,
                read_only=False,
            )

        iam, ec2, g = "iam.amazonaws.com", "ec2.amazonaws.com", self.gregion
        doc = orjson.dumps(trust).decode()
        return [
            (
                region,
                [
                    by_ci(
                        t,
                        "CreateStack",
                        {
                            "stackName": stack,
                            "templateURL": f"https://s3.amazonaws.com/app-artifacts-{a}/cfn/orders.yaml",
                            "capabilities": ["CAPABILITY_IAM"],
                        },
                        {"stackId": stack_id},
                    ),
                    by_stack(
                        t + 20 * s,
                        region,
                        ec2,
                        "CreateSecurityGroup",
                        {"groupDescription": f"{stack} function", "vpcId": self.ids[a, "vpc:" + region]},
                    ),
                    by_stack(t + 24 * s, region, ec2, "AuthorizeSecurityGroupIngress", ingress),
                    by_ci(t_delete, "DeleteStack", {"stackName": stack}, None),
                    by_stack(t_delete + 30 * s, region, ec2, "DeleteSecurityGroup", {"groupId": sg}),
                ],
            ),
            (
                g,
                [
                    by_stack(
                        t + 8 * s,
                        g,
                        iam,
                        "CreateRole",
                        {"roleName": role, "path": "/", "assumeRolePolicyDocument": doc},
                    ),
                    by_stack(t + 10 * s, g, iam, "AttachRolePolicy", {"roleName": role, "policyArn": basic}),
                    by_stack(
                        t_delete + 20 * s, g, iam, "DetachRolePolicy", {"roleName": role, "policyArn": basic}
                    ),
                    by_stack(t_delete + 22 * s, g, iam, "DeleteRole", {"roleName": role}),
                ],
            ),
        ]

    def _tf_identity_access(self, a: str, t: datetime) -> list[tuple[str, list[Record]]]:
        """terraform apply of an access module as the reviewed CI role (sql/lookups/iac_principals): a managed
        policy's new default version, an admin group's member, a permissions boundary replaced, an EKS
        cluster's admin access entry and IRSA OIDC provider, a fleet key pair, an instance profile on a running
        instance, an ordinary task definition, the account password policy at 14 characters, and (in the
        first account, the organization's management account) an Identity Center assignment and a read-only
        permission set policy. Each is what a rule that trusts the listed pipelines must ignore."""
        ip, r0, s = self.ci_ip(), self.regions[0], timedelta(seconds=1)
        iam, ec2, eks, ecs, sso = (f"{x}.amazonaws.com" for x in ("iam", "ec2", "eks", "ecs", "sso"))
        mod = self.rng.choice(("platform", "data", "payments"))
        policy = f"arn:aws:iam::{a}:policy/{mod}-deployer"
        cluster, key_name = f"{mod}-eks", f"{mod}-fleet-{self.hex(4)}"
        issuer = f"https://oidc.eks.{r0}.amazonaws.com/id/{self.hex(32).upper()}"
        doc = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"}],
        }
        t_destroy = t + timedelta(minutes=self.rng.randrange(20, 90))

        def call(when: datetime, rg: str, source: str, event: str, params: Record | None) -> Record:
            ui = self._ci(a, when)
            return self.rec(when, a, rg, source, event, ui, ip, TF_UA, params=params, read_only=False)

        version = self.rng.randrange(2, 5)
        oidc_arn = f"arn:aws:iam::{a}:oidc-provider/{issuer.removeprefix('https://')}"
        admin = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        entry = {"name": cluster, "principalArn": f"arn:aws:iam::{a}:role/{mod}-operators"}
        boundary = f"arn:aws:iam::{a}:policy/{mod}-boundary"
        container = {
            "name": "api",
            "image": f"{a}.dkr.ecr.{r0}.amazonaws.com/{mod}-api:{self.hex(7)}",
            "essential": True,
            "portMappings": [{"containerPort": 8080}],
            "command": ["gunicorn", "-b", "0.0.0.0:8080", "app:app"],
        }
        glob = [
            call(
                t,
                self.gregion,
                iam,
                "CreatePolicyVersion",
                {
                    "policyArn": policy,
                    "policyDocument": orjson.dumps(doc).decode(),
                    "setAsDefault": True,
                },
            ),
            call(
                t + s,
                self.gregion,
                iam,
                "DeletePolicyVersion",
                {"policyArn": policy, "versionId": f"v{version - 1}"},
            ),
            call(
                t + 2 * s,
                self.gregion,
                iam,
                "AddUserToGroup",
                {"groupName": "Administrators", "userName": "carol"},
            ),
            call(t + 3 * s, self.gregion, iam, "DeleteRolePermissionsBoundary", {"roleName": f"{mod}-app"}),
            call(
                t + 4 * s,
                self.gregion,
                iam,
                "PutRolePermissionsBoundary",
                {
                    "roleName": f"{mod}-app",
                    "permissionsBoundary": boundary,
                },
            ),
            call(
                t + 5 * s,
                self.gregion,
                iam,
                "CreateOpenIDConnectProvider",
                {
                    "url": issuer,
                    "clientIDList": ["sts.amazonaws.com"],
                },
            ),
            call(
                t + 6 * s,
                self.gregion,
                iam,
                "UpdateAccountPasswordPolicy",
                {
                    "minimumPasswordLength": 14,
                    "requireSymbols": True,
                    "requireNumbers": True,
                    "requireUppercaseCharacters": True,
                    "requireLowercaseCharacters": True,
                    "allowUsersToChangePassword": True,
                    "passwordReusePrevention": 24,
                },
            ),
            call(
                t_destroy,
                self.gregion,
                iam,
                "RemoveUserFromGroup",
                {"groupName": "Administrators", "userName": "carol"},
            ),
            call(
                t_destroy + s,
                self.gregion,
                iam,
                "DeleteOpenIDConnectProvider",
                {"openIDConnectProviderArn": oidc_arn},
            ),
        ]
        regional = [
            call(t + 7 * s, r0, eks, "CreateAccessEntry", {**entry, "type": "STANDARD"}),
            call(
                t + 8 * s,
                r0,
                eks,
                "AssociateAccessPolicy",
                {**entry, "policyArn": admin, "accessScope": {"type": "cluster"}},
            ),
            call(
                t + 9 * s,
                r0,
                ec2,
                "ImportKeyPair",
                {"keyName": key_name, "publicKeyMaterial": "<sensitiveDataRemoved>"},
            ),
            call(
                t + 10 * s,
                r0,
                ec2,
                "AssociateIamInstanceProfile",
                {
                    "AssociateIamInstanceProfileRequest": {
                        "InstanceId": "i-" + self.hex(17),
                        "IamInstanceProfile": {"Name": f"{mod}-worker"},
                    }
                },
            ),
            call(
                t + 11 * s,
                r0,
                ecs,
                "RegisterTaskDefinition",
                {
                    "family": f"{mod}-api",
                    "taskRoleArn": f"arn:aws:iam::{a}:role/{mod}-task",
                    "networkMode": "awsvpc",
                    "requiresCompatibilities": ["FARGATE"],
                    "cpu": "256",
                    "memory": "512",
                    "containerDefinitions": [container],
                },
            ),
            call(t_destroy + 2 * s, r0, eks, "DeleteAccessEntry", entry),
            call(t_destroy + 3 * s, r0, ec2, "DeleteKeyPair", {"keyName": key_name}),
        ]
        out = [(self.gregion, glob), (r0, regional)]
        if a == self.accounts[0]:
            inst = f"arn:aws:sso:::instance/ssoins-{self.hex(16)}"
            ps = f"arn:aws:sso:::permissionSet/{inst.rsplit('-', 1)[1]}/ps-{self.hex(16)}"
            assignment = {
                "instanceArn": inst,
                "targetId": self.rng.choice(self.accounts),
                "targetType": "AWS_ACCOUNT",
                "permissionSetArn": ps,
                "principalType": "GROUP",
                "principalId": self.uuid(),
            }
            out.append(
                (
                    r0,
                    [
                        call(
                            t + 12 * s,
                            r0,
                            sso,
                            "AttachManagedPolicyToPermissionSet",
                            {
                                "instanceArn": inst,
                                "permissionSetArn": ps,
                                "managedPolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
                            },
                        ),
                        call(t + 13 * s, r0, sso, "CreateAccountAssignment", assignment),
                        call(t_destroy + 4 * s, r0, sso, "DeleteAccountAssignment", assignment),
                    ],
                )
            )
        return out

    def _identity_admin_routine(self, a: str, t: datetime) -> list[tuple[str, list[Record]]]:
        """Routine identity administration by people and scanners that the identity rules must ignore: a
        help-desk user adding a new hire to a read-only group, the posture scanner reading the serial console
        switch and the password policy, an engineer granting an EKS view policy from the console."""
        r0, person = self.regions[0], self.rng.choice(("carol", "dave", "erin"))
        iam, ec2, eks = "iam.amazonaws.com", "ec2.amazonaws.com", "eks.amazonaws.com"
        scanner = self.role(a, "security-audit", "cspm-scanner", t)
        helpdesk = self.user(a, person, self.ids[a, "key:" + person])
        console = self.role(a, SSO_ROLE, f"{person}@example.com", t)
        glob = [
            self.rec(
                t,
                a,
                self.gregion,
                iam,
                "AddUserToGroup",
                helpdesk,
                self.office_ip(),
                CLI_UA,
                params={"groupName": "readonly", "userName": f"new-hire-{self.hex(4)}"},
                read_only=False,
            ),
            self.rec(
                t + timedelta(seconds=40),
                a,
                self.gregion,
                iam,
                "GetAccountPasswordPolicy",
                scanner,
                "203.0.113.200",
                BOTO_UA,
            ),
        ]
        regional = [
            self.rec(
                t + timedelta(seconds=41),
                a,
                r0,
                ec2,
                "GetSerialConsoleAccessStatus",
                scanner,
                "203.0.113.200",
                BOTO_UA,
                params={"GetSerialConsoleAccessStatusRequest": ""},
            ),
            self.rec(
                t + timedelta(minutes=3),
                a,
                r0,
                eks,
                "AssociateAccessPolicy",
                console,
                self.office_ip(),
                BROWSER_UA,
                params={
                    "name": "platform-eks",
                    "principalArn": f"arn:aws:iam::{a}:role/developers",
                    "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
                    "accessScope": {"type": "cluster"},
                },
                read_only=False,
                console=True,
            ),
        ]
        return [(self.gregion, glob), (r0, regional)]

    def _ci_role_chain(self, a: str, t: datetime) -> list[tuple[str, list[Record]]]:
        """One pipeline run: the runner checks who it is, then assumes the deploy role of the organization's
        next account (recorded there, with the caller's identity from this one), which checks who it is too."""
        ip, ua, sts = self.ci_ip(), "configure-aws-credentials-for-github-actions", "sts.amazonaws.com"
        r0 = self.regions[0]
        me = self.rec(t, a, r0, sts, "GetCallerIdentity", self._ci(a, t), ip, ua)
        others = [x for x in self.accounts if x != a]
        if not others:
            return [(a, [me])]
        b = others[0]
        t2 = t + timedelta(seconds=self.rng.randrange(5, 40))
        target = f"arn:aws:iam::{b}:role/ci-deploy"
        session = f"deploy-{a}"
        assume = self.rec(
            t2,
            b,
            r0,
            sts,
            "AssumeRole",
            self._ci(a, t2),
            ip,
            BOTO_UA,
            params={"roleArn": target, "roleSessionName": session, "durationSeconds": 3600},
            resp={
                "credentials": {
                    "accessKeyId": "ASIA" + self.tok(16),
                    "expiration": _human(t2 + timedelta(hours=1)),
                },
                "assumedRoleUser": {
                    "assumedRoleId": f"{self.ids[b, 'ci-deploy']}:{session}",
                    "arn": f"arn:aws:sts::{b}:assumed-role/ci-deploy/{session}",
                },
            },
            resources=[{"accountId": b, "type": "AWS::IAM::Role", "ARN": target}],
        )
        t3 = t2 + timedelta(seconds=2)
        there = self.rec(
            t3, b, r0, sts, "GetCallerIdentity", self.role(b, "ci-deploy", session, t3), ip, BOTO_UA
        )
        return [(a, [me]), (b, [assume, there])]

    def _backup(self, a: str) -> list[Record]:
        """The nightly backup reads a new object every ~15 s for up to three hours (about 240 objects and
        under 15 GB an hour: below cloudtrail_s3_bulk_object_read's 300 objects or 20 GiB in any 60 minutes),
        S3 asking KMS for a data key on its behalf now and then (bucket keys), and writing each hour's archive
        envelope with three vault keys (with the bucket's, four keys: one short of the many-keys limit)."""
        r0, bucket = self.regions[0], f"datalake-raw-{a}"
        t0 = self.start + timedelta(hours=1, minutes=self.rng.randrange(5, 15))
        t_end = min(t0 + timedelta(hours=3), self.start + timedelta(hours=self.hours))
        session = f"backup-{self.start:%Y%m%d}"
        region_key = f"arn:aws:kms:{r0}:{a}:key/{self.ids[a, 'kms:' + r0]}"
        out, t, n = [], t0, 0
        while t < t_end:
            ui = self.role(a, "backup-runner", session, t)
            key = f"{t - timedelta(days=1):%Y/%m/%d}/part-{n:05d}.parquet"
            size = self.rng.randrange(1_000_000, 60_000_000)
            out.append(
                self.rec(
                    t,
                    a,
                    r0,
                    "s3.amazonaws.com",
                    "GetObject",
                    ui,
                    f"10.0.8.{self.rng.randrange(10, 20)}",
                    BOTO_UA,
                    params={"bucketName": bucket, "Host": f"{bucket}.s3.{r0}.amazonaws.com", "key": key},
                    data=True,
                    extra={
                        "SignatureVersion": "SigV4",
                        "CipherSuite": "TLS_AES_128_GCM_SHA256",
                        "bytesTransferredIn": 0,
                        "bytesTransferredOut": size,
                        "AuthenticationMethod": "AuthHeader",
                        "x-amz-id-2": self.tok(56, _ALNUM),
                    },
                    resources=[
                        {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                        {"accountId": a, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
                    ],
                )
            )
            if n % 20 == 0:  # bucket keys: S3 asks KMS once in a while, on the reader's behalf
                s3 = "s3.amazonaws.com"
                out.append(
                    self.rec(
                        t + timedelta(seconds=1),
                        a,
                        r0,
                        "kms.amazonaws.com",
                        "Decrypt",
                        self.role(a, "backup-runner", session, t, s3),
                        s3,
                        s3,
                        params={
                            "encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{bucket}"},
                            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                        },
                        resources=[{"accountId": a, "type": "AWS::KMS::Key", "ARN": region_key}],
                    )
                )
            if n % 240 == 120:
                for v in range(3):
                    vault = f"arn:aws:kms:{r0}:{a}:key/{self.ids[a, f'kms:vault{v}']}"
                    out.append(
                        self.rec(
                            t + timedelta(seconds=2 + v),
                            a,
                            r0,
                            "kms.amazonaws.com",
                            "GenerateDataKey",
                            ui,
                            f"10.0.8.{self.rng.randrange(10, 20)}",
                            BOTO_UA,
                            params={"keyId": vault, "keySpec": "AES_256"},
                            resources=[{"accountId": a, "type": "AWS::KMS::Key", "ARN": vault}],
                        )
                    )
            n += 1
            t += timedelta(seconds=self.rng.randrange(14, 17))
        return out

    def _kms_services(self, a: str) -> list[Record]:
        """An application decrypting with its one key every few minutes all day, and EBS (an AWS service
        principal) using six volume keys every hour: volume with one key, or breadth by a service, is not
        harvesting."""
        r0, out = self.regions[0], []
        app_key = f"arn:aws:kms:{r0}:{a}:key/{self.ids[a, 'kms:' + r0]}"
        t = self.start + timedelta(seconds=self.rng.randrange(60))
        end = self.start + timedelta(hours=self.hours)
        while t < end:
            ui = self.role(a, "orders-api", "orders-api", t)
            ctx = {"SecretARN": f"arn:aws:secretsmanager:{r0}:{a}:secret:orders/db-Xy12Ab"}
            out.append(
                self.rec(
                    t,
                    a,
                    r0,
                    "kms.amazonaws.com",
                    "Decrypt",
                    ui,
                    f"10.0.4.{self.rng.randrange(2, 250)}",
                    LAMBDA_UA,
                    params={"encryptionContext": ctx, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                    resources=[{"accountId": a, "type": "AWS::KMS::Key", "ARN": app_key}],
                )
            )
            t += timedelta(seconds=self.rng.randrange(200, 400))
        ebs = "ebs.amazonaws.com"
        for h in range(self.hours):
            for e in range(6):
                t = self.start + timedelta(hours=h, seconds=self.rng.randrange(3600))
                key = f"arn:aws:kms:{r0}:{a}:key/{self.ids[a, f'kms:ebs{e}']}"
                out.append(
                    self.rec(
                        t,
                        a,
                        r0,
                        "kms.amazonaws.com",
                        self.rng.choice(("Decrypt", "GenerateDataKeyWithoutPlaintext")),
                        {"type": "AWSService", "invokedBy": ebs},
                        ebs,
                        ebs,
                        params={"encryptionContext": {"aws:ebs:id": "vol-" + self.hex(17)}},
                        resources=[{"accountId": a, "type": "AWS::KMS::Key", "ARN": key}],
                    )
                )
        out.sort(key=lambda r: r["eventTime"])
        return out

    def _denied_automation(self, a: str, region: str) -> list[Record]:
        """Denials below the denial rules' limits: an application retrying the one secret it may not read
        (a deploy without its permission, two hours), a CSPM scanner blocked by an SCP on a few read APIs
        every ten minutes (many denials, few APIs), and an administrator trying "Get Windows password" twice."""
        out: list[Record] = []
        end = self.start + timedelta(hours=self.hours)

        def denied(
            t: datetime,
            ui: Record,
            ip: str,
            ua: str,
            src: str,
            name: str,
            code: str,
            params: Record | None,
            console: bool = False,
        ) -> Record:
            msg = (
                f"User: {ui['arn']} is not authorized to perform: {src.split('.')[0]}:{name} with an explicit "
                "deny in a service control policy"
            )
            return self.rec(
                t, a, region, src, name, ui, ip, ua, params=params, error=(code, msg), console=console
            )

        if region == self.regions[0]:
            secret = f"arn:aws:secretsmanager:{region}:{a}:secret:orders/payments-key-Qw34Er"
            t = self.start + timedelta(
                hours=self.rng.randrange(max(1, self.hours - 2)), minutes=self.rng.randrange(60)
            )
            for i in range(24):
                when = t + timedelta(minutes=5 * i, seconds=self.rng.randrange(30))
                ui = self.role(a, "orders-api", "orders-api", when)
                out.append(
                    denied(
                        when,
                        ui,
                        f"10.0.4.{self.rng.randrange(2, 250)}",
                        LAMBDA_UA,
                        "secretsmanager.amazonaws.com",
                        "GetSecretValue",
                        "AccessDeniedException",
                        {"secretId": secret},
                    )
                )
            iid = "i-" + self.hex(17)
            for i in range(2):
                when = t + timedelta(minutes=30, seconds=40 * i)
                out.append(
                    denied(
                        when,
                        self.role(a, SSO_ROLE, "dave@example.com", when),
                        self.office_ip(),
                        BROWSER_UA,
                        "ec2.amazonaws.com",
                        "GetPasswordData",
                        "Client.UnauthorizedOperation",
                        {"instanceId": iid},
                        console=True,
                    )
                )
        probes = (
            ("ec2.amazonaws.com", "DescribeInstanceAttribute", "Client.UnauthorizedOperation"),
            ("kms.amazonaws.com", "GetKeyRotationStatus", "AccessDeniedException"),
            ("s3.amazonaws.com", "GetBucketReplication", "AccessDenied"),
        )
        t = self.start + timedelta(seconds=self.rng.randrange(600))
        while t < end:
            src, name, code = self.rng.choice(probes)
            params: Record
            if name == "DescribeInstanceAttribute":
                attr = self.rng.choice(("disableApiTermination", "instanceType", "sourceDestCheck"))
                params = {"instanceId": "i-" + self.hex(17), "attribute": attr}
            elif name == "GetKeyRotationStatus":
                params = {"keyId": self.ids[a, "kms:" + region]}
            else:
                bucket = f"{self.rng.choice(_BUCKETS)}-{a}"
                params = {
                    "bucketName": bucket,
                    "Host": f"{bucket}.s3.{region}.amazonaws.com",
                    "replication": "",
                }
            ui = self.role(a, "security-audit", "cspm-scanner", t)
            out.append(denied(t, ui, "203.0.113.200", BOTO_UA, src, name, code, params))
            t += timedelta(seconds=self.rng.randrange(500, 700))
        out.sort(key=lambda r: r["eventTime"])
        return out

    def _saml_logins(self, a: str) -> list[Record]:
        """Console sign-ins through the corporate IdP (SAML): MFA happened at the IdP, so CloudTrail says
        MFAUsed No for every one of them; they are not IAM users signing in without MFA."""
        out = []
        for _ in range(max(1, self.hours // 6)):
            t = self.start + timedelta(seconds=self.rng.randrange(self.hours * 3600))
            person = self.rng.choice(("carol", "dave", "erin"))
            ui = self.role(a, "okta-PlatformAdmins", f"{person}@example.com", t)
            rec = self.login(t, a, ui, self.office_ip(), ok=True, mfa=False)
            rec["additionalEventData"]["SamlProviderArn"] = f"arn:aws:iam::{a}:saml-provider/okta"
            out.append(rec)
        out.sort(key=lambda r: r["eventTime"])
        return out

    # -- near-misses of the newer rules (issue 17) ---------------------------------------------------------
    def near_misses(
        self, at: Callable[[timedelta, timedelta], datetime]
    ) -> list[tuple[str, str, str, list[Record]]]:
        """What the newer rules must ignore, per account: (family, account, region, records). Each family is a rule's
        negative case in a day's setting: infrastructure as code changing what the rule watches in the ways it
        allows (or below its limit), AWS services and their service-linked roles acting for the account, console
        sessions, and sweeps that stay under the discovery limits. Times come from `at` (the day's range)."""
        span = timedelta(hours=self.hours)
        out: list[tuple[str, str, str, list[Record]]] = []
        for a in self.accounts:
            self.ids.update({(a, r): "AROA" + self.tok(17) for r in NEAR_MISS_ROLES})
        for a in self.accounts:
            # Each family in its own part of the day, so the counting rules see each family's count on its own.
            t = at(timedelta(minutes=10), span - timedelta(hours=2))
            out += [
                ("terraform_platform_baseline", a, rg, recs) for rg, recs in self._tf_platform_baseline(a, t)
            ]
            t = at(timedelta(minutes=10), span - timedelta(hours=2))
            out.append(("terraform_test_env_destroy", a, self.regions[0], self._tf_test_env_destroy(a, t)))
            t = at(timedelta(minutes=10), span - timedelta(hours=2))
            out.append(
                ("cloudformation_data_stack_deleted", a, self.regions[0], self._cfn_data_stack_deleted(a, t))
            )
            t = at(timedelta(minutes=10), span - timedelta(hours=2))
            out.append(
                ("aws_services_expire_and_export", a, self.regions[0], self._service_housekeeping(a, t))
            )
            for h in range(0, self.hours - 1, 6):  # the CMDB's inventory every six hours
                t = at(timedelta(hours=h, minutes=5), timedelta(hours=h + 1))
                out.append(("inventory_sweep_below_limits", a, self.regions[0], self._inventory_sweep(a, t)))
            # The sweeps of every region overlap, by four principals within the same hour of the idle regions:
            # the region and discovery rules count per principal, and a rule counting per account would report
            # them. (One hour of events in an idle region is also one lake partition, not one per sweep.)
            hour = at(timedelta(hours=1), span - timedelta(hours=2)).replace(minute=0, second=0)
            out += [
                ("region_report_paced", a, rg, recs)
                for rg, recs in self._region_report(a, hour - timedelta(minutes=7))
            ]
            sweeps = (
                ("config_recorder_sweep", self._config_sweep),
                ("terraform_plan_every_region", self._tf_plan),
                ("console_browse_and_global_view", self._console_browse),
            )
            for family, sweep in sweeps:
                when = hour + timedelta(minutes=self.rng.randrange(50))
                out += [(family, a, rg, recs) for rg, recs in sweep(a, when)]
        return out

    def _sweep(
        self,
        a: str,
        region: str,
        t: datetime,
        apis: Sequence[tuple[str, str]],
        who: tuple[Record, str, str, bool],
    ) -> list[Record]:
        """One read of each (source, API), a few seconds apart, by one caller."""
        ui, ip, ua, console = who
        out = []
        for i, (src, name) in enumerate(apis):
            when = t + timedelta(seconds=3 * i + self.rng.randrange(3))
            out.append(
                self.rec(when, a, region, src, name, ui, ip, ua, params=_EC2_READS.get(name), console=console)
            )
        return out

    def _every_region(self) -> list[str]:
        return [*self.regions, *self.quiet]

    def _tf_platform_baseline(self, a: str, t: datetime) -> list[tuple[str, list[Record]]]:
        """terraform apply of the platform baseline as the CI role: an internal ALB created and given its full
        attribute set (access logs off until the log bucket exists) a minute later, the snapshot and AMI public
        sharing guards turned on, Inspector enabled and an account analyzer created (an old archive rule
        removed), a KMS key with AWS-generated material, an SES configuration set's sending on and a domain
        identity, topic subscriptions of the account's own and a known account's queues and of an e-mail
        address, an EFS file system with a mount target and access point; in the management account (the
        first), service control policies created, attached and updated."""
        ip, r0, s = self.ci_ip(), self.regions[0], timedelta(seconds=1)
        elb, ec2, kms, ses, sns, efs = (
            f"{x}.amazonaws.com"
            for x in ("elasticloadbalancing", "ec2", "kms", "ses", "sns", "elasticfilesystem")
        )
        name = f"preview-{self.rng.randrange(100, 999)}"
        lb = f"arn:aws:elasticloadbalancing:{r0}:{a}:loadbalancer/app/{name}/{self.hex(16)}"
        key, fs = self.uuid(), "fs-" + self.hex(17)
        others = [x for x in self.accounts if x != a]
        peer = others[0] if others else a

        def call(
            when: datetime, rg: str, src: str, event: str, params: Record, resp: Record | None = None
        ) -> Record:
            ui = self._ci(a, when)
            return self.rec(when, a, rg, src, event, ui, ip, TF_UA, params=params, resp=resp, read_only=False)

        attrs = [
            {"key": "deletion_protection.enabled", "value": "false"},
            {"key": "idle_timeout.timeout_seconds", "value": "60"},
            {"key": "access_logs.s3.enabled", "value": "false"},
            {"key": "connection_logs.s3.enabled", "value": "false"},
        ]
        topic = f"arn:aws:sns:{r0}:{a}:order-events"
        regional = [
            call(
                t,
                r0,
                elb,
                "CreateLoadBalancer",
                {"name": name, "type": "application", "scheme": "internal"},
                {"loadBalancers": [{"loadBalancerArn": lb, "loadBalancerName": name}]},
            ),
            call(
                t + 60 * s,
                r0,
                elb,
                "ModifyLoadBalancerAttributes",
                {"loadBalancerArn": lb, "attributes": attrs},
            ),
            call(
                t + 62 * s,
                r0,
                ec2,
                "EnableSnapshotBlockPublicAccess",
                {"EnableSnapshotBlockPublicAccessRequest": {"State": "block-all-sharing"}},
            ),
            call(
                t + 63 * s,
                r0,
                ec2,
                "EnableImageBlockPublicAccess",
                {"EnableImageBlockPublicAccessRequest": {"ImageBlockPublicAccessState": "block-new-sharing"}},
            ),
            call(
                t + 64 * s,
                r0,
                "inspector2.amazonaws.com",
                "Enable",
                {"accountIds": [a], "resourceTypes": ["EC2", "ECR", "LAMBDA"]},
            ),
            call(
                t + 65 * s,
                r0,
                "access-analyzer.amazonaws.com",
                "CreateAnalyzer",
                {"analyzerName": f"{a}-analyzer", "type": "ACCOUNT"},
            ),
            call(
                t + 66 * s,
                r0,
                "access-analyzer.amazonaws.com",
                "DeleteArchiveRule",
                {"analyzerName": f"{a}-analyzer", "ruleName": "ignore-org-shares"},
            ),
            call(
                t + 67 * s,
                r0,
                kms,
                "CreateKey",
                {"keySpec": "SYMMETRIC_DEFAULT", "keyUsage": "ENCRYPT_DECRYPT", "origin": "AWS_KMS"},
                {"keyMetadata": {"keyId": key, "arn": f"arn:aws:kms:{r0}:{a}:key/{key}"}},
            ),
            call(t + 68 * s, r0, kms, "CreateAlias", {"aliasName": "alias/platform", "targetKeyId": key}),
            call(t + 69 * s, r0, kms, "EnableKeyRotation", {"keyId": key}),
            call(
                t + 70 * s,
                r0,
                ses,
                "UpdateConfigurationSetSendingEnabled",
                {"configurationSetName": "transactional", "enabled": True},
            ),
            call(t + 71 * s, r0, ses, "CreateEmailIdentity", {"emailIdentity": "mail.example.com"}),
            call(
                t + 72 * s,
                r0,
                sns,
                "Subscribe",
                {"topicArn": topic, "protocol": "sqs", "endpoint": f"arn:aws:sqs:{r0}:{a}:billing"},
            ),
            call(
                t + 73 * s,
                r0,
                sns,
                "Subscribe",
                {
                    "topicArn": topic,
                    "protocol": "sqs",
                    "endpoint": f"arn:aws:sqs:{r0}:{peer}:billing-replica",
                },
            ),
            call(
                t + 74 * s,
                r0,
                sns,
                "Subscribe",
                {"topicArn": topic, "protocol": "email", "endpoint": "oncall@example.com"},
            ),
            call(
                t + 75 * s,
                r0,
                efs,
                "CreateFileSystem",
                {
                    "creationToken": f"tf-{self.hex(8)}",
                    "encrypted": True,
                    "performanceMode": "generalPurpose",
                },
                {"fileSystemId": fs},
            ),
            call(
                t + 80 * s,
                r0,
                efs,
                "CreateMountTarget",
                {"fileSystemId": fs, "subnetId": "subnet-" + self.hex(17)},
            ),
            call(t + 82 * s, r0, efs, "CreateAccessPoint", {"fileSystemId": fs, "clientToken": self.uuid()}),
            call(t + 83 * s, r0, efs, "DeleteAccessPoint", {"accessPointId": "fsap-" + self.hex(17)}),
        ]
        out = [(r0, regional)]
        if a == self.accounts[0]:
            org = "organizations.amazonaws.com"
            scp = orjson.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}
                    ],
                }
            ).decode()
            ou = f"ou-{self.hex(4)}-{self.hex(8)}"
            out.append(
                (
                    self.gregion,
                    [
                        call(
                            t + 90 * s,
                            self.gregion,
                            org,
                            "CreatePolicy",
                            {"name": "deny-leave-org", "type": "SERVICE_CONTROL_POLICY", "content": scp},
                        ),
                        call(
                            t + 92 * s,
                            self.gregion,
                            org,
                            "AttachPolicy",
                            {"policyId": "p-" + self.hex(8), "targetId": ou},
                        ),
                        call(
                            t + 94 * s,
                            self.gregion,
                            org,
                            "UpdatePolicy",
                            {"policyId": "p-" + self.hex(8), "content": scp},
                        ),
                    ],
                )
            )
        return out

    def _tf_test_env_destroy(self, a: str, t: datetime) -> list[Record]:
        """terraform destroy of a test environment as the CI role, each below its burst rule's limit: nine
        volumes (ten is cloudtrail_ebs_deleted_burst's), two tables replaced and their recovery turned on, two
        secrets deleted with a recovery window (three is the limit of the DynamoDB and secrets rules), a table
        seeded from S3, and the status of last night's export read."""
        ip, r0, s = self.ci_ip(), self.regions[0], timedelta(seconds=1)
        ec2, ddb, sm = "ec2.amazonaws.com", "dynamodb.amazonaws.com", "secretsmanager.amazonaws.com"
        env = f"test-{self.rng.randrange(100, 999)}"

        def call(when: datetime, src: str, event: str, params: Record, read_only: bool = False) -> Record:
            ui = self._ci(a, when)
            return self.rec(when, a, r0, src, event, ui, ip, TF_UA, params=params, read_only=read_only)

        out = [call(t + i * s, ec2, "DeleteVolume", {"volumeId": "vol-" + self.hex(17)}) for i in range(9)]
        for i, table in enumerate(("feature-flags", "rate-limits")):
            out.append(call(t + (20 + i) * s, ddb, "DeleteTable", {"tableName": f"{env}-{table}"}))
            out.append(call(t + (40 + i) * s, ddb, "CreateTable", {"tableName": f"{env}-{table}"}))
            out.append(
                call(
                    t + (50 + i) * s,
                    ddb,
                    "UpdateContinuousBackups",
                    {
                        "tableName": f"{env}-{table}",
                        "pointInTimeRecoverySpecification": {"pointInTimeRecoveryEnabled": True},
                    },
                )
            )
        for i, secret in enumerate(("db-password", "api-key")):
            out.append(
                call(
                    t + (60 + i) * s,
                    sm,
                    "DeleteSecret",
                    {"secretId": f"{env}/{secret}", "recoveryWindowInDays": 7},
                )
            )
        out.append(
            call(
                t + 64 * s,
                ddb,
                "ImportTable",
                {
                    "s3BucketSource": {"s3Bucket": f"app-artifacts-{a}", "s3KeyPrefix": "seed/"},
                    "inputFormat": "CSV",
                    "tableCreationParameters": {"tableName": f"{env}-catalog"},
                },
            )
        )
        table_arn = f"arn:aws:dynamodb:{r0}:{a}:table/orders"
        out.append(call(t + 66 * s, ddb, "ListExports", {"tableArn": table_arn}, read_only=True))
        return out

    def _cfn_data_stack_deleted(self, a: str, t: datetime) -> list[Record]:
        """CloudFormation deleting a preview stack's data stores for the CI role (calls recorded with the
        service's name as source address): a mount target and its file system, four tables, five secrets
        deleted without recovery. By a person, each would be reported; by the stack, none is."""
        cfn, r0, s = "cloudformation.amazonaws.com", self.regions[0], timedelta(seconds=1)
        stack = f"orders-preview-{self.hex(6)}"
        fs = "fs-" + self.hex(17)

        def by_stack(when: datetime, src: str, event: str, params: Record) -> Record:
            ui = self.role(a, "ci-deploy", "AWSCloudFormation", when, cfn)
            return self.rec(when, a, r0, src, event, ui, cfn, cfn, params=params, read_only=False)

        efs, ddb, sm = (
            "elasticfilesystem.amazonaws.com",
            "dynamodb.amazonaws.com",
            "secretsmanager.amazonaws.com",
        )
        out = [
            by_stack(t, efs, "DeleteMountTarget", {"mountTargetId": "fsmt-" + self.hex(17)}),
            by_stack(t + 50 * s, efs, "DeleteFileSystem", {"fileSystemId": fs}),
        ]
        out += [
            by_stack(t + (60 + i) * s, ddb, "DeleteTable", {"tableName": f"{stack}-table{i}"})
            for i in range(4)
        ]
        out += [
            by_stack(
                t + (70 + i) * s,
                sm,
                "DeleteSecret",
                {
                    "secretId": f"arn:aws:secretsmanager:{r0}:{a}:secret:{stack}/s{i}-{self.tok(6, _ALNUM)}",
                    "forceDeleteWithoutRecovery": True,
                },
            )
            for i in range(5)
        ]
        return out

    def _service_housekeeping(self, a: str, t: datetime) -> list[Record]:
        """AWS services acting for the account, recorded with their name as source address: Data Lifecycle
        Manager expiring twelve EBS snapshots, AWS Backup expiring three DynamoDB backups, a Glue zero-ETL
        integration exporting the orders table to the lake; in the management account, Inspector removing a
        closed member account and Control Tower detaching and deleting the SCP of a control it replaced."""
        r0, s = self.regions[0], timedelta(seconds=1)

        def svc(
            when: datetime, role: str, session: str, host: str, src: str, event: str, params: Record
        ) -> Record:
            ui = self.role(a, role, session, when, host)
            return self.rec(when, a, r0, src, event, ui, host, host, params=params, read_only=False)

        dlm, backup, glue = "dlm.amazonaws.com", "backup.amazonaws.com", "glue.amazonaws.com"
        ec2, ddb = "ec2.amazonaws.com", "dynamodb.amazonaws.com"
        out = [
            svc(
                t + i * s,
                "AWSDataLifecycleManagerDefaultRole",
                "DLMDefaultSession",
                dlm,
                ec2,
                "DeleteSnapshot",
                {"snapshotId": "snap-" + self.hex(17)},
            )
            for i in range(12)
        ]
        table = f"arn:aws:dynamodb:{r0}:{a}:table/orders"
        out += [
            svc(
                t + (120 + i) * s,
                "AWSBackupDefaultServiceRole",
                "AWSBackup-AWSBackupDefaultServiceRole",
                backup,
                ddb,
                "DeleteBackup",
                {"backupArn": f"{table}/backup/{1_700_000_000_000 + i * 86_400_000:017d}-{self.hex(8)}"},
            )
            for i in range(3)
        ]
        out.append(
            svc(
                t + 300 * s,
                "AWSGlueServiceRole-lake",
                "GlueJobRunnerSession",
                glue,
                ddb,
                "ExportTableToPointInTime",
                {
                    "tableArn": table,
                    "s3Bucket": f"datalake-raw-{a}",
                    "s3BucketOwner": a,
                    "exportFormat": "ION",
                },
            )
        )
        if a == self.accounts[0]:
            out.append(
                svc(
                    t + 400 * s,
                    "AWSServiceRoleForAmazonInspector2",
                    "Inspector2",
                    "inspector2.amazonaws.com",
                    "inspector2.amazonaws.com",
                    "DisassociateMember",
                    {"accountId": "444455556666"},
                )
            )
            policy = "p-" + self.hex(8)
            for i, event in enumerate(("DetachPolicy", "DeletePolicy")):
                params: Record = {"policyId": policy}
                if event == "DetachPolicy":
                    params["targetId"] = f"ou-{self.hex(4)}-{self.hex(8)}"
                out.append(
                    svc(
                        t + (500 + 8 * i) * s,
                        "AWSServiceRoleForAWSControlTower",
                        "AWSControlTowerSession",
                        "controltower.amazonaws.com",
                        "organizations.amazonaws.com",
                        event,
                        params,
                    )
                )
        out.sort(key=lambda r: r["eventTime"])
        return out

    def _inventory_sweep(self, a: str, t: datetime) -> list[Record]:
        """The CMDB's inventory role reads 29 APIs across all 16 services of the read catalogue: one API short of
        cloudtrail_discovery_breadth's 30 (with its 10 services), as a tuned scanner would stay."""
        rounds = [names for names in _SWEEP_READS.values()]
        order = [
            (src, n[i]) for i in range(max(map(len, rounds))) for src, n in _SWEEP_READS.items() if i < len(n)
        ]
        who = (
            self.role(a, "asset-inventory", "cmdb-sync", t),
            f"10.0.9.{self.rng.randrange(10, 20)}",
            LAMBDA_UA,
            False,
        )
        return self._sweep(a, self.regions[0], t, order[:29], who)

    def _config_sweep(self, a: str, t: datetime) -> list[tuple[str, list[Record]]]:
        """AWS Config's service-linked role reading every resource type of the home region, then instances in
        every region for the aggregator: over both discovery limits and the region limit, from an AWS address
        (not a service name), and ignored because a service-linked role reads the account by design."""
        ip = f"54.239.17.{self.rng.randrange(100, 120)}"
        who = (
            self.role(a, "AWSServiceRoleForConfig", "AWSConfig-Describe", t),
            ip,
            "config.amazonaws.com",
            False,
        )
        home = self._sweep(a, self.regions[0], t, _SWEEP, who)
        later = t + timedelta(minutes=5)
        out = [(self.regions[0], home)]
        for i, rg in enumerate(self._every_region()):
            out.append((rg, self._sweep(a, rg, later + timedelta(seconds=5 * i), [_SWEEP[0]], who)))
        return out

    def _tf_plan(self, a: str, t: datetime) -> list[tuple[str, list[Record]]]:
        """terraform plan of the organization baseline as the reviewed CI role (sql/lookups/iac_principals):
        it refreshes every resource it manages, so it reads the whole catalogue, and the VPCs and flow logs of
        every enabled region."""
        who = (self._ci(a, t), self.ci_ip(), TF_UA, False)
        out = [(self.regions[0], self._sweep(a, self.regions[0], t, _SWEEP, who))]
        later = t + timedelta(minutes=3)
        reads = [("ec2.amazonaws.com", "DescribeVpcs"), ("ec2.amazonaws.com", "DescribeFlowLogs")]
        for i, rg in enumerate(self._every_region()):
            out.append((rg, self._sweep(a, rg, later + timedelta(seconds=8 * i), reads, who)))
        return out

    def _console_browse(self, a: str, t: datetime) -> list[tuple[str, list[Record]]]:
        """An engineer's console session: the service pages of a morning's review (every page lists resources),
        then the EC2 Global View, which lists instances in every region."""
        person = self.rng.choice(("carol", "dave", "erin"))
        who = (self.role(a, SSO_ROLE, f"{person}@example.com", t), self.office_ip(), BROWSER_UA, True)
        out = [(self.regions[0], self._sweep(a, self.regions[0], t, _SWEEP, who))]
        later = t + timedelta(minutes=4)
        for i, rg in enumerate(self._every_region()):
            out.append((rg, self._sweep(a, rg, later + timedelta(seconds=i), [_SWEEP[0]], who)))
        return out

    def _region_report(self, a: str, t: datetime) -> list[tuple[str, list[Record]]]:
        """The FinOps report job lists instances and volumes one region at a time, seven minutes or more apart
        (it paces itself under the API rate limits): every region, but never ten within an hour, so
        cloudtrail_region_enumeration (ten in an hour) stays quiet."""
        reads = [("ec2.amazonaws.com", "DescribeInstances"), ("ec2.amazonaws.com", "DescribeVolumes")]
        out, when = [], t
        # The home region first, then the idle ones (within the hour after it), the other workload regions last.
        for rg in [self.regions[0], *self.quiet, *self.regions[1:]]:
            who = (
                self.role(a, "finops-report", "cost-report", when),
                f"10.0.7.{self.rng.randrange(10, 20)}",
                LAMBDA_UA,
                False,
            )
            out.append((rg, self._sweep(a, rg, when, reads, who)))
            when += timedelta(minutes=7, seconds=self.rng.randrange(30))
        return out

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
                "cloudtrail_console_login_without_mfa": {"principal": self.user(a, "alice")["arn"]},
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
                    "principal": alice["arn"],
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
            {"cloudtrail_first_seen_caller_identity": {"principal": bob["arn"]}} if warmed_up else {},
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
                {det: {} if det == "cloudtrail_guardduty_disabled" else {"principal": bob["arn"]}},
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
            {
                # The rule keys on the principal: the role, whichever session of it acted.
                "cloudtrail_security_group_opened_to_world": {
                    "principal": ci["sessionContext"]["sessionIssuer"]["arn"]
                }
            },
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
    regions: Sequence[str] = WORKLOAD_REGIONS,
    events_per_file: int = 40,
    quiet_regions: Sequence[str] | None = None,
) -> list[AttackStep]:
    """Write `hours` of CloudTrail (events + hourly digests) through `put`; return the attack's ground truth.

    `regions` carry the workloads (the steady background); `quiet_regions` are enabled but idle: their files
    hold only the background's sweeps of every region, and they have their digests like any region. By default
    (None) they are QUIET_REGIONS with the default workload regions, and none when the caller names its own
    regions: a caller narrowing the regions (one account in one region) gets files of those regions only.
    Objects are handed to `put` in landing order (landed_at, key), as an S3 notification consumer sees them.
    """
    require_hour_aligned(start)
    rng = random.Random(seed)  # noqa: S311 - reproducibility is the point; nothing here is a secret
    if quiet_regions is None:
        quiet_regions = QUIET_REGIONS if tuple(regions) == WORKLOAD_REGIONS else ()
    g = _Gen(rng, start, hours, accounts, regions, quiet_regions)
    steps, attack = g.attack()
    background, _ = g.automation()  # after the story: its times and ids stay what they were
    injected: dict[tuple[str, str, int], list[Record]] = {}
    for acct, region, rec in attack + background:
        k = int((datetime.fromisoformat(rec["eventTime"].replace("Z", "+00:00")) - start) / _FILE)
        injected.setdefault((acct, region, k), []).append(rec)

    catalogs = {r: g.catalog(r == g.gregion) for r in g.regions}
    pairs = [(acct, region) for acct in g.accounts for region in g.regions]
    quiet_pairs = [(acct, region) for acct in g.accounts for region in g.quiet]
    objects: list[tuple[datetime, str, bytes]] = []
    logs: dict[tuple[str, str], list[tuple[datetime, str, str, str, str]]] = {}  # landed, key, hash, old, new

    def deliver(acct: str, region: str, t_end: datetime, recs: list[Record]) -> None:
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
            if recs:
                deliver(acct, region, t_end, recs)
        for acct, region in quiet_pairs:  # CloudTrail writes a log file only when a region had events
            if quiet := injected.get((acct, region, k)):
                deliver(acct, region, t_end, quiet)

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
        for region in [*g.regions, *g.quiet]:  # every enabled region has its digests, events or not
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
