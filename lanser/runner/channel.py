"""The sandbox's event channel: lines the parent can check came from lanser's own code.

Standard library only. The sandbox copies this file next to the plugin as
``_lanser_channel`` (child.py and the plugin import it there); the parent imports it
as ``lanser.runner.channel`` to verify. One implementation of the format, both ends.

**Signed lines.** Every event line is ``<hmac> <seq> <json>\\n``: HMAC-SHA256, under a
key drawn fresh for each child process, of ``<seq> <json>``, where ``seq`` counts the
lines one signer wrote. The parent hands the key over through an inherited pipe that
child.py reads and closes before any code under test runs; the key is then held only
inside an OpenSSL HMAC context (never in a file, the environment or argv, and no
Python object keeps it). The parent keeps a line only if its MAC verifies and its ``seq`` is
above the last kept one, so writing to the events file (its path is no secret), from
the test process or any process it starts, and copying or replaying lines earn
nothing; rejected lines are counted, as evidence. The threat model, and what this
cannot stop (code that introspects the interpreter it shares with pytest), is in
``rewards/CREDIT.md`` §7.

**Call sites.** The assert counter and the script probes are functions the code under
test can reach by name. :func:`call_sites` finds, in the bytecode of instrumented code,
the calls lanser inserted (a load of the function's global name, constant arguments,
a call); :func:`at_site` tells whether the caller's frame is executing one of them,
with those arguments. A call from anywhere else (the code under test calling the
counter, a dunder method bound to it) is ignored.
"""

from __future__ import annotations

import dis
import hmac
import json
import os
import types
from typing import Any

KEY_BYTES = 32
_DIGEST = "sha256"
_MAC_HEX = 64


class Signer:
    """Turns records into signed lines; holds the key only inside its HMAC context."""

    def __init__(self, key: bytes) -> None:
        self._mac = hmac.new(key, digestmod=_DIGEST)
        self._seq = 0

    def line(self, record: dict[str, Any]) -> bytes:
        self._seq += 1
        head = f"{self._seq} {json.dumps(record, sort_keys=True, default=str)}".encode()
        mac = self._mac.copy()
        mac.update(head)
        return mac.hexdigest().encode() + b" " + head + b"\n"


class Verifier:
    """The parent's side: the record of a signed line, or None (and counted) if forged."""

    def __init__(self, key: bytes) -> None:
        self._mac = hmac.new(key, digestmod=_DIGEST)
        self._last = 0
        self.rejected = 0

    def record(self, line: bytes) -> dict[str, Any] | None:
        mac, _, head = line.partition(b" ")
        seq, _, body = head.partition(b" ")
        check = self._mac.copy()
        check.update(head)
        try:
            if len(mac) != _MAC_HEX or not hmac.compare_digest(check.hexdigest().encode(),
                                                               mac):
                raise ValueError("bad mac")
            number = int(seq)
            if number <= self._last:
                raise ValueError("replayed")
            record = json.loads(body)
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except ValueError:
            if line.strip():
                self.rejected += 1
            return None
        self._last = number
        return record


def read_key(fd: int) -> bytes:
    """The key from the inherited pipe, which is closed at once."""
    try:
        key = b""
        while len(key) < KEY_BYTES:
            chunk = os.read(fd, KEY_BYTES - len(key))
            if not chunk:
                break
            key += chunk
        return key
    finally:
        os.close(fd)


#: code object -> (the code object, {bytecode offset: constant arguments})
Sites = dict[int, tuple[types.CodeType, dict[int, tuple[Any, ...]]]]


def call_sites(code: types.CodeType, name: str) -> Sites:
    """Where ``code`` (and every code object nested in it) calls global ``name``.

    A site is a load of ``name`` (``LOAD_GLOBAL``/``LOAD_NAME``), only constants
    after it, then a call; every offset from the call instruction up to the next
    instruction is kept, because what a caller's ``f_lasti`` shows during a call
    (the call itself, or its inline cache) differs between Python versions.
    """
    out: Sites = {}
    todo = [code]
    while todo:
        current = todo.pop()
        instructions = list(dis.get_instructions(current))
        sites: dict[int, tuple[Any, ...]] = {}
        args: list[Any] | None = None
        for i, ins in enumerate(instructions):
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval == name:
                args = []
            elif args is not None and ins.opname == "LOAD_CONST":
                args.append(ins.argval)
            elif args is not None and ins.opname.startswith("CALL"):
                end = instructions[i + 1].offset if i + 1 < len(instructions) \
                    else len(current.co_code)
                for offset in range(ins.offset, end):
                    sites[offset] = tuple(args)
                args = None
            elif args is not None and ins.opname not in ("PRECALL", "PUSH_NULL", "CACHE"):
                args = None
        out[id(current)] = (current, sites)
        todo.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return out


def at_site(sites: Sites, frame: types.FrameType | None, args: tuple[Any, ...]) -> bool:
    """Is ``frame`` executing one of ``sites``' calls, with exactly ``args``?"""
    if frame is None:
        return False
    entry = sites.get(id(frame.f_code))
    return entry is not None and entry[0] is frame.f_code \
        and entry[1].get(frame.f_lasti) == args
