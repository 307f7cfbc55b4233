"""The lake's JSON records as types: a window's plan, a batch's manifest, its full data-quality result, the
publishing record of ADR 0004, reconciliation-gap records, and the window summary (`_SUCCESS.json`).

Ingest writes them; finalize, compaction, the health checks (freshness, drift, late data, reconciliation),
data-quality alerts, status and the demo read them back, often from lakes written by an earlier release. So:

- each type's `to_json` produces exactly the bytes the dict-based writers produced (same orjson options, same
  key order where keys are not sorted, same optional keys), which the golden lake test holds
  (tests/unit/test_lake_golden.py): a re-run over an existing lake rewrites identical files;
- `from_json` accepts what older writers left (a plan without `batch_keys`, a manifest without `dq`) with the
  defaults the readers used to apply by hand (`m.get("dq") or {}`), so readers use attributes, never keys.

`observed` (drift observations) stays a mapping: its keys are whatever `mamori.quality.observe` records per
source, and `mamori.health.drift` is its only reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

_INDENT = orjson.OPT_INDENT_2
_SORTED = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def _loads(data: bytes) -> dict[str, Any]:
    doc = orjson.loads(data)
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON object, got {type(doc).__name__}")
    return doc


# -- plan -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowPlan:
    """`_plan.json`: how a window's landed objects were split into batches (finalize reads the batch count
    and the unclaimed keys from here; reconciliation the planned keys)."""

    source: str
    window_start: str  # ISO 8601, as in every record (the window's identity is its tag, see layout)
    window_end: str
    batches: int
    objects: int
    unclaimed: list[str] = field(default_factory=list)
    batch_keys: list[list[str]] = field(
        default_factory=list
    )  # lets finalize name the objects of a lost batch
    # Objects landed in the last day under key dates older than their landing window lists (an archive copied
    # in), found by each day's first window (ingest.out_of_range): not read, warned about (`mamori backfill
    # --by key-date` imports them). Written only when there are some.
    out_of_range: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        doc: dict[str, Any] = {
            "source": self.source,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "batches": self.batches,
            "objects": self.objects,
            "unclaimed": self.unclaimed,
            "batch_keys": self.batch_keys,
        }
        if self.out_of_range:
            doc["out_of_range"] = self.out_of_range
        return orjson.dumps(doc, option=_INDENT)

    @classmethod
    def from_json(cls, data: bytes) -> WindowPlan:
        d = _loads(data)
        return cls(
            source=d["source"],
            window_start=d["window_start"],
            window_end=d["window_end"],
            batches=int(d["batches"]),
            objects=int(d.get("objects", 0)),
            unclaimed=list(d.get("unclaimed") or []),
            batch_keys=[list(ks) for ks in d.get("batch_keys") or []],
            out_of_range=list(d.get("out_of_range") or []),
        )

    def planned_keys(self) -> set[str]:
        """Every raw key some batch of the plan reads."""
        return {k for ks in self.batch_keys for k in ks}


@dataclass
class WindowImports:
    """`_imports.json`: objects that landed in a window under key dates its listing does not cover, recorded by
    `mamori backfill --by key-date`. From then on every run of the window (the backfill's, a re-run, the
    reconciliation) reads them with its landed objects, so an archive is ingested exactly once, by the window
    it landed in, whichever runs it."""

    source: str
    window_start: str
    keys: list[str] = field(default_factory=list)
    # [start, end) of each key-date backfill that imported here (ISO 8601): it detects over those events
    # itself, so finalize does not count their hours as late data for the health DAG to re-run.
    key_dates: list[list[str]] = field(default_factory=list)

    def to_json(self) -> bytes:
        doc = {
            "source": self.source,
            "window_start": self.window_start,
            "keys": sorted(set(self.keys)),
            "key_dates": sorted({tuple(r) for r in self.key_dates}),
        }
        return orjson.dumps(doc, option=_INDENT)

    @classmethod
    def from_json(cls, data: bytes) -> WindowImports:
        d = _loads(data)
        return cls(
            source=d["source"],
            window_start=d["window_start"],
            keys=list(d.get("keys") or []),
            key_dates=[list(r) for r in d.get("key_dates") or []],
        )


# -- batch manifest ---------------------------------------------------------------------------------------------


@dataclass
class ObjectCount:
    """One raw object of a batch: records read, rows written, units quarantined (the nothing-lost ledger)."""

    key: str
    records_in: int
    rows_out: int
    quarantined: int
    skipped: str | None  # why the object holds no event records (a digest file), or None
    dq_quarantined: int | None = None  # rows validation took out of this object's; absent when none

    def balanced(self) -> bool:
        return self.records_in == self.rows_out + self.quarantined

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "key": self.key,
            "records_in": self.records_in,
            "rows_out": self.rows_out,
            "quarantined": self.quarantined,
            "skipped": self.skipped,
        }
        if self.dq_quarantined is not None:
            d["dq_quarantined"] = self.dq_quarantined
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ObjectCount:
        return cls(
            key=d["key"],
            records_in=int(d["records_in"]),
            rows_out=int(d["rows_out"]),
            quarantined=int(d["quarantined"]),
            skipped=d.get("skipped"),
            dq_quarantined=d.get("dq_quarantined"),
        )


@dataclass(frozen=True)
class FailedCheck:
    """A data-quality check that failed on a batch, as the manifest summarises it (the full result is in
    `dq-batch-NNNN.json`)."""

    id: str
    action: str
    unexpected_count: int | None
    element_count: int | None
    examples: list[Any]
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "unexpected_count": self.unexpected_count,
            "element_count": self.element_count,
            "examples": self.examples,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FailedCheck:
        return cls(
            id=d["id"],
            action=d["action"],
            unexpected_count=d.get("unexpected_count"),
            element_count=d.get("element_count"),
            examples=list(d.get("examples") or []),
            error=d.get("error"),
        )


@dataclass(frozen=True)
class BatchDq:
    """A batch's data-quality verdict in its manifest (`mamori.quality.validate.BatchQuality.summary`)."""

    success: bool = True
    evaluated: int = 0
    passed: int = 0
    failed: list[FailedCheck] = field(default_factory=list)
    quarantined_rows: int | None = 0  # None when the whole batch was quarantined
    quarantined_batch: str | None = None  # the reason, when the whole batch left the lake

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "evaluated": self.evaluated,
            "passed": self.passed,
            "failed": [f.to_dict() for f in self.failed],
            "quarantined_rows": self.quarantined_rows,
            "quarantined_batch": self.quarantined_batch,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BatchDq:
        return cls(
            success=bool(d.get("success", True)),
            evaluated=int(d.get("evaluated") or 0),
            passed=int(d.get("passed") or 0),
            failed=[FailedCheck.from_dict(f) for f in d.get("failed") or []],
            quarantined_rows=d.get("quarantined_rows"),
            quarantined_batch=d.get("quarantined_batch"),
        )


