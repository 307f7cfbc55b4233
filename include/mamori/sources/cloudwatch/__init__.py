"""CloudWatch Logs (EC2 syslog, auth/secure, JSON app logs) landed in S3, one row per log event.

The transport (Firehose-delivered subscription records and export-task files, CONTROL_MESSAGE handling, the
gzip envelopes, log group/stream/owner facts and the quarantine of broken envelopes) is
:mod:`mamori.sources.formats.cloudwatch_logs`; this source is that transport with the syslog format on top.
Its keys are the transport's layout with the segments ``CloudWatchLogs`` (Firehose:
``AWSLogs/<acct>/CloudWatchLogs/<region>/YYYY/MM/DD/HH/<delivery-stream>-<n>-YYYY-MM-DD-HH-MM-SS-<uuid>.gz``)
and ``CloudWatchLogsExport`` (export tasks: ``AWSLogs/<acct>/CloudWatchLogsExport/<region>/<log-group,
percent-encoded>/<task-id>/<log-stream>/000000.gz``).

Row policy: one row per log event; the raw message is always kept. Syslog parsing (:mod:`mamori.sources.formats.syslog`)
is best effort: text that does not parse leaves the parsed columns NULL, it is not quarantined, so this format
never rejects an event; only the transport quarantines (events that are not objects or lack a usable
timestamp or a string message, undecodable JSON objects, unreadable gzip).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from mamori.sources.base import COMMON_FIELDS, unique
from mamori.sources.formats.cloudwatch_logs import (
    TRANSPORT_FIELDS,
    CloudWatchLogsSource,
    Envelope,
    Layout,
)
from mamori.sources.formats.syslog import parse_message

NAME = "cloudwatch"

_S = pa.string()
NATIVE_FIELDS: list[pa.Field] = [
    *TRANSPORT_FIELDS,
    pa.field("message", _S),
    pa.field("syslog_format", _S),  # 'rfc3164' | 'rfc5424' | 'json' | NULL (not parsed)
    pa.field("syslog_timestamp", _S),  # as written in the message
    pa.field("syslog_time", pa.timestamp("us")),  # the same, as UTC (year inferred for RFC 3164)
    pa.field("hostname", _S),
    pa.field("app_name", _S),
    pa.field("proc_id", _S),
    pa.field("msg", _S),
    pa.field("ssh_event", _S),
    pa.field("ssh_user", _S),
    pa.field("ssh_src_ip", _S),
    pa.field("ssh_src_port", pa.int32()),
    pa.field("sudo_user", _S),
    pa.field("sudo_run_as", _S),
    pa.field("sudo_command", _S),
    pa.field("sudo_error", _S),  # e.g. '3 incorrect password attempts': the command did NOT run
    pa.field("useradd_user", _S),
]
SCHEMA = pa.schema(NATIVE_FIELDS + COMMON_FIELDS)


class CloudWatchSource(CloudWatchLogsSource):
    """CloudWatch Logs events from Firehose deliveries and export tasks, read as syslog."""

    name = NAME
    table = "cloudwatch"
    schema = SCHEMA
    layout = Layout(firehose="CloudWatchLogs", export="CloudWatchLogsExport")

    def row(self, message: str, event_time: datetime, env: Envelope) -> dict[str, Any]:
        row = parse_message(message, event_time)
        row["source"] = NAME
        row["message"] = message
        row["related_arns"] = []
        ip = row["ssh_src_ip"]
        row["related_ips"] = [ip] if ip else []
        users = [u for u in (row["ssh_user"], row["sudo_user"], row["sudo_run_as"], row["useradd_user"]) if u]
        row["related_users"] = unique(users) if len(users) > 1 else users
        return row


SOURCE = CloudWatchSource()
