"""ALB keys: every AWS partition's region shape is claimed, non-ASCII digits never are, and the other Elastic
Load Balancing logs delivered to the same folders are routed away by name instead of left unclaimed (an
unclaimed key raises a data-quality alert: it is a layout nobody reads)."""

from __future__ import annotations

import pytest
from key_cases import REGIONS_OF_EVERY_PARTITION, odd_digit_keys

from mamori.sources.alb import SOURCE

ACCT = "123456789012"


def key(
    account: str = ACCT,
    region: str = "us-east-1",
    year: str = "2026",
    name: str = "app.my-lb.50dc6c495c0c9188",
) -> str:
    return (
        f"AWSLogs/{account}/elasticloadbalancing/{region}/{year}/11/01/"
        f"{account}_elasticloadbalancing_{region}_{name}_{year}1101T1030Z_10.0.0.1_2x8y1p2r.log.gz"
    )


@pytest.mark.parametrize("region", REGIONS_OF_EVERY_PARTITION)
def test_classify_accepts_the_region_shape_of_every_aws_partition(region):
    r = SOURCE.classify(key(region=region))
    assert r is not None and (r.account, r.region, r.kind) == (ACCT, region, "events")


@pytest.mark.parametrize(("case", "odd"), sorted(odd_digit_keys(key).items()))
def test_classify_rejects_non_ascii_digits(case, odd):
    assert SOURCE.classify(odd) is None, case


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        (
            key().replace(f"/{ACCT}_elasticloadbalancing", f"/conn_log_{ACCT}_elasticloadbalancing"),
            "connection-log",
        ),
        (
            key().replace(f"/{ACCT}_elasticloadbalancing", f"/health_check_log_{ACCT}_elasticloadbalancing"),
            "health-check-log",
        ),
        (key(name="net.my-nlb.50dc6c495c0c9188").replace("_10.0.0.1", ""), "nlb-access-log"),
        (key(name="my-classic-lb"), "clb-access-log"),
        (key(name="my-classic-lb", region="eusc-de-east-1"), "clb-access-log"),
    ],
    ids=["connection-log", "health-check-log", "nlb", "clb", "clb-eusc"],
)
def test_other_elb_logs_in_the_same_folders_are_routed_away_by_name(name, kind):
    r = SOURCE.classify(name)
    assert r is not None and r.kind == kind and r.account == ACCT


@pytest.mark.parametrize(
    "odd",
    [
        key(name="app.my-lb.50DC6C495C0C9188"),  # looks like an ALB access log but is not one we can read
        key().replace(".log.gz", ".txt"),
        key().rsplit("/", 1)[0] + "/README",
    ],
    ids=["alb-name-we-cannot-read", "other-suffix", "stray-file"],
)
def test_keys_of_no_known_elb_shape_stay_unclaimed(odd):
    assert SOURCE.classify(odd) is None