@dataclass(frozen=True)
class QuarantineSample:
    """A reference to one parser-quarantined unit: quarantine file line, raw object, position, reason."""

    line: int
    object: str | None
    index: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "object": self.object, "index": self.index, "reason": self.reason}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuarantineSample:
        return cls(line=int(d["line"]), object=d.get("object"), index=d.get("index"), reason=d["reason"])


@dataclass
class QuarantineClass:
    """The units of one reason class the parsers quarantined in a batch (each class is alerted)."""

    count: int
    file: str  # the quarantine file's key
    samples: list[QuarantineSample] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "file": self.file, "samples": [s.to_dict() for s in self.samples]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuarantineClass:
        return cls(
            count=int(d["count"]),
            file=d["file"],
            samples=[QuarantineSample.from_dict(s) for s in d.get("samples") or []],
        )


@dataclass(frozen=True)
class BatchManifest:
    """`batch-NNNN.json`, written last: what a batch read, wrote and quarantined, and the files it vouches
    for (compaction and re-runs decide what to delete from `files`)."""

    source: str
    window_start: str
    window_end: str
    batch: int
    objects: list[ObjectCount]
    records_in: int
    rows_out: int
    quarantined: int
    skipped_objects: int
    files: list[str]
    file_rows: dict[str, int]
    spills: int = 0  # times the batch outgrew MAMORI_CONVERT_BUDGET_MB and went to local disk
    dq: BatchDq = field(default_factory=BatchDq)
    observed: dict[str, Any] = field(default_factory=dict)  # drift observations (mamori.quality.observe)
    parser_quarantine: dict[str, QuarantineClass] = field(default_factory=dict)  # per reason class

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "batch": self.batch,
            "objects": [o.to_dict() for o in self.objects],
            "records_in": self.records_in,
            "rows_out": self.rows_out,
            "quarantined": self.quarantined,
            "skipped_objects": self.skipped_objects,
            "files": self.files,
            "file_rows": self.file_rows,
            "spills": self.spills,
            "dq": self.dq.to_dict(),
            "observed": self.observed,
            "parser_quarantine": {k: v.to_dict() for k, v in self.parser_quarantine.items()},
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=_SORTED)

    @classmethod
    def from_json(cls, data: bytes) -> BatchManifest:
        d = _loads(data)
        return cls(
            source=d["source"],
            window_start=d["window_start"],
            window_end=d["window_end"],
            batch=int(d["batch"]),
            objects=[ObjectCount.from_dict(o) for o in d.get("objects") or []],
            records_in=int(d["records_in"]),
            rows_out=int(d["rows_out"]),
            quarantined=int(d["quarantined"]),
            skipped_objects=int(d.get("skipped_objects") or 0),
            files=list(d.get("files") or []),
            file_rows={k: int(v) for k, v in (d.get("file_rows") or {}).items()},
            spills=int(d.get("spills") or 0),
            dq=BatchDq.from_dict(d.get("dq") or {}),
            observed=dict(d.get("observed") or {}),
            parser_quarantine={
                k: QuarantineClass.from_dict(v) for k, v in (d.get("parser_quarantine") or {}).items()
            },
        )


