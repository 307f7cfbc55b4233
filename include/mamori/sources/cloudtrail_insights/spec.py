"""The cloudtrail_insights source, declared: CloudTrail's parser and columns over the CloudTrail-Insight prefix."""

from __future__ import annotations

from datetime import timedelta

from mamori.sources.cloudtrail import SOURCE as EVENT_TABLE
from mamori.sources.cloudtrail.spec import (
    AWS_REGION,
    DRIFT,
    DUPLICATE_DELIVERY,
    EVENT_SOURCE,
    EXPECTED,
    QUARANTINE_CLASSES,
    REQUIRED,
    TAMPER_DETECTIONS,
    case_landing,
)
from mamori.sources.cloudtrail_insights import SOURCE
from mamori.sources.rules import SourceRules, account, in_set
from mamori.sources.spec import Capabilities, FieldModel, SourceSpec

SPEC = SourceSpec(
    parser=SOURCE,
    # Insights events are delivered up to ~30 minutes after the unusual activity they describe.
    delivery_lag=timedelta(minutes=45),
    example_key=(
        "AWSLogs/111111111111/CloudTrail-Insight/us-east-1/2026/11/01/"
        "111111111111_CloudTrail-Insight_us-east-1_20261101T0830Z_M11753GP3UIAU8GG.json.gz"
    ),
    fields=FieldModel(
        actor="eventsource",  # an Insight has no caller: the service whose API rate was unusual
        principal=None,  # an Insight has no caller
        ip="sourceipaddress",
        event_name="eventname",
        detail="concat_ws(' ', eventsource, eventtype)",
    ),
    rules=SourceRules(
        required=REQUIRED,
        expected=(*EXPECTED, "insightdetails"),
        checks=(
            EVENT_SOURCE,
            AWS_REGION,
            account(),
            in_set("eventtype", ["AwsCloudTrailInsight"], "Insights events have one type"),
            in_set("eventcategory", ["Insight"], "Insights events have one category"),
        ),
    ),
    quarantine_classes=QUARANTINE_CLASSES,  # the same parser, the same reasons
    detection_prefixes=("cloudtrail_insights",),
    capabilities=Capabilities(columnar=True, streams_large_objects=True),
    drift=DRIFT,
    case_landing=case_landing,
    ddl_template=EVENT_TABLE.table,  # the same columns as the event table: one DDL template
    tamper_detections=TAMPER_DETECTIONS,
    duplicate_delivery=DUPLICATE_DELIVERY,  # two trails with Insights on deliver each Insight twice too
)
