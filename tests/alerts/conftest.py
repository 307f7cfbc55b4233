"""Fake GitHub / PagerDuty / Slack servers (real HTTP on 127.0.0.1) as fixtures for every alert test."""

from fake_github import fake_github  # noqa: F401
from fake_pagerduty_slack import fake_pagerduty, fake_slack  # noqa: F401
