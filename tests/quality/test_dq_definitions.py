"""The per-source data-quality alert is one template (sql/health/data_quality.yaml.j2) rendered from each
source's spec. It must render exactly the definitions the six sql/health/mamori_dq_<source>.yaml files held
(golden/dq_definitions.json: their headers as they loaded), so alert ids, titles, text and routing, and with
them alert keys and tickets, do not change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mamori.quality import alerts
from mamori.sources import SPECS

REPO = Path(__file__).resolve().parents[2]
SQL = REPO / "sql"
GOLDEN = json.loads((Path(__file__).parent / "golden" / "dq_definitions.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("source", sorted(k.removeprefix("mamori_dq_") for k in GOLDEN))
def test_the_template_renders_what_the_files_held(source: str) -> None:
    det = alerts.health_detection(SQL, alerts.dq_id(source))
    assert det.header.model_dump(mode="json") == GOLDEN[alerts.dq_id(source)]


@pytest.mark.parametrize("source", sorted(SPECS))
def test_every_registered_source_has_a_dq_definition(source: str) -> None:
    det = alerts.definitions(SQL)[alerts.dq_id(source)]
    assert det.header.log_source == source and det.header.severity == SPECS[source].dq_severity
    assert f"quarantine/{source}/" in (det.header.runbook or "")


def test_no_per_source_dq_file_is_left_to_drift_from_the_template() -> None:
    copies = sorted(p.name for p in (SQL / "health").glob("mamori_dq_*.yaml"))
    assert not copies, f"{copies}: the data-quality alert is rendered from sql/health/{alerts.DQ_TEMPLATE}"
