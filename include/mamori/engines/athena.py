"""Amazon Athena through the amazon provider's AthenaSQLHook (workgroup, output location, region and
credentials all come from the Airflow connection named by MAMORI_ATHENA_CONN_ID).

The hook's `get_df`/`get_uri` have sharp edges in provider 9.39 (see STACK_NOTES); the DB-API connection from
`get_conn()` is the stable part, so that is all this uses.
"""

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa

from mamori.config import Settings

log = logging.getLogger(__name__)


class AthenaEngine:
    """Athena SQL runs as written (it is the source dialect); results come back as Arrow."""

    name = "athena"

    def __init__(self, settings: Settings) -> None:
        from airflow.providers.amazon.aws.hooks.athena_sql import AthenaSQLHook

        self.settings = settings
        # One connection for both the Athena settings (extra) and the AWS credentials.
        self.hook = AthenaSQLHook(athena_conn_id=settings.athena_conn_id, aws_conn_id=settings.athena_conn_id)
        self._conn: Any = None

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self.hook.get_conn()
            # Unqualified table names (detections say `FROM cloudtrail`) resolve in mamori's Glue database.
            self._conn.schema_name = self.settings.athena_database
        return self._conn

    def cursor(self) -> Any:
        """A DB-API cursor on the shared connection, for callers that page results or read scan statistics."""
        return self._connection().cursor()

    def query(self, sql: str) -> pa.Table:
        """Run one statement and fetch every row (detection hits and search pages are small)."""
        cur = self._connection().cursor()
        try:
            cur.execute(sql)
            names = [d[0] for d in cur.description or []]
            rows = cur.fetchall()
            scanned = getattr(cur, "data_scanned_in_bytes", None)
            if scanned is not None:
                log.info("athena query %s scanned %s bytes", getattr(cur, "query_id", "?"), scanned)
        finally:
            cur.close()
        return (
            pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows])
            if rows
            else pa.table({n: pa.array([], pa.string()) for n in names})
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
