"""Run ingest.convert_batch for one planned batch in a process of its own, for a test to SIGKILL mid-write.

Usage: python convert_child.py <batch.json> <seconds> [disk|publish]. The environment (MAMORI_HOME,
AIRFLOW_HOME) is the parent test's. Great Expectations is replaced by a passing verdict, as in
tests/unit/test_ingest_guards.py (validation is not under test, and its import costs seconds per process).
Nothing else of ingest is replaced, only slowed down so the kill lands where the test wants it, and the kill
tests what the real code leaves behind:
- disk (default): every fsync sleeps `seconds` after syncing, so the kill reliably lands while a file of the
  batch is on disk under its temporary name, with earlier files already written;
- put: every Parquet file's write waits `seconds` before it starts (a slow upload to S3, where a write is
  one PUT and leaves no temporary), so the kill lands between two files;
- publish: the publish step moves its files one at a time, `seconds` apart (a slow S3), so the kill lands
  between two moves.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def main() -> None:
    batch = json.loads(Path(sys.argv[1]).read_text())
    delay = float(sys.argv[2])

    mode = sys.argv[3] if len(sys.argv) > 3 else "disk"
    from mamori import ingest  # imported before anything slows down: only the batch's writes pay
    from mamori.lake import Store
    from mamori.quality.validate import BatchQuality

    ingest.validate_table = lambda source, *args, **kwargs: BatchQuality(source)

    if mode == "put":
        real_write = Store.write_atomic

        def slow_write(self: Store, key: str, data: bytes) -> None:
            if key.endswith(".parquet"):
                time.sleep(delay)
            real_write(self, key, data)

        Store.write_atomic = slow_write  # type: ignore[method-assign]
    elif mode == "publish":
        real_move = Store.move

        def slow_move(self: Store, pairs: list[tuple[str, str]]) -> None:
            for pair in pairs:
                real_move(self, [pair])
                time.sleep(delay)

        Store.move = slow_move  # type: ignore[method-assign]
    else:
        real_fsync = os.fsync

        def slow_fsync(fd: Any) -> None:
            real_fsync(fd)
            time.sleep(delay)

        os.fsync = slow_fsync
    ingest.convert_batch(batch)


if __name__ == "__main__":
    main()
