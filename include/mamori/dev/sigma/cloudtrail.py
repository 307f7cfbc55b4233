"""Sigma's AWS CloudTrail field names → columns of mamori's `cloudtrail` table: the one mapping of this source.

Sigma rules for `logsource: {product: aws, service: cloudtrail}` name fields as CloudTrail writes them
(`eventName`, `userIdentity.arn`, `requestParameters.bucketName`). mamori's lake keeps AWS's documented Athena
table shape (sql/ddl/cloudtrail.sql): lower-case top-level columns, `useridentity` and `tlsdetails` as structs,
and the volatile objects (`requestParameters`, `responseElements`, `additionalEventData`, ...) as JSON text.
So a field maps either to a column or struct path, or to `json_extract_scalar(<json column>, '$.<path>')`.

Everything else is refused with the field's name (`resources` is an array of structs, `eventTime` is the
window's business): a rule that matched on a field the table lacks would otherwise match nothing, silently.
This is a pySigma processing pipeline, so the backend (mamori.dev.sigma.backend) knows no CloudTrail name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sigma.exceptions import SigmaTransformationError
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations.base import DetectionItemTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem

PRODUCT, SERVICE = "aws", "cloudtrail"
TABLE = "cloudtrail"

# Sigma (CloudTrail's own spelling) → column or struct path of the lake table. Looked up case-insensitively:
# SigmaHQ spells a few fields in other cases (`userIdentity.sessionContext.sessionIssuer.type`, `eventname`).
COLUMNS: dict[str, str] = {
    "eventVersion": "eventversion",
    "eventSource": "eventsource",
    "eventName": "eventname",
    "eventType": "eventtype",
    "eventCategory": "eventcategory",
    "eventID": "eventid",
    "awsRegion": "awsregion",
    "sourceIPAddress": "sourceipaddress",
    "userAgent": "useragent",
    "errorCode": "errorcode",
    "errorMessage": "errormessage",
    "requestID": "requestid",
    "apiVersion": "apiversion",
    "readOnly": "readonly",
    "managementEvent": "managementevent",
    "recipientAccountId": "recipientaccountid",
    "sharedEventID": "sharedeventid",
    "vpcEndpointId": "vpcendpointid",
    "vpcEndpointAccountId": "vpcendpointaccountid",
    "sessionCredentialFromConsole": "sessioncredentialfromconsole",
    "userIdentity.type": "useridentity.type",
    "userIdentity.principalId": "useridentity.principalid",
    "userIdentity.arn": "useridentity.arn",
    "userIdentity.accountId": "useridentity.accountid",
    "userIdentity.invokedBy": "useridentity.invokedby",
    "userIdentity.accessKeyId": "useridentity.accesskeyid",
    "userIdentity.userName": "useridentity.username",
    "userIdentity.identityProvider": "useridentity.identityprovider",
    "userIdentity.onBehalfOf.userId": "useridentity.onbehalfof.userid",
    "userIdentity.onBehalfOf.identityStoreArn": "useridentity.onbehalfof.identitystorearn",
    "userIdentity.sessionContext.attributes.mfaAuthenticated": (
        "useridentity.sessioncontext.attributes.mfaauthenticated"
    ),
    "userIdentity.sessionContext.attributes.creationDate": (
        "useridentity.sessioncontext.attributes.creationdate"
    ),
    "userIdentity.sessionContext.sessionIssuer.type": "useridentity.sessioncontext.sessionissuer.type",
    "userIdentity.sessionContext.sessionIssuer.principalId": (
        "useridentity.sessioncontext.sessionissuer.principalid"
    ),
    "userIdentity.sessionContext.sessionIssuer.arn": "useridentity.sessioncontext.sessionissuer.arn",
    "userIdentity.sessionContext.sessionIssuer.accountId": (
        "useridentity.sessioncontext.sessionissuer.accountid"
    ),
    "userIdentity.sessionContext.sessionIssuer.userName": (
        "useridentity.sessioncontext.sessionissuer.username"
    ),
    "userIdentity.sessionContext.ec2RoleDelivery": "useridentity.sessioncontext.ec2roledelivery",
    "userIdentity.sessionContext.sourceIdentity": "useridentity.sessioncontext.sourceidentity",
    "tlsDetails.tlsVersion": "tlsdetails.tlsversion",
    "tlsDetails.cipherSuite": "tlsdetails.ciphersuite",
    "tlsDetails.clientProvidedHostHeader": "tlsdetails.clientprovidedhostheader",
}

# Objects the lake keeps as JSON text: `<prefix>.<path>` → json_extract_scalar(<column>, '$.<path>'). A path
# through an array (`items.cidrIp`) finds nothing: JSONPath needs the index, which a Sigma field cannot give.
JSON_COLUMNS: dict[str, str] = {
    "requestParameters": "requestparameters",
    "responseElements": "responseelements",
    "additionalEventData": "additionaleventdata",
    "serviceEventDetails": "serviceeventdetails",
    "insightDetails": "insightdetails",
    "edgeDeviceDetails": "edgedevicedetails",
}
# The JSON text columns whole (`responseElements|contains: 'Failure'` searches the text).
WHOLE_JSON = {k: v for k, v in JSON_COLUMNS.items()}

_BY_LOWER = {k.lower(): v for k, v in (COLUMNS | WHOLE_JSON).items()}
_JSON_BY_LOWER = {k.lower(): (k, v) for k, v in JSON_COLUMNS.items()}
# A JSON key mamori will put in a path literal: CloudTrail's keys are identifiers; anything else (quotes,
# brackets, spaces) would need JSONPath quoting that Trino and DuckDB do not read alike.
_JSON_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

# The output columns of every imported rule (the same names mamori's own CloudTrail rules select).
SELECT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_time", "event_time"),
    ("account_id", "account_id"),
    ("sourceipaddress", "source_ip"),
    ("eventname", "event_name"),
    ("eventsource", "event_source"),
    ("awsregion", "aws_region"),
    ("useragent", "user_agent"),
    ("errorcode", "error_code"),
    ("eventid", "event_id"),
    ("coalesce(useridentity.arn, useridentity.principalid)", "actor"),
    # The role rather than the session (the source's field model; README "A detection"): one alert per
    # principal, not one per assumed-role session a tool opens.
    ("{{ principal() }}", "principal"),
)
DEDUP_KEYS = ("account_id", "principal")


def sql_column(field: str) -> str | None:
    """The SQL expression of the lake table that holds a Sigma CloudTrail field, or None (no mapping)."""
    direct = _BY_LOWER.get(field.lower())
    if direct is not None:
        return direct
    head, _, rest = field.partition(".")
    json = _JSON_BY_LOWER.get(head.lower())
    if json is None or not rest:
        return None
    keys = rest.split(".")
    if not all(_JSON_KEY.fullmatch(k) for k in keys):
        return None
    # The keys are identifiers (checked above), so the path literal needs no quoting.
    return f"json_extract_scalar({json[1]}, '$.{'.'.join(keys)}')"


@dataclass
class MapCloudTrailFields(DetectionItemTransformation):
    """Every field of the rule to its lake expression; a field with none stops the rule with its name."""

    def apply_detection_item(
        self, detection_item: SigmaDetectionItem
    ) -> SigmaDetection | SigmaDetectionItem | None:
        field = detection_item.field
        if field is None:
            raise SigmaTransformationError(
                "keyword search (a value with no field) is not supported: name the CloudTrail field"
            )
        column = sql_column(field)
        if column is None:
            raise SigmaTransformationError(f"field {field!r} has no mapping to a column of the {TABLE} table")
        detection_item.field = column
        return detection_item


def pipeline() -> ProcessingPipeline:
    """The CloudTrail processing pipeline: field mapping for rules of this log source, nothing else."""
    return ProcessingPipeline(
        name="mamori cloudtrail",
        priority=20,
        items=[
            ProcessingItem(
                identifier="mamori_cloudtrail_fields",
                transformation=MapCloudTrailFields(),
                rule_conditions=[LogsourceCondition(product=PRODUCT, service=SERVICE)],
            )
        ],
    )
