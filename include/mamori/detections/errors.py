"""The error every reviewed file of sql/ raises when it does not load. Its own module, free of imports, so the
light loaders (suppressions, health thresholds) can subclass it without importing the detection loader's
parser stack."""

from __future__ import annotations


class FileLineError(ValueError):
    """A reviewed file of sql/ (a detection, hunt, suppressions, coverage or health file) that does not load.
    `line` is the 1-based line of the file at fault when it can be told: the message then reads
    `<path>:<line>: why`, which the command line's error boundary prints as it is."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line
