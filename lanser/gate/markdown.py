"""A gate report as Markdown (for ``$GITHUB_STEP_SUMMARY`` or a PR comment) and as
plain lines for a terminal. Both are built from :meth:`GateReport.to_json`, so they
say exactly what ``--json`` says."""

from __future__ import annotations

from typing import Any

#: At most this many new diagnostics / failing tests are listed (the rest counted).
LIMIT = 50


def markdown(payload: dict[str, Any]) -> str:
    """The report as GitHub-flavoured Markdown."""
    verdict = "passed" if payload["passed"] else "failed"
    icon = "✅" if payload["passed"] else "❌"
    base, head = payload["base"], payload["head"]
    lines = [f"## {icon} lanser ci: {verdict}", "",
             f"`{base['rev']}` ({base['commit'][:12]}) → `{head['rev']}` "
             f"({head['commit'][:12]}): {len(payload['changed'])} file(s) changed", ""]
    gate = payload["gate"]
    conditions = ", ".join(f"`{c}`" for c in gate["fail_on"]) or "nothing (report only)"
    lines.append(f"Fails on: {conditions}")
    lines.extend(f"- **{b['condition']}**: {b['detail']}" for b in gate["breaches"])
    lines.append("")
    diag = payload["diagnostics"]
    lines += ["### Diagnostics", "",
              "| | errors | warnings |", "|---|---:|---:|",
              f"| base | {diag['base']['error']} | {diag['base']['warning']} |",
              f"| head | {diag['head']['error']} | {diag['head']['warning']} |", "",
              f"{len(diag['new'])} new, {diag['unchanged']} unchanged, {diag['fixed']} fixed.",
              ""]
    if diag["new"]:
        lines += ["| location | severity | rule | message |", "|---|---|---|---|"]
        for d in diag["new"][:LIMIT]:
            lines.append(f"| `{d['path']}:{d['line']}:{d['col']}` | {d['severity']} | "
                         f"{_cell(d['code'] or d['source'] or '')} | {_cell(d['message'])} |")
        if len(diag["new"]) > LIMIT:
            lines.append(f"\n… and {len(diag['new']) - LIMIT} more")
        lines.append("")
    if payload.get("suppressions"):
        lines += ["**Suppressions added**", ""]
        lines += [f"- `{x['path']}:{x['line']}` {_cell(x['text'])}"
                  for x in payload["suppressions"][:LIMIT]]
        lines.append("")
    tests = payload["tests"]
    lines += ["### Tests", ""]
    if tests is None:
        lines += ["Not run (`--tests none`).", ""]
    else:
        counts = ", ".join(f"{n} {k}" for k, n in tests["counts"].items()) or "no tests"
        reused = (tests.get("selection") or {}).get("reused", 0)
        lines += [f"{counts} ({tests['mode']} selection, {reused} reused from base); "
                  f"credit {tests['credit']}", ""]
        for title, key in (("New failures", "new_failures"), ("Old failures (failing at base "
                                                               "too)", "old_failures"),
                           ("Fixed", "fixed"),
                           ("Lost (passed at base; gone, skipped or xfailed now)", "lost")):
            if tests[key]:
                lines.append(f"**{title}**")
                lines.extend(f"- `{n}`" for n in tests[key][:LIMIT])
                lines.append("")
    reward = payload["reward"]
    lines += [f"### Reward ({reward['profile']['name']} profile): "
              f"{_trim(reward['total_decimal'])}", "",
              "| component | reward | exact |", "|---|---:|---:|"]
    lines += [f"| {name} | {_trim(v['decimal'])} | {v['exact']} |"
              for name, v in reward["components"].items()]
    return "\n".join(lines).rstrip() + "\n"


def summary_lines(payload: dict[str, Any]) -> list[str]:
    """The terminal summary: a verdict, then one line per finding (rich markup)."""
    out = []
    diag = payload["diagnostics"]
    for d in diag["new"][:LIMIT]:
        style = "red" if d["severity"] == "error" else "yellow"
        out.append(f"[{style}]new {d['severity']}[/] {d['path']}:{d['line']}:{d['col']} "
                   f"{d['code'] or ''} {d['message']}".replace("  ", " "))
    tests = payload["tests"]
    if tests is not None:
        out += [f"[red]new failure[/] {n}" for n in tests["new_failures"][:LIMIT]]
        out += [f"[dim]old failure[/] {n}" for n in tests["old_failures"][:LIMIT]]
        out += [f"[red]lost test[/] {n}" for n in tests["lost"][:LIMIT]]
    out += [f"[red]suppression added[/] {x['path']}:{x['line']} {x['text']}"
            for x in payload.get("suppressions", [])[:LIMIT]]
    out.append(f"diagnostics: {len(diag['new'])} new, {diag['unchanged']} unchanged, "
               f"{diag['fixed']} fixed")
    if tests is not None:
        counts = ", ".join(f"{n} {k}" for k, n in tests["counts"].items()) or "no tests"
        out.append(f"tests ({tests['mode']}): {counts}; {len(tests['new_failures'])} new "
                   f"failure(s), {len(tests['old_failures'])} old")
    reward = payload["reward"]
    parts = ", ".join(f"{k} {_trim(v['decimal'])}" for k, v in reward["components"].items())
    out.append(f"reward {_trim(reward['total_decimal'])} ({parts})")
    for breach in payload["gate"]["breaches"]:
        out.append(f"[bold red]gate failed[/]: {breach['condition']}: {breach['detail']}")
    if payload["passed"]:
        out.append("[bold green]gate passed[/]")
    return out


def _trim(decimal: str) -> str:
    text = decimal.rstrip("0").rstrip(".") if "." in decimal else decimal
    return text if text not in ("", "-0") else "0"


def _cell(text: str) -> str:
    """A table cell: one line, pipes escaped, bounded."""
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat[:200] + ("…" if len(flat) > 200 else "")


__all__ = ["markdown", "summary_lines"]
