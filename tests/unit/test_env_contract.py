"""Every MAMORI_* variable the code reads is defined in mamori/config.py and documented in .env.example, and
.env.example lists nothing the code does not read.

A setting read somewhere else (an `os.environ.get("MAMORI_X")` in a stage, a DAG file or the plugin) is one an
operator cannot find: it is in no list, has no documented default, and its errors do not name it. The scan is
`ast` over the source (no import), so a variable read inside a function counts as much as one read at import.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "include" / "mamori" / "config.py"
ENV_EXAMPLE = REPO / ".env.example"
NAME = re.compile(r"^MAMORI_[A-Z0-9_]+$")


def _is_environ(node: ast.AST) -> bool:
    """`os.environ` or a bare `environ` (from os import environ)."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def env_reads(path: Path) -> dict[str, int]:
    """MAMORI_* names a file reads from the process environment: `os.environ[...]` (not as an assignment
    target), `os.environ.get/setdefault/pop(...)`, `os.getenv(...)`; name -> first line."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        arg: ast.AST | None = None
        if isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.ctx, ast.Load):
            arg = node.slice
        elif isinstance(node, ast.Call) and node.args:
            f = node.func
            if (
                (
                    isinstance(f, ast.Attribute)
                    and f.attr in ("get", "setdefault", "pop")
                    and _is_environ(f.value)
                )
                or (isinstance(f, ast.Attribute) and f.attr == "getenv")
                or (isinstance(f, ast.Name) and f.id == "getenv")
            ):
                arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and NAME.match(arg.value):
            found.setdefault(arg.value, node.lineno)
    return found


def config_names() -> set[str]:
    """Names config.py defines: every MAMORI_* string constant in it (load_settings' keys, the per-command
    readers' keys, the names its errors give)."""
    tree = ast.parse(CONFIG.read_text(encoding="utf-8"))
    return {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and NAME.match(n.value)
    }


def env_example() -> dict[str, str]:
    """MAMORI_* variables .env.example lists (`NAME=value` or `# NAME=value`), name -> the purpose comment."""
    out = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#?\s*(MAMORI_[A-Z0-9_]+)=\S*\s*(?:#\s*(.*))?$", line)
        if m:
            out[m[1]] = (m[2] or "").strip()
    return out


def _code_files() -> list[Path]:
    return sorted(
        [
            *(REPO / "include" / "mamori").rglob("*.py"),
            *(REPO / "dags").glob("*.py"),
            *(REPO / "plugins").glob("*.py"),
        ]
    )


def all_reads() -> dict[str, list[str]]:
    """Name -> where it is read. config.py reads through a mapping parameter (`e.get(...)`, `_int(e, ...)`) so
    tests can pass their own environment: every name it holds counts as read there."""
    reads: dict[str, list[str]] = {name: [str(CONFIG.relative_to(REPO))] for name in config_names()}
    for path in _code_files():
        for name, line in env_reads(path).items():
            reads.setdefault(name, []).append(f"{path.relative_to(REPO)}:{line}")
    return reads


def test_every_variable_the_code_reads_is_defined_in_config():
    reads = all_reads()
    cli = "include/mamori/cli/__init__.py"
    assert any(w.startswith(cli) for w in reads["MAMORI_HOME"]), (
        f"the scan no longer sees {cli} read MAMORI_HOME"
    )
    defined = config_names()
    missing = {name: where for name, where in reads.items() if name not in defined}
    assert not missing, (
        f"MAMORI_* variables read outside include/mamori/config.py: {missing}. Define each in config.py (a "
        "Settings field read by load_settings, or a reader function there when only one command uses it) and "
        "read it through config, so its default and its errors live in one place."
    )


def test_every_variable_config_defines_is_in_env_example_with_its_purpose():
    listed = env_example()
    missing = sorted(config_names() - listed.keys())
    assert not missing, f"add to .env.example, each with a `# purpose` comment: {missing}"
    undocumented = sorted(n for n in config_names() if not listed[n])
    assert not undocumented, f".env.example lists these without a `# purpose` comment: {undocumented}"


def test_env_example_lists_nothing_the_code_does_not_read():
    unused = sorted(n for n in env_example() if n not in config_names())
    assert not unused, (
        f".env.example lists variables include/mamori/config.py does not read: {unused}. Remove them, or "
        "define them in config.py."
    )


def test_the_scan_sees_every_form_of_read(tmp_path):
    """The scanner itself can fail: each way of reading the environment is found, writes are not."""
    f = tmp_path / "reads.py"
    f.write_text(
        "import os\nfrom os import environ, getenv\n"
        "a = os.environ['MAMORI_A']\nb = os.environ.get('MAMORI_B')\nc = getenv('MAMORI_C')\n"
        "d = os.getenv('MAMORI_D', 'x')\ne = environ.setdefault('MAMORI_E', '1')\n"
        "def f():\n    return os.environ.pop('MAMORI_F', None)\n"
        "os.environ['MAMORI_WRITTEN'] = '1'\nx = {'MAMORI_IN_A_DICT': 1}\n"
    )
    assert set(env_reads(f)) == {f"MAMORI_{c}" for c in "ABCDEF"}
