"""One engine interface over the embedded default (DuckDB on the local/S3 lake) and Amazon Athena."""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa

from mamori.config import Settings, load_settings


class Engine(Protocol):
    """Runs Athena-dialect SQL over the lake's tables and returns an Arrow table."""

    name: str

    def query(self, sql: str) -> pa.Table:
        """Execute one Athena-dialect SELECT."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def get_engine(settings: Settings | None = None) -> Engine:
    """The engine the settings select; imported lazily so DuckDB users never load the AWS stack."""
    s = settings or load_settings()
    if s.engine == "athena":
        from mamori.engines.athena import AthenaEngine

        return AthenaEngine(s)
    from mamori.engines.duckdb import DuckDBEngine

    return DuckDBEngine(s)
