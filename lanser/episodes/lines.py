"""Actions as an agent sends them: one JSON object per line of a text stream.

``lanser episode run`` reads a file of them, ``lanser episode serve`` its stdin, while
the episode runs (:func:`read_action_lines`). A line that is not JSON is passed on
as its text: the recorder answers it with an invalid-action observation.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any, TextIO

from lanser.errors import UsageError


def decode_line(line: str) -> Any:
    """One stdin line as an action: decoded JSON, or the text itself when it is not
    JSON (the recorder answers that with an invalid-action observation).

    Bytes that are not UTF-8 (stdin may hand them over as surrogate escapes) become
    U+FFFD, and JSON whose strings decode to lone surrogates is kept as text: the
    episode file is UTF-8, and an action it cannot hold must not end the episode.
    """
    text = line.encode("utf-8", "surrogateescape").decode("utf-8", "replace") \
        if _unencodable(line) else line
    from lanser.errors import UsageError
    from lanser.jsonio import loads_bounded

    try:  # too deep, NaN, Infinity: not an action's JSON either (issue 17)
        decoded = loads_bounded(text, what="action")
    except UsageError:
        return text.rstrip("\n")
    return text.rstrip("\n") if _unencodable(json.dumps(decoded, ensure_ascii=False)) \
        else decoded


def _unencodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def action_lines(stream: TextIO) -> Iterator[Any]:
    """Decoded actions from a stream of JSON lines (blank lines skipped)."""
    for line in stream:
        if line.strip():
            yield decode_line(line)


async def read_action_lines(stream: TextIO) -> AsyncIterator[Any]:
    """:func:`action_lines` read in a thread, so the event loop keeps serving the
    language server while the agent thinks (a blocking read in the loop would leave
    the server's messages unread until the next action arrives).

    A daemon thread of its own rather than the default executor: ``asyncio.run``
    waits for the executor's threads at exit, and a thread blocked on a read from
    an agent that sends nothing would make Ctrl-C (or an error) hang there.
    """
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | Exception | None] = asyncio.Queue()

    def hand_over(item: str | Exception | None) -> bool:
        try:
            loop.call_soon_threadsafe(lines.put_nowait, item)
        except RuntimeError:  # the loop is closed: the episode is over
            return False
        return True

    def pump() -> None:
        try:
            for line in iter(stream.readline, ""):
                if not hand_over(line):
                    return
        except (OSError, ValueError) as exc:  # not UTF-8, or closed under us
            hand_over(exc)
            return
        hand_over(None)

    threading.Thread(target=pump, name="lanser-actions", daemon=True).start()
    while (item := await lines.get()) is not None:
        if isinstance(item, Exception):
            raise UsageError(f"reading actions from stdin: {item}", code="bad_input")
        if item.strip():
            yield decode_line(item)


__all__ = ["action_lines", "decode_line", "read_action_lines"]
