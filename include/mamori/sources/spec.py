"""A log source's spec: everything the rest of mamori knows about a source, declared once in its folder.

Each folder `sources/<name>/` holds its parser (`__init__.py`, the Source), its generator (`generate.py`, dev
tooling only) and its spec (`spec.py`, one SourceSpec). The registry (`mamori.sources`) holds the specs, and
every per-source behaviour elsewhere is derived from them: the quality suite and the quarantine classes
(mamori.quality), the `mamori_dq_<source>` alert (sql/health/mamori_dq.yaml.j2), search fields
(mamori.search.events), the scaffold of a new rule (mamori.detections.scaffold), the key a detection case lands
under (mamori.detections.testing), drift observations (mamori.quality.observe) and the conversion path
(mamori.lake.convert). So adding a source is its folder plus one registry line, and no module outside
`sources/` names a source (tests/contracts/test_sources_contract.py enforces both).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, cast

import pyarrow as pa

from mamori.sources.base import ColumnarSource, LargeObject, Source
from mamori.sources.rules import ReasonClass, SourceRules

Severity = Literal["critical", "high", "medium", "low", "info"]


@dataclass(frozen=True)
class FieldModel:
    """Athena SQL expressions over the source's table for the columns every search result and every new rule
    have. Written by the source's author, never derived from logs (they are spliced into SQL as code).

    `actor` is exactly who acted, as the log names it (for CloudTrail the session ARN a responder looks up).
    `principal` is who that is across sessions, the entity alerts roll up to: a rule writes
    `{{ principal() }} AS principal` and keys its dedup on `principal` (and groups thresholds and first-seen
    baselines by it), so one run of a tool that opens a session per process is one alert, not one per session,
    and spreading calls over sessions cannot dodge a threshold. For CloudTrail:

    - an assumed-role session: the role that issued it (`sessionissuer.arn`, `arn:aws:iam::<acct>:role/<r>`);
    - except an IAM Identity Center (SSO) role (its path is `/aws-reserved/sso.amazonaws.com/`): one role is
      shared by everyone given the permission set, and the session name is the person, so the principal stays
      the assumed-role ARN (`.../AWSReservedSSO_<set>_<id>/alice@example.com`, the same for all her sessions);
    - IAM users, root (`arn:aws:iam::<acct>:root`), federated users: their ARN; services: their principal id.

    None: the source has no principal (a flow or an HTTP request names an address, not an identity), and a
    rule of it that uses `{{ principal() }}` fails to render, naming the rule.
    """

    actor: str  # who acted: a new rule's `actor` column
    principal: str | None  # who that is across sessions: `{{ principal() }}`, a new rule's dedup key
    ip: str  # where from: a new rule's `source_ip` column
    event_name: (
        str | None
    )  # what happened: `mamori search --event-name`, a new rule's `event_name`; None: no such field
    detail: str | None  # one line of context in a search result (concat_ws skips NULLs on both engines)


@dataclass(frozen=True)
class Capabilities:
    """What the conversion path may ask of the parser beyond parse_object (declared, not probed)."""

    # The parser is a ColumnarSource: its columnar(emit) gives the same rows as parse_object, as Arrow tables.
    # False: conversion bridges its rows (RowsAsColumns).
    columnar: bool = False
    # Its columnar parser takes a LargeObject and reads it as a stream instead of holding the bytes.
    streams_large_objects: bool = False


@dataclass(frozen=True)
class DriftHints:
    """What schema-drift detection (quality/observe.py, quality/drift.py) reads from raw objects besides the
    converted tables, for formats whose raw records can carry more than the table keeps."""

    # The raw JSON records of an object (or a sample of them), whose keys are compared with the schema: a key
    # without a column is a `new_field`. None: the format has no open-ended keys to watch.
    sample_records: Callable[[bytes | LargeObject], Any] | None = None
    # A struct column whose raw keys are compared too, spelled as in the raw records (CloudTrail's userIdentity).
    nested_field: str | None = None
    # A column whose values are counted per batch (`new_event_version`).
    version_column: str | None = None
    # The layout an object declares (a header line), counted per batch (`new_vpc_header`).
    object_layout: Callable[[bytes], str] | None = None


@dataclass(frozen=True)
class DuplicateDelivery:
    """How to recognise copies of one event that was delivered more than once (two CloudTrail trails writing to
    one bucket deliver every event twice). The lake and the `<table>_delivered` table keep every copy (raw is
    never modified and reconciliation counts what was delivered); the table detections read keeps one row per
    event, so thresholds and hit counts count events, not deliveries.

    Athena SQL expressions over the source's table, written by the source's author, never derived from logs.
    """

    # Equal on every copy of one event, led by the event's id. Copies collapse only within one partition
    # (account, region, dt, hour: every copy of an event lands in the same one) and only when all of these
    # agree, so a record that reuses a real id but names another principal, address or outcome stays a row of
    # its own instead of hiding the real event. Rows whose id (the first) is NULL are never merged.
    keys: tuple[str, ...]
    # Among copies equal on `keys`, the one ordered first by these stays (a deterministic choice).
    prefer: tuple[str, ...]


# A detection case's landing account and region from the raw object itself, for formats whose records name
# them (CloudTrail's recipientAccountId / awsRegion): given the object and the defaults, the ones to use.
CaseLanding = Callable[[bytes, str, str], tuple[str, str]]


@dataclass(frozen=True)
class SourceSpec:
    """One log source, declared. name, table and schema are the parser's own (it writes them into rows)."""

    parser: Source
    # A real landed key of an events object, in the layout AWS delivers: classify() must claim it as "events".
    # Detection cases are parsed as if landed under it, because parsers read facts from the key (the ALB
    # load balancer, a CloudWatch export's log group, a flow log's id).
    example_key: str
    fields: FieldModel
    rules: SourceRules
    quarantine_classes: tuple[ReasonClass, ...]
    # Detection ids of this source start with one of these and "_". Usually the source's name; a source whose
    # rules are named after the format they read declares it (cloudwatch: syslog_*): renaming a rule would
    # change its alert keys.
    detection_prefixes: tuple[str, ...]
    capabilities: Capabilities = field(default_factory=Capabilities)
    drift: DriftHints = field(default_factory=DriftHints)
    case_landing: CaseLanding | None = None
    # Severity of its `mamori_dq_<source>` alert: how blind detections are when this source is broken.
    dq_severity: Severity = "medium"
    # sql/ddl/<ddl_template>.sql when the table has another table's columns (None: sql/ddl/<table>.sql).
    ddl_template: str | None = None
    # Detections whose alerts mean someone turned this source's logging off (named in its silence alert).
    tamper_detections: tuple[str, ...] = ()
    # Bare principal names in its related_users are IAM user names (incidents group them with the user's ARN).
    principal_names_are_iam_users: bool = False
    # Events can be delivered more than once: the table detections read keeps one row per event (None: no).
    duplicate_delivery: DuplicateDelivery | None = None
    # How long after its events AWS usually delivers this source's objects: the detect run evaluates this
    # source's events up to this long before its data interval (each source's folder says why its value).
    # MAMORI_DETECT_LAG_MINUTES, when set, overrides every source's. Later deliveries are evaluated by the
    # lookback overlap (MAMORI_DETECT_OVERLAP_MINUTES) or, later still, reported and re-run as late data.
    delivery_lag: timedelta = timedelta(minutes=60)
    # The few low-cardinality columns readers filter its table on: an ingest batch's Parquet files get
    # dictionary encoding and min/max statistics on these (statistics on `event_time` too) and on no other
    # column, which spares ~a quarter of encoding a ~200-row file of a wide nested schema (each column's
    # dictionary page is one more zstd call) and ~10 % of its size (statistics on JSON-text columns). None:
    # dictionaries and statistics on every column. Compaction rewrites the files with both on every column.
    filtered_columns: tuple[str, ...] | None = None
    # Columns (or structs: every column under one) whose Parquet pages zstd barely shrinks: low-cardinality ones
    # that are dictionary-encoded, and ones most records leave empty. They get snappy instead (no per-page
    # context to set up: zstd's costs ~10 µs a page, a third of encoding a ~200-row file of a wide schema) in
    # ingest's and compaction's files alike (mamori.lake.convert.compression); the others keep zstd. Chosen
    # by measure: the files must not grow more than 1 % (docs/benchmarks.md "Small batches").
    light_columns: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.parser.name

    @property
    def table(self) -> str:
        return self.parser.table

    @property
    def delivered_table(self) -> str:
        """The table over every row of the lake: `<table>_delivered` when copies of an event are merged in
        `table` (a view over it), else `table` itself."""
        return f"{self.table}_delivered" if self.duplicate_delivery else self.table

    @property
    def schema(self) -> pa.Schema:
        return self.parser.schema

    @property
    def columnar_source(self) -> ColumnarSource | None:
        """The parser as a ColumnarSource when it declares a columnar parser (capabilities.columnar), else None."""
        return cast(ColumnarSource, self.parser) if self.capabilities.columnar else None

    @property
    def ddl_file(self) -> str:
        """The sql/ddl/ template (without .sql) this table's DDL is rendered from."""
        return self.ddl_template or self.table

    def owns_detection(self, detection_id: str) -> bool:
        """Whether a rule id is named as this source's rules are."""
        return any(detection_id.startswith(p + "_") for p in self.detection_prefixes)
