"""Peak memory of conversion: does it stay bounded when the input grows?

Each figure is the peak RSS (VmHWM) of a fresh child process that runs the ingest convert task,
`ingest.convert_batch` (columnar parse, GX validation, zstd Parquet into a local lake, manifest), batch by batch
(batches cut as plan_window cuts them: 500 objects or 256 MB). The input is the generator's day of CloudTrail,
replayed under other account ids until the event count is reached, so 10M events need no 10M-event generator
run; the child's raw store reads those template files.

Rows: convert_batch for 1M and 10M events, and for one delivery object of 256 MB (gzip; ~1.6M events, the
largest object a batch may hold), plus the row path ingest used before mamori.lake.convert on the same shapes
(200k events, whose batches peak like 1M's; a 32 MB object, since its peak grows with the object).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

TITLE = "Memory"
ORDER = 15

REPO = Path(__file__).resolve().parents[2]
_MIB = 1024 * 1024
BATCH_OBJECTS = 500  # plan_window's defaults (MAMORI_BATCH_MAX_OBJECTS / _BYTES)
BATCH_BYTES = 256 * _MIB
TEMPLATE_KEY = "AWSLogs/{account}/CloudTrail/us-east-1/2026/11/01/{account}_CloudTrail_us-east-1_20261101T{n:04d}Z_x.json.gz"  # noqa: E501


def run(quick: bool, runs: int) -> list[str]:
    del runs  # one child per figure: a peak is a maximum, not a noisy timing
    with tempfile.TemporaryDirectory(prefix="mamori-mem-") as tmp:
        templates = Path(tmp) / "templates"
        n_template = _write_templates(templates, hours=6 if quick else 24)
        if quick:
            cases = [
                ("columnar", "events", 20_000, "20k events"),
                ("columnar", "events", 60_000, "60k events"),
                ("columnar", "object", _MIB, "one 1 MB object (streamed in pieces)"),
                ("rows", "events", 20_000, "20k events"),
            ]
        else:
            cases = [
                ("columnar", "events", 1_000_000, "1M events"),
                ("columnar", "events", 10_000_000, "10M events"),
                ("columnar", "object", 256 * _MIB, "one 256 MB object"),
                ("rows", "events", 200_000, "200k events"),  # batches bound it too: same peak as 1M
                ("rows", "object", 32 * _MIB, "one 32 MB object"),
            ]
        lines = [
            f"CloudTrail → Parquet in a child process per row; input replayed from the generator's output "
            f"({n_template:,} events); batches of {BATCH_OBJECTS} objects / {BATCH_BYTES // _MIB} MB as planned:",
            "",
            "| path | input | events | batches | peak RSS |",
            "|---|---|---:|---:|---:|",
        ]
        for path, kind, size, label in cases:
            if kind == "object":
                obj = Path(tmp) / f"object-{size}.json.gz"
                if not obj.exists():
                    _write_big_object(templates, obj, size)
                arg = str(obj)
            else:
                arg = str(size)
            r = _child(path, kind, arg, str(templates), quick)
            name = "`convert_batch` (columnar, validated)" if path == "columnar" else "before: row path"
            lines.append(
                f"| {name} | {label} | {r['events']:,} | {r['batches']} | {r['peak_mib']:,.0f} MiB |"
            )
        lines.append("")
        return lines


def _write_templates(folder: Path, hours: int) -> int:
    """The generator's day of CloudTrail event files, one file each (children read them per batch)."""
    from datetime import UTC, datetime

    from mamori.sources.cloudtrail.generate import generate_cloudtrail

    folder.mkdir(parents=True)
    objects: list[bytes] = []
    generate_cloudtrail(
        lambda k, d, t: objects.append(d) if "/CloudTrail/" in k else None,
        datetime(2026, 11, 1, tzinfo=UTC),
        hours=hours,
        seed=5,
    )
    events = 0
    for i, d in enumerate(objects):
        (folder / f"{i:06d}.json.gz").write_bytes(d)
        events += len(json.loads(gzip.decompress(d))["Records"])
    return events


def _write_big_object(templates: Path, out: Path, size: int) -> None:
    """One `{"Records": [...]}` delivery file of ~`size` gzip bytes, from the templates' records in a loop."""
    records = [
        json.dumps(r, separators=(",", ":")).encode()
        for f in sorted(templates.iterdir())
        for r in json.loads(gzip.decompress(f.read_bytes()))["Records"]
    ]
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    written = 0
    with out.open("wb") as fh:
        fh.write(comp.compress(b'{"Records":['))
        i = 0
        while written < size:
            piece = b",".join(records[i % len(records) : i % len(records) + 1000])
            prefix = b"," if i else b""
            chunk = comp.compress(prefix + piece)
            fh.write(chunk)
            written += len(chunk)
            i += 1000
        fh.write(comp.compress(b"]}") + comp.flush())


