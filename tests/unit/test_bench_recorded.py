"""`make bench` rewrites docs/benchmarks.md from the sections' code; what was recorded there by hand (the live
benches' figures, each optimisation round's measurements) must survive it (bench/recorded.py).

The defect: bench/run.py wrote the generated text over the whole file, so one `make bench` dropped the latency
section, the GX share under the scheduler and every round of issue 19's measurements.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    """bench/ is not a package on the test path: load the module by file (it imports nothing of mamori)."""
    spec = importlib.util.spec_from_file_location("bench_recorded", REPO / "bench" / "recorded.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses resolve their module by name
    spec.loader.exec_module(mod)
    return mod


recorded = _load()

OLD = """# mamori benchmarks

- command: `make bench`, commit `aaaaaaa`

## Conversion

<!-- recorded -->
**A round.** Alternations: 41, 43, 40 ms.
<!-- /recorded -->

| pipeline | events/s |
|---|---:|
| old | 1 |

<!-- recorded -->
Under the scheduler: 1.5 %.
<!-- /recorded -->

## Latency: landing to ticket

<!-- recorded -->
p95 5.3 min (`make bench-latency`).
<!-- /recorded -->

## Search

old search table

## Reading the numbers

- old reading
"""

NEW = """# mamori benchmarks

- command: `make bench`, commit `bbbbbbb`

## Conversion

| pipeline | events/s |
|---|---:|
| new | 2 |

## Search

new search table

## Reading the numbers

- new reading
_Total benchmark time: 9 s._
"""


def test_rewriting_the_benchmarks_file_keeps_its_recorded_blocks(tmp_path: Path) -> None:
    """bench/run.py's own write (a child process: run.py imports Airflow, this tier does not)."""
    out = tmp_path / "benchmarks.md"
    out.write_text(OLD)
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); import bench.run as r; "
        "r._write(sys.argv[2].split('\\n'), 0.0, Path(sys.argv[3]))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(REPO), NEW.rstrip("\n"), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    for kept in ("**A round.** Alternations: 41, 43, 40 ms.", "Under the scheduler: 1.5 %.", "p95 5.3 min"):
        assert text.count(kept) == 1, kept
    assert "| new | 2 |" in text and "| old | 1 |" not in text  # the generated text is replaced
    assert "## Latency: landing to ticket" in text


def test_blocks_keep_their_side_of_the_generated_text_and_orphans_their_place() -> None:
    text = recorded.carry(OLD, NEW)
    lines = text.splitlines()

    def at(s: str) -> int:
        return next(i for i, line in enumerate(lines) if s in line)

    assert (
        at("## Conversion")
        < at("**A round.**")
        < at("| new | 2 |")
        < at("Under the scheduler")
        < at("## Latency")
    )
    # the section no generator writes stays between the sections it stood between
    assert at("## Latency") < at("p95 5.3 min") < at("## Search") < at("new search table")
    assert recorded.count(text) == recorded.count(OLD) == 3
    assert "bbbbbbb" in text and "aaaaaaa" not in text


def test_a_second_rewrite_changes_nothing() -> None:
    once = recorded.carry(OLD, NEW)
    assert recorded.carry(once, NEW) == once


def test_a_recorded_block_in_the_preamble_stays_there() -> None:
    """The title is generated text, so a block under it comes after the preamble's generated lines."""
    old = "# t\n\n<!-- recorded -->\n- measured by hand\n<!-- /recorded -->\n\n## Search\n\nx\n"
    text = recorded.carry(old, "# t\n\n- generated\n\n## Search\n\ny\n")
    assert text.index("- generated") < text.index("- measured by hand") < text.index("## Search")


@pytest.mark.parametrize(
    ("old", "says"),
    [
        ("## A\n\n<!-- recorded -->\nnever closed\n", "never closes"),
        ("## A\n\n<!-- recorded -->\nx\n\n## B\n\n<!-- /recorded -->\n", "heading inside a recorded block"),
        ("## A\n\n<!-- recorded -->\n<!-- recorded -->\nx\n<!-- /recorded -->\n", "inside a recorded block"),
        ("## A\n\nx\n<!-- /recorded -->\n", "without its"),
    ],
)
def test_a_broken_fence_stops_the_write_and_leaves_the_file(tmp_path: Path, old: str, says: str) -> None:
    out = tmp_path / "benchmarks.md"
    out.write_text(old)
    with pytest.raises(recorded.RecordedError, match=says):
        recorded.write(out, NEW)
    assert out.read_text() == old


def test_generators_may_not_write_fences() -> None:
    with pytest.raises(recorded.RecordedError, match="generators must not write fences"):
        recorded.carry(OLD, NEW + "\n<!-- recorded -->\nx\n<!-- /recorded -->\n")


def test_a_new_file_is_written_as_generated(tmp_path: Path) -> None:
    out = tmp_path / "var" / "bench-quick.md"
    recorded.write(out, NEW)
    assert out.read_text() == NEW


def test_the_committed_benchmarks_file_survives_a_regeneration() -> None:
    """docs/benchmarks.md's fences parse, and a rewrite by generators that write only every other heading keeps
    every recorded block under its heading (a fence broken by an edit fails here, not in the next `make bench`)."""
    doc = (REPO / "docs" / "benchmarks.md").read_text()
    headings = [line for line in doc.splitlines() if line.startswith("## ")]
    generated = "# mamori benchmarks\n\n" + "".join(f"{h}\n\ngenerated\n\n" for h in headings[::2])
    text = recorded.carry(doc, generated)
    assert recorded.count(text) == recorded.count(doc)
    with_blocks = [
        h for h, body in zip(headings, doc.split("\n## ")[1:], strict=True) if recorded.OPEN in body
    ]
    # what only a person can write up: the live benches' figures and the optimisation rounds
    assert {
        "## Latency: landing to ticket on a running local Airflow",
        "## Small batches: fixed costs and the GX share of an ingest task",
        "## make demo",
    } <= set(with_blocks)
    out_headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert [h for h in out_headings if h in with_blocks] == with_blocks  # present, once, in their order
