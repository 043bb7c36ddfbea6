"""``lanser score``: a completions file in, a rewards file out, resumable.

Each input line is ``{"instance_id", "completion", "format"?}`` (``completion`` a
string or a list of chat messages). Each output line is the input line's
:class:`~lanser.scoring.result.ScoreResult` JSON plus ``"line"`` (its 1-based input
line), in input order, flushed chunk by chunk. Run again on the same output, it
keeps the lines already there whose ``line`` and completion hash match the input,
drops a torn last line, and scores only the rest: an interrupted batch resumes
where it stopped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanser.errors import MissingFile, UsageError
from lanser.scoring.parse import FORMATS
from lanser.scoring.result import completion_hash


@dataclass(frozen=True)
class Item:
    line: int
    instance_id: str
    completion: Any
    format: str


def read_completions(path: str | Path) -> list[Item]:
    """Every line checked first: a bad one is exit 2 naming its line, before any work."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MissingFile(f"{path}: no such completions file", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: unreadable ({exc})", code="bad_completions") from None
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise UsageError(f"{path}:{number}: not JSON ({exc})",
                             code="bad_completions") from None
        if not isinstance(data, dict) or not isinstance(data.get("instance_id"), str):
            raise UsageError(f"{path}:{number}: expected an object with a string "
                             "'instance_id'", code="bad_completions")
        if "completion" not in data:
            raise UsageError(f"{path}:{number}: no 'completion'", code="bad_completions")
        fmt = data.get("format") or "auto"
        if fmt not in FORMATS:
            raise UsageError(f"{path}:{number}: format {fmt!r} is not one of "
                             f"{', '.join(FORMATS)}", code="bad_completions")
        items.append(Item(number, data["instance_id"], data["completion"], fmt))
    return items


def _done(out: Path, items: list[Item]) -> dict[int, str]:
    """The output lines to keep (by input line), and the file truncated to them."""
    if not out.is_file():
        return {}
    want = {i.line: completion_hash(_text(i.completion)) for i in items}
    kept: dict[int, str] = {}
    with out.open("rb") as fh:
        raw = fh.read()
    good_end = 0
    offset = 0
    for chunk in raw.splitlines(keepends=True):
        offset += len(chunk)
        try:
            data = json.loads(chunk)
            line = data["line"]
            same = want.get(line) == data["completion"]["sha256"]
        except (ValueError, KeyError, TypeError):
            break
        if not chunk.endswith(b"\n") or not same:
            break
        kept[line] = chunk.decode("utf-8")
        good_end = offset
    with out.open("r+b") as fh:
        fh.truncate(good_end)
    return kept


def _text(completion: Any) -> str:
    from lanser.scoring.scorer import _text_of

    return completion if isinstance(completion, str) else _text_of(completion)


def score_file(scorer: Any, completions: str | Path, out: str | Path, *,
               chunk: int = 64, progress: Callable[[int, int], None] | None = None
               ) -> dict[str, int]:
    """Score ``completions`` into ``out`` (module docstring); counts by status."""
    items = read_completions(completions)
    out = Path(out)
    kept = _done(out, items)
    todo = [i for i in items if i.line not in kept]
    counts: dict[str, int] = {"resumed": len(kept)}
    total, done = len(items), len(kept)
    if progress:
        progress(done, total)
    with out.open("a", encoding="utf-8") as fh:
        for start in range(0, len(todo), max(1, chunk)):
            batch = todo[start:start + chunk]
            results = scorer.score_many([(i.instance_id, i.completion, i.format) for i in batch])
            for item, result in zip(batch, results, strict=True):
                fh.write(json.dumps({**result.to_json(), "line": item.line}, sort_keys=True,
                                    ensure_ascii=False) + "\n")
                counts[result.status] = counts.get(result.status, 0) + 1
            fh.flush()
            os.fsync(fh.fileno())
            done += len(batch)
            if progress:
                progress(done, total)
    return dict(sorted(counts.items()))


__all__ = ["Item", "read_completions", "score_file"]
