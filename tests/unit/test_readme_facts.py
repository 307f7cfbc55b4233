"""Figures the README and docs/aws.md state about the catalog and the sources, checked against the code that
defines them.

The Status section said "78 rules" after a 79th rule had landed, and 79 once main had 81: a count written by
hand goes stale the day a rule or source is added. Rule counts live in the generated docs/coverage.md only; each
source figure the docs give is read back from the source registry.
"""

from __future__ import annotations

import re
from pathlib import Path

from mamori.dev.generate import demo_sources
from mamori.sources import SOURCES

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
WORDS = {"five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}


def _one(pattern: str) -> str:
    found = re.findall(pattern, " ".join(README.split()))
    assert len(found) == 1, f"README: {pattern!r} found {len(found)} times"
    return str(found[0])


def test_the_status_leaves_the_rule_count_to_the_generated_coverage_doc() -> None:
    """Rules land every day; a hand-written count is stale the day after. docs/coverage.md is generated and
    tests/detections/test_coverage.py keeps it current."""
    assert not re.search(r"catalog (?:has|holds) \d+ rules", " ".join(README.split()))


def test_the_status_counts_the_demo_sources_and_the_registered_ones() -> None:
    demo = WORDS[_one(r"Working: (\w+) log sources end to end")]
    assert demo == len(demo_sources())
    registered = WORDS[_one(r"(\w+) log sources are registered")]
    assert registered == len(SOURCES)


def test_aws_doc_counts_the_sources_not_ingested_on_s3() -> None:
    """Only CloudTrail is ingested on an S3 lake in a test; docs/aws.md counts the rest."""
    aws = " ".join((REPO / "docs" / "aws.md").read_text().split())
    (others,) = re.findall(r"The other (\w+) sources are ingested on the local lake only", aws)
    assert WORDS[others] == len(SOURCES) - 1
