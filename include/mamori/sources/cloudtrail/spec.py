"""The cloudtrail source, declared: key layout, field model, quality rules, quarantine classes, capabilities."""

from __future__ import annotations

import zlib
from datetime import timedelta
from typing import Any

import orjson

import mamori.sources.cloudtrail as parser_module  # its threshold is read at call time (tests patch it)
from mamori.sources.base import LargeObject
from mamori.sources.cloudtrail import SOURCE
from mamori.sources.rules import (
    REGION_REGEX,
    UNREADABLE_GZIP,
    Check,
    ReasonClass,
    SourceRules,
    account,
    in_set,
    reason,
)
from mamori.sources.spec import Capabilities, DriftHints, DuplicateDelivery, FieldModel, SourceSpec

# Who acted across sessions (FieldModel.principal): the issuing role of an assumed-role session, except an IAM
# Identity Center role, whose session name is the person (keep the assumed-role ARN, stable per person); else
# the actor (users, root, federated users, services). strpos, not a regex with replacement groups: it reads the
# same on Athena and DuckDB. One line, because a rendered macro keeps the body's line numbers.
PRINCIPAL = (
    "CASE WHEN useridentity.type = 'AssumedRole'"
    " AND useridentity.sessioncontext.sessionissuer.arn IS NOT NULL"
    " AND strpos(useridentity.sessioncontext.sessionissuer.arn, '/aws-reserved/sso.amazonaws.com/') = 0"
    " THEN useridentity.sessioncontext.sessionissuer.arn"
    " ELSE coalesce(useridentity.arn, useridentity.principalid) END"
)
REQUIRED = ("eventtime", "eventsource", "eventname")
EXPECTED = ("eventversion", "eventid", "eventtype", "awsregion", "recipientaccountid")
EVENT_SOURCE = Check(
    "regex:eventsource",
    "regex",
    "eventsource",
    "flag",
    "every AWS service logs as <service>.amazonaws.com",
    {"regex": r"^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.amazonaws\.com$"},
)
AWS_REGION = Check(
    "regex:awsregion", "regex", "awsregion", "flag", "an AWS region name", {"regex": REGION_REGEX}
)
EVENT_VERSION = Check(
    "regex:eventversion",
    "regex",
    "eventversion",
    "flag",
    "versions look like 1.09",
    {"regex": r"^[0-9]+\.[0-9]+$"},
)

# The parser's quarantine reasons (shared with cloudtrail_insights, which uses the same parser).
QUARANTINE_CLASSES: tuple[ReasonClass, ...] = (
    UNREADABLE_GZIP,
    reason(
        "not_json", "object", "not JSON, and no intact `Records` array to take records from", r"not JSON: "
    ),
    reason(
        "not_a_records_object", "object", "JSON that is not an object", r"not a JSON object with Records$"
    ),
    reason("records_not_a_list", "object", "`Records` is not a list", r"Records is not a list$"),
    reason(
        "record_not_json",
        "record",
        "a record the JSON parser refuses (nested deeper than 1024 levels, raw control character, bytes that "
        "are not UTF-8) in an otherwise intact file",
        r"record is not valid JSON: ",
    ),
    reason(
        "record_not_an_object",
        "record",
        "a record that is not a JSON object",
        r"record is \w+, not an object$",
    ),
    reason(
        "ambiguous_keys",
        "record",
        "two spellings of one field (case-insensitive) with different values",
        r"ambiguous keys: ",
    ),
    reason(
        "missing_identity",
        "record",
        "`eventTime`, `eventName` or `eventSource` missing, empty or not text",
        r"missing or non-string (?:eventtime|eventname|eventsource)$",
    ),
    reason(
        "invalid_event_time",
        "record",
        "`eventTime` that is not an instant with a zone",
        r"invalid eventTime ",
    ),
    reason(
        "unstorable_value",
        "record",
        "a value nested too deep to be written back as JSON text",
        r"value cannot be stored as JSON text: ",
    ),
)


def sample_records(data: bytes | LargeObject) -> Any:
    """A delivery's records for drift observation: all of them, or the first piece of a delivery too large to
    load whole (the parser streams those too). None when the object is not a readable Records document."""
    # The parser's threshold and reader, looked up at call time: the same objects take the stream path here.
    if isinstance(data, LargeObject) or (
        len(data) > parser_module.STREAM_MIN_BYTES and data[:2] == b"\x1f\x8b"
    ):
        return parser_module.first_records(data)
    try:
        text = zlib.decompress(data, wbits=47)  # gzip or zlib, auto-detected
    except zlib.error:
        text = data
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None  # unreadable objects are quarantined by the parser and counted there
    return (
        next((v for k, v in doc.items() if k.lower() == "records"), None) if isinstance(doc, dict) else None
    )


