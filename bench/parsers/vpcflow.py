"""VPC Flow Logs: benchmark input and the naive parser mamori's parser is measured against.

`naive_parse` is what a user typically writes first: split the header, then `str.split` each line and zip it
with the header into a dict, `int()` on the numeric fields and `datetime.fromtimestamp` on `start`. It does
not check field counts, quarantine, validate integers or time ranges, rename columns, map `-` for text fields
or fill the common columns (related_ips needs an IP check per address), so it is a floor for "parse the
text", not a like-for-like replacement. No I/O here: the harness times these functions.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from mamori.sources.vpcflow.generate import _Stream

_INTS = frozenset(
    "version srcport dstport protocol packets bytes start end tcp-flags traffic-path".split()  # noqa: SIM905
)


def make_sample(n_lines: int, seed: int = 1) -> bytes:
    """An uncompressed flow-log body (header + n_lines records) in AWS's documented custom v5 field order,
    from the generator's background traffic: the 29-field layout is the heavier, modern case."""
    rng = random.Random(seed)  # noqa: S311 - benchmark input, not a secret
    stream = _Stream(rng, "123456789012", "us-east-1", custom=True)
    t0 = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
    recs: list[dict[str, str | int | None]] = []
    k = 0
    while len(recs) < n_lines:
        recs += stream.background(t0 + 600 * k, (k / 6) % 24)
        k += 1
    return stream.render(recs[:n_lines])


def naive_parse(data: bytes) -> int:
    """Header-zipped dicts with ints and a datetime; returns the number of records parsed."""
    lines = data.decode("utf-8", "replace").splitlines()
    if not lines:
        return 0
    header = lines[0].split()
    n = 0
    for line in lines[1:]:
        rec: dict[str, object] = dict(zip(header, line.split(), strict=False))
        for k in _INTS:
            v = rec.get(k)
            rec[k] = int(v) if isinstance(v, str) and v != "-" else None
        start = rec["start"]
        rec["event_time"] = datetime.fromtimestamp(start, UTC) if isinstance(start, int) else None
        n += 1
    return n
