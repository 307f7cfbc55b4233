"""`ingest.listed_by_window`: whether a landing window's listing reads a key. The archive warning
(`out_of_range`) relies on it, and sources list with glob character classes (`[0-9]` for an account id): a
matcher that took `[0-9]` literally called every S3 access log and VPC flow log of the demo out of range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mamori.ingest import listed_by_window
from mamori.sources import SPECS, get_source


@pytest.mark.parametrize("source", sorted(SPECS))
def test_a_key_is_listed_by_the_window_its_date_belongs_to(source):
    src = get_source(source)
    key = SPECS[source].example_key
    parsed = src.classify(key)
    assert parsed is not None, key
    # The example key names a day; the window of that day lists it, a window a month later does not.
    y, m, d = _date_in(key)
    day = datetime(int(y), int(m), int(d), tzinfo=UTC)
    assert listed_by_window(src, key, day, day + timedelta(hours=1)), (source, key)
    later = day + timedelta(days=30)
    assert not listed_by_window(src, key, later, later + timedelta(hours=1)), (source, key)


def _date_in(key: str) -> tuple[str, str, str]:
    import re

    found = re.search(r"(20\d\d)[/-](\d\d)[/-](\d\d)", key) or re.search(
        r"year=(20\d\d)/month=(\d\d)/day=(\d\d)", key
    )
    assert found, key
    return found.group(1), found.group(2), found.group(3)
