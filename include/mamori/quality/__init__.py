"""Per-batch data quality: expectations, quarantine classes, observed shapes, and the health alert path.

Ingest runs these on every batch and records a window's failures as alerts in the same ledger as detections
(pseudo-detections defined in sql/health/*.yaml, `quality.alerts`), so they are ticketed, paged and deduplicated
exactly like a security finding. The checks that run after ingest (freshness, drift, reconciliation, late data)
are the health stage, `mamori.health`, which reads what this package and ingest wrote. Great Expectations is
imported lazily (3-4 s): DAG parsing and the modules that only read manifests never pay for it, and a
LocalExecutor scheduler loads it once for the task processes it forks (`validate.warm_up`). See
docs/data-quality.md.
"""
