"""The parsers' quarantine reasons in classes: what a `mamori_dq_<source>` alert counts and is keyed by.

A parser quarantines a record (or a whole object it cannot open) with a free-text reason, kept verbatim beside
the record in `quarantine/<source>/dt=…/…jsonl.gz`. That text often quotes the offending value, which is
attacker-controlled, so alerts are never keyed on it: each reason is mapped to a fixed class by the fixed
words the parser writes before any quoted value. An alert then says "3 records of class invalid_event_time"
and points at the quarantine file and line, instead of carrying (or being split by) whatever the record held.

A reason no class matches is counted as `unclassified` and alerted all the same, so a parser change that
rewords a reason, or a new reason, can make an alert vaguer but never silent. The tables here are plain data
(like rules.py), listed in docs/data-quality.md by doc_tables.py (tests/quality/test_data_quality_doc.py), and
tests/quality/test_quarantine_alerts.py lands one object per class of every source and expects its alert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

UNCLASSIFIED = "unclassified"
CHECK_PREFIX = "quarantine:"  # the alert's `check` dedup value is CHECK_PREFIX + class
MAX_REASON = 160  # characters of a reason an alert sample carries (the full reason is in the quarantine file)
SAMPLES_PER_CLASS = 3  # references per class and batch kept in the manifest

Unit = Literal["object", "record", "line", "message", "event"]


@dataclass(frozen=True)
class ReasonClass:
    """A kind of quarantine: `pattern` matches the start of the reasons the parser writes for it."""

    id: str
    unit: Unit  # what one quarantined entry is: the whole object, or one record/line/message/event of it
    what: str
    pattern: re.Pattern[str]


def _c(cid: str, unit: Unit, what: str, pattern: str) -> ReasonClass:
    return ReasonClass(cid, unit, what, re.compile(pattern, re.ASCII))


_GZIP = _c(
    "unreadable_gzip",
    "object",
    "gzip that does not decompress (truncated or corrupt upload)",
    r"unreadable gzip: ",
)

_CLOUDTRAIL = (
    _GZIP,
    _c("not_json", "object", "not JSON, and no intact `Records` array to take records from", r"not JSON: "),
    _c("not_a_records_object", "object", "JSON that is not an object", r"not a JSON object with Records$"),
    _c("records_not_a_list", "object", "`Records` is not a list", r"Records is not a list$"),
    _c(
        "record_not_json",
        "record",
        "a record the JSON parser refuses (nested deeper than 1024 levels, raw control character, bytes that "
        "are not UTF-8) in an otherwise intact file",
        r"record is not valid JSON: ",
    ),
    _c(
        "record_not_an_object",
        "record",
        "a record that is not a JSON object",
        r"record is \w+, not an object$",
    ),
    _c(
        "ambiguous_keys",
        "record",
        "two spellings of one field (case-insensitive) with different values",
        r"ambiguous keys: ",
    ),
    _c(
        "missing_identity",
        "record",
        "`eventTime`, `eventName` or `eventSource` missing, empty or not text",
        r"missing or non-string (?:eventtime|eventname|eventsource)$",
    ),
    _c(
        "invalid_event_time",
        "record",
        "`eventTime` that is not an instant with a zone",
        r"invalid eventTime ",
    ),
    _c(
        "unstorable_value",
        "record",
        "a value nested too deep to be written back as JSON text",
        r"value cannot be stored as JSON text: ",
    ),
)

_TOO_FEW = _c("too_few_fields", "line", "fewer fields than the format's mandatory ones", r"too few fields: ")

CLASSES: dict[str, tuple[ReasonClass, ...]] = {
    "cloudtrail": _CLOUDTRAIL,
    "cloudtrail_insights": _CLOUDTRAIL,  # the same parser
    "alb": (
        _GZIP,
        _c(
            "quote_error",
            "line",
            "an unterminated or misplaced double quote",
            r"unterminated or misplaced quote",
        ),
        _TOO_FEW,
        _c(
            "invalid_time",
            "line",
            "time missing, not ISO 8601, without a zone, or out of range",
            r"(?:missing time$|invalid time |time without zone |time out of range )",
        ),
        _c(
            "invalid_address",
            "line",
            "client or target not `host:port`",
            r"(?:malformed host:port |missing client:port$)",
        ),
        _c(
            "invalid_number",
            "line",
            "a processing time, status code or byte count that is not a number in range",
            r"(?:non-numeric processing time |invalid (?:elb_status_code|target_status_code|received_bytes"
            r"|sent_bytes) )",
        ),
    ),
    "s3access": (
        _GZIP,
        _c("quote_error", "line", "an unterminated double quote", r"unterminated quote$"),
        _TOO_FEW,
        _c(
            "invalid_time",
            "line",
            "a request time that is not `[dd/Mon/yyyy:HH:MM:SS +0000]`",
            r"bad time (?:field |\[)",
        ),
        _c(
            "misaligned_fields",
            "line",
            "a quoted field in the wrong place, or an empty field",
            r"(?:\w+ is not a quoted field: |empty field \(two consecutive spaces\)$)",
        ),
        _c(
            "invalid_number", "line", "a status, size or time field that is not a number", r"non-numeric \w+ "
        ),
        _c(
            "unrecognised_line",
            "line",
            "any other line that does not have the server access log's shape",
            r"line does not match the server access log format$",
        ),
    ),
    "vpcflow": (
        _GZIP,
        _c("unreadable_parquet", "object", "a Parquet delivery that does not open", r"unreadable Parquet: "),
        _c("invalid_utf8", "line", "bytes that are not UTF-8", r"invalid UTF-8$"),
        _c("field_count", "line", "a field count other than the header's", r"field count \d+ != header \d+$"),
        _c(
            "untimed",
            "line",
            "no start and no end (in the record, or in the header's fields)",
            r"(?:header has neither start nor end|neither start nor end)",
        ),
        _c(
            "invalid_time",
            "line",
            "`start` or `end` outside the plausible range (2010..2100)",
            r"(?:start/end|start|end) -?\d+ outside ",
        ),
        _c(
            "invalid_number",
            "line",
            "an integer field that is not one, or out of range",
            r"\w+ .* is not an integer in ",
        ),
    ),
    "cloudwatch": (
        _GZIP,
        _c(
            "not_json",
            "message",
            "a subscription message that does not decode as JSON",
            r"undecodable JSON object at offset \d+: ",
        ),
        _c(
            "not_a_data_message",
            "message",
            "JSON that is not a DATA_MESSAGE with a `logEvents` list",
            r"(?:JSON value is \w+, not a subscription message$|not a DATA_MESSAGE with a logEvents list$)",
        ),
        _c(
            "event_not_an_object",
            "event",
            "a log event that is not a JSON object",
            r"log event is \w+, not an object$",
        ),
        _c(
            "invalid_time",
            "event",
            "a log event without a valid epoch-ms timestamp, or an export line without a leading timestamp",
            r"(?:log event without a valid epoch-ms timestamp$|export line without a leading timestamp$)",
        ),
        _c(
            "missing_message",
            "event",
            "a log event whose message is not text",
            r"log event without a string message$",
        ),
    ),
}


def classes_for(source: str) -> tuple[ReasonClass, ...]:
    """The declared reason classes of a source (none for a source without an entry: all `unclassified`)."""
    return CLASSES.get(source, ())


def reason_class(source: str, reason: str) -> str | None:
    """The class of a parser's quarantine reason; None for a data-quality check's (`dq:…`: alerted per check)."""
    if reason.startswith("dq:"):
        return None
    head = reason[:MAX_REASON]  # every pattern is anchored at the start: the parser's own words come first
    for c in classes_for(source):
        if c.pattern.match(head):
            return c.id
    return UNCLASSIFIED


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[:MAX_REASON] + "…"


def summarize(source: str, entries: list[dict[str, Any]], file_key: str) -> dict[str, dict[str, Any]]:
    """Per class, the batch's parser-quarantined units: count and up to SAMPLES_PER_CLASS references.

    `entries` are the quarantine file's lines in order (line n = entries[n - 1]); a reference is the file,
    the line, the raw object and the record's position in it, and the reason cut to MAX_REASON characters.
    Deterministic, so a re-run writes the same manifest.
    """
    out: dict[str, dict[str, Any]] = {}
    for n, entry in enumerate(entries, start=1):
        cls = reason_class(source, str(entry.get("reason") or ""))
        if cls is None:
            continue
        agg = out.setdefault(cls, {"count": 0, "file": file_key, "samples": []})
        agg["count"] += 1
        if len(agg["samples"]) < SAMPLES_PER_CLASS:
            agg["samples"].append(
                {
                    "line": n,
                    "object": entry.get("object"),
                    "index": entry.get("index"),
                    "reason": _bounded(str(entry.get("reason") or "")),
                }
            )
    return dict(sorted(out.items()))


def what(source: str, cls: str) -> tuple[str, str]:
    """(unit, description) of a class, for an alert's samples."""
    for c in classes_for(source):
        if c.id == cls:
            return c.unit, c.what
    return "record", "a quarantine reason no declared class matches (see the reason and the parser)"
