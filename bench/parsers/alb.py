"""ALB access logs: benchmark input and the naive parser mamori's parser is measured against.

`naive_parse` is what a user typically writes first: the regex of AWS's Athena RegexSerDe example (quoted
fields as `"[^"]*"`, so an escaped quote breaks the line; the newer fields optional at the end), one dict per
line, `fromisoformat` for the time and `int()`/`float()` for numbers. It does not quarantine, split IPv6
host:port safely, unescape quotes or fill the common columns, so it is a floor for "parse the text", not a
like-for-like replacement. No I/O here: the harness times these functions.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

from mamori.sources.alb import NATIVE_COLUMNS
from mamori.sources.alb.generate import _LB, _Gen

_NAMES = [name for name, _ in NATIVE_COLUMNS[:34]]  # type .. conn_trace_id, as the regex's groups
_LINE = re.compile(
    r"([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*):([0-9]*) ([^ ]*)[:-]([0-9]*) ([-.0-9]*) ([-.0-9]*) ([-.0-9]*) "
    r'(|[-0-9]*) (-|[-0-9]*) ([-0-9]*) ([-0-9]*) "([^ ]*) (.*) (- |[^ ]*)" "([^"]*)" ([A-Z0-9-_]+) '
    r'([A-Za-z0-9.-]*) ([^ ]*) "([^"]*)" "([^"]*)" "([^"]*)" ([-.0-9]*) ([^ ]*) "([^"]*)" "([^"]*)" '
    r'"([^ ]*)" "([^ ]*)" "([^ ]*)" "([^ ]*)" "([^ ]*)" ?([^ ]*)?( .*)?'
)


def make_sample(n_lines: int, seed: int = 1) -> bytes:
    """An uncompressed ALB log body in today's 33-field layout, from the generator's background traffic."""
    rng = random.Random(seed)  # noqa: S311 - benchmark input, not a secret
    lb = _LB(rng, "123456789012", "us-east-1")
    g = _Gen(rng)
    t = datetime(2026, 11, 1, tzinfo=UTC)
    out: list[str] = []
    for _ in range(n_lines):
        t += timedelta(microseconds=rng.randrange(1, 20_000))
        out.append(g.background(lb, t)[1])
    return ("\n".join(out) + "\n").encode()


def naive_parse(data: bytes) -> int:
    """One regex per line into a dict, numbers and time converted; returns the number of records parsed."""
    n = 0
    for line in data.decode("utf-8", "replace").splitlines():
        m = _LINE.match(line)
        if m is None:
            continue
        rec = dict(zip(_NAMES, m.groups(), strict=False))
        rec["event_time"] = datetime.fromisoformat(rec["time"])
        for k in ("client_port", "target_port", "received_bytes", "sent_bytes"):
            rec[k] = int(rec[k]) if rec[k] not in ("", "-") else None
        for k in ("elb_status_code", "target_status_code"):
            rec[k] = int(rec[k]) if rec[k] not in ("", "-") else None
        for k in ("request_processing_time", "target_processing_time", "response_processing_time"):
            rec[k] = float(rec[k])
        n += 1
    return n
