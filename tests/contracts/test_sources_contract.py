"""What every log source must have, checked over the registry (mamori.sources.SPECS): adding a source is its
folder `include/mamori/sources/<name>/` (parser, spec.py, optional generate.py) + one registry line + its DDL
(`sql/ddl/<table>.sql`), samples (`tests/sources/<name>/samples/`) and tests. Each failure says what to add
where. And nothing outside `sources/` knows a source by name: per-source knowledge lives in its spec.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import sqlglot

from mamori.detections.loader import load_catalog
from mamori.detections.scaffold import source_of
from mamori.dev.generate import get_generator
from mamori.engines.dialect import athena_to_duckdb
from mamori.lake.ddl import hive_type, render_ddl
from mamori.sources import SPECS
from mamori.sources.spec import SourceSpec

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "include" / "mamori"
SOURCES_DIR = PACKAGE / "sources"
SQL = REPO / "sql"
SHARED = {"formats", "__pycache__"}  # folders of sources/ that are shared code, not a source

specs = pytest.mark.parametrize("spec", list(SPECS.values()), ids=list(SPECS))


def test_every_source_folder_is_registered() -> None:
    folders = sorted(p.name for p in SOURCES_DIR.iterdir() if p.is_dir() and p.name not in SHARED)
    missing = [f for f in folders if f not in SPECS]
    assert not missing, f"{missing}: add a line for each to SPECS in include/mamori/sources/__init__.py"


@specs
def test_the_spec_lives_in_the_source_folder(spec: SourceSpec) -> None:
    where = f"include/mamori/sources/{spec.name}/"
    assert type(spec.parser).__module__.startswith(f"mamori.sources.{spec.name}"), (
        f"{spec.name}: its parser must be defined in {where}__init__.py"
    )
    assert (SOURCES_DIR / spec.name / "spec.py").is_file(), (
        f"{spec.name}: declare its SourceSpec in {where}spec.py"
    )


@specs
def test_ddl_columns_equal_the_arrow_schema(spec: SourceSpec) -> None:
    """sql/ddl/ stays hand-written (comments saying where each column comes from, AWS's own column names and
    order, readable for the people who run it on Athena): this checks it, column for column and type for
    type, against the schema the converter writes. A mismatch makes Athena read NULLs silently."""
    path = SQL / "ddl" / f"{spec.ddl_file}.sql"
    assert path.is_file(), (
        f"{spec.name}: write {path.relative_to(REPO)} (CREATE EXTERNAL TABLE, see the others)"
    )
    ddl = render_ddl(
        SQL,
        spec.table,
        database="mamori",
        lake_url="s3://lake/",
        accounts=["111111111111"],
        regions=["us-east-1"],
        projection_start="2026-01-01",
        template=spec.ddl_template,
    )
    tree = sqlglot.parse_one(ddl, read="athena")
    columns = [(c.name, c.args["kind"].sql("hive")) for c in tree.this.expressions]
    expected = [
        (f.name, sqlglot.exp.DataType.build(hive_type(f.type), dialect="hive").sql("hive"))
        for f in spec.schema
    ]
    assert columns == expected, (
        f"{path.relative_to(REPO)} and {spec.name}'s Arrow schema (include/mamori/sources/{spec.name}/) differ"
    )


@specs
def test_quality_rules_name_only_columns_of_the_table(spec: SourceSpec) -> None:
    r = spec.rules
    names = set(spec.schema.names)
    named = sorted({*r.required, *r.expected, *(c.column for c in r.checks)})
    unknown = [c for c in named if c not in names]
    assert not unknown, (
        f"{spec.name}: rules in its spec.py name {unknown}, which its schema has no column for"
    )
    ids = [c.id for c in r.checks]
    assert len(ids) == len(set(ids)), f"{spec.name}: two checks share an id in its spec.py"


@specs
def test_quarantine_classes_are_declared(spec: SourceSpec) -> None:
    ids = [c.id for c in spec.quarantine_classes]
    assert ids, f"{spec.name}: declare the classes of its parser's quarantine reasons (quarantine_classes)"
    assert len(ids) == len(set(ids)), f"{spec.name}: two quarantine classes share an id"


def _empty_table(spec: SourceSpec) -> pa.Table:
    schema = spec.schema
    for k in ("account", "region", "dt", "hour"):
        schema = schema.append(pa.field(k, pa.string()))
    return schema.empty_table()


@specs
def test_the_field_model_runs_on_both_engines_sql(spec: SourceSpec) -> None:
    """Search and the scaffold splice these expressions into Athena SQL: each must parse as Athena and run
    (transpiled, as the DuckDB engine does) over the source's table."""
    f = spec.fields
    exprs = {"actor": f.actor, "ip": f.ip, "event_name": f.event_name or "NULL", "detail": f.detail or "NULL"}
    sql = (
        "SELECT "
        + ", ".join(f"CAST({e} AS VARCHAR) AS {k}" for k, e in exprs.items())
        + f" FROM {spec.table}"
    )
    sqlglot.parse_one(sql, read="athena")
    con = duckdb.connect()
    try:
        con.register(spec.table, _empty_table(spec))
        assert con.execute(athena_to_duckdb(sql)).fetchall() == []
    except duckdb.Error as exc:
        raise AssertionError(
            f"{spec.name}: its spec.py field model does not run on its table: {exc}"
        ) from exc
    finally:
        con.close()


