"""The demo's story is the generators that opt in: a source may ship a generator without joining the demo."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from mamori.dev.generate import demo_sources
from mamori.sources import SOURCES

# The six sources whose stories `mamori demo` injects and checks (28 detections): pinned, so a new source's
# generator cannot change the demo's ground truth, alerts or ledger without this list changing on purpose.
STORY = ["cloudtrail", "cloudtrail_insights", "alb", "cloudwatch", "s3access", "vpcflow"]


def test_the_demo_tells_the_story_of_the_same_six_sources():
    assert demo_sources() == STORY


@pytest.mark.parametrize("in_demo", [True, False, None], ids=["opted-in", "opted-out", "default"])
def test_a_generator_module_decides_whether_its_source_is_in_the_demo(monkeypatch, in_demo):
    module = types.ModuleType("mamori.sources.fake_source.generate")

    def generate_fake_source(*args: Any, **kwargs: Any) -> list[Any]:
        return []

    generate_fake_source.__module__ = module.__name__
    module.generate_fake_source = generate_fake_source  # type: ignore[attr-defined]
    if in_demo is not None:
        module.IN_DEMO = in_demo  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(SOURCES, "fake_source", SOURCES["cloudwatch"])
    assert ("fake_source" in demo_sources()) is (in_demo is not False)
