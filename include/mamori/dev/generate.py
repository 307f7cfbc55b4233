"""Synthetic, deterministic raw logs with a known ground truth, so detections are tested on data shaped like
production (noise, near-misses, AWS key layouts) instead of on hand-picked single records.

One `generate.py` in each source folder (`mamori.sources.<name>.generate`), each
`generate_<source>(put, start, hours, seed) -> list[AttackStep]`; the attack
stories share one attacker (198.51.100.23) so a pivot on that IP crosses every source.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mamori.sources.cloudtrail.generate import AttackStep, Put, generate_cloudtrail

Generator = Callable[..., list[AttackStep]]


def get_generator(source: str) -> Generator | None:
    """The generator of a registered source, or None when the source has none (yet)."""
    try:
        module = importlib.import_module(f"mamori.sources.{source}.generate")
    except ModuleNotFoundError:
        return None
    gen: Generator | None = getattr(module, f"generate_{source}", None)
    return gen


def demo_sources() -> list[str]:
    """The registered sources whose generators tell the demo's story, in registry order.

    A generator module opts out with ``IN_DEMO = False``: a new source can ship a generator (its detection
    tests take their key layout from it, `mamori generate` writes it) without changing what `mamori demo`
    injects, alerts on and compares with its ground truth.
    """
    from mamori.sources import SOURCES

    out = []
    for name in SOURCES:
        gen = get_generator(name)
        if gen is not None and getattr(importlib.import_module(gen.__module__), "IN_DEMO", True):
            out.append(name)
    return out


def write_samples(
    start: datetime, hours: int, seed: int, sources: list[str] | None = None, workers: int = 1
) -> list[Any]:
    """Write generated raw objects of every (or the given) source into the raw store with their landing
    times; returns the ground truth of all attack stories, in time order.

    `workers` > 1 runs the sources' generators in that many forked processes (the demo uses both cores of a
    small machine: the generators are CPU-bound Python). Each generator seeds its own randomness, so the
    objects, their landing times and the ground truth are the same whatever the number of workers."""
    from mamori.sources import SOURCES

    names = [n for n in (sources or list(SOURCES)) if get_generator(n) is not None]
    if workers > 1 and len(names) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # fork: the children start with what this process imported (a spawned child would import it again)
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(workers, len(names)), mp_context=ctx) as pool:
            futures = {n: pool.submit(_generate_one, n, start, hours, seed) for n in names}
            per_source = {n: f.result() for n, f in futures.items()}
    else:
        per_source = {n: _generate_one(n, start, hours, seed) for n in names}
    steps = [(n, st) for n in names for st in per_source[n]]
    return [st for _, st in sorted(steps, key=lambda p: (p[1].time, p[0]))]


def _generate_one(source: str, start: datetime, hours: int, seed: int) -> list[Any]:
    """One source's generator into the raw store; its objects are on disk when this returns."""
    from mamori.config import load_settings
    from mamori.lake import Store

    s = load_settings()
    raw = Store(s.raw_url, s.raw_conn_id)
    written: list[str] = []

    def put(key: str, data: bytes, landed_at: datetime) -> None:
        raw.write_landed(key, data, landed_at)
        written.append(key)

    gen = get_generator(source)
    assert gen is not None
    steps = gen(put, start, hours=hours, seed=seed)
    raw.sync(written)  # one concurrent wait for the disk, not one fsync per object (~7,000 in a demo day)
    return steps


__all__ = [
    "AttackStep",
    "Generator",
    "Put",
    "demo_sources",
    "generate_cloudtrail",
    "get_generator",
    "write_samples",
]
