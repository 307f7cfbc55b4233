"""A freshly scaffolded rule passes the project's own SQL lint (sqlfluff, athena, as `make lint` runs it),
so `mamori detections new` never leaves `make test` red before the author has written a line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mamori.detections.scaffold import scaffold
from mamori.sources import SPECS

REPO = Path(__file__).resolve().parents[2]
SQLFLUFF = Path(sys.executable).with_name("sqlfluff")


@pytest.mark.parametrize("source", sorted(SPECS))
def test_a_scaffolded_rule_passes_sqlfluff(tmp_path: Path, source: str) -> None:
    shutil.copy(REPO / ".sqlfluff", tmp_path / ".sqlfluff")
    (made, *_) = scaffold(tmp_path, f"{SPECS[source].detection_prefixes[0]}_new_rule_x")
    done = subprocess.run(
        [str(SQLFLUFF), "lint", str(made.relative_to(tmp_path)), "--dialect", "athena"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
