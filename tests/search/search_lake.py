"""The small generated lake the search tests share, and the hostile values it carries (conftest.py builds it once
per session). A module of its own so tests import these names by a unique module name: `from conftest import`
names whichever conftest.py pytest imported last when several test directories run in one call.

Six hours of CloudTrail, VPC flow and S3 access logs across midnight (so searches span two dt partitions),
plus one hand-written CloudTrail delivery whose attacker-controlled fields (a console user name, a user
agent) carry SQL-injection payloads: searching for them must find exactly those events, literally.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

START = datetime(2026, 10, 31, 21, tzinfo=UTC)
HOURS = 6
SOURCES = ("cloudtrail", "vpcflow", "s3access")
HOSTILE_USER = "x' OR '1'='1 --"
HOSTILE_ARN = f"arn:aws:iam::111111111111:user/{HOSTILE_USER}"
HOSTILE_UA = "sqlmap'); DROP TABLE cloudtrail; -- /* */ ; \\' \u202eevil\u202c 日本 $$x$$"
HOSTILE_TIME = datetime(2026, 10, 31, 23, 30, 5, tzinfo=UTC)


def _hostile_delivery() -> tuple[str, bytes]:
    def rec(name: str, arn: str, user: str, ua: str, second: int) -> dict[str, object]:
        return {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": "AIDAHOSTILE0000000001",
                "arn": arn,
                "accountId": "111111111111",
                "userName": user,
            },
            "eventTime": HOSTILE_TIME.replace(second=second).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "iam.amazonaws.com",
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "192.0.2.250",
            "userAgent": ua,
            "requestID": f"req-{second}",
            "eventID": f"00000000-0000-0000-0000-0000000000{second:02d}",
            "readOnly": True,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": "111111111111",
            "eventCategory": "Management",
        }

    records = [
        rec("GetUser", HOSTILE_ARN, HOSTILE_USER, HOSTILE_UA, 5),
        # Near misses: one character off, so a match that is not literal would show up as extra rows.
        rec("GetUser", HOSTILE_ARN[:-1], HOSTILE_USER[:-1], HOSTILE_UA[:-1], 6),
        rec("ListUsers", "arn:aws:iam::111111111111:user/x", "x", "sqlmap", 7),
    ]
    key = (
        "AWSLogs/111111111111/CloudTrail/us-east-1/2026/10/31/"
        "111111111111_CloudTrail_us-east-1_20261031T2335Z_hostile00000000.json.gz"
    )
    return key, gzip.compress(json.dumps({"Records": records}).encode())


def build_lake(
    home: Path,
    start: datetime,
    hours: int,
    sources: tuple[str, ...],
    hostile: bool = True,
    regions: tuple[str, ...] = ("us-east-1",),
) -> int:
    """Generate raw logs with the project's generators, parse them with each source's parser and write the
    lake layout ingest writes (`curated/<table>/account=/region=/dt=/hour=/*.parquet`); returns the row count.

    The ingest pipeline itself (batching, data-quality suites, manifests) is tested elsewhere; search only
    reads the curated files, and skipping the pipeline keeps this fixture at a few seconds.
    """
    from collections import defaultdict

    import pyarrow as pa
    import pyarrow.parquet as pq

    from mamori.dev.generate import get_generator
    from mamori.sources import get_source

    total = 0
    for name in sources:
        src = get_source(name)
        gen = get_generator(name)
        assert gen is not None
        objects: list[tuple[str, bytes]] = []
        gen(lambda k, d, _t: objects.append((k, d)), start, hours=hours, seed=11, regions=regions)
        if hostile and name == "cloudtrail":
            objects.append(_hostile_delivery())
        parts: dict[str, list[dict[str, object]]] = defaultdict(list)
        for key, data in objects:
            raw = src.classify(key)
            if raw is None or raw.kind != "events":
                continue
            result = src.parse_object(raw, data)
            assert not result.quarantined, result.quarantined[:1]
            for part, row in result.rows:
                parts[part.relpath()].append(row)
        for rel, rows in parts.items():
            path = home / "lake" / "curated" / src.table / rel / "part-0000.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            rows.sort(key=lambda r: r["event_time"])
            pq.write_table(pa.Table.from_pylist(rows, schema=src.schema), path, compression="zstd")
            total += len(rows)
    return total
