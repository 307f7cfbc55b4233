"""Fixtures of the data-quality tests (the helpers live in quality_helpers.py)."""

from quality_helpers import no_gx, only_sources  # noqa: F401
