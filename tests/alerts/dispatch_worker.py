"""One dispatcher process for tests/alerts/test_dispatch_concurrency.py (run as a script, in its own process).

Configuration comes from the environment the test hands over (MAMORI_*, AIRFLOW_CONN_*), like a task's.
It imports and warms up everything first (Airflow, the outputs, the ledger's schema check), then touches
`<ready>` and waits for `<go>` to exist, so that several dispatchers enter `detect.dispatch` together rather
than one import time apart. Its result (summary or error) is written as JSON to `<out>`.

    python dispatch_worker.py READY GO OUT        (GO may be "-": start at once)
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path


def main(ready: str, go: str, out: str) -> int:
    from mamori import detect
    from mamori.alerts.ledger import Ledger
    from mamori.alerts.outputs import make_output, resolve_outputs
    from mamori.config import load_settings

    settings = load_settings()
    Ledger(settings.ledger_url)  # schema check/migration done before the race, not inside it
    for name in resolve_outputs(["github", "pagerduty", "slack"], settings):
        make_output(name, settings)  # imports PyGithub, slack_sdk, ... now rather than mid-race
    Path(ready).touch()
    deadline = time.monotonic() + 300
    while go != "-" and not Path(go).exists():
        if time.monotonic() > deadline:
            Path(out).write_text(json.dumps({"ok": False, "error": "no start signal"}))
            return 3
        time.sleep(0.002)
    try:
        result = {"ok": True, "summary": detect.dispatch(settings)}
    except Exception as exc:
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
    Path(out).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
