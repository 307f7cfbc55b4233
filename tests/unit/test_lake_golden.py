"""The lake a fixed generator seed writes is the one today's code wrote: same keys, same bytes.

Key builders, typed manifests and window summaries may change how a key or a JSON document is produced, never
what it is; a moved key would orphan every lake already written (finalize, health, compaction and status read
them back), and moved bytes would break the demo's byte-identity promise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from lake_golden import GOLDEN, build_lake, digest

from mamori.config import load_settings


@pytest.fixture(scope="module")
def golden_lake(tmp_path_factory) -> Iterator[Path]:
    """Built once for the module (~30-50 s): the generators read their settings from the environment."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MAMORI_HOME", str(tmp_path_factory.mktemp("golden-home")))
        for var in ("MAMORI_RAW_URL", "MAMORI_LAKE_URL", "MAMORI_LEDGER_URL", "MAMORI_OUTBOX_URL"):
            mp.delenv(var, raising=False)
        yield build_lake(load_settings())


def test_the_generated_lake_has_todays_keys_and_bytes(golden_lake):
    want = json.loads(GOLDEN.read_text())
    got = digest(golden_lake)
    assert sorted(got) == sorted(want), "lake keys moved: build them with mamori.lake.layout as before"
    changed = sorted(k for k in want if got[k] != want[k])
    assert not changed, f"bytes changed for {changed[:10]}"
