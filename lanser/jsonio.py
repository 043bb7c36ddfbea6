"""Reading untrusted input: bounded files and JSON with no surprises (issue 17).

Every file lanser reads that a user or an agent hands it (a bundle, an episode, a
task, an edit) goes through :func:`read_bounded`: a size cap, and only a regular
file (``bundle verify /dev/zero`` read forever; a FIFO blocks, a directory is an
``IsADirectoryError``). Every JSON document goes through :func:`loads_bounded`:
no ``NaN``/``Infinity`` (not JSON, and they poison hashes and rewards), a nesting
depth limit (a 100k-deep array exhausts the recursion of the parser and of every
walker after it), and a syntax error with its line and column. Each refusal is a
:class:`~lanser.errors.UsageError` (exit 2) with a code: ``not_a_file``,
``too_large``, ``bad_json``, ``unreadable_file``. Messages name the file as the
caller gave it.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from lanser.errors import MissingFile, UnreadableFile, UsageError

#: The largest input file read by default (bundles, episodes, task files, edits).
MAX_BYTES = 256 << 20
#: The deepest JSON nesting accepted: lanser's own documents stay under 20.
MAX_DEPTH = 128


def read_bounded(path: str | Path, *, limit: int = MAX_BYTES, what: str = "input") -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them, else exit 2."""
    name = str(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat says what it is.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise MissingFile(f"{name}: no such {what} file", path=name) from None
    except OSError as exc:
        raise _os_error(name, exc) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "a device, FIFO or socket"
            raise UsageError(f"{name}: not a regular file ({kind}; the {what} must be a file)",
                             code="not_a_file", path=name)
        if info.st_size > limit:
            raise _too_large(name, limit, what)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew while we read
            raise _too_large(name, limit, what)
        return b"".join(chunks)
    except OSError as exc:
        raise _os_error(name, exc) from None
    finally:
        os.close(fd)


def read_text_bounded(path: str | Path, *, limit: int = MAX_BYTES, what: str = "input") -> str:
    data = read_bounded(path, limit=limit, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{path}: not UTF-8 text (byte {exc.start})",
                             path=str(path)) from None


def loads_bounded(text: str | bytes, *, max_depth: int = MAX_DEPTH, what: str = "input") -> Any:
    """Parse one JSON document: no NaN/Infinity, nesting at most ``max_depth``."""
    deep = UsageError(f"{what}: JSON nested deeper than {max_depth} levels", code="bad_json")
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:  # the parser's own recursion gave out first
        raise deep from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what}: not JSON ({exc.msg} at line {exc.lineno} column "
                         f"{exc.colno})", code="bad_json") from None
    except _NotJson as exc:
        raise UsageError(f"{what}: {exc} is not JSON (NaN and Infinity are refused)",
                         code="bad_json") from None
    except ValueError as exc:  # a 10k-digit number, say
        raise UsageError(f"{what}: not JSON ({exc})"[:300], code="bad_json") from None
    if _depth(value) > max_depth:
        raise deep
    return value


def load_json_bounded(path: str | Path, *, limit: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
                      what: str = "input") -> Any:
    """Read and parse the JSON file ``path`` with every bound above."""
    text = read_text_bounded(path, limit=limit, what=what)
    return loads_bounded(text, max_depth=max_depth, what=str(path))


#: A field's expected JSON type for :func:`require`: "str", "int", "bool", "number",
#: "list", "dict", "str_list" (a list of strings); a trailing "?" also allows null or
#: absence.
FIELD_KINDS = ("str", "int", "bool", "number", "list", "dict", "str_list")


def require(value: Any, fields: dict[str, str], *, what: str = "request",
            code: str = "bad_request") -> dict[str, Any]:
    """``value`` as a JSON object whose ``fields`` have the named kinds, else exit 2.

    The JSON edges (daemon requests, actions) check their shape here, once, so a
    missing field or a wrong type is ``bad_request`` rather than a ``KeyError``
    deep inside (an ``internal`` error).
    """
    if not isinstance(value, dict):
        raise UsageError(f"{what}: expected a JSON object", code=code)
    for name, kind in fields.items():
        optional = kind.endswith("?")
        kind = kind.rstrip("?")
        if value.get(name) is None:
            if optional:
                continue
            raise UsageError(f"{what}: missing field {name!r}", code=code, field=name)
        if not _is_kind(value[name], kind):
            raise UsageError(f"{what}: field {name!r} must be {kind.replace('_', ' of ')}",
                             code=code, field=name)
    return value


def _is_kind(item: Any, kind: str) -> bool:
    if kind == "int":
        return isinstance(item, int) and not isinstance(item, bool)
    if kind == "number":
        return isinstance(item, (int, float)) and not isinstance(item, bool)
    if kind == "str_list":
        return isinstance(item, list) and all(isinstance(i, str) for i in item)
    return isinstance(item, {"str": str, "bool": bool, "list": list, "dict": dict}[kind])


class _NotJson(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotJson(name)


def _depth(value: Any) -> int:
    """The nesting depth of a parsed JSON value, walked without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in item if isinstance(child, (dict, list)))
    return deepest


def _too_large(name: str, limit: int, what: str) -> UsageError:
    return UsageError(f"{name}: larger than {limit >> 20} MiB (the limit for the {what})",
                      code="too_large", path=name)


def _os_error(name: str, exc: OSError) -> UsageError:
    import errno

    if exc.errno == errno.ENAMETOOLONG:
        return UsageError(f"{name[:80]}...: path too long", code="bad_path")
    if exc.errno == errno.EISDIR:
        return UsageError(f"{name}: not a regular file (a directory)", code="not_a_file",
                          path=name)
    return UnreadableFile(f"{name}: cannot read ({exc.strerror})", path=name)
