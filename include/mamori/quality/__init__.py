"""Trust the data: per-batch expectations, reconciliation, freshness, schema drift and late-data re-evaluation.

Everything here answers "can the detections believe the lake?". Data-quality problems become alerts in the
same ledger as detections (pseudo-detections defined in sql/health/*.yaml), so they are ticketed, paged and
deduplicated exactly like a security finding. Great Expectations is imported lazily (3-4 s): DAG parsing and
the modules that only read manifests never pay for it. See docs/data-quality.md.
"""
