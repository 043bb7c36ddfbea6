"""One progress display for the long commands (score, tasks mine/synth/validate, train).

A rich bar on stderr at a terminal, with what is done (of how many, when known), the
rate, the time left (or spent, when the total is unknown) and a short note; nothing in
a pipe, a log or ``--json`` mode: those get the command's summary line only.
"""

from __future__ import annotations

import time
from typing import Any


class ProgressBar:
    """``with ProgressBar("scoring", quiet=json_out) as bar: bar.update(done, total)``."""

    def __init__(self, label: str, *, quiet: bool, total: int | None = None,
                 eta: bool = False) -> None:
        """``eta``: show the time left (the total will be known), else the time spent."""
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"),
                            TimeRemainingColumn() if eta else TimeElapsedColumn(),
                            TextColumn("{task.description}"), console=self.console,
                            disable=quiet or not self.console.is_terminal)
        self.task = self.bar.add_task("", total=total, rate="")
        self.done = 0
        self.began = time.monotonic()
        self.baseline: int | None = None  # done at the first update (resumed work)

    def update(self, done: int, total: int | None = None, note: str | None = None) -> None:
        """``done`` so far (of ``total`` when given); the rate leaves out what the
        first call already found done (work resumed from a file)."""
        if self.baseline is None:
            self.baseline = done
        elapsed = time.monotonic() - self.began
        rate = (done - self.baseline) / elapsed if elapsed > 0 else 0.0
        self.done = done
        fields: dict[str, Any] = {"completed": done, "rate": f"{rate:.2f}/s"}
        if total is not None:
            fields["total"] = total
        if note is not None:
            fields["description"] = note
        self.bar.update(self.task, **fields)

    def advance(self, note: str | None = None) -> None:
        """One more done."""
        if self.baseline is None:
            self.baseline = 0
        self.update(self.done + 1, note=note)

    def __enter__(self) -> ProgressBar:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()
