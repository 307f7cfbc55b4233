"""Synthetic, deterministic raw logs with a known ground truth, so detections are tested on data shaped like
production (noise, near-misses, AWS key layouts) instead of on hand-picked single records."""

from mamori.generate.cloudtrail import AttackStep, Put, generate_cloudtrail

__all__ = ["AttackStep", "Put", "generate_cloudtrail"]
