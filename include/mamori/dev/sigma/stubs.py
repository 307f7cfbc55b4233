"""Case stubs for imported Sigma rules: one positive and one negative raw CloudTrail delivery derived from the
rule's detection block, marked as stubs so the catalog tests fail the rule until a person has reviewed them.

Why stubs and not empty folders: an empty folder tells the reviewer nothing, and a reviewer starting from a
blank file tends to copy the rule's own values back in. A stub already satisfies the rule's positive selections
(a record with each selection's first value) and the negative is its nearest miss (one field of the positive
changed until the rule stops firing), both checked on DuckDB through the real parser before they are written.
The stub key (`STUB_KEY`) in the delivery document makes `mamori detections test` and the catalog test fail
the case ("stub: ..."), so an imported rule still cannot land unreviewed: the reviewer replaces the records with
a real event (or confirms the derived one is realistic) and deletes the key.

What cannot be derived is said in the stub's own text and in the import report, never guessed silently: a
regular expression gets a `FILL-IN` value, keyword (field-less) searches are left out, and a positive that does
not fire on DuckDB is written anyway with `derived positive does not alert` in its stub text.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sigma.conditions import ConditionAND
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaExists,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from mamori.detections.testing import STUB_KEY

# CloudTrail's own spelling of its top-level fields, for Sigma rules that write them in another case
# (`eventname`): the stub is a record as AWS delivers it, and the parser reads CloudTrail's spelling.
_CLOUDTRAIL_FIELDS = (
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "readOnly",
    "resources",
    "eventType",
    "apiVersion",
    "managementEvent",
    "recipientAccountId",
    "serviceEventDetails",
    "sharedEventID",
    "vpcEndpointId",
    "eventCategory",
    "tlsDetails",
    "sessionCredentialFromConsole",
)
TOP_LEVEL = {k.lower(): k for k in _CLOUDTRAIL_FIELDS}

BASE_RECORD: dict[str, Any] = {
    "eventVersion": "1.10",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEUSER00001",
        "arn": "arn:aws:iam::123456789012:user/alice",
        "accountId": "123456789012",
        "accessKeyId": "AKIAEXAMPLEKEY000001",
        "userName": "alice",
    },
    "eventTime": "2026-11-01T10:21:30Z",
    # A neutral call: rules often filter read-only names out (`eventName|startswith: [Get, Describe, List]`),
    # and a base record such a filter matches would keep the derived positive from ever firing.
    "eventSource": "example.amazonaws.com",
    "eventName": "ExampleAction",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "198.51.100.7",
    "userAgent": "aws-cli/2.22.4",
    "requestParameters": None,
    "responseElements": None,
    "requestID": "e665fff5-ced4-504d-9451-7fbbdb69e339",
    "eventID": "92e54f3f-906c-5ed8-bd5b-b00d8615e243",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "123456789012",
    "eventCategory": "Management",
}
FILL_IN = "FILL-IN"
_NAME = re.compile(r"[A-Za-z_][\w*]*")
_WORDS = {"and", "or", "not", "of", "them", "all"}


@dataclass(frozen=True)
class Example:
    """Field paths (Sigma's spelling, dotted) and the values a record needs to satisfy the rule's positive
    selections; `gaps` says what could not be derived."""

    fields: tuple[tuple[str, Any], ...]
    gaps: tuple[str, ...]


def _plain(value: Any) -> Any:
    """A value that a Sigma value matches: wildcards become nothing (`*`) or `x` (`?`)."""
    if isinstance(value, SigmaString):
        return "".join(
            p if isinstance(p, str) else ("x" if p == SpecialChars.WILDCARD_SINGLE else "") for p in value.s
        )
    if isinstance(value, SigmaBool):
        return value.boolean
    if isinstance(value, SigmaNumber):
        return value.number
    if isinstance(value, SigmaNull):
        return None
    if isinstance(value, SigmaExists):
        return "present" if value.exists else None
    if isinstance(value, SigmaRegularExpression):
        return f"{FILL_IN}: a value matching /{_plain(value.regexp)}/"
    return str(value)


def _item_fields(item: SigmaDetectionItem) -> tuple[list[tuple[str, Any]], list[str]]:
    if item.field is None:
        return [], [f"keyword search {[str(v) for v in item.value]} left out (no field to put it in)"]
    if not item.value:
        return [], []
    values = [_plain(v) for v in item.value]
    if item.value_linking is ConditionAND and len(values) > 1:  # `|all`: one text holding every value
        return [(item.field, " ".join(str(v) for v in values))], []
    value = values[0]
    gaps = [f"{item.field}: {value}"] if isinstance(value, str) and value.startswith(FILL_IN) else []
    return [(item.field, value)], gaps


def _detection_fields(det: SigmaDetection) -> tuple[list[tuple[str, Any]], list[str]]:
    """A mapping needs all its items (AND); a list of alternatives needs only its first (OR)."""
    items = det.detection_items if det.item_linking is ConditionAND else det.detection_items[:1]
    fields: list[tuple[str, Any]] = []
    gaps: list[str] = []
    for item in items:
        f, g = _item_fields(item) if isinstance(item, SigmaDetectionItem) else _detection_fields(item)
        fields += f
        gaps += g
    return fields, gaps


def positive_selections(rule: SigmaRule) -> tuple[list[str], list[list[str]]]:
    """Names the condition uses without `not` in front: (required, alternatives). A plain name or `all of x*`
    is required; `1 of x*` is a group of which one member is enough. A record holding the required
    selections' first alternatives plus one member of each group satisfies the condition unless a filter
    happens to match it too (the caller runs the record to find out)."""
    names = list(rule.detection.detections)
    required: list[str] = []
    groups: list[list[str]] = []
    for condition in rule.detection.condition:
        tokens = _NAME.findall(condition)
        for i, token in enumerate(tokens):
            if token.lower() in _WORDS or (i and tokens[i - 1].lower() == "not"):
                continue
            if i >= 2 and tokens[i - 1].lower() == "of" and tokens[i - 2].lower() == "not":
                continue
            pattern = re.compile(re.escape(token).replace(r"\*", ".*") + r"\Z")
            matched = [n for n in names if pattern.match(n)]
            one_of = (
                i >= 1 and tokens[i - 1].lower() == "of" and condition.lower().count(f"1 of {token.lower()}")
            )
            if one_of and len(matched) > 1:
                groups.append(matched)
            else:
                required += [n for n in matched if n not in required]
        if any(t.lower() == "them" for t in tokens):
            required += [n for n in names if n not in required]
    return required, groups


def examples(rule: SigmaRule) -> tuple[Example, ...]:
    """Candidate positives, most complete first: every selection the condition names, then the required ones
    with one member of each `1 of` group at a time. Read before the pipeline renames fields to columns."""

    def of(selected: list[str]) -> Example:
        fields: list[tuple[str, Any]] = []
        gaps: list[str] = []
        for name in selected:
            f, g = _detection_fields(rule.detection.detections[name])
            fields += f
            gaps += g
        return Example(tuple(fields), tuple(gaps))

    required, groups = positive_selections(rule)
    candidates = [of(required + [n for g in groups for n in g])]
    for k in range(max((len(g) for g in groups), default=0)):
        candidates.append(of(required + [g[min(k, len(g) - 1)] for g in groups]))
    return tuple(dict.fromkeys(candidates))


def _set(record: dict[str, Any], path: str, value: Any) -> None:
    head, *rest = path.split(".")
    head = TOP_LEVEL.get(head.lower(), head)
    if not rest:
        record[head] = value
        return
    child = record.get(head)
    if not isinstance(child, dict):
        child = record[head] = {}
    _set(child, ".".join(rest), value)


def record_for(fields: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    record = copy.deepcopy(BASE_RECORD)
    for path, value in fields:
        _set(record, path, value)
    return record


def _missed(value: Any) -> Any:
    """A value the rule's own value does not match: same type, visibly different."""
    if value is None:
        return "AccessDenied"
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    # Not derived from the value: `contains`, `startswith` and `endswith` would still match a decorated copy.
    return "mamori-near-miss" if value != "mamori-near-miss" else "other"


def near_misses(fields: tuple[tuple[str, Any], ...]) -> Iterator[tuple[str, tuple[tuple[str, Any], ...]]]:
    """The positive's fields with one value changed at a time (the changed field's path first)."""
    for i, (path, _value) in enumerate(fields):
        changed = tuple((p, _missed(v) if j == i else v) for j, (p, v) in enumerate(fields))
        yield path, changed


def delivery(records: list[dict[str, Any]], stub: str) -> dict[str, Any]:
    """A raw CloudTrail delivery document with the stub key the case runner refuses until it is deleted."""
    return {STUB_KEY: stub, "Records": records}