def _child(path: str, kind: str, arg: str, templates: str, quick: bool) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    argv = [
        sys.executable,
        "-m",
        "bench.sections.memory",
        path,
        kind,
        arg,
        templates,
        "quick" if quick else "full",
    ]
    # the child's lake and manifests, removed when it has exited (as the other sections' homes)
    with tempfile.TemporaryDirectory(prefix="mamori-mem-home-", ignore_cleanup_errors=True) as home:
        env["MAMORI_HOME"] = home
        out = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env, check=False)  # noqa: S603
    if out.returncode != 0:
        raise RuntimeError(f"memory child {argv[3:6]} failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- child ----------------------------------------------------------------------------------------------------------


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _batches(kind: str, arg: str, templates: str) -> Any:
    """Batches of (key, bytes-reader) as plan_window would cut them; bytes are read when converted."""
    if kind == "object":
        key = TEMPLATE_KEY.format(account="123456789012", n=0)
        yield [(key, Path(arg))]
        return
    target = int(arg)
    files = sorted(Path(templates).iterdir())
    per_file = [len(json.loads(gzip.decompress(f.read_bytes()))["Records"]) for f in files]
    events, replica = 0, 0
    batch: list[tuple[str, Path]] = []
    size = 0
    while events < target:
        account = f"{100000000000 + replica:012d}"
        for n, (f, count) in enumerate(zip(files, per_file, strict=True)):
            if events >= target:
                break
            fsize = f.stat().st_size
            if batch and (len(batch) >= BATCH_OBJECTS or size + fsize > BATCH_BYTES):
                yield batch
                batch, size = [], 0
            batch.append((TEMPLATE_KEY.format(account=account, n=n), f))
            size += fsize
            events += count
        replica += 1
    if batch:
        yield batch


_RAW: dict[str, Path] = {}  # key -> template file: the child's raw store (see _child_main)


def _convert_ingest(batch: list[tuple[str, Path]], index: int) -> int:
    """The real ingest task, `ingest.convert_batch`: columnar parse, GX validation per held segment, zstd
    Parquet written to a local lake, manifest. The batch's files are deleted after it (disk, not memory)."""
    from mamori import ingest
    from mamori.config import load_settings

    settings = load_settings()
    _RAW.clear()
    _RAW.update(batch)
    summary = ingest.convert_batch(
        {
            "source": "cloudtrail",
            "keys": [k for k, _ in batch],
            "sizes": [f.stat().st_size for _, f in batch],  # as plan_window records them
            "index": index,
            "window_start": "2026-11-01T00:00:00+00:00",
            "window_end": "2026-11-02T00:00:00+00:00",
        },
        settings,
    )
    shutil.rmtree(Path(settings.lake_url.removeprefix("file://")) / "curated", ignore_errors=True)
    events: int = summary["records_in"]
    return events


def _convert_rows(batch: list[tuple[str, Path]]) -> int:
    """ingest._convert_batch's row path today: rows per partition, sorted, from_pylist, Parquet bytes."""
    import pyarrow as pa

    from mamori.lake.convert import parquet_bytes
    from mamori.sources import cloudtrail

    src = cloudtrail.SOURCE
    by_part: dict[Any, list[dict[str, Any]]] = {}
    events = 0
    for key, f in batch:
        raw = src.classify(key)
        assert raw is not None
        res = src.parse_object(raw, f.read_bytes())
        events += res.records_in
        for part, row in res.rows:
            by_part.setdefault(part, []).append(row)
    for part in sorted(by_part, key=lambda p: p.relpath()):
        rows = sorted(by_part[part], key=lambda r: r["event_time"])
        parquet_bytes(pa.Table.from_pylist(rows, schema=src.schema))
    return events


def _child_main(path: str, kind: str, arg: str, templates: str, mode: str) -> None:
    import pyarrow as pa

    from mamori.sources import cloudtrail
    from mamori.sources.base import gc_paused

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    if mode == "quick" and kind == "object":
        cloudtrail.STREAM_MIN_BYTES = _MIB // 2  # exercise the streamed path on the quick run's small object
        cloudtrail._PIECE = 256 * 1024
    from mamori.lake import Store

    # The raw store is the template files under replayed keys: 10M events would otherwise need ~1.3 GB of
    # copies on disk. Reads go through convert_batch's own Store calls all the same (bytes, or a stream for
    # an object from LARGE_OBJECT_BYTES on).
    real_read, real_open = Store.read_bytes, Store.open_read
    Store.read_bytes = lambda self, key: _RAW[key].read_bytes() if key in _RAW else real_read(self, key)  # type: ignore[method-assign]
    Store.open_read = lambda self, key: _RAW[key].open("rb") if key in _RAW else real_open(self, key)  # type: ignore[method-assign]
    started = time.perf_counter()
    events = batches = 0
    for batch in _batches(kind, arg, templates):
        if path == "columnar":
            events += _convert_ingest(batch, batches)  # convert_batch pauses the collector itself
        else:
            with gc_paused():  # as ingest.convert_batch runs
                events += _convert_rows(batch)
        batches += 1
    seconds = time.perf_counter() - started
    print(json.dumps({"events": events, "batches": batches, "peak_mib": _peak_mib(), "seconds": seconds}))


if __name__ == "__main__":
    _child_main(*sys.argv[1:6])
