"""Every reason the Route 53 Resolver parser gives is counted under a declared class, not as unclassified."""

from __future__ import annotations

import pytest

from mamori.quality.quarantine import reason_class


@pytest.mark.parametrize(
    ("reason", "cls"),
    [
        ("message is not JSON", "not_a_query_record"),
        ("message is a JSON list, not a query log record", "not_a_query_record"),
        ("record without query_timestamp", "bad_field"),
        ("query_timestamp is not an ISO 8601 time", "bad_field"),
        ("srcids.instance is int, not text", "bad_field"),
        ("srcport is not a port number", "bad_field"),
        ("query_name longer than 255 characters: not a DNS name", "bad_field"),
        ("answer field (Rdata, Type, Class) is not text", "bad_field"),
        ("undecodable JSON object at offset 3: x", "not_json"),  # the CloudWatch Logs envelope's own
    ],
)
def test_parser_reasons_have_a_declared_class(reason: str, cls: str) -> None:
    assert reason_class("route53resolver", reason) == cls
