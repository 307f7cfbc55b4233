"""Whether a table has any data file in the hour partitions a time range touches, from the listing alone.

A detect run asks this before it queries: a rule's hits must lie in its window, and the window macro filters
on the hour partitions (`dt`/`hour`) and event time of the rows it reads, so a table with no data file in the
window's hour partitions cannot give any rule on it a hit (`mamori.detect`). Answering from the listing costs
a few directory listings per stream (account/region), where a query costs a glob of the whole table on DuckDB
and at least 10 MB of billing on Athena. The answer errs towards "has data": any Parquet file counts, even
one whose rows lie outside the range's minutes (the query then finds nothing, as before).
"""

from __future__ import annotations

from datetime import datetime

from mamori.lake import Store, layout
from mamori.windows import partitions_touched


def _is_data(name: str) -> bool:
    # Dot files are atomic writes in flight (Store.write_atomic); DuckDB's glob and Athena skip them too.
    return name.endswith(layout.PARQUET) and not name.startswith(".")


def has_data(store: Store, table: str, start: datetime, end: datetime) -> bool:
    """True when some stream of `table` holds a data file in an hour partition [start, end) touches."""
    wanted = partitions_touched(start, end)
    for base in store.glob_prefixes(layout.curated_streams_pattern(table)):
        days = set(store.list_dirs(base))
        for dt, hours in wanted.items():
            day = layout.partition_dir("dt", dt)
            if day not in days:
                continue
            present = set(store.list_dirs(f"{base}{day}"))
            for hour in hours:
                name = layout.partition_dir("hour", hour)
                if name in present and any(
                    _is_data(layout.key_name(o.key)) for o in store.find(f"{base}{day}/{name}")
                ):
                    return True
    return False
