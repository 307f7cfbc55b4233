"""Parameters are validated by type and become literal nodes: whatever a value holds, the bound SQL is one
statement in which the value appears exactly once per use, as a literal equal to the input."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest
import sqlglot
from sqlglot import exp

from mamori.search.events import Filters, SearchError, plan
from mamori.search.params import ParamError, bind_sql, coerce
from mamori.search.timerange import RangeError, TimeRange, resolve_range

HOSTILE = [
    "x' OR '1'='1",
    "'; DROP TABLE cloudtrail; --",
    "a'); DELETE FROM cloudtrail WHERE ('1'='1",
    "/* comment */ UNION SELECT * FROM cloudtrail --",
    "back\\slash\\' still one literal",
    "semi;colon;;",
    "$$dollar quoted$$",
    'double "quotes" and `ticks`',
    "\u202eRTL override \u2066isolate\u2069 日本語 émoji 🦊",
    "{{ window() }} {% raw %} jinja",
    "mamori_p00000000_0",
]
TEMPLATE = (
    "SELECT eventname FROM cloudtrail WHERE {{ window() }} AND useragent = {{ param('v') }} "
    "AND (useridentity.arn = {{ param('v') }} OR {{ param('v') }} = '') ORDER BY event_time LIMIT {{ param('n') }}"
)


def _window() -> str:
    return "(dt = '2026-11-01' AND event_time >= TIMESTAMP '2026-11-01 00:00:00.000')"


def _string_literals(tree: exp.Expression) -> list[str]:
    return [lit.this for lit in tree.find_all(exp.Literal) if lit.is_string]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_string_is_one_literal_per_use(value):
    sql = bind_sql(TEMPLATE, {"v": coerce("string", value), "n": coerce("int", "10")}, _window)
    statements = sqlglot.parse(sql, read="athena")
    assert len(statements) == 1 and isinstance(statements[0], exp.Select)
    tree = statements[0]
    assert _string_literals(tree).count(value) == 3  # three uses, each exactly the input
    assert not list(tree.find_all(exp.Drop, exp.Delete, exp.Union, exp.Command))
    assert [t.name for t in tree.find_all(exp.Table)] == ["cloudtrail"]
    assert tree.args["limit"].expression == exp.Literal.number(10)
    # The same holds after the DuckDB transpile the embedded engine runs.
    from mamori.engines.dialect import athena_to_duckdb

    duck = sqlglot.parse_one(athena_to_duckdb(sql), read="duckdb")
    assert _string_literals(duck).count(value) == 3


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "tab\there", "nul\x00", "esc\x1b[31m"])
def test_control_characters_are_refused(value):
    with pytest.raises(ParamError, match="control characters"):
        coerce("string", value)


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        ("ip", "1.2.3.4' OR '1'='1"),
        ("ip", "1.2.3.4; DROP TABLE x"),
        ("ip", "999.1.1.1"),
        ("int", "1; DROP TABLE x"),
        ("int", "1 OR 1=1"),
        ("int", "0x10"),
        ("int", "1e3"),
        ("timestamp", "2026-11-01' OR '1'='1"),
        ("timestamp", "yesterday"),
    ],
)
def test_typed_values_reject_injection(type_, value):
    with pytest.raises(ParamError):
        coerce(type_, value)


def test_typed_values_render_as_typed_literals():
    sql = bind_sql(
        "SELECT 1 AS x FROM t WHERE a = {{ param('ip') }} AND b > {{ param('n') }} AND c >= {{ param('t') }}",
        {
            "ip": coerce("ip", " 2001:DB8::1 "),
            "n": coerce("int", "-42"),
            "t": coerce("timestamp", "2026-11-01T03:00:00+02:00"),
        },
    )
    assert "a = '2001:db8::1'" in sql  # normalised address
    assert "b > -42" in sql
    assert "c >= CAST('2026-11-01 01:00:00.000' AS TIMESTAMP)" in sql  # UTC, zone-less like event_time


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("SELECT '{{ param(\"v\") }}' FROM t", "where a value goes"),
        ('SELECT "{{ param("v") }}" FROM t', "where a value goes"),
        ("SELECT x FROM t -- {{ param('v') }}", "where a value goes"),
        ("SELECT {{ param('v') }}.x FROM t", "where a value goes"),
        ("SELECT x FROM {{ param('v') }}", "where a value goes"),
        ("SELECT 1; SELECT 2", "exactly one SQL statement"),
        ("DROP TABLE cloudtrail", "only queries"),
        ("INSERT INTO t VALUES (1)", "only queries"),
        ("SELECT {{ param('nope') }}", "not a declared parameter"),
        ("SELECT x FROM t WHERE {{ window() }}", "give a time range"),
    ],
)
def test_template_misuse_fails_loudly(template, message):
    with pytest.raises(ParamError, match=message):
        bind_sql(template, {"v": coerce("string", "value")})


def test_jinja_is_sandboxed():
    with pytest.raises(Exception, match=r"unsafe|not safely|access"):
        bind_sql("SELECT {{ ''.__class__.__mro__[1].__subclasses__() }}", {})


def test_sql_without_params_is_sent_as_written():
    sql = "SELECT  eventname  FROM cloudtrail WHERE {{ window() }} -- keep me\n;"
    assert bind_sql(sql, {}, _window) == (
        "SELECT  eventname  FROM cloudtrail WHERE (dt = '2026-11-01' AND event_time >= "
        "TIMESTAMP '2026-11-01 00:00:00.000') -- keep me"
    )


def test_search_form_values_are_validated():
    with pytest.raises(SearchError, match="IPv4/IPv6"):
        plan(Filters(ips=("203.0.113.5' OR '1'='1",)))
    with pytest.raises(SearchError, match="12 digits"):
        plan(Filters(accounts=("1111' OR 1=1",)))
    with pytest.raises(SearchError, match="not a column name"):
        plan(Filters(contains=(('useragent" OR 1=1 --', "x"),)))
    with pytest.raises(SearchError, match="no searched source has a scalar column"):
        plan(Filters(contains=(("no_such_column", "x"),)))
    with pytest.raises(SearchError, match="unknown source"):
        plan(Filters(sources=("cloudtrail; DROP",)))
    p = plan(Filters(contains=(("useridentity.arn", "x"),)))
    assert set(p.tables) == {"cloudtrail", "cloudtrail_insights"}  # only sources with that column
    p = plan(Filters(event_names=("ConsoleLogin",)))
    assert "cloudtrail" in p.tables and "vpcflow" in p.tables


def test_time_ranges():
    now = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
    assert resolve_range(None, None, None, now) is None
    assert resolve_range(None, None, "90m", now) == TimeRange(datetime(2026, 11, 1, 11, tzinfo=UTC), now)
    r = resolve_range("2026-11-01", "2026-11-01T02:00+01:00", None, now)
    assert r == TimeRange(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 1, 1, tzinfo=UTC))
    assert resolve_range(None, None, None, now, default_last="24h").start == datetime(
        2026, 10, 31, 12, 30, tzinfo=UTC
    )
    for args in [("2026-11-02", "2026-11-01", None), ("2026-11-01", None, "1h"), (None, "2026-11-01", None)]:
        with pytest.raises(RangeError):
            resolve_range(*args, now=now)
    with pytest.raises(RangeError):
        resolve_range(None, None, "1y", now)
    days = TimeRange(datetime(2026, 10, 31, 22, tzinfo=UTC), datetime(2026, 11, 2, 1, tzinfo=UTC)).days()
    assert [(d.start.day, d.start.hour, d.end.day, d.end.hour) for d in days] == [
        (31, 22, 1, 0),
        (1, 0, 2, 0),
        (2, 0, 2, 1),
    ]


def test_many_uses_of_many_params_bind_each_to_its_own_value():
    values = {f"v{i}": coerce("string", f"value {i}'") for i in range(12)}
    template = "SELECT 1 AS x FROM t WHERE " + " OR ".join(
        f"a = {{{{ param('v{i}') }}}} OR b = {{{{ param('v{i}') }}}}" for i in range(12)
    )
    tree = sqlglot.parse_one(bind_sql(template, values), read="athena")
    pairs = [(eq.this.name, eq.expression.this) for eq in tree.find_all(exp.EQ)]
    assert sorted(pairs) == sorted((col, f"value {i}'") for i in range(12) for col in ("a", "b"))


def test_chunks_grow_from_the_end_searched_first():
    month = TimeRange(datetime(2026, 10, 1, 12, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC))
    sizes = [(c.end - c.start).total_seconds() / 86400 for c in month.chunks()]
    assert sizes == [0.5, 1, 2, 4, 7, 7, 7, 1]
    newest = month.chunks(newest_first=True)
    assert newest[0] == TimeRange(datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC))
    assert newest[-1].start == month.start and all(a.start == b.end for a, b in pairwise(newest))
    assert TimeRange(month.start, month.start.replace(hour=13)).chunks() == [
        TimeRange(month.start, month.start.replace(hour=13))
    ]
