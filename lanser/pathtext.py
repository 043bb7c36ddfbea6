"""Absolute paths inside free text (messages, hovers) rewritten to stable names.

A message that names ``/home/ci/ws/pkg/mod.py`` or
``file:///usr/lib/python3.11/typing.py`` would hash differently on every machine
and checkout path. :func:`scrub_paths` replaces known prefixes, each only where it
ends at a path boundary (``/tmp/ws`` never eats the ``/tmp/ws`` of ``/tmp/ws2``),
in plain and ``file://`` URI form; the workspace root becomes relative (the root
itself ``.``), an anchor becomes its label (``<stdlib>/typing.py``). What no prefix
covers but plainly lies in a Python installation is anchored by its shape
(:data:`SITE`, :data:`STDLIB`), whichever interpreter it belongs to.

Nothing here imports lanser: the LSP normalizer and the test runner's message
normalizer both build on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache, partial
from urllib.parse import quote

#: Any ``.../site-packages/`` or ``.../dist-packages/`` directory.
SITE = re.compile(r"/[^\s:'\"()]*/(?:site|dist)-packages/")
#: Any ``.../lib/python3.N/`` standard library directory.
STDLIB = re.compile(r"/[^\s:'\"()]*/lib/python3\.\d+/")
#: Characters that continue a path component: a prefix followed by one of them is
#: not that path (``/tmp/ws`` in ``/tmp/ws2``); preceded by one, not its start.
_PATH_CHAR = r"[\w.~+%@-]"


def scrub_paths(text: str, prefixes: Iterable[tuple[str, str]] = ()) -> str:
    """Rewrite ``prefixes`` (absolute directory, label) inside ``text``, then the
    installation shapes. A label ``""`` means "relative to this directory": the
    directory's own name becomes ``.``. Longest prefix first, so a server installed
    in site-packages keeps its own label."""
    if "/" not in text:  # no absolute path, no URI: most messages (a whole workspace's
        return text      # diagnostics spent 1.5 s here compiling patterns, issue 15)
    for prefix, label in sorted(prefixes, key=lambda p: len(p[0]), reverse=True):
        text = _prefix_pattern(prefix.rstrip("/") or "/").sub(partial(_replacement, label), text)
    text = SITE.sub("<site-packages>/", text)
    return STDLIB.sub("<stdlib>/", text)


@lru_cache(maxsize=256)
def _prefix_pattern(prefix: str) -> re.Pattern[str]:
    """``prefix`` in plain and ``file://`` URI form, ending at a path boundary."""
    forms = {re.escape(prefix), re.escape(quote(prefix))}
    plain = re.escape(prefix)
    return re.compile(
        rf"(?:file://(?:{'|'.join(sorted(forms))})|(?<![\w.~+%@/-]){plain})"
        rf"(?:(?P<slash>/)|(?!{_PATH_CHAR}))")


def _replacement(label: str, match: re.Match[str]) -> str:
    """A matched prefix's replacement: its label (``.`` for the root itself)."""
    if match.group("slash"):
        return f"{label}/" if label else ""
    return label or "."
