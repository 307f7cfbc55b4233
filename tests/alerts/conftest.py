"""Fake GitHub / PagerDuty / Slack servers (real HTTP on 127.0.0.1) as fixtures for every alert test."""

import json

import pytest
from fake_github import TOKEN, FakeGitHub, fake_github  # noqa: F401
from fake_pagerduty_slack import FakePagerDuty, FakeSlack, fake_pagerduty, fake_slack  # noqa: F401

ROUTING_KEY = "R" * 32


@pytest.fixture
def output_connections(
    monkeypatch,
    fake_github: FakeGitHub,  # noqa: F811 - the fixtures imported above, requested by name
    fake_pagerduty: FakePagerDuty,  # noqa: F811
    fake_slack: FakeSlack,  # noqa: F811
) -> tuple[FakeGitHub, FakePagerDuty, FakeSlack]:
    """The three outputs' Airflow connections (as an operator puts them in .env), pointing at the fakes."""
    github = {
        "conn_type": "github",
        "password": TOKEN,
        "host": fake_github.api_url,
        "extra": {"repo": "acme/security-alerts"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_MAMORI_GITHUB", json.dumps(github))
    monkeypatch.setenv(
        "AIRFLOW_CONN_MAMORI_PAGERDUTY",
        json.dumps({"conn_type": "pagerduty_events", "password": ROUTING_KEY, "host": fake_pagerduty.url}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_MAMORI_SLACK",
        json.dumps({"conn_type": "slackwebhook", "password": fake_slack.webhook_url}),
    )
    return fake_github, fake_pagerduty, fake_slack
