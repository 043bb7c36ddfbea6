"""Human output with rich: one renderer per answer shape, no logic beyond layout."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(highlight=False, soft_wrap=True)


def plain() -> bool:
    """Plain, untruncated lines when stdout is not a terminal (a pipe, a CI log):
    ``path:line:col: severity code: message``, the convention editors and CI parse.
    Tables are for people at a terminal (issue 15, defect 11)."""
    return not console.is_terminal


_stderr = Console(stderr=True, highlight=False)


def busy(what: str):
    """A spinner on stderr while long work runs; nothing when stderr is not a terminal
    (issue 15, defect 11: whole-workspace diagnostics, verified applies, cold queries)."""
    return _stderr.status(what)


def progress(text: str) -> None:
    """One line of progress on stderr, at a terminal only."""
    if _stderr.is_terminal:
        _stderr.print(text, markup=False)


def line(text: str) -> None:
    """One plain line, exactly as given: no markup, no wrapping, no cut."""
    print(text)


def answer(answer: dict[str, Any]) -> None:
    """A query answer as plain lines (:mod:`lanser.cli.plain`), coloured at a terminal:
    the very bytes the daemon's fast path prints, so output does not change with
    whether a daemon is running (issue 15, defects 11 and 12)."""
    from lanser.cli import plain as lines

    for text in lines.answer(answer, color=lines.wants_color()):
        line(text)


def servers(rows: list[dict[str, Any]]) -> None:
    if plain():
        for row in rows:
            available = "yes" if row["available"] else f"no: {row['reason']}"
            line(f"{row['name']}{' (default)' if row['default'] else ''}: pinned "
                 f"{row['pinned'] or '-'}, installed {row['installed'] or '-'}, available "
                 f"{available}, command {' '.join(row['command'])}")
        return
    table = Table("server", "pinned", "installed", "available", "command")
    for row in rows:
        name = row["name"] + (" (default)" if row["default"] else "")
        available = "yes" if row["available"] else f"no: {row['reason']}"
        table.add_row(name, row["pinned"] or "-", row["installed"] or "-", available,
                      " ".join(row["command"]))
    console.print(table)


def _signed(value: dict[str, Any]) -> str:
    """A reward value for people: its decimal, trimmed; green up, red down."""
    number = value["decimal"].rstrip("0").rstrip(".") or "0"
    style = "green" if value["float"] > 0 else "red" if value["float"] < 0 else "dim"
    return f"[{style}]{number}[/]"


_COMPONENTS = ("diagnostics", "tests", "outcome", "confidence", "safety")


def _decimal(exact: str) -> str:
    """An exact fraction (``"-3/10"``) as the decimals the step table shows."""
    from fractions import Fraction

    value = Fraction(exact)
    return (f"{float(value):.6f}".rstrip("0").rstrip(".") or "0") if value else "0"


def step_rewards(observations: list[dict[str, Any]], title: str = "") -> None:
    """One row per episode step: what happened, each reward component, the total."""
    if plain():  # whole labels, one step a line, whatever the width
        if title:
            line(title)
        for obs in observations:
            reward = obs["reward"]
            status = obs["status"] + (f": {obs['reason']}" if obs.get("reason") else "")
            parts = ", ".join(f"{k} {_decimal(reward['components'][k]['exact'])}"
                              for k in _COMPONENTS)
            line(f"step {obs['step']}: {obs.get('label', obs.get('kind', ''))} [{status}] "
                 f"{parts}; total {_decimal(reward['total_exact'])}")
        return
    table = Table("#", "action", "status", "diag", "tests", "outcome", "conf", "safety",
                  "total", title=title or None, box=box.SIMPLE_HEAD, pad_edge=False)
    for obs in observations:
        reward = obs["reward"]
        status = obs["status"] + (f": {obs['reason']}" if obs.get("reason") else "")
        table.add_row(str(obs["step"]), obs.get("label", obs.get("kind", "")), status,
                      *(_signed(reward["components"][k]) for k in _COMPONENTS),
                      _signed({"decimal": reward["total_decimal"], "float": reward["total"]}))
    console.print(table)


def episode_footer(footer: dict[str, Any]) -> None:
    total = footer["return"]
    outcome = footer["outcome"]
    console.print(f"return {_signed({'decimal': total['total_decimal'], 'float': total['total']})}"
                  f" (exact {total['total_exact']}) over {footer['steps']} steps; "
                  f"{'resolved' if outcome['resolved'] else 'not resolved'}"
                  f"{'' if outcome['submitted'] else ', not submitted'}")


def replayed(result: dict[str, Any]) -> None:
    """Per step: the recorded and replayed totals, and (counterfactual or not) the
    recorded fields replay recomputed differently (``differed``: tampering shows)."""
    counterfactual = result["counterfactual"]
    mode = "counterfactual" if counterfactual else "replay"
    title = f"{mode} with profile {result['profile']['name']}"
    table = Table("step", "action", "status", "recorded", "replayed", "match", "differed",
                  title=title)
    if plain():
        line(title)
    for step in result["steps"]:
        differed = step.get("differed", [])
        ok = step["match"] if not counterfactual else not differed
        match = ("-" if counterfactual and ok else
                 "[green]yes[/]" if ok else "[bold red]NO[/]")
        if plain():
            line(f"step {step['index'] or ''}: {step['kind']} [{step['status']}] recorded "
                 f"{_decimal(step['recorded'])}, replayed "
                 f"{_decimal(step['reward']['total_exact'])}, match "
                 f"{'-' if counterfactual and ok else 'yes' if ok else 'NO'}"
                 + (f", differed: {', '.join(differed)}" if differed else ""))
            continue
        table.add_row(str(step["index"] or ""), step["kind"], step["status"],
                      _decimal(step["recorded"]), _decimal(step["reward"]["total_exact"]),
                      match, escape(", ".join(differed)))
    if not plain():
        console.print(table)
    total = result["return"]
    verdict = ("; every number matches the recording" if result["matches"] and not
               counterfactual else
               "" if result["matches"] else "; [bold red]differs from the recording[/]")
    console.print(f"return {_decimal(total['total_exact'])} (exact {total['total_exact']})"
                  f"{verdict}")


def reexecution(report: list[dict[str, Any]]) -> None:
    table = Table("step", "bundles", "match", "differed", title="re-execution")
    for row in report:
        table.add_row("base" if row["index"] == 0 else str(row["index"]),
                      ", ".join(sorted(row["reexecuted"])),
                      "[green]yes[/]" if row["match"] else "[bold red]NO[/]",
                      ", ".join(row["differed"]))
    console.print(table)
