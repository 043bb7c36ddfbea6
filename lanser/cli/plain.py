"""Plain lines for a query answer: what people read at a terminal, in a pipe or a CI log.

Standard library only: the daemon's fast path (:mod:`lanser.cli.fast`) prints these
without importing rich or typer (issue 15, defect 12), and the full CLI prints the
very same lines (:mod:`lanser.cli.render`), daemon or not. A diagnostic is
``path:line:col: severity code: message``, the convention compilers, editors and CI
parse (terminals make the location clickable); nothing is cut, whatever the width. At a
terminal the severity and the answer's target are coloured (ANSI; ``NO_COLOR`` or
``TERM=dumb`` turns it off), which is the only difference from a pipe.
"""

from __future__ import annotations

import os
from typing import Any

_RESET = "\x1b[0m"
#: ANSI styles of the coloured parts (bold red, yellow, blue, dim; bold).
_STYLE = {"error": "\x1b[1;31m", "warning": "\x1b[33m", "information": "\x1b[34m",
          "hint": "\x1b[2m", "not ready": "\x1b[1;31m", "op": "\x1b[1m"}


def wants_color() -> bool:
    """Colour when stdout is a terminal, unless the user said no (https://no-color.org)."""
    import sys

    return (sys.stdout.isatty() and "NO_COLOR" not in os.environ
            and os.environ.get("TERM") != "dumb")


def _paint(text: str, style: str, color: bool) -> str:
    return f"{_STYLE[style]}{text}{_RESET}" if color and style in _STYLE else text


def where(item: dict[str, Any]) -> str:
    return f"{item['path']}:{item['line']}:{item['col']}"


def one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def hover(hover: dict[str, Any] | None) -> str:
    """The hover's markdown as text, HTML entities (pyright's ``&nbsp;``) decoded."""
    if not hover:
        return "nothing to show"
    import html  # here: its entity table costs the other answers' start-up

    return html.unescape(hover["contents"]).replace("\u00a0", " ")


def target(answer: dict[str, Any], color: bool = False) -> list[str]:
    found = answer.get("target")
    if not found:
        return []
    extra = "" if found["method"] == "position" else (
        f"  (via {found['method']}, confidence {found['confidence']:.2f})")
    return [f"{_paint(answer['op'], 'op', color)} at {where(found)}{extra}"]


def diagnostics(files: list[dict[str, Any]], summary: dict[str, int],
                color: bool = False) -> list[str]:
    lines = []
    for entry in files:
        if entry["status"] != "ready":
            lines.append(f"{entry['path']}: {_paint('not ready', 'not ready', color)}: the "
                         "server did not answer in time (raise --timeout, or start the "
                         "daemon: lanser daemon start)")
        for diag in entry["diagnostics"]:
            code = f" {diag['code']}" if diag["code"] else ""
            lines.append(f"{where(diag)}: {_paint(diag['severity'], diag['severity'], color)}"
                         f"{code}: {one_line(diag['message'])}")
    lines.append(", ".join(f"{n} {k}" for k, n in summary.items() if n) or "no diagnostics")
    return lines


def symbols(items: list[dict[str, Any]]) -> list[str]:
    return [f"{where(item)}: {item['kind']} {item['qualname']}" for item in items]


def calls(items: list[dict[str, Any]]) -> list[str]:
    lines = []
    for item in items:
        sites = ", ".join(f"{s['line']}:{s['col']}" for s in item["call_sites"])
        lines.append(f"{where(item)}: {item['name']} (call sites {sites})")
    return lines or ["no calls"]


def locations(items: list[dict[str, Any]]) -> list[str]:
    return [where(item) for item in items] or ["no locations"]


def answer(answer: dict[str, Any], color: bool = False) -> list[str]:
    """Every line of a query answer, in the order the full CLI prints them; ``color``
    at a terminal (:func:`wants_color`)."""
    lines = target(answer, color)
    if "locations" in answer:
        lines += locations(answer["locations"])
    elif "hover" in answer:
        lines.append(hover(answer["hover"]))
    elif "symbols" in answer:
        lines += symbols(answer["symbols"])
    elif "calls" in answer:
        lines += calls(answer["calls"])
    elif "files" in answer:
        lines += diagnostics(answer["files"], answer.get("summary", {}), color)
    return lines


def error(payload: dict[str, Any]) -> list[str]:
    """An ``{"error": ...}`` as the full CLI prints it on stderr, candidates included."""
    err = payload["error"]
    lines = [f"error ({err['code']}): {err['message']}"]
    for row in (err.get("details") or {}).get("candidates") or ():
        reasons = f"; {'; '.join(row['reasons'])}" if row.get("reasons") else ""
        lines.append(f"  candidate {where(row)} confidence {row['confidence']} "
                     f"({row['method']}{reasons})")
    return lines
