"""Contract of the output registry: what an output must bring, checked for every entry of OUTPUTS.

An output is one module on `mamori.alerts.outputs.base.Output` that declares its capabilities, a fake server
under tests/ that speaks its protocol, a test that delivers to that fake over HTTP through the output's
Airflow connection, the connection id in .env.example, and one line in OUTPUTS. Nothing else in mamori names
it: the dispatcher, the lifecycle sync and the routing decide by capability (scanned below). Each failure says
what to add where.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from mamori.alerts.outputs import FALLBACK, OUTPUTS
from mamori.alerts.outputs.base import Capabilities, Output

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
REGISTRY = "include/mamori/alerts/outputs/__init__.py"
ENV_EXAMPLE = (REPO / ".env.example").read_text()
# Code that must decide by capability, never by an output's name.
NAME_FREE = (
    "include/mamori/detect.py",
    "include/mamori/alerts/ledger.py",
    "include/mamori/alerts/routing.py",
)
NAMES = sorted(OUTPUTS)
REMOTE = [n for n in NAMES if OUTPUTS[n].conn_id is not None]  # the local output needs no server


def _fakes(name: str) -> list[Path]:
    """tests/**/fake_*.py modules whose name includes the output's (fake_pagerduty_slack.py serves two)."""
    return [p for p in TESTS.rglob("fake_*.py") if name in p.stem.split("_")[1:]]


@pytest.mark.parametrize("name", NAMES)
def test_output_declares_its_capabilities(name):
    cls = OUTPUTS[name]
    where = f"{cls.__name__} in {inspect.getsourcefile(cls)}"
    assert issubclass(cls, Output), f"{where}: derive it from mamori.alerts.outputs.base.Output"
    assert cls.name == name, f"{REGISTRY}: OUTPUTS[{name!r}] is {cls.__name__}, whose name is {cls.name!r}"
    assert isinstance(vars(cls).get("capabilities"), Capabilities), (
        f"{where}: declare `capabilities = Capabilities(kind=...)` on the class (ticket, page or chat, and "
        "what it can do); the dispatcher reads nothing else"
    )
    assert "conn_id" in vars(cls), f"{where}: set `conn_id` (its Airflow connection id, or None)"
    assert cls.deliver is not Output.deliver, f"{where}: implement deliver()"
    assert "ticket_url" in inspect.signature(cls.deliver).parameters, f"{where}: deliver() takes ticket_url"


def test_the_fallback_output_needs_no_connection():
    assert OUTPUTS[FALLBACK].conn_id is None, (
        f"{REGISTRY}: FALLBACK must be an output that needs no connection"
    )


@pytest.mark.parametrize("name", REMOTE)
def test_output_has_a_fake_server_that_speaks_its_protocol(name):
    fakes = _fakes(name)
    assert fakes, (
        f"no fake for output {name!r}: add tests/alerts/fake_{name}.py, an HTTP server on 127.0.0.1 (port 0) that "
        "answers like the real service (see fake_webhook.py)"
    )
    assert any("127.0.0.1" in p.read_text() and "HTTPServer" in p.read_text() for p in fakes), (
        f"{[str(p.relative_to(REPO)) for p in fakes]}: the fake must be a real HTTP server on 127.0.0.1"
    )


@pytest.mark.parametrize("name", REMOTE)
def test_output_is_exercised_over_http_against_its_fake(name):
    env = f"AIRFLOW_CONN_{OUTPUTS[name].conn_id.upper()}"  # type: ignore[union-attr]
    modules = {p.stem for p in _fakes(name)}
    users = [
        p
        for p in TESTS.rglob("*.py")
        if (p.name.startswith("test_") or p.name == "conftest.py")
        and env in (text := p.read_text())
        and any(f"from {m} import" in text or f"import {m}" in text for m in modules)
    ]
    assert users, (
        f"no test points {env} at a fake of {sorted(modules) or ['tests/alerts/fake_' + name]}: add "
        f"tests/alerts/test_{name}_output.py that sets the connection to the fake's URL and delivers over HTTP"
    )


@pytest.mark.parametrize("name", REMOTE)
def test_output_connection_is_in_env_example(name):
    conn_id = OUTPUTS[name].conn_id
    assert conn_id is not None
    assert f"# {conn_id}:" in ENV_EXAMPLE and f"AIRFLOW_CONN_{conn_id.upper()}=" in ENV_EXAMPLE, (
        f".env.example: add `# {conn_id}: <what it holds>` and an example `# AIRFLOW_CONN_{conn_id.upper()}='{{...}}'`"
        " line to the alert outputs' section"
    )


def output_names_in(source: str) -> list[tuple[int, str]]:
    """(line, what) for every place the code names a registered output: a string literal equal to its name,
    its class, or an import of its module."""
    classes = {cls.__name__ for cls in OUTPUTS.values()}
    modules = {f"mamori.alerts.outputs.{n}" for n in OUTPUTS}
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in OUTPUTS:
            found.append((node.lineno, repr(node.value)))
        elif isinstance(node, ast.Name) and node.id in classes:
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.ImportFrom) and node.module in modules:
            found.append((node.lineno, f"import from {node.module}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "mamori.alerts.outputs":
            found += [(node.lineno, a.name) for a in node.names if a.name in classes]
    return found


@pytest.mark.parametrize("path", NAME_FREE)
def test_dispatch_and_routing_name_no_output(path):
    named = output_names_in((REPO / path).read_text())
    assert not named, (
        f"{path} names outputs at {', '.join(f'line {n}: {w}' for n, w in named)}: decide by capabilities "
        "(mamori.alerts.outputs.base.Capabilities, delivery_rank, ticket_link) or put defaults in sql/routing.yaml"
    )


def test_the_name_scan_finds_names():
    """The scan above must itself fail on what it guards against."""
    src = (
        'from mamori.alerts.outputs import LocalOutput\nx = refs.get("github")\nimport json\n'
        "from mamori.alerts.outputs.pagerduty import SEVERITY\n"
    )
    found = [w for _, w in sorted(output_names_in(src))]
    assert found == ["LocalOutput", "'github'", "import from mamori.alerts.outputs.pagerduty"]
