"""Key cases every source's classifier is held to (tests/sources/<source>/test_keys.py).

A key's account and region become hive partition values. Athena's partition projection only enumerates the
ASCII values it is configured with, while DuckDB reads whatever folder exists, so a partition spelled with
non-ASCII digits (`１２３…`, `us-east-١`: Python's `\\d` matches both) would be data one engine sees and the
other does not. Every region shape AWS uses, in every partition, must be accepted: an object of a region the
pattern does not know is unclaimed (an alert), not ingested.
"""

from __future__ import annotations

from collections.abc import Callable

# One or more regions of each AWS partition (botocore's partitions.json: aws, aws-cn, aws-us-gov, aws-iso,
# aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc).
REGIONS_OF_EVERY_PARTITION = [
    "us-east-1",
    "ap-southeast-7",
    "mx-central-1",
    "cn-north-1",
    "cn-northwest-1",
    "us-gov-west-1",
    "us-iso-east-1",
    "us-isob-east-1",
    "eu-isoe-west-1",
    "us-isof-south-1",
    "eusc-de-east-1",
]

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")

# A key builder: (account, region, year) -> the source's key for them.
KeyOf = Callable[[str, str, str], str]


def odd_digit_keys(key_of: KeyOf, account: str = "123456789012") -> dict[str, str]:
    """The same key with non-ASCII digits where the layout has digits: account, region, date folder."""
    return {
        "fullwidth-account": key_of(account.translate(FULLWIDTH), "us-east-1", "2026"),
        "arabic-indic-account": key_of(account.translate(ARABIC_INDIC), "us-east-1", "2026"),
        "arabic-indic-region": key_of(account, "us-east-" + "1".translate(ARABIC_INDIC), "2026"),
        "fullwidth-region": key_of(account, "us-east-" + "1".translate(FULLWIDTH), "2026"),
        "arabic-indic-year": key_of(account, "us-east-1", "2026".translate(ARABIC_INDIC)),
    }
