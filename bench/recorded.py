"""Measurements recorded by hand in docs/benchmarks.md survive `make bench` rewriting the file.

`make bench` writes docs/benchmarks.md from the sections' code, but part of what the file holds no section
produces: the live benches' figures (`make bench-latency`, `bench-first-ticket`, `bench-gx-share` print JSON
that a person reads and writes up), and each optimisation round's alternations and what was measured and not
taken. Rewriting the file used to drop all of it. Such text is now fenced:

    <!-- recorded -->
    ...
    <!-- /recorded -->

and `carry` puts every fenced block back into the new file: under the same `## ` heading, before the section's
generated text when it stood before it (the first line of the section that is neither blank nor fenced), after
it otherwise; a section that no generator writes any more keeps its heading and blocks, in its old place
relative to the sections around it. Anything outside a fence is the generator's and is replaced.

A fence that does not close, a nested one, a stray close or a heading inside a block stops the write with one
line saying where, and so does a block that would go missing: losing a block silently is the failure this
module exists to prevent. A development tool: nothing in mamori imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

OPEN = "<!-- recorded -->"
CLOSE = "<!-- /recorded -->"
_PREAMBLE = ""  # the text before the first `## ` heading (the title and the run's facts)


class RecordedError(ValueError):
    """The old file's fences cannot be read safely; nothing is written."""


@dataclass
class _Section:
    heading: str  # the `## ` line, or _PREAMBLE
    before: list[list[str]] = field(default_factory=list)  # blocks ahead of the generated text
    after: list[list[str]] = field(default_factory=list)  # blocks behind it

    @property
    def blocks(self) -> list[list[str]]:
        return self.before + self.after


def _sections(lines: list[str], where: str) -> list[_Section]:
    """The file's sections in order, each with its fenced blocks (fence lines included)."""
    out = [_Section(_PREAMBLE)]
    block: list[str] | None = None
    seen_generated = False
    for n, line in enumerate(lines, 1):
        stripped = line.strip()
        if block is not None:
            if stripped == OPEN:
                raise RecordedError(f"{where}:{n}: {OPEN} inside a recorded block opened earlier")
            if line.startswith("## "):
                raise RecordedError(f"{where}:{n}: heading inside a recorded block (a {CLOSE} is missing)")
            block.append(line)
            if stripped == CLOSE:
                (out[-1].after if seen_generated else out[-1].before).append(block)
                block = None
            continue
        if stripped == CLOSE:
            raise RecordedError(f"{where}:{n}: {CLOSE} without its {OPEN}")
        if stripped == OPEN:
            block = [line]
        elif line.startswith("## "):
            out.append(_Section(line.rstrip()))
            seen_generated = False
        elif stripped:
            seen_generated = True
    if block is not None:
        raise RecordedError(f"{where}: {OPEN} at line {len(lines) - len(block) + 1} never closes")
    return out


def carry(old: str, new: str, where: str = "the old file") -> str:
    """`new` (the generators' text, no fences) with every recorded block of `old` put back (see the module)."""
    old_sections = _sections(old.splitlines(), where)
    new_lines = new.splitlines()
    new_sections = _sections(new_lines, "the generated text")
    if any(s.blocks for s in new_sections):
        raise RecordedError("the generated text holds a recorded block: generators must not write fences")
    kept = {s.heading: s for s in old_sections if s.blocks}
    generated = {s.heading for s in new_sections}
    # sections only the old file has, after the heading they followed there (_PREAMBLE: before every section)
    orphans: dict[str, list[_Section]] = {}
    anchor = _PREAMBLE
    for s in old_sections:
        if s.heading in generated:
            anchor = s.heading
        elif s.blocks:
            orphans.setdefault(anchor, []).append(s)

    out: list[str] = []

    def section(heading: str, body: list[str]) -> None:
        s = kept.get(heading)
        if heading != _PREAMBLE:
            out.append(heading)
        lead = 0  # the blank lines right under the heading stay there
        while lead < len(body) and not body[lead].strip():
            lead += 1
        out.extend(body[:lead])
        for block in s.before if s else ():
            out.extend([*block, ""])
        out.extend(body[lead:])
        for block in s.after if s else ():
            if out and out[-1].strip():
                out.append("")
            out.extend([*block, ""])
        for orphan in orphans.get(heading, ()):
            if out and out[-1].strip():
                out.append("")
            out.extend([orphan.heading, ""])
            for block in orphan.blocks:
                out.extend([*block, ""])

    heading, body = _PREAMBLE, list[str]()
    for line in new_lines:
        if line.startswith("## "):
            section(heading, body)
            heading, body = line.rstrip(), []
        else:
            body.append(line)
    section(heading, body)
    return "\n".join(out).rstrip("\n") + "\n"


def count(text: str) -> int:
    """The number of recorded blocks in `text` (run.py checks none went missing before it writes)."""
    return sum(len(s.blocks) for s in _sections(text.splitlines(), "text"))


def write(out: Path, text: str) -> None:
    """Write the generators' `text` to `out`, with the recorded blocks of the file it replaces carried over;
    nothing is written when a block would be lost or the old file's fences cannot be read."""
    if out.exists():
        old = out.read_text()
        text = carry(old, text, where=str(out))
        if count(text) != count(old):
            raise RecordedError(f"{out}: a recorded block would be lost; nothing written")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