@specs
def test_the_example_key_is_an_events_key_of_this_source_only(spec: SourceSpec) -> None:
    raw = spec.parser.classify(spec.example_key)
    assert raw is not None and raw.kind == "events", (
        f"{spec.name}: example_key in its spec.py must be a landed events key its classify() claims"
    )
    # Sources may share delivery folders (CloudTrail routes Insights files away as kind "insight"), but only one
    # may parse an object: two would write its events into two tables.
    parsers = [
        s.name for s in SPECS.values() if (r := s.parser.classify(spec.example_key)) and r.kind == "events"
    ]
    assert parsers == [spec.name], f"{spec.example_key} is parsed as events by {parsers}: only one source may"


# One region of each AWS partition (botocore's partitions.json); tests/sources/key_cases.py has more per source.
PARTITION_REGIONS = [
    "cn-north-1",
    "us-gov-west-1",
    "us-iso-east-1",
    "us-isob-east-1",
    "eu-isoe-west-1",
    "us-isof-south-1",
    "eusc-de-east-1",
    "ap-southeast-7",
]
_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _account_and_region(spec: SourceSpec) -> tuple[str, str]:
    account = re.search(r"(?<![0-9])[0-9]{12}(?![0-9])", spec.example_key)
    region = re.search(r"[a-z]{2}-[a-z]+-[0-9]", spec.example_key)
    assert account and region, f"{spec.name}: example_key must carry an account id and a region"
    return account.group(), region.group()


@specs
@pytest.mark.parametrize("region", PARTITION_REGIONS)
def test_the_key_pattern_accepts_every_partitions_regions(spec: SourceSpec, region: str) -> None:
    """A region AWS adds in another partition is still a region: its objects are ingested, not unclaimed."""
    _, example_region = _account_and_region(spec)
    key = spec.example_key.replace(example_region, region)
    raw = spec.parser.classify(key)
    assert raw is not None and raw.kind == "events", f"{spec.name}: {key} is not claimed"
    assert raw.region == region


@specs
def test_the_key_pattern_matches_ascii_digits_only(spec: SourceSpec) -> None:
    """Non-ASCII digits (`\\d` without re.ASCII matches them) would become partitions DuckDB reads and Athena's
    projection never enumerates: such keys stay unclaimed (and alerted), never parsed."""
    account, region = _account_and_region(spec)
    year = re.compile(r"(?<=/)2026(?=/)|(?<=year=)2026")
    odd = {
        "fullwidth account": spec.example_key.replace(account, account.translate(_FULLWIDTH)),
        "arabic-indic account": spec.example_key.replace(account, account.translate(_ARABIC_INDIC)),
        "arabic-indic region": spec.example_key.replace(
            region, region[:-1] + region[-1].translate(_ARABIC_INDIC)
        ),
        "arabic-indic year": year.sub("2026".translate(_ARABIC_INDIC), spec.example_key),
    }
    for case, key in odd.items():
        assert key != spec.example_key, (spec.name, case)
        assert spec.parser.classify(key) is None, f"{spec.name} claims a key with {case}: {key}"


@specs
def test_a_sample_parses_cleanly_under_the_example_key(spec: SourceSpec) -> None:
    folder = REPO / "tests" / "sources" / spec.name / "samples"
    samples = (
        sorted(p for p in folder.glob("*") if p.is_file() and p.suffix != ".md") if folder.is_dir() else []
    )
    assert samples, (
        f"{spec.name}: add a real delivery (e.g. AWS's documented example) to {folder.relative_to(REPO)}/"
    )
    raw = spec.parser.classify(spec.example_key)
    assert raw is not None
    clean = []
    for p in samples:
        result = spec.parser.parse_object(raw, p.read_bytes())
        if result.rows and not result.quarantined:
            clean.append(p.name)
    assert clean, f"{spec.name}: no sample in {folder.relative_to(REPO)}/ parses into rows with 0 quarantined"


@specs
def test_a_generator_if_any_lives_in_the_source_folder(spec: SourceSpec) -> None:
    gen = get_generator(spec.name)
    if gen is None:
        pytest.skip(f"{spec.name} has no generator (optional)")
    assert gen.__module__ == f"mamori.sources.{spec.name}.generate", (
        f"{spec.name}: its generator must be include/mamori/sources/{spec.name}/generate.py"
    )