@dataclass(frozen=True)
class DqBatchResult:
    """`dq-batch-NNNN.json`: every check's full result for a batch (deterministic: no run ids or times)."""

    source: str
    window_start: str
    batch: int
    checks: list[dict[str, Any]]  # Great Expectations results as mamori.quality.validate reduces them

    def to_json(self) -> bytes:
        doc = {
            "source": self.source,
            "window_start": self.window_start,
            "batch": self.batch,
            "checks": self.checks,
        }
        return orjson.dumps(doc, option=_SORTED)

    @classmethod
    def from_json(cls, data: bytes) -> DqBatchResult:
        d = _loads(data)
        return cls(d["source"], d["window_start"], int(d["batch"]), list(d.get("checks") or []))


@dataclass(frozen=True)
class PublishingRecord:
    """`_publishing-bNNNN.json` (ADR 0004): the files a batch is moving into the lake and the files of an
    earlier attempt they replace; present only while the moves run, so a killed publish is visible."""

    files: list[str]
    replaces: list[str]

    def to_json(self) -> bytes:
        return orjson.dumps({"files": self.files, "replaces": self.replaces}, option=_INDENT)

    @classmethod
    def from_json(cls, data: bytes) -> PublishingRecord:
        d = _loads(data)
        return cls(list(d.get("files") or []), list(d.get("replaces") or []))


def listed_files(data: bytes) -> set[str]:
    """The lake files a batch manifest or a publishing record accounts for (both name them `files`, and a
    publishing record also what it `replaces`): what a re-run may delete when it no longer produces them."""
    d = _loads(data)
    return set(d.get("files") or []) | set(d.get("replaces") or [])


@dataclass(frozen=True)
class GapRecord:
    """`_gap-bNNNN.json` / `_gap-window.json`: a reconciliation gap ingest found before it raised, for the
    health DAG's alert. `objects` are the batch's object counts so far, or, for a window, the objects whose
    counts do not add up and `{key, missing_batch}` for the objects of batches without a manifest."""

    where: str
    problems: list[str]
    objects: list[dict[str, Any]]

    def to_json(self) -> bytes:
        return orjson.dumps(
            {"where": self.where, "problems": self.problems, "objects": self.objects}, option=_SORTED
        )

    @classmethod
    def from_json(cls, data: bytes) -> GapRecord:
        d = _loads(data)
        return cls(str(d.get("where")), list(d.get("problems") or []), list(d.get("objects") or []))

    def keys(self) -> list[str | None]:
        return [o.get("key") for o in self.objects]


# -- backfill progress -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackfillProgress:
    """`_backfill/<plan digest>.json`: the steps of a backfill plan done so far (a killed backfill resumes
    after them)."""

    plan: dict[str, Any]  # the plan's fields (mamori.backfill.BackfillPlan, a stage this layer cannot import)
    done: list[str]
    steps: int

    def to_json(self) -> bytes:
        doc = {"plan": self.plan, "done": self.done, "steps": self.steps}
        return orjson.dumps(doc, option=_INDENT, default=str)  # the plan's datetimes as str(), as always

    @classmethod
    def from_json(cls, data: bytes) -> BackfillProgress:
        d = _loads(data)
        return cls(dict(d.get("plan") or {}), list(d.get("done") or []), int(d.get("steps") or 0))


# -- window summary ---------------------------------------------------------------------------------------------


@dataclass
class StreamCount:
    """Event deliveries of one account/region in a window: the freshness check's history."""

    objects: int = 0
    records: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"objects": self.objects, "records": self.records}


