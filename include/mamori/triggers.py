"""The SQS watcher of event-driven ingest (issue 19; ADR 0003's amendment, docs/operations.md "Event-driven
ingest"): the amazon provider's `SqsSensorTrigger`, fired at most once per cadence window.

Why not the provider's trigger as it is: it yields one event per receive (up to 10 messages) and ends, and the
triggerer starts it again at once, so a busy bucket (CloudTrail from every region of every account, ALB nodes
every 5 minutes) would turn into an asset event every few seconds, each one an asset-triggered run of every
ingest DAG. But an event run only ever looks at one window, the one that closed last
(`mamori.windows.event_window`), so a second event in the same cadence period cannot do anything the first did
not. This trigger keeps polling (receiving and deleting) and yields one event per period in which messages
arrived: the event runs are then at most as many as the scheduled ones.

Its event carries the number of messages only, not their bodies: the provider's event would put every
notification (attacker-chosen keys) into Airflow's metadata database as the asset event's `extra`, shown in the
UI, and nothing in mamori reads them.

Imported by `mamori.dag_defaults.landed_asset` only when `MAMORI_INGEST_SQS_URL` is set, and by the triggerer
from its class path; never by the unit tier (it imports Airflow).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.triggers.sqs import SqsSensorTrigger
from airflow.triggers.base import TriggerEvent

from mamori.windows import floor


def _now() -> datetime:
    return datetime.now(UTC)


class LandedWatcher(SqsSensorTrigger):
    """`SqsSensorTrigger` that runs until cancelled and fires once per `interval_seconds` period with messages."""

    def __init__(self, *, interval_seconds: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.interval_seconds = interval_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        _, kwargs = super().serialize()
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            **kwargs,
            "interval_seconds": self.interval_seconds,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        interval = timedelta(seconds=self.interval_seconds)
        fired: datetime | None = None  # the period (its start) an event was last yielded in
        while True:
            async with await self.hook.get_async_conn() as client:
                messages = await self.poke(
                    client=client
                )  # received and deleted (delete_message_on_reception)
            if not messages:
                await asyncio.sleep(self.waiter_delay)
                continue
            period = floor(_now(), interval)
            if period != fired:
                fired = period
                yield TriggerEvent({"status": "success", "messages": len(messages)})
