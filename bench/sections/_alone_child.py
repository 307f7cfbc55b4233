"""One side of the 1k-batch comparison in a process of its own (gx_task_cost runs this file).

`python _alone_child.py SIDE HOURS PASSES` (SIDE: `pandas` or `mamori`) converts the section's batches once to
warm up, then PASSES times, and prints one JSON line: the median wall and CPU milliseconds per batch.

Why a process per side: Python's cyclic collector costs the naive pandas converter ~40 % of its time (60 ms
per batch with it off, 75-110 ms with it on, measured alone), and in the one-process comparison a pass also paid
for the garbage the pass before it left, so that baseline moved with the order of the passes. Here each side
pays for its own collections only, with the interpreter's defaults, as a user's script or a task process runs.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

from gx_task_cost import _batches, convert_all, naive_pandas  # this file's folder is sys.path[0] as a script


def main(side: str, hours: int, passes: int) -> None:
    with tempfile.TemporaryDirectory(prefix="mamori-bench-gx-", ignore_cleanup_errors=True) as home:
        _measure(side, hours, passes, home)


def _measure(side: str, hours: int, passes: int, home: str) -> None:
    batches, bodies, _n = _batches(hours, home)
    one: Callable[[], None]
    if side == "pandas":

        def one() -> None:
            naive_pandas(bodies)

    else:
        from mamori.config import load_settings
        from mamori.quality import validate

        settings = load_settings({"MAMORI_HOME": home})
        validate._context()  # a warm task process: GX's start-up is the section's other table

        def one() -> None:
            convert_all(batches, settings)

    one()  # warm-up: lazy imports and caches
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(passes):
        c, t = time.process_time(), time.perf_counter()
        one()
        wall.append((time.perf_counter() - t) * 1000 / len(batches))
        cpu.append((time.process_time() - c) * 1000 / len(batches))
    print(json.dumps({"wall_ms": statistics.median(wall), "cpu_ms": statistics.median(cpu)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
