"""The vocabulary of a source's promises: the expectations every converted batch is held to, and the classes
of its parser's quarantine reasons. Each source declares its own in its spec (`sources/<name>/spec.py`);
mamori.quality builds the Great Expectations suite and the `mamori_dq_<source>` alerts from them.

Plain data, no Great Expectations import: the suite is built from these at validation time
(quality/validate.py), and docs/data-quality.md explains each decision. Every check has an *action*:

- ``flag``: rows stay in the lake, the batch is marked failed and a data-quality alert is raised. Used where the
  value may be a real event in a shape we did not foresee (a new AWS value, an old but genuine delivery): hiding
  it from detections would be worse than alerting about it.
- ``quarantine``: the offending rows leave the lake for ``quarantine/`` (with the check as reason) and an alert
  is raised. Used where a row cannot be placed or matched correctly: no identity, or a time in the future.
  Quarantine is never silent, so a record shaped to be quarantined (evasion) still produces an alert.
- ``quarantine_batch``: the whole batch goes to quarantine (schema/type mismatch: writing it would break every
  reader of the table).
- ``fail``: the batch raises (a row count that does not match the manifest means rows were lost in our code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from mamori.sources.base import PLAUSIBLE_SINCE, REGION

Action = Literal["flag", "quarantine", "quarantine_batch", "fail"]

IPV4 = (
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)
# Hex groups around at least two colons, optionally ending in a dotted quad (::ffff:1.2.3.4). No lookarounds:
# pandas' Arrow-backed strings evaluate regexes with RE2.
_HEX_GROUPS = r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4})"
IP_REGEX = rf"^(?:{IPV4}|{_HEX_GROUPS}{{2,7}}|{_HEX_GROUPS}{{1,6}}:{IPV4})$"
ACCOUNT_REGEX = r"^[0-9]{12}$"
REGION_REGEX = rf"^{REGION}$"  # every AWS partition's region names (eusc-de-east-1, us-isob-east-1, ...)
# The derived column holding event_time as epoch microseconds: GX compares numbers vectorised, datetimes per row.
EVENT_TIME_US = "event_time_us"


@dataclass(frozen=True)
class Check:
    """One expectation: `kind` names the GX expectation family, `params` its arguments."""

    id: str
    kind: Literal["not_null", "in_set", "regex", "between", "event_time_after", "event_time_before"]
    column: str
    action: Action
    why: str
    params: dict[str, Any] = field(default_factory=dict)


# Most AWS logs land within a day of the event and no clock runs more than minutes ahead of AWS's.
DEFAULT_LATE = timedelta(days=1)
DEFAULT_SKEW = timedelta(minutes=15)


@dataclass(frozen=True)
class SourceRules:
    """A source's promises. `late`/`skew` bound event time against the landing window: events may arrive up to
    `late` after they happened (older ones are flagged), and no event may claim a time more than `skew` after
    the window closed (quarantined). [`earliest`, window end + `skew`) is the plausible range: a row before
    `earliest` is quarantined too (a corrupt or forged time, which would otherwise be written under a
    partition such as dt=1970-01-01 that Athena's projection never reads)."""

    required: tuple[str, ...]  # identity: a row without these cannot be matched (quarantine)
    expected: tuple[str, ...]  # always present in real deliveries; absence is flagged, the row kept
    checks: tuple[Check, ...]
    late: timedelta = DEFAULT_LATE
    skew: timedelta = DEFAULT_SKEW
    earliest: datetime = PLAUSIBLE_SINCE


COMMON_REQUIRED = ("event_time", "source", "account_id")


def not_null(cols: tuple[str, ...]) -> tuple[Check, ...]:
    """Identity columns: a row without them is quarantined."""
    return tuple(
        Check(
            f"not_null:{c}", "not_null", c, "quarantine", "a row without it cannot be matched by detections"
        )
        for c in cols
    )


def present(cols: tuple[str, ...]) -> tuple[Check, ...]:
    """Columns every real delivery fills: a NULL is flagged, the row kept."""
    return tuple(
        Check(
            f"not_null:{c}", "not_null", c, "flag", "every real delivery carries it; the row is still usable"
        )
        for c in cols
    )


def ips(*cols: str) -> tuple[Check, ...]:
    """Columns the format promises hold an IPv4/IPv6 literal (flagged otherwise)."""
    return tuple(
        Check(f"ip:{c}", "regex", c, "flag", "the format promises an IP address here", {"regex": IP_REGEX})
        for c in cols
    )


def in_set(col: str, values: list[str], why: str) -> Check:
    """A column with a documented set of values; a new one is flagged (AWS adds values), never dropped."""
    return Check(f"in_set:{col}", "in_set", col, "flag", why, {"value_set": values})


def between(col: str, lo: int, hi: int, why: str) -> Check:
    """A numeric column within a documented range (flagged otherwise)."""
    return Check(f"between:{col}", "between", col, "flag", why, {"min_value": lo, "max_value": hi})


def account(col: str = "account_id") -> Check:
    """A column holding a 12-digit AWS account id (flagged otherwise)."""
    return Check(
        f"regex:{col}", "regex", col, "flag", "AWS account ids are 12 digits", {"regex": ACCOUNT_REGEX}
    )


Unit = Literal["object", "record", "line", "message", "event"]


@dataclass(frozen=True)
class ReasonClass:
    """A kind of quarantine: `pattern` matches the start of the reasons the parser writes for it.

    A parser's reasons often quote the offending (attacker-controlled) value, so alerts are keyed on the
    class, never on the text: see mamori.quality.quarantine.
    """

    id: str
    unit: Unit  # what one quarantined entry is: the whole object, or one record/line/message/event of it
    what: str
    pattern: re.Pattern[str]


def reason(cid: str, unit: Unit, what: str, pattern: str) -> ReasonClass:
    """A ReasonClass whose pattern is matched ASCII-only at the start of a reason."""
    return ReasonClass(cid, unit, what, re.compile(pattern, re.ASCII))


UNREADABLE_GZIP = reason(
    "unreadable_gzip",
    "object",
    "gzip that does not decompress (truncated or corrupt upload)",
    r"unreadable gzip: ",
)
TOO_FEW_FIELDS = reason(
    "too_few_fields", "line", "fewer fields than the format's mandatory ones", r"too few fields: "
)
