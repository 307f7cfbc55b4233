"""The health stage: can the detections believe the lake? Freshness, schema drift, reconciliation, late data.

It runs after ingest and detect have written their windows and reads what they left (manifests, window
summaries, landed keys), so it sits above both; its findings go through the same ledger as detections
(`mamori.quality.alerts`). The per-batch checks ingest runs itself (expectations, quarantine classes, observed
shapes) are in `mamori.quality`, one layer down. `tasks` holds the health DAG's task bodies. See
docs/data-quality.md.
"""
