"""A scaffolded rule loads (strict header, one Athena SELECT, the window macro) and fails the catalog until
it has cases."""

from __future__ import annotations

import pytest

from mamori.detections.loader import load_detection
from mamori.detections.scaffold import scaffold
from mamori.detections.testing import run_catalog_cases
from mamori.sources import SPECS


@pytest.mark.parametrize("source", sorted(SPECS))
def test_scaffold_is_valid_but_not_done(tmp_path, source):
    rule_id = f"{SPECS[source].detection_prefixes[0]}_example_rule"  # cloudwatch's rules are syslog_*
    made = scaffold(tmp_path, rule_id)
    det = load_detection(made[0])
    assert det.id == rule_id and det.header.status == "experimental"
    assert det.header.log_source == source and made[0].parent.name == source
    results = list(run_catalog_cases(tmp_path / "sql", tmp_path / "tests" / "detections"))
    assert results and not any(r.passed for r in results)  # no cases yet: red until the author writes them
    with pytest.raises(FileExistsError):
        scaffold(tmp_path, rule_id)


def test_id_must_name_a_source(tmp_path):
    with pytest.raises(ValueError, match="log source"):
        scaffold(tmp_path, "nosuchsource_rule")
