"""Which quarantines raise an alert (docs/data-quality.md §1): rows a data-quality check quarantines do (a
`mamori_dq_<source>` alert per failed check), records the parser quarantines do not. Those are counted (records
in = rows out + quarantined), kept in quarantine/ with their reason, and only a window whose parse failures
exceed the drift threshold (1 % of at least 100 records) raises `mamori_schema_drift`."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path

from quality_helpers import alerts_of, ct_record, hour, land_ct, run_window

from mamori.quality import drift


def test_parser_quarantines_are_counted_but_only_check_quarantines_alert(settings, only_sources):
    only_sources("cloudtrail")
    w = hour(4)
    no_name = ct_record(w + timedelta(minutes=2), "Nameless")
    del no_name["eventName"]  # the parser refuses a record without its identity
    future = ct_record(
        w + 2 * timedelta(hours=1), "RunInstances"
    )  # past the window + skew: a check refuses it
    good = [ct_record(w + timedelta(minutes=i)) for i in range(3)]
    land_ct(settings, [*good, "junk", no_name, future], w + timedelta(minutes=5))

    summary = run_window(settings, "cloudtrail", w)
    assert summary["records_in"] == 6 and summary["rows_out"] == 3 and summary["quarantined"] == 3
    assert summary["dq"]["quarantined_rows"] == 1  # one of the three came from a check; two from the parser

    lake = Path(settings.lake_url.removeprefix("file://"))
    (qfile,) = (lake / "quarantine" / "cloudtrail").rglob("*.jsonl.gz")
    reasons = sorted(
        json.loads(x)["reason"].split(":")[0] for x in gzip.decompress(qfile.read_bytes()).splitlines()
    )
    assert len(reasons) == 3 and reasons.count("dq") == 1  # all three kept, each with its reason

    # One alert, for the check; nothing for the parser's two.
    (dq,) = alerts_of(settings, "mamori_dq_cloudtrail")
    assert dq.dedup_values == {"source": "cloudtrail", "check": "event_time:not_after_window_plus_skew"}
    assert dq.hit_count == 1

    # The drift check's parse-failure rate is the only alarm for parser quarantines, and 2 of 6 records is
    # below its 100-record floor: no alert.
    drift.run(w, w + timedelta(hours=1), settings)
    assert [
        a for a in alerts_of(settings, "mamori_schema_drift") if "parse_failure" in a.dedup_values["change"]
    ] == []
