"""Read finalized ingest windows (their `_SUCCESS.json` summaries): the history every health check learns from.

Windows are addressed by their start; a window that was never finalized reads as None, which the checks treat
as *unknown* (the pipeline is late), never as *empty* (the source is silent).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from mamori.config import Settings
from mamori.lake import Store, layout
from mamori.lake.manifests import WindowSummary


def lake(settings: Settings) -> Store:
    return Store(settings.lake_url, settings.lake_conn_id)


def window_dir(source: str, start: datetime) -> str:
    """The window's manifest directory (mamori.lake.layout owns the key)."""
    return layout.manifest_dir(source, start)


def read_bytes(store: Store, key: str) -> bytes | None:
    """An object's bytes, or None when it does not exist (a window not finalized reads as unknown)."""
    try:
        return store.read_bytes(key)
    except FileNotFoundError:
        return None


def summary(store: Store, source: str, start: datetime) -> WindowSummary | None:
    """A window's summary, or None when it was not finalized."""
    data = read_bytes(store, layout.success_key(source, start))
    return None if data is None else WindowSummary.from_json(data)


def summaries(
    source: str, starts: list[datetime], settings: Settings
) -> dict[datetime, WindowSummary | None]:
    """Each window's summary, or None when it was not finalized. Reads in parallel: on S3 each is one GET."""
    store = lake(settings)
    with ThreadPoolExecutor(max_workers=8) as pool:
        docs = list(pool.map(lambda s: summary(store, source, s), starts))
    return dict(zip(starts, docs, strict=True))
