"""`mamori detections test` rejects a rule that routes to an output the registry does not have, or gives an
output options it does not take: one line naming the file, the line and the field, exit status 1, the other
rules still tested. Before, an unknown name in `outputs:` was dropped silently at dispatch (the alert went to
the remaining outputs, or to a local file), so a typo such as `pagerdutty` meant pages that never came.

Through the installed console script, like tests/cli/test_error_boundary.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAMORI = Path(sys.executable).with_name("mamori")
RULE = "cloudtrail_console_login_without_mfa"


def _run_test(tmp_path: Path, header_line: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    sql = tmp_path / "sql"
    for part in ("enrichments", "lookups"):
        shutil.copytree(REPO / "sql" / part, sql / part)
    shutil.copy(REPO / "sql" / "routing.yaml", sql / "routing.yaml")
    (sql / "detections" / "cloudtrail").mkdir(parents=True)
    src = (REPO / "sql" / "detections" / "cloudtrail" / f"{RULE}.sql").read_text()
    assert "\nowner:" in src
    rule = sql / "detections" / "cloudtrail" / f"{RULE}.sql"
    rule.write_text(src.replace("\nowner:", f"\n{header_line}\nowner:", 1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAMORI_")}
    env |= {"MAMORI_HOME": str(tmp_path / "home"), "MAMORI_SQL_DIR": str(sql)}
    done = subprocess.run(
        [str(MAMORI), "detections", "test", RULE, "--cases", str(REPO / "tests" / "detections")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done, rule


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(needle))


@pytest.mark.parametrize(
    ("header_line", "key", "says"),
    [
        ("outputs: [github, pagerdutty]", "outputs:", "outputs: unknown output 'pagerdutty'"),
        (
            "output_options: {jira: {project: SEC}}",
            "output_options:",
            "output_options: unknown output 'jira'",
        ),
        (
            "output_options: {github: {assignee: octo-cat}}",
            "output_options:",
            "output_options.github.assignee: Extra inputs are not permitted",
        ),
        (
            "output_options: {github: {assignees: ['not a login']}}",
            "output_options:",
            "is not a GitHub login",
        ),
        (
            "output_options: {pagerduty: {urgency: high}}",
            "output_options:",
            "output_options.pagerduty.urgency",
        ),
    ],
    ids=["unknown-output", "options-for-unknown-output", "github-option-typo", "bad-assignee", "no-options"],
)
def test_a_misrouted_rule_fails_the_test_command_with_one_line(tmp_path, header_line, key, says):
    done, rule = _run_test(tmp_path, header_line)
    assert done.returncode == 1, (done.stdout, done.stderr)
    broken = [line for line in done.stderr.splitlines() if line.startswith("BROKEN ")]
    assert len(broken) == 1, done.stderr
    assert broken[0].startswith(f"BROKEN {rule}:{_line_of(rule, key)}: "), broken[0]
    assert says in broken[0], broken[0]
    assert "Traceback" not in done.stderr


def test_valid_output_options_pass(tmp_path):
    done, _ = _run_test(tmp_path, "output_options: {github: {repo: acme/cloud-team, assignees: [octo-cat]}}")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "BROKEN" not in done.stderr
