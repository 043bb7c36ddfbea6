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


_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "information": "blue",
                   "hint": "dim"}


def _where(item: dict[str, Any]) -> str:
    return f"{item['path']}:{item['line']}:{item['col']}"


def _target(answer: dict[str, Any]) -> None:
    target = answer.get("target")
    if target:
        extra = "" if target["method"] == "position" else (
            f"  (via {target['method']}, confidence {target['confidence']:.2f})")
        console.print(f"[bold]{answer['op']}[/] at {_where(target)}{extra}")


def answer(answer: dict[str, Any]) -> None:
    if plain():
        from lanser.cli import plain as lines

        for text in lines.answer(answer):
            line(text)
        return
    _target(answer)
    if "locations" in answer:
        locations(answer["locations"])
    elif "hover" in answer:
        hover_text(answer["hover"])
    elif "symbols" in answer:
        symbols(answer["symbols"])
    elif "calls" in answer:
        calls(answer["calls"])
    elif "files" in answer:
        diagnostics(answer["files"], answer.get("summary", {}))


def hover_text(hover: dict[str, Any] | None) -> None:
    """The server's markdown: rendered at a terminal, as text elsewhere; HTML entities
    (pyright's ``&nbsp;``) decoded either way."""
    from lanser.cli.plain import hover as hover_plain

    if not hover:
        console.print("[dim]nothing to show[/]")
    elif plain():
        line(hover_plain(hover))
    else:
        from rich.markdown import Markdown

        console.print(Markdown(hover_plain(hover)))


def locations(items: list[dict[str, Any]]) -> None:
    if not items:
        console.print("[dim]no locations[/]")
    for item in items:
        console.print(_where(item), markup=False)


def symbols(items: list[dict[str, Any]]) -> None:
    table = Table("location", "kind", "qualified name", box=None)
    for item in items:
        table.add_row(escape(_where(item)), item["kind"], escape(item["qualname"]))
    console.print(table)


def calls(items: list[dict[str, Any]]) -> None:
    table = Table("location", "name", "call sites", box=None)
    for item in items:
        sites = ", ".join(f"{s['line']}:{s['col']}" for s in item["call_sites"])
        table.add_row(escape(_where(item)), escape(item["name"]), sites)
    console.print(table if items else "[dim]no calls[/]")


def diagnostics(files: list[dict[str, Any]], summary: dict[str, int]) -> None:
    table = Table("location", "severity", "code", "message", box=None)
    for entry in files:
        if entry["status"] != "ready":
            table.add_row(escape(entry["path"]), "[bold red]not ready[/]", "",
                          "the server did not answer in time")
        for diag in entry["diagnostics"]:
            style = _SEVERITY_STYLE.get(diag["severity"], "")
            table.add_row(escape(_where(diag)), f"[{style}]{diag['severity']}[/]",
                          diag["code"] or "", escape(diag["message"]))
    console.print(table)
    console.print(", ".join(f"{n} {k}" for k, n in summary.items() if n) or "no diagnostics")
    if summary.get("not_ready"):
        console.print("[yellow]some files were not ready[/]: raise --timeout, or start the "
                      "daemon (lanser daemon start) to keep the server warm")


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
