"""Where CI promises a browser (.ci/run sets MAMORI_REQUIRE_BROWSER=1 and installs chromium), a missing one fails
the browser tests instead of skipping them: a skipped triage test would pass the suite having checked nothing."""

from __future__ import annotations

import chromium_cdp
import pytest


def test_a_missing_browser_fails_where_it_is_required_and_skips_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium on it
    monkeypatch.setenv("MAMORI_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="MAMORI_REQUIRE_BROWSER=1"):
        chromium_cdp.chromium()
    monkeypatch.delenv("MAMORI_REQUIRE_BROWSER")
    with pytest.raises(pytest.skip.Exception):
        chromium_cdp.chromium()
