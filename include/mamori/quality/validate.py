"""Run a source's expectations (rules.py) on one converted batch with Great Expectations.

GX runs in an ephemeral context (nothing written to disk), with progress bars and analytics off, so a
validation opens no socket (a test asserts it). The context is built once per process on first use: importing
GX costs 3-4 s, which DAG parsing and manifest-only tasks must never pay.

What GX sees: the columns the checks read (scalars as pandas columns, nested ones Arrow-backed so they are
not turned into Python objects; GX copies the frame per expectation, so unread columns would only cost time),
plus `event_time_us`, event_time as epoch microseconds, because GX compares numbers vectorised but datetimes
row by row. The schema (column order and Arrow types) is checked on a (position, column, type) frame of the
table's schema against the declared one, which GX can express exactly; pandas dtypes cannot (an int column
with a NULL becomes float64). That verdict depends only on the two schemas, so it is computed once per
process and schema.

The result kept is deterministic (no run ids or wall-clock stamps, examples bounded), so re-running a window
rewrites the same bytes.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mamori.quality.rules import EVENT_TIME_US, Check, checks_for, rules_for
from mamori.windows import HOUR

log = logging.getLogger(__name__)

MAX_EXAMPLES = 10
MAX_EXAMPLE_CHARS = 200

_GX: dict[str, Any] = {}


def _context() -> dict[str, Any]:
    """The ephemeral GX context and the one pandas batch definition every validation reuses."""
    if not _GX:
        # Before the import: GX reads it when the module loads. Forced, not defaulted: validation must never
        # phone home, whatever the environment says.
        os.environ["GX_ANALYTICS_ENABLED"] = "False"
        logging.getLogger("great_expectations").setLevel(logging.WARNING)  # its import logs hundreds of lines
        import great_expectations as gx
        import tqdm
        from great_expectations.data_context.types.base import ProgressBarsConfig

        # GX makes (disabled) progress bars, and tqdm's first bar starts a monitor thread. A process that warmed
        # GX up before forking task processes (warm_up) must hold no thread that could hold a lock at the fork.
        tqdm.tqdm.monitor_interval = 0

        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = ctx.data_sources.add_pandas("mamori").add_dataframe_asset("batch")
        _GX.update(gx=gx, ctx=ctx, batch_definition=asset.add_batch_definition_whole_dataframe("whole"))
    return _GX


def warm_up(sources: Iterable[str]) -> float:
    """Pay GX's per-process start-up now: import, context, and one throw-away validation (which loads the metric
    implementations GX imports on first use), and each source's schema verdict and passing batches' verdict
    on their counts, both cached per process. Returns the seconds spent.

    For a process that forks the task processes (Airflow's LocalExecutor worker forks one per task): done once
    there before the forks, every task inherits it instead of paying ~3 s of its own (bench section
    `gx_task_cost`). The validation is of one all-NULL row, the way validate_table calls GX.
    """
    from mamori.sources import get_source

    t0 = time.perf_counter()
    g = _context()
    gx = g["gx"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i, name in enumerate(sources):
        schema = get_source(name).schema
        fields = tuple((f.name, str(f.type)) for f in schema)
        _schema_checks(name, fields, fields)  # the verdict every batch of the source gets
        if i == 0:  # the metric implementations are shared by every source's suite: one validation loads them
            checks = [c for c in checks_for(name) if c.column in schema.names or c.column == EVENT_TIME_US]
            df = _frame(pa.Table.from_pylist([{}], schema=schema), [c.column for c in checks])
            exps = [_expectation(gx, c, start, start + HOUR, name) for c in checks]
            batch = g["batch_definition"].get_batch(batch_parameters={"dataframe": df})
            batch.validate(gx.ExpectationSuite(name=f"mamori_{name}_warm_up", expectations=exps))
            batch.validate(exps[0], result_format={"result_format": "COMPLETE"})  # the quarantine path's call
        for imported in (False, True):  # a passing batch's one question, an archive's batch's too
            passing = row_checks(name, schema.empty_table(), imported)
            _aggregates_pass(name, passing, [(1, 0)] * len(passing), 1, 1)
    return time.perf_counter() - t0


@contextmanager
def _configurations_reused() -> Iterator[None]:
    """GX rebuilds an expectation's configuration (a pydantic `dict()` round trip) on each of the ~80 reads of
    `Expectation.configuration` one validation makes per expectation: about a quarter of a small batch's
    validation time. Within one validation call the fields do not change (GX creates the Expectation objects
    from the suite's configurations and only reads them), so the first configuration built for an object is
    returned again. The memo lives for the call only and the property is restored after it; results are
    unchanged (tests/quality/test_dq_result_identity.py, the golden lake)."""
    from great_expectations.expectations.expectation import Expectation

    prop = Expectation.__dict__["configuration"]
    memo: dict[int, tuple[Any, Any]] = {}

    def reused(self: Any) -> Any:
        hit = memo.get(id(self))
        if hit is None or hit[0] is not self:  # the object is held by the memo: its id cannot be reused
            hit = memo[id(self)] = (self, prop.fget(self))
        return hit[1]

    Expectation.configuration = property(reused)  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        Expectation.configuration = prop  # type: ignore[method-assign]


@dataclass
class BatchQuality:
    """What validation decided for one batch. Row positions refer to the table that was validated."""

    source: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    quarantine_rows: dict[int, str] = field(default_factory=dict)  # row position -> reason
    quarantine_batch: str | None = None  # reason when the whole batch must leave the lake
    failed_fatal: list[str] = field(default_factory=list)  # `fail` checks that failed
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        return all(c["success"] for c in self.checks)

    def summary(self) -> dict[str, Any]:
        """The manifest's view: enough to raise alerts in finalize without reading the full result."""
        failed = [c for c in self.checks if not c["success"]]
        return {
            "success": self.success,
            "evaluated": len(self.checks),
            "passed": len(self.checks) - len(failed),
            "failed": [
                {k: c[k] for k in ("id", "action", "unexpected_count", "element_count", "examples", "error")}
                for c in failed
            ],
            "quarantined_rows": len(self.quarantine_rows) if self.quarantine_batch is None else None,
            "quarantined_batch": self.quarantine_batch,
        }


def merge_quality(source: str, verdicts: list[BatchQuality]) -> BatchQuality:
    """One verdict for a batch validated in segments (a batch that outgrew the converter's memory budget).

    Counts add up, a check passes only if it passed in every segment, and the first examples and error are
    kept, so the manifest and finalize's alerts read the same as for a batch validated whole. Quarantined row
    positions are renumbered after each other (only their number is reported).
    """
    if len(verdicts) == 1:
        return verdicts[0]
    out = BatchQuality(source)
    merged: dict[str, dict[str, Any]] = {}
    offset = 0
    for v in verdicts:
        for c in v.checks:
            m = merged.get(c["id"])
            if m is None:
                merged[c["id"]] = dict(c) | {"examples": list(c["examples"])}
                continue
            m["success"] = m["success"] and c["success"]
            for k in ("element_count", "unexpected_count"):
                m[k] = None if m[k] is None or c[k] is None else m[k] + c[k]
            m["examples"] = (m["examples"] + list(c["examples"]))[:MAX_EXAMPLES]
            m["error"] = m["error"] or c["error"]
        out.quarantine_rows.update({offset + i: r for i, r in v.quarantine_rows.items()})
        offset += max(v.quarantine_rows, default=-1) + 1
        out.quarantine_batch = out.quarantine_batch or v.quarantine_batch
        out.failed_fatal += [f for f in v.failed_fatal if f not in out.failed_fatal]
        out.seconds += v.seconds
    out.checks = list(merged.values())
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _window_bound(t: datetime) -> int:
    return int(t.astimezone(UTC).timestamp() * 1_000_000)


def _expectation(gx: Any, check: Check, start: datetime, end: datetime, source: str) -> Any:
    e = gx.expectations
    meta = {"mamori_check": check.id, "action": check.action}
    col = check.column
    if check.kind == "not_null":
        return e.ExpectColumnValuesToNotBeNull(column=col, meta=meta)
    if check.kind == "in_set":
        return e.ExpectColumnValuesToBeInSet(column=col, value_set=check.params["value_set"], meta=meta)
    if check.kind == "regex":
        return e.ExpectColumnValuesToMatchRegex(column=col, regex=check.params["regex"], meta=meta)
    if check.kind == "between":
        return e.ExpectColumnValuesToBeBetween(column=col, **check.params, meta=meta)
    r = rules_for(source)
    if check.kind == "event_time_after":
        lo = start - r.late
        meta["bound"] = lo.isoformat()
        return e.ExpectColumnValuesToBeBetween(
            column=col, min_value=_window_bound(lo), meta=meta, **check.params
        )
    if check.kind == "event_time_before":
        hi = end + r.skew
        meta["bound"] = hi.isoformat()
        return e.ExpectColumnValuesToBeBetween(
            column=col, max_value=_window_bound(hi), strict_max=True, meta=meta
        )
    raise ValueError(f"unknown check kind {check.kind!r}")


def _frame(table: pa.Table, columns: list[str]) -> Any:
    """The columns the checks read, shaped so GX's per-batch fingerprint (a hash of the whole frame, taken
    twice per validation) stays cheap: strings dictionary-encoded (pandas categoricals hash their codes),
    nested columns as their presence (1.0 / NaN: the only property checked on them). GX also filters the frame
    per expectation, so columns no check reads are left out."""
    import numpy as np
    import pandas as pd

    data: dict[str, Any] = {}
    for name in dict.fromkeys(columns):
        if name not in table.column_names:
            continue
        col = table.column(name)
        if pa.types.is_nested(col.type):
            data[name] = np.where(pc.is_valid(col).to_numpy(zero_copy_only=False), 1.0, np.nan)
        elif pa.types.is_string(col.type):
            data[name] = pc.dictionary_encode(col).to_pandas()
        else:
            data[name] = col.to_pandas()
    data[EVENT_TIME_US] = pc.cast(table.column("event_time"), pa.int64()).to_numpy(zero_copy_only=False)
    return pd.DataFrame(data)


def _example(v: Any) -> Any:
    if isinstance(v, float) and v != v:  # NaN: pandas' missing value
        return None
    if isinstance(v, str):
        return v if len(v) <= MAX_EXAMPLE_CHARS else v[:MAX_EXAMPLE_CHARS] + "…"
    if isinstance(v, int | float | bool) or v is None:
        return v
    return _example(str(v))


def _result(r: Any, check_id: str, action: str, column: str | None) -> dict[str, Any]:
    res = r.result or {}
    exc = r.exception_info or {}
    error = exc.get("exception_message") if exc.get("raised_exception") else None
    examples = [_example(v) for v in (res.get("partial_unexpected_list") or [])[:MAX_EXAMPLES]]
    if column == EVENT_TIME_US:  # show instants, not epoch microseconds
        # Integer arithmetic: v / 1e6 rounds 9999-12-31T23:59:59.999999 up into year 10000 (ValueError).
        examples = [
            (_EPOCH + timedelta(microseconds=v)).isoformat() if isinstance(v, int) else v for v in examples
        ]
    if "observed_value" in res and not r.success and not examples:
        examples = [_example(res["observed_value"])]
    return {
        "id": check_id,
        "expectation": r.expectation_config.type,
        "column": column,
        "action": action,
        "success": bool(r.success) and error is None,
        "element_count": res.get("element_count"),
        "unexpected_count": res.get("unexpected_count", 0 if r.success else None),
        "examples": examples,
        "error": error[:500] if error else None,
    }


@lru_cache(maxsize=64)
def _schema_checks(
    source: str, observed: tuple[tuple[str, str], ...], declared: tuple[tuple[str, str], ...]
) -> tuple[dict[str, Any], ...]:
    """GX's verdict on a schema: a pure function of the two schemas, so computed once per distinct pair
    (every batch of a source normally has the same schema; the GX call costs ~0.1 s per batch otherwise)."""
    import pandas as pd

    g = _context()
    gx, e = g["gx"], g["gx"].expectations
    frame = pd.DataFrame(
        {
            "position": list(range(len(observed))),
            "column": [n for n, _ in observed],
            "type": [t for _, t in observed],
        }
    )
    suite = gx.ExpectationSuite(
        name=f"mamori_{source}_schema",
        expectations=[
            e.ExpectColumnPairValuesToBeInSet(
                column_A="position",
                column_B="column",
                value_pairs_set=[(i, n) for i, (n, _) in enumerate(declared)],
                meta={"mamori_check": "schema:column_order"},
            ),
            e.ExpectColumnPairValuesToBeInSet(
                column_A="column",
                column_B="type",
                value_pairs_set=[tuple(p) for p in declared],
                meta={"mamori_check": "schema:types"},
            ),
            e.ExpectTableRowCountToEqual(value=len(declared), meta={"mamori_check": "schema:column_count"}),
        ],
    )
    with _configurations_reused():
        res = (
            g["batch_definition"]
            .get_batch(batch_parameters={"dataframe": frame})
            .validate(suite, result_format="BASIC")
        )
    got = {r.expectation_config.meta.get("mamori_check"): r for r in res.results}
    return tuple(
        _result(got[cid], cid, "quarantine_batch", None)
        for cid in ("schema:column_order", "schema:types", "schema:column_count")
    )


def row_checks(source: str, table: pa.Table, imported: bool = False) -> list[Check]:
    """The row-level checks a batch's table is held to: the source's, for the columns it has (the time window
    on the derived column), without the "older than late" flag for an archive's batch (`imported`)."""
    present = set(table.column_names)
    checks = [c for c in checks_for(source) if c.column in present or c.column == EVENT_TIME_US]
    if imported:
        checks = [c for c in checks if c.kind != "event_time_after"]
    return checks


_GX_TYPE = {  # the expectation each kind of check runs (validate_table's documents name it)
    "not_null": "expect_column_values_to_not_be_null",
    "in_set": "expect_column_values_to_be_in_set",
    "regex": "expect_column_values_to_match_regex",
    "between": "expect_column_values_to_be_between",
    "event_time_after": "expect_column_values_to_be_between",
    "event_time_before": "expect_column_values_to_be_between",
}
_BETWEEN_KEYS = {"min_value", "max_value", "strict_min", "strict_max"}
_ROW_CONDITION = re.compile(rf"{EVENT_TIME_US} >= (-?[0-9]+)")


def _missing(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """What GX's pandas engine treats as missing: NULL, and NaN in a float column (pandas' missing value)."""
    if pa.types.is_floating(col.type):
        return pc.is_null(col, nan_is_null=True)
    return pc.is_null(col)


def _count(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def screen(
    source: str, table: pa.Table, checks: list[Check], start: datetime, end: datetime
) -> list[tuple[int, int]] | None:
    """Each row check's (element count, unexpected count) on the Arrow table, as GX's pandas engine counts
    them: missing values are unexpected for `not_null` and outside every other check's domain; a
    `row_condition` narrows the domain. None when a check is not one this can count (a parameter or column
    type it does not know): the caller then asks GX.

    Where the two engines could disagree the screen errs towards "unexpected": regexes run on RE2, whose `$`
    does not match before a trailing newline as Python's does, so such a value is counted here and GX, asked
    because of it, decides. A count above zero is never reported from here (validate_table runs GX's suite).
    """
    n = table.num_rows
    us = pc.cast(table.column("event_time"), pa.int64())
    r = rules_for(source)
    out: list[tuple[int, int]] = []
    try:
        for c in checks:
            col = us if c.column == EVENT_TIME_US else table.column(c.column)
            missing = _missing(col)
            if c.kind == "not_null":
                if c.params:
                    return None
                out.append((n, _count(missing)))
                continue
            if c.kind == "in_set":
                if set(c.params) != {"value_set"} or pa.types.is_nested(col.type):
                    return None
                ok = pc.is_in(col, value_set=pa.array(c.params["value_set"], type=col.type))
            elif c.kind == "regex":
                if set(c.params) != {"regex"} or not pa.types.is_string(col.type):
                    return None
                ok = pc.match_substring_regex(col, c.params["regex"])
            else:
                if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
                    return None
                params = dict(c.params)
                domain = None
                if c.kind == "event_time_after":
                    cond = _ROW_CONDITION.fullmatch(params.pop("row_condition", ""))
                    if cond is None or params.pop("condition_parser", None) != "pandas":
                        return None
                    params["min_value"] = _window_bound(start - r.late)
                    domain = pc.fill_null(pc.greater_equal(col, int(cond.group(1))), False)
                elif c.kind == "event_time_before":
                    params = {"max_value": _window_bound(end + r.skew), "strict_max": True}
                if not set(params) <= _BETWEEN_KEYS:
                    return None
                lo, hi = params.get("min_value"), params.get("max_value")
                if lo is None and hi is None:
                    return None  # GX refuses a range without bounds: let it say so
                ge = pc.greater if params.get("strict_min") else pc.greater_equal
                le = pc.less if params.get("strict_max") else pc.less_equal
                parts = ([ge(col, lo)] if lo is not None else []) + ([le(col, hi)] if hi is not None else [])
                ok = parts[0] if len(parts) == 1 else pc.and_(*parts)
                if domain is not None:
                    unexpected = pc.and_(
                        pc.and_(domain, pc.invert(missing)), pc.invert(pc.fill_null(ok, False))
                    )
                    out.append((_count(domain), _count(unexpected)))
                    continue
            out.append((n, _count(pc.and_(pc.invert(missing), pc.invert(pc.fill_null(ok, False))))))
    except (pa.ArrowException, TypeError, ValueError, KeyError):
        return None
    return out


def _aggregates_pass(
    source: str, checks: list[Check], counts: list[tuple[int, int]], rows: int, expected_rows: int
) -> bool:
    """GX's verdict on the screen's counts: one expectation (the largest unexpected count is 0) over a frame
    of one row per check plus the manifest's row count (unexpected: the gap). One expectation costs GX a
    fixed ~5-10 ms; one per check cost it ~5 ms each, most of a small batch's validation.

    The frame holds nothing but the check ids and the unexpected counts, so GX's verdict is a pure function of
    them and is asked once per process for each distinct frame (_counts_verdict): every passing batch of a
    source hands GX the same frame (its checks, all counts 0), whose verdict the warm-up already obtained."""
    return _counts_verdict(
        (*(c.id for c in checks), "row_count:manifest"),
        (*(u for _, u in counts), abs(rows - expected_rows)),
    )


@lru_cache(maxsize=256)
def _counts_verdict(check_ids: tuple[str, ...], unexpected: tuple[int, ...]) -> bool:
    """GX's verdict on one (check, unexpected_count) frame: computed once per distinct frame and process.

    Bounded: a failing batch's counts are its own (few distinct frames are ever seen, and a failing batch then
    runs GX's full suite on its rows anyway)."""
    import pandas as pd

    g = _context()
    suite = g.get("aggregates_suite")
    if suite is None:  # one suite per process, as the context
        e = g["gx"].expectations
        suite = g["aggregates_suite"] = g["gx"].ExpectationSuite(
            name="mamori_row_check_counts",
            expectations=[
                e.ExpectColumnMaxToBeBetween(
                    column="unexpected_count", min_value=0, max_value=0, meta={"mamori_check": "aggregates"}
                )
            ],
        )
    frame = pd.DataFrame({"check": list(check_ids), "unexpected_count": list(unexpected)})
    with _configurations_reused():
        res = g["batch_definition"].get_batch(batch_parameters={"dataframe": frame}).validate(suite)
    return bool(res.success)


def _passed(
    check_id: str, expectation: str, column: str | None, action: str, elements: int | None
) -> dict[str, Any]:
    """A passing check's document, as _result makes it from GX's result for a check without unexpected rows."""
    return {
        "id": check_id,
        "expectation": expectation,
        "column": column,
        "action": action,
        "success": True,
        "element_count": elements,
        "unexpected_count": 0,
        "examples": [],
        "error": None,
    }


def validate_table(
    source: str,
    table: pa.Table,
    schema: pa.Schema,
    start: datetime,
    end: datetime,
    expected_rows: int,
    imported: bool = False,
) -> BatchQuality:
    """Validate one batch's rows (`table`, all partitions concatenated) for the landing window [start, end).

    `expected_rows` is the parser's count for the batch (the manifest's rows_out before validation): the
    table must hold exactly that many rows. `imported`: the batch holds objects `mamori backfill --by key-date`
    imported (an archive), whose events are old by design: the "older than late" flag is not checked.
    """
    t0 = time.perf_counter()
    out = BatchQuality(source)
    if table.num_rows == 0:
        return out
    g = _context()
    gx, bd = g["gx"], g["batch_definition"]
    e = gx.expectations

    # 1. schema and types, on a (column, type) frame of the table's schema against the declared one.
    observed = tuple((f.name, str(f.type)) for f in table.schema)
    declared = tuple((f.name, str(f.type)) for f in schema)
    out.checks += [dict(c) for c in _schema_checks(source, observed, declared)]
    if not all(c["success"] for c in out.checks):
        bad = [c["id"] for c in out.checks if not c["success"]]
        out.quarantine_batch = f"dq:{','.join(bad)}: table does not match the declared {source} schema"
        out.seconds = time.perf_counter() - t0
        return out

    # 2. rows: identity, value sets, formats, time window; plus the manifest's row count. Counted vectorised
    # first; when GX finds nothing unexpected in the counts (the common case), each check's document is the
    # one GX's own result gives a check without unexpected rows. Otherwise GX runs every expectation on the
    # rows, and its results (examples, counts, quarantined rows) are the documents, as they always were.
    checks = row_checks(source, table, imported)
    counts = screen(source, table, checks, start, end)
    if counts is not None and _aggregates_pass(source, checks, counts, table.num_rows, expected_rows):
        for c, (elements, _) in zip(checks, counts, strict=True):
            out.checks.append(_passed(c.id, _GX_TYPE[c.kind], c.column, c.action, elements))
        out.checks.append(
            _passed("row_count:manifest", "expect_table_row_count_to_equal", None, "fail", None)
        )
        out.seconds = time.perf_counter() - t0
        return out
    df = _frame(table, [c.column for c in checks])
    expectations = [_expectation(gx, c, start, end, source) for c in checks]
    expectations.append(
        e.ExpectTableRowCountToEqual(value=expected_rows, meta={"mamori_check": "row_count:manifest"})
    )
    suite = gx.ExpectationSuite(name=f"mamori_{source}", expectations=expectations)
    batch = bd.get_batch(batch_parameters={"dataframe": df})
    with _configurations_reused():
        res = batch.validate(suite, result_format="BASIC")
    by_id = {c.id: c for c in checks}
    results = {r.expectation_config.meta.get("mamori_check"): r for r in res.results}
    for c in checks:
        out.checks.append(_result(results[c.id], c.id, c.action, c.column))
    out.checks.append(_result(results["row_count:manifest"], "row_count:manifest", "fail", None))

    for r in out.checks:
        if r["success"]:
            continue
        if r["action"] == "fail":
            out.failed_fatal.append(r["id"])
        elif r["action"] == "quarantine":
            # The rare path: ask GX again, for this expectation only, which rows failed.
            exp = expectations[[x.id for x in checks].index(r["id"])]
            with _configurations_reused():
                full = batch.validate(exp, result_format={"result_format": "COMPLETE"})
            for i in full.result.get("unexpected_index_list") or []:
                out.quarantine_rows.setdefault(int(i), f"dq:{r['id']}: {by_id[r['id']].why}")
    out.seconds = time.perf_counter() - t0
    return out
