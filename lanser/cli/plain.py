"""Plain lines for a query answer: what people read in a pipe or a CI log.

Standard library only: the daemon's fast path (:mod:`lanser.cli.fast`) prints these
without importing rich or typer (issue 15, defect 12), and the full CLI prints the
very same lines when stdout is not a terminal (:mod:`lanser.cli.render`). A
diagnostic is ``path:line:col: severity code: message``, the convention editors and
CI parse; nothing is cut, whatever the width.
"""

from __future__ import annotations

from typing import Any


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


def target(answer: dict[str, Any]) -> list[str]:
    found = answer.get("target")
    if not found:
        return []
    extra = "" if found["method"] == "position" else (
        f"  (via {found['method']}, confidence {found['confidence']:.2f})")
    return [f"{answer['op']} at {where(found)}{extra}"]


def diagnostics(files: list[dict[str, Any]], summary: dict[str, int]) -> list[str]:
    lines = []
    for entry in files:
        if entry["status"] != "ready":
            lines.append(f"{entry['path']}: not ready: the server did not answer in time "
                         "(raise --timeout, or start the daemon: lanser daemon start)")
        for diag in entry["diagnostics"]:
            code = f" {diag['code']}" if diag["code"] else ""
            lines.append(f"{where(diag)}: {diag['severity']}{code}: "
                         f"{one_line(diag['message'])}")
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


def answer(answer: dict[str, Any]) -> list[str]:
    """Every line of a query answer, in the order the full CLI prints them."""
    lines = target(answer)
    if "locations" in answer:
        lines += locations(answer["locations"])
    elif "hover" in answer:
        lines.append(hover(answer["hover"]))
    elif "symbols" in answer:
        lines += symbols(answer["symbols"])
    elif "calls" in answer:
        lines += calls(answer["calls"])
    elif "files" in answer:
        lines += diagnostics(answer["files"], answer.get("summary", {}))
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