def case_landing(data: bytes, account_id: str, region: str) -> tuple[str, str]:
    """A detection case lands under the account and region its first record names, as AWS would deliver it."""
    doc = orjson.loads(data)
    first = (doc.get("Records") or [{}])[0] if isinstance(doc, dict) else {}
    return str(first.get("recipientAccountId") or account_id), str(first.get("awsRegion") or region)


DRIFT = DriftHints(sample_records=sample_records, nested_field="userIdentity", version_column="eventversion")
TAMPER_DETECTIONS = ("cloudtrail_trail_stopped_or_changed",)
# Two trails writing to one bucket (an organization trail and an account's own, or two account trails) deliver
# every event twice, in objects of their own, byte for byte the same record. One row per eventID within a
# partition, provided the copies also agree on service, API, time, principal, source address and error.
DUPLICATE_DELIVERY = DuplicateDelivery(
    keys=(
        "eventid",
        "eventsource",
        "eventname",
        "eventtime",
        "useridentity.arn",
        "useridentity.principalid",
        "sourceipaddress",
        "errorcode",
    ),
    prefer=("requestid", "useragent", "errormessage"),
)

# What detections, search and the health checks filter CloudTrail on (its JSON-text and nested columns,
# and ids, are read, not filtered on by range or dictionary).
FILTERED = (
    "eventversion",
    "eventsource",
    "eventname",
    "awsregion",
    "errorcode",
    "eventtype",
    "readonly",
    "recipientaccountid",
    "eventcategory",
    "managementevent",
    "source",
    "account_id",
)

SPEC = SourceSpec(
    parser=SOURCE,
    # CloudTrail delivers a log file about every 5 minutes, usually within 15 minutes of the call (not guaranteed).
    delivery_lag=timedelta(minutes=15),
    filtered_columns=FILTERED,
    # The filtered columns with a handful of values (eventName and eventSource have hundreds: zstd still pays
    # there), and the fields only some kinds of event carry. Measured on the generator's batches (~1,000 events,
    # ~5 files): -1.2 ms of ~10 ms encoding per batch, -0.5 % bytes; a compacted file +0.2 %.
    light_columns=(
        *(c for c in FILTERED if c not in ("eventsource", "eventname")),
        "apiversion",
        "serviceeventdetails",
        "sharedeventid",
        "vpcendpointid",
        "vpcendpointaccountid",
        "insightdetails",
        "addendum",
        "edgedevicedetails",
        "useridentity.onbehalfof",
        "useridentity.sessioncontext.ec2roledelivery",
        "useridentity.sessioncontext.sourceidentity",
        # a few values per account: snappy's pages within a few % of zstd's (bytes unchanged overall)
        "sessioncredentialfromconsole",
        "useridentity.identityprovider",
        "useridentity.username",
    ),
    example_key=(
        "AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/01/"
        "111111111111_CloudTrail_us-east-1_20261101T0005Z_XSh5qfJSDz5snsiL.json.gz"
    ),
    fields=FieldModel(
        actor="coalesce(useridentity.arn, useridentity.principalid)",
        principal=PRINCIPAL,
        ip="sourceipaddress",
        event_name="eventname",
        detail="concat_ws(' ', eventsource, sourceipaddress, errorcode)",
    ),
    rules=SourceRules(
        required=REQUIRED,
        expected=(*EXPECTED, "useridentity"),
        checks=(
            EVENT_SOURCE,
            AWS_REGION,
            EVENT_VERSION,
            account(),
            in_set(
                "eventtype",
                ["AwsApiCall", "AwsServiceEvent", "AwsConsoleAction", "AwsConsoleSignIn", "AwsVpceEvent"],
                "CloudTrail's documented event types",
            ),
            in_set(
                "eventcategory", ["Management", "Data", "NetworkActivity"], "CloudTrail's event categories"
            ),
            in_set("readonly", ["true", "false"], "a boolean rendered as text"),
            in_set("managementevent", ["true", "false"], "a boolean rendered as text"),
        ),
    ),
    quarantine_classes=QUARANTINE_CLASSES,
    detection_prefixes=("cloudtrail",),
    capabilities=Capabilities(columnar=True, streams_large_objects=True),
    drift=DRIFT,
    case_landing=case_landing,
    dq_severity="high",  # most detections read CloudTrail: a broken batch blinds most of the catalog
    tamper_detections=TAMPER_DETECTIONS,
    principal_names_are_iam_users=True,  # console sign-in events name the IAM user bare
    duplicate_delivery=DUPLICATE_DELIVERY,
)
