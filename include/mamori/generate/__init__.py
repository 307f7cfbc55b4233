"""Synthetic, deterministic raw logs with a known ground truth, so detections are tested on data shaped like
production (noise, near-misses, AWS key layouts) instead of on hand-picked single records.

One module per log source, each `generate_<source>(put, start, hours, seed) -> list[AttackStep]`; the attack
stories share one attacker (198.51.100.23) so a pivot on that IP crosses every source.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from mamori.generate.cloudtrail import AttackStep, Put, generate_cloudtrail

Generator = Callable[..., list[AttackStep]]


def get_generator(source: str) -> Generator | None:
    """The generator of a registered source, or None when the source has none (yet)."""
    try:
        module = importlib.import_module(f"mamori.generate.{source}")
    except ModuleNotFoundError:
        return None
    gen: Generator | None = getattr(module, f"generate_{source}", None)
    return gen


__all__ = ["AttackStep", "Generator", "Put", "generate_cloudtrail", "get_generator"]