@dataclass
class FailedTally:
    """A check's failures over a window's batches."""

    action: str
    batches: int = 0
    unexpected: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "batches": self.batches, "unexpected": self.unexpected}


@dataclass
class WindowDq:
    """A window's data-quality tally (what `mamori quality report` and status add up), and the keys of the
    window's data-quality alerts."""

    batches: int = 0  # batches with at least one check evaluated
    passed_batches: int = 0
    evaluated: int = 0
    passed: int = 0
    quarantined_rows: int = 0
    failed: dict[str, FailedTally] = field(default_factory=dict)  # check id -> tally
    parser_quarantined: dict[str, int] = field(default_factory=dict)  # reason class -> units
    alerts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "passed_batches": self.passed_batches,
            "evaluated": self.evaluated,
            "passed": self.passed,
            "quarantined_rows": self.quarantined_rows,
            "failed": {k: v.to_dict() for k, v in self.failed.items()},
            "parser_quarantined": self.parser_quarantined,
            "alerts": self.alerts,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WindowDq:
        return cls(
            batches=int(d.get("batches") or 0),
            passed_batches=int(d.get("passed_batches") or 0),
            evaluated=int(d.get("evaluated") or 0),
            passed=int(d.get("passed") or 0),
            quarantined_rows=int(d.get("quarantined_rows") or 0),
            failed={
                k: FailedTally(v["action"], int(v.get("batches") or 0), int(v.get("unexpected") or 0))
                for k, v in (d.get("failed") or {}).items()
            },
            parser_quarantined={k: int(v) for k, v in (d.get("parser_quarantined") or {}).items()},
            alerts=list(d.get("alerts") or []),
        )


# The window totals, in the summary's key order: what status, the demo and `quality report` add up.
WINDOW_TOTALS = ("objects", "records_in", "rows_out", "quarantined", "skipped_objects", "files")


@dataclass
class WindowSummary:
    """`_SUCCESS.json`: a finalized ingest window, summed from its batch manifests, plus what the health
    checks read instead of every manifest (deliveries per stream, the DQ tally, drift observations, and the
    event-time hours written after detection evaluated them)."""

    source: str
    window_start: str
    window_end: str
    batches: int = 0
    unclaimed: list[str] = field(default_factory=list)
    objects: int = 0
    records_in: int = 0
    rows_out: int = 0
    quarantined: int = 0
    skipped_objects: int = 0
    files: int = 0
    streams: dict[str, StreamCount] = field(default_factory=dict)  # "account/region" -> deliveries
    dq: WindowDq = field(default_factory=WindowDq)
    observed: dict[str, Any] = field(default_factory=dict)  # drift observations (mamori.quality.observe)
    late_hours: list[str] = field(default_factory=list)
    out_of_range: int = 0  # objects landed under older key dates that no window reads (see WindowPlan)

    def totals(self) -> dict[str, int]:
        """The window's counts (WINDOW_TOTALS), by name."""
        return {k: int(getattr(self, k)) for k in WINDOW_TOTALS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "batches": self.batches,
            "unclaimed": self.unclaimed,
            **self.totals(),
            "streams": {k: v.to_dict() for k, v in self.streams.items()},
            "dq": self.dq.to_dict(),
            "observed": self.observed,
            "late_hours": self.late_hours,
        } | ({"out_of_range": self.out_of_range} if self.out_of_range else {})

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=_INDENT)

    def result(self) -> dict[str, Any]:
        """What finalize returns (the ingest DAG's XCom): the summary without its bulky per-stream and drift
        parts."""
        return {k: v for k, v in self.to_dict().items() if k not in ("streams", "observed")}

    @classmethod
    def from_json(cls, data: bytes) -> WindowSummary:
        d = _loads(data)
        return cls(
            source=d["source"],
            window_start=d["window_start"],
            window_end=d["window_end"],
            batches=int(d.get("batches") or 0),
            unclaimed=list(d.get("unclaimed") or []),
            objects=int(d.get("objects") or 0),
            records_in=int(d.get("records_in") or 0),
            rows_out=int(d.get("rows_out") or 0),
            quarantined=int(d.get("quarantined") or 0),
            skipped_objects=int(d.get("skipped_objects") or 0),
            files=int(d.get("files") or 0),
            streams={
                k: StreamCount(int(v.get("objects") or 0), int(v.get("records") or 0))
                for k, v in (d.get("streams") or {}).items()
            },
            dq=WindowDq.from_dict(d.get("dq") or {}),
            observed=dict(d.get("observed") or {}),
            late_hours=list(d.get("late_hours") or []),
            out_of_range=int(d.get("out_of_range") or 0),
        )
