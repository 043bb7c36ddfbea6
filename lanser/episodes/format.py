"""The episode file: JSON lines, a header, one line per step, a footer.

Specified in ``rewards/EPISODES.md`` with the JSON Schema
``bundles/schema/episode-1.schema.json``. Every line is canonical-ish JSON (sorted
keys, no spaces, UTF-8) and holds no clock, host or absolute path, so the same task
and actions on the same snapshot give the same bytes; timings go to the agent's
observations, never to the file. Bundles are referred to by hash (they live in the
content-addressed store) and snapshots by git tree (kept by ``refs/lanser/``).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from lanser.errors import UsageError
from lanser.resources import SCHEMAS

SCHEMA = "lanser.episode/1"
SCHEMA_FILE = SCHEMAS / "episode-1.schema.json"


class MalformedEpisode(UsageError):
    code = "malformed_episode"


def dumps(record: dict[str, Any]) -> str:
    """One line of the file: sorted keys, compact, UTF-8, newline-terminated."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


class Writer:
    """Appends records to an episode file, flushing each (a killed episode keeps its steps)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, record: dict[str, Any]) -> None:
        self.stream.write(dumps(record))
        self.stream.flush()


#: The record kinds, each a ``$defs`` entry of the schema.
KINDS = ("header", "step", "footer")


@functools.lru_cache(maxsize=len(KINDS))
def _validator(kind: str) -> Any:
    """The schema narrowed to one kind of record, so an error names the field at
    fault rather than "not valid under any of the given schemas" (its ``oneOf``)."""
    from lanser.bundles.schema import compile_schema

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    schema.pop("oneOf")
    return compile_schema({**schema, **schema["$defs"][kind]})


def validate(record: Any, where: str) -> None:
    from lanser.bundles.schema import first_error

    kind = record.get("type") if isinstance(record, dict) else None
    if kind not in KINDS:
        raise MalformedEpisode(f"{where}: not an episode record (an object whose 'type' is "
                               f"{', '.join(KINDS)})")
    error = first_error(_validator(kind), record)
    if error is not None:
        at, message = error
        raise MalformedEpisode(f"{where}: not a valid episode record at {at}: {message}")


def check_id(header: dict[str, Any], path: Path) -> None:
    """The header's ``id`` is the hash of the rest of it: an edited task, base,
    server or profile line no longer matches, and the file is refused."""
    from lanser.canonical import content_hash

    expected = content_hash({k: v for k, v in header.items() if k != "id"})
    if header["id"] != expected:
        raise MalformedEpisode(f"{path}: the header's id {header['id']} is not the hash of "
                               f"the header ({expected}): the header was edited")


@dataclass
class Episode:
    header: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    footer: dict[str, Any] | None = None


def load(path: Path) -> Episode:
    """Read and validate an episode file (a missing footer means it was cut off)."""
    from lanser.jsonio import loads_bounded, read_bounded

    try:
        lines = read_bounded(path, what="episode").decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise MalformedEpisode(f"{path}: not UTF-8 ({exc.reason})") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = loads_bounded(line, what=f"{path}:{number}")
        except UsageError as exc:
            raise MalformedEpisode(exc.message) from None
        validate(record, f"{path}:{number}")
        records.append(record)
    if not records or records[0]["type"] != "header":
        raise MalformedEpisode(f"{path}: the first record must be the header")
    check_id(records[0], path)
    episode = Episode(records[0])
    for number, record in enumerate(records[1:], 2):
        if record["type"] == "header" or episode.footer is not None:
            raise MalformedEpisode(f"{path}: record {number} comes after the footer "
                                   "or repeats the header")
        if record["type"] == "footer":
            episode.footer = record
        else:
            if record["index"] != len(episode.steps) + 1:
                raise MalformedEpisode(f"{path}: step {record['index']} out of order "
                                       f"(expected {len(episode.steps) + 1})")
            episode.steps.append(record)
    return episode
