"""The lake's Parquet files for a time range, found by walking only the partitions the range selects.

Search answers recent windows fast because it never lists, let alone opens, another day's files: it walks
`curated/<table>/account=*/region=*/dt=<day>/` for the days in range and keeps the `hour=` directories in
range, then hands DuckDB that explicit file list. The same walk sizes an Athena query before it runs.

A local lake (the embedded default) is walked with os.scandir and needs no Airflow import (~3 s of a CLI
call); any other URL goes through `mamori.lake.Store` (fsspec with the Airflow connection's credentials).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from mamori.config import Settings
from mamori.search.timerange import TimeRange
from mamori.windows import partitions_touched


@dataclass(frozen=True)
class LakeFile:
    path: str  # what DuckDB opens: a local path, or the store's URI
    size: int
    partition: str  # "account=../region=../dt=../hour=.." (for counting partitions)


def hours_by_day(rng: TimeRange) -> dict[str, set[str]]:
    """{dt: {hour, ...}} for every hour partition that can hold an event of the range."""
    if rng.end <= rng.start:
        return {}
    return {dt: set(hs) for dt, hs in partitions_touched(rng.start, rng.end).items()}


def _is_data(name: str) -> bool:
    return name.endswith(".parquet") and not name.startswith(".")  # dot files are in-flight atomic writes


def _dirs(path: str, prefix: str) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            yield from sorted(
                (e for e in it if e.is_dir() and e.name.startswith(prefix)), key=lambda e: e.name
            )
    except (FileNotFoundError, NotADirectoryError):
        return


class Lake:
    """Read-side view of the lake for search: which files a range reads, and what they weigh."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.lake_url.rstrip("/")
        self.conn_id = settings.lake_conn_id
        parsed = urlparse(self.url)
        self.local: Path | None = Path(url2pathname(parsed.path)) if parsed.scheme == "file" else None
        self._store: Any = None

    @property
    def store(self) -> Any:
        if self._store is None:
            # mamori.lake loads Airflow's ObjectStoragePath (seconds): only a non-local lake needs the store
            from mamori.lake import Store

            self._store = Store(self.url, self.conn_id)
        return self._store

    @property
    def fs(self) -> Any:
        """The fsspec filesystem DuckDB must read through, or None for local paths."""
        return None if self.local is not None else self.store.fs

    def tables_root(self) -> str:
        """The `curated/` prefix every table file lives under, as DuckDB opens it, with a trailing separator
        (so a sibling such as `curated-old/` does not share the prefix)."""
        from mamori.lake import layout  # the lake package loads Airflow's storage: only when a search runs

        if self.local is not None:
            return str(self.local / layout.curated_root()) + os.sep
        return f"{self.url}/{layout.curated_root()}/"

    def table_glob(self, table: str) -> str | None:
        """`curated/<table>/**/*.parquet` as DuckDB opens it, or None while the table has no partitions."""
        from mamori.lake import layout

        if self.local is not None:
            base = self.local / layout.curated_table(table)
            return str(base / "**" / "*.parquet") if any(_dirs(str(base), "account=")) else None
        prefix = layout.curated_table(table)
        return self.store.uri(f"{prefix}/**/*.parquet") if self.store.list_dirs(prefix) else None

    def files(self, table: str, rng: TimeRange) -> list[LakeFile]:
        """Every data file of `table` in the hour partitions the range touches, sorted by path."""
        from mamori.lake import layout

        wanted = hours_by_day(rng)
        out: list[LakeFile] = []
        if self.local is not None:
            base = str(self.local / layout.curated_table(table))
            for acct in _dirs(base, "account="):
                for region in _dirs(acct.path, "region="):
                    for dt, hours in wanted.items():
                        for hour in _dirs(os.path.join(region.path, f"dt={dt}"), "hour="):
                            if hour.name[5:] not in hours:
                                continue
                            part = f"{acct.name}/{region.name}/dt={dt}/{hour.name}"
                            with os.scandir(hour.path) as it:
                                out += [
                                    LakeFile(e.path, e.stat().st_size, part)
                                    for e in it
                                    if e.is_file() and _is_data(e.name)
                                ]
            return sorted(out, key=lambda f: f.path)
        store = self.store
        for base in store.glob_prefixes(layout.curated_streams_pattern(table)):
            for dt, hours in wanted.items():
                for obj in store.find(f"{base}dt={dt}"):
                    segments = obj.key.split("/")
                    hour_value = next((s[5:] for s in segments if s.startswith("hour=")), None)
                    if hour_value in hours and _is_data(segments[-1]):
                        part = "/".join(s for s in segments if "=" in s)
                        out.append(LakeFile(store.uri(obj.key), obj.size, part))
        return sorted(out, key=lambda f: f.path)
