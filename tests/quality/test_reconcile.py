"""Reconciliation: raw records landed = lake rows + quarantined, per window and source, and every gap is an
alert naming the objects or files involved."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from quality_helpers import alerts_of, ct_record, hour, land_ct, run_window

from mamori import ingest
from mamori.health import reconcile
from mamori.health import tasks as health


def test_counts_reconcile_from_the_objects_and_files(settings, only_sources, no_gx):
    only_sources("cloudtrail")
    w = hour(10)
    land_ct(settings, [ct_record(w), ct_record(w, "RunInstances"), "junk"], w + timedelta(minutes=5), tag="a")
    run_window(settings, "cloudtrail", w)
    r = reconcile.check_window("cloudtrail", w, settings)
    assert r["state"] == "ok" and r["problems"] == []
    assert (r["raw_records"], r["lake_rows"], r["quarantined_rows"]) == (3, 2, 1)


def test_object_landing_in_a_processed_window_is_a_gap_naming_it(settings, only_sources, no_gx):
    only_sources("cloudtrail")
    w = hour(10)
    land_ct(settings, [ct_record(w)], w + timedelta(minutes=5), tag="a")
    run_window(settings, "cloudtrail", w)
    # A multipart upload started at 10:58 gets LastModified 10:58 although it completed after the window ran.
    late = land_ct(settings, [ct_record(w, "PutObject")] * 4, w + timedelta(minutes=58), tag="multipart")

    out = reconcile.run(hour(10), hour(11), settings)
    assert out["windows"]["cloudtrail@20261101T1000Z"] == "gap"
    (alert,) = alerts_of(settings, "mamori_reconciliation_gap")
    assert alert.dedup_values == {
        "source": "cloudtrail",
        "window": "20261101T1000Z",
        "problem": "objects_not_ingested",
    }
    sample = alert.samples[0]
    assert sample["objects"] == [late] and sample["records"] == 4 and sample["raw_records"] == 5
    assert alert.severity == "high"

    # The runbook's fix: re-run the window. The next check finds nothing missing; the alert is not duplicated.
    run_window(settings, "cloudtrail", w)
    out = reconcile.run(hour(11), hour(12), settings)  # checks 10:00 (previous) and 11:00
    assert out["windows"]["cloudtrail@20261101T1000Z"] == "ok" and out["alerts"] == []
    assert len(alerts_of(settings, "mamori_reconciliation_gap")) == 1


def test_a_lake_file_losing_rows_is_a_gap_naming_the_file(settings, only_sources, no_gx):
    only_sources("cloudtrail")
    w = hour(10)
    land_ct(
        settings,
        [ct_record(w), ct_record(w + timedelta(hours=1, minutes=1))],
        w + timedelta(minutes=5),
        tag="a",
    )
    run_window(settings, "cloudtrail", w)
    root = Path(settings.lake_url.removeprefix("file://"))
    victim = sorted(root.rglob("*.parquet"))[0]
    victim.unlink()
    out = reconcile.run(hour(10), hour(11), settings)
    (alert,) = alerts_of(settings, "mamori_reconciliation_gap")
    assert alert.dedup_values["problem"] == "lake_rows_missing"
    (bad,) = alert.samples[0]["files"]
    assert bad == {"file": str(victim.relative_to(root)), "manifest_rows": 1, "rows_found": None}
    assert alert.samples[0]["lake_rows"] == 1 and alert.samples[0]["raw_records"] == 2
    assert out["windows"]["cloudtrail@20261101T1000Z"] == "gap"


def test_finalize_gap_is_recorded_then_alerted_with_its_objects(settings, only_sources, no_gx):
    only_sources("cloudtrail")
    w = hour(10)
    small = replace(settings, batch_max_objects=1)
    keys = [land_ct(small, [ct_record(w)], w + timedelta(minutes=m), tag=f"o{m}") for m in (5, 10)]
    batches = ingest.plan_window("cloudtrail", w, w + timedelta(hours=1), small)
    ingest.convert_batch(batches[0], small)  # the second batch's manifest never appears
    assert not health.ingest_settled(w, small)
    with pytest.raises(ingest.ReconciliationError, match="missing: \\[1\\]"):
        ingest.finalize_window("cloudtrail", w, w + timedelta(hours=1), small)
    assert health.ingest_settled(w, small)  # a gap record is a definite answer for the health checks

    reconcile.run(hour(10), hour(11), small)
    (alert,) = alerts_of(small, "mamori_reconciliation_gap")
    assert alert.dedup_values["problem"] == "ingest_reported"
    assert alert.samples[0]["objects"] == [keys[1]]

    # Once the batch is converted and the window finalizes, the gap record is gone.
    ingest.convert_batch(batches[1], small)
    ingest.finalize_window("cloudtrail", w, w + timedelta(hours=1), small)
    assert reconcile.check_window("cloudtrail", w, small)["state"] == "ok"
