"""Read finalized ingest windows (their `_SUCCESS.json` summaries): the history every health check learns from.

Windows are addressed by their start; a window that was never finalized reads as None, which the checks treat
as *unknown* (the pipeline is late), never as *empty* (the source is silent).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import orjson

from mamori.config import Settings
from mamori.ingest import MANIFESTS
from mamori.lake import Store
from mamori.windows import window_tag


def lake(settings: Settings) -> Store:
    return Store(settings.lake_url, settings.lake_conn_id)


def window_dir(source: str, start: datetime) -> str:
    return f"{MANIFESTS}/{source}/window={window_tag(start)}"


def window_starts(end: datetime, interval: timedelta, count: int) -> list[datetime]:
    """The starts of the `count` windows ending at `end`, oldest first."""
    return [end - interval * k for k in range(count, 0, -1)]


def read_json(store: Store, key: str) -> Any:
    try:
        return orjson.loads(store.read_bytes(key))
    except FileNotFoundError:
        return None


def summaries(
    source: str, starts: list[datetime], settings: Settings
) -> dict[datetime, dict[str, Any] | None]:
    """Each window's summary, or None when it was not finalized. Reads in parallel: on S3 each is one GET."""
    store = lake(settings)
    with ThreadPoolExecutor(max_workers=8) as pool:
        docs = list(pool.map(lambda s: read_json(store, f"{window_dir(source, s)}/_SUCCESS.json"), starts))
    return dict(zip(starts, docs, strict=True))
