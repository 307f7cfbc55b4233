"""CloudTrail Insights events: their own table, `cloudtrail_insights`, with the CloudTrail columns.

Insights records (`eventType` AwsCloudTrailInsight, `eventCategory` Insight) repeat the eventSource/eventName
of the API whose call or error rate was unusual. In the event table they would look like the API calls
themselves (an Insight about StopLogging is not a StopLogging), so they are kept apart: the cloudtrail source
skips `CloudTrail-Insight/` keys, this one parses them with the same parser into its own table.
`insightdetails` (state Start/End, insightType, insightContext statistics and attributions) is JSON text;
`sharedeventid` pairs a Start with its End.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from mamori.sources.base import RawKey
from mamori.sources.cloudtrail import _KEY_RE, SCHEMA, CloudTrailSource

NAME = "cloudtrail_insights"


class CloudTrailInsightsSource(CloudTrailSource):
    """Same parser and columns as CloudTrail; owns only the CloudTrail-Insight prefix."""

    name = NAME
    table = NAME
    schema = SCHEMA

    def classify(self, key: str) -> RawKey | None:
        m = _KEY_RE.search(key)
        if not m or m["kind"] != "CloudTrail-Insight":
            return None
        return RawKey(key=key, account=m["account"], region=m["region"], kind="events")

    def list_prefixes(self, start: datetime, end: datetime) -> list[str]:
        out = []
        day = (start - timedelta(days=1)).date()
        while day <= end.date():
            tail = f"CloudTrail-Insight/*/{day:%Y/%m/%d}/"
            out += [f"AWSLogs/*/{tail}", f"AWSLogs/o-*/*/{tail}"]
            day += timedelta(days=1)
        return out


SOURCE = CloudTrailInsightsSource()