@specs
def test_capabilities_are_the_parsers_own(spec: SourceSpec) -> None:
    c = spec.capabilities
    has_method = callable(getattr(spec.parser, "columnar", None))
    assert c.columnar == has_method, (
        f"{spec.name}: capabilities.columnar in its spec.py says {c.columnar}, but its parser "
        f"{'has' if has_method else 'has no'} columnar(emit) method"
    )
    if c.streams_large_objects:
        columnar = spec.columnar_source
        assert columnar is not None, f"{spec.name}: only a columnar parser can stream large objects"
        parser = columnar.columnar(lambda p, t, o: None)
        assert getattr(type(parser), "streams_large_objects", False), (
            f"{spec.name}: declares streaming, but {type(parser).__name__} does not take a LargeObject"
        )


@specs
def test_declared_tamper_detections_exist(spec: SourceSpec) -> None:
    ids = {d.id for d in load_catalog(SQL)}
    unknown = [d for d in spec.tamper_detections if d not in ids]
    assert not unknown, f"{spec.name}: tamper_detections {unknown} are not detections in sql/detections/"


DETECTIONS = [(d.id, d.header.log_source) for d in load_catalog(SQL)]


@pytest.mark.parametrize(("detection_id", "source"), DETECTIONS, ids=[i for i, _ in DETECTIONS])
def test_every_detection_id_starts_with_a_prefix_its_source_declares(detection_id: str, source: str) -> None:
    spec = SPECS[source]
    assert spec.owns_detection(detection_id), (
        f"{detection_id}: rules of {source} are named {[p + '_*' for p in spec.detection_prefixes]} "
        f"(detection_prefixes in include/mamori/sources/{source}/spec.py)"
    )
    assert source_of(detection_id) is spec, (
        f"{detection_id}: its name reads as a {source_of(detection_id).name} rule (a longer prefix of another "
        "source): rename it"
    )


# --- nothing outside sources/ names a source ---------------------------------------------------------------

# Entry points may use dev tooling; runtime modules (everything else in the package) may not.
DEV_USERS = ("cli/", "dev/")


def _runtime_files() -> Iterator[tuple[str, Path]]:
    for root in (PACKAGE, REPO / "dags", REPO / "plugins"):
        for p in sorted(root.rglob("*.py")):
            yield str(p.relative_to(REPO)), p


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def _imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every module an import statement names (module-level and in functions), `from a import b` as a.b too."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for a in node.names:
                yield node.lineno, f"{node.module}.{a.name}"


def _outside_sources(rel: str) -> bool:
    return not rel.startswith("include/mamori/sources/")


def test_no_module_outside_sources_names_a_source() -> None:
    """No per-source dict keyed by name, no `if source == "cloudtrail"`, no import of one source's module
    outside include/mamori/sources/: such knowledge belongs in that source's spec.py (a SourceSpec field the
    rest of the code reads for every source alike). dev tooling is exempt (it drives the generators)."""
    names = set(SPECS)
    found = []
    for rel, path in _runtime_files():
        if not _outside_sources(rel) or rel.startswith("include/mamori/dev/"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names and id(node) not in docs:
                found.append(f"{rel}:{node.lineno}: the literal {node.value!r}")
        for line, module in _imports(tree):
            parts = module.split(".")
            if parts[:2] == ["mamori", "sources"] and len(parts) > 2 and parts[2] in names:
                found.append(f"{rel}:{line}: imports {module}")
    assert not found, (
        "per-source knowledge outside include/mamori/sources/ (move it into include/mamori/sources/<name>/"
        "spec.py as a SourceSpec field, and read it for every source from mamori.sources.SPECS):\n"
        + "\n".join(found)
    )


def test_no_runtime_module_imports_generators_or_dev_tooling() -> None:
    found = []
    for rel, path in _runtime_files():
        if rel.startswith(tuple(f"include/mamori/{d}" for d in DEV_USERS)) or rel.endswith("/generate.py"):
            continue
        for line, module in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            parts = module.split(".")
            if parts[:2] == ["mamori", "dev"] or (
                parts[:2] == ["mamori", "sources"] and len(parts) > 3 and parts[3] == "generate"
            ):
                found.append(f"{rel}:{line}: imports {module}")
    assert not found, (
        "runtime modules must not import dev tooling or generators (a detection case lands under its spec's "
        "example_key; generators run from mamori.dev):\n" + "\n".join(found)
    )


def test_the_name_scan_can_fail(tmp_path: Path) -> None:
    """The scan above sees a per-source dict and a comparison, and ignores docstrings."""
    code = '"""cloudtrail is fine here."""\nX = {"cloudtrail": 1}\nif s == "vpcflow":\n    pass\n'
    tree = ast.parse(code)
    docs = _docstrings(tree)
    hits = [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and n.value in SPECS and id(n) not in docs
    ]
    assert sorted(hits) == ["cloudtrail", "vpcflow"]
