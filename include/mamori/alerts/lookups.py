"""External lookups for ticket enrichment (IP reputation, asset owner, ...): a small interface, off by default.

A lookup answers one question about one entity value and returns a few key/value facts for the ticket. It is
only called when configured (its own setting or connection exists), its answers are data (rendered inert like
every log value), and a failing lookup is recorded and never blocks delivery. Adding one: a class with
`name`, `entity`, `configured(settings)` and `lookup(value)`, plus a line in LOOKUPS.

Shipped: `ip_reputation_file`, an offline list (CSV `ip_or_cidr,label,source`) named by
MAMORI_IP_REPUTATION_FILE, which is what most teams have before they buy a feed; network lookups (a
threat-intel API) go through an Airflow connection the same way the alert outputs do.
"""

from __future__ import annotations

import csv
import ipaddress
from functools import cache
from pathlib import Path
from typing import Protocol

from mamori.config import Settings


class Lookup(Protocol):
    name: str
    entity: str  # which alert entity column it takes: "source_ip", "actor", "account_id"

    def lookup(self, value: str) -> dict[str, str] | None:
        """Facts about the value, or None when the lookup knows nothing about it."""
        ...


class IpReputationFile:
    """Known-bad (or known-good) addresses and networks from a CSV file maintained by the team."""

    name = "ip_reputation_file"
    entity = "source_ip"

    def __init__(self, settings: Settings) -> None:
        if settings.ip_reputation_file is None:
            raise ValueError("MAMORI_IP_REPUTATION_FILE is not set: the ip_reputation_file lookup is off")
        self.path: Path = settings.ip_reputation_file

    @classmethod
    def configured(cls, settings: Settings) -> bool:
        return settings.ip_reputation_file is not None

    def lookup(self, value: str) -> dict[str, str] | None:
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            return None
        for network, label, source in _load(self.path, self.path.stat().st_mtime):
            if ip.version == network.version and ip in network:
                return {"match": str(network), "label": label, "source": source}
        return None


@cache
def _load(path: Path, mtime: float) -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str, str]]:
    rows = []
    with path.open(newline="", encoding="utf-8") as fh:
        for rec in csv.reader(fh):
            if not rec or rec[0].startswith("#"):
                continue
            try:
                network = ipaddress.ip_network(rec[0].strip(), strict=False)
            except ValueError:
                continue
            rows.append(
                (network, (rec[1] if len(rec) > 1 else "").strip(), (rec[2] if len(rec) > 2 else "").strip())
            )
    return rows


class LookupFactory(Protocol):
    """A lookup class: built from settings, able to say whether it is configured (no network)."""

    def __call__(self, settings: Settings) -> Lookup: ...

    def configured(self, settings: Settings) -> bool: ...


LOOKUPS: dict[str, LookupFactory] = {
    IpReputationFile.name: IpReputationFile,
}


def configured_lookups(settings: Settings) -> list[Lookup]:
    """Instances of every lookup whose configuration exists (none on the embedded default)."""
    return [cls(settings) for cls in LOOKUPS.values() if cls.configured(settings)]
