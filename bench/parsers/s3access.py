"""S3 server access logs: benchmark inputs and the naive parser mamori's parser is measured against.

`naive_parse` is what a user typically writes first: one regex per line in the style of the Athena RegexSerDe
examples (quoted fields as `"[^"]*"`, so an escaped quote breaks them), `strptime` for the time, `int()` for
numbers, one dict per record. It does not quarantine, type-check or fill the common columns, so it is a floor
for "parse the text", not a like-for-like replacement. No I/O here: the harness times these functions.
"""

from __future__ import annotations

import re
from datetime import datetime

from mamori.sources.s3access.generate import render_sample

_NAMES = [
    "bucketowner", "bucket_name", "requestdatetime", "remoteip", "requester", "requestid", "operation", "key",
    "request_uri", "httpstatus", "errorcode", "bytessent", "objectsize", "totaltime", "turnaroundtime",
    "referrer", "useragent", "versionid", "hostid", "sigv", "ciphersuite", "authtype", "endpoint", "tlsversion",
    "accesspointarn", "aclrequired",
]  # fmt: skip
_LINE = re.compile(
    r'(\S+) (\S+) \[(.*?)\] (\S+) (\S+) (\S+) (\S+) (\S+) ("[^"]*"|-) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) '
    r'("[^"]*"|-) ("[^"]*"|-) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)(?: (\S+))?(?: (\S+))?.*'
)


def make_sample(n_lines: int, seed: int = 1) -> bytes:
    """A realistic uncompressed log body of `n_lines` requests (mamori's generator background traffic)."""
    return render_sample(n_lines, seed=seed)


def naive_parse(data: bytes) -> int:
    """Parse the body the way a first script would; return the number of records it produced."""
    records = []
    for line in data.decode("utf-8", "replace").splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        rec = {
            k: (None if v in (None, "-", '"-"') else v.strip('"'))
            for k, v in zip(_NAMES, m.groups(), strict=True)
        }
        rec["event_time"] = datetime.strptime(m.group(3), "%d/%b/%Y:%H:%M:%S %z")
        for k in ("httpstatus", "bytessent", "objectsize", "totaltime", "turnaroundtime"):
            v = rec[k]
            rec[k] = int(v) if v is not None and v.isdigit() else None
        records.append(rec)
    return len(records)
