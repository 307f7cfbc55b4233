"""Servers for the end-to-end tier: started as real processes on 127.0.0.1, stopped by process group."""

from __future__ import annotations

import pytest
from moto_support import moto_process


@pytest.fixture(scope="session")
def moto_server():
    """A moto server process speaking the S3 and Athena APIs over HTTP, like the real endpoints."""
    with moto_process() as url:
        yield url
