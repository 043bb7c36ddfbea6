"""The fast path: a query answered by a running daemon without importing the CLI stack.

An agent calls lanser thousands of times; importing typer, rich and pygls costs
more than a warm server takes to answer. When the command line is a plain query
with ``--json`` (or human output: plain lines, :mod:`lanser.cli.plain`) and a
daemon serves the workspace, this module parses it (a small, strict subset of the
real options), sends it to the daemon, and prints the very bytes the full CLI would.
Anything else — an unknown option, ``--help``, no daemon, a crashed apply to recover —
returns ``None`` and the full CLI takes over. Once the daemon has been asked, its
answer (or its error, a timeout included) is final: the full CLI never asks again, so
``--timeout`` is waited once.
"""

from __future__ import annotations

import os
from typing import Any

from lanser.queries.ops import BY_NAME, COMMANDS, OPS, query_message

_VALUE_OPTIONS = {"--root", "--server", "--timeout", "--fail-on"}
#: Each command's own flags (from the op table): flag -> (command, field, value).
_OP_FLAGS = {flag: (op.name, field, value) for op in OPS if op.command
             for flag, field, value in op.flags}
#: What the full CLI accepts only on one command (elsewhere it is a usage error).
_ONLY_ON = {"--fail-on": "diagnostics", **{f: c for f, (c, _, _) in _OP_FLAGS.items()}}
_FLAGS = {"--json", *_OP_FLAGS}


def _parse(argv: list[str]) -> tuple[str, dict[str, Any], dict[str, str]] | None:
    command, rest = argv[0], argv[1:]
    options: dict[str, str] = {}
    flags: set[str] = set()
    positional: list[str] = []
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg in _VALUE_OPTIONS and i + 1 < len(rest):
            options[arg] = rest[i + 1]
            i += 2
            continue
        if arg in _FLAGS:
            flags.add(arg)
        elif arg.startswith("-"):
            return None  # --no-daemon, --help, or anything we do not know
        else:
            positional.append(arg)
        i += 1
    if "--json" not in flags:
        options["--human"] = ""  # plain lines (lanser.cli.plain), as the full CLI prints
    if any(_ONLY_ON[o] != command for o in [*options, *flags] if o in _ONLY_ON):
        return None  # the full CLI explains the mistake
    if command not in COMMANDS:
        return None
    op = BY_NAME[command]
    args: dict[str, Any]
    if op.where == "position":
        if len(positional) != 1:
            return None
        args = {"loc": positional[0], **dict(op.options)}
        set_by = [_OP_FLAGS[flag] for flag in flags if flag in _OP_FLAGS]
        if len({field for _, field, _ in set_by}) < len(set_by):
            return None  # --incoming --outgoing: the full CLI decides
        args.update({field: value for _, field, value in set_by})
    elif op.where == "file" and len(positional) == 1:
        args = {"path": positional[0]}
    elif op.where == "query" and len(positional) == 1:
        args = {"query": positional[0]}
    elif op.where == "files":
        if "--fail-on" in options:
            from lanser.errors import UsageError
            from lanser.severities import check_fail_on

            try:
                check_fail_on(options["--fail-on"])
            except UsageError:
                return None  # the full CLI explains the mistake
        args = {"paths": positional}
    else:
        return None
    return command, args, options


def try_fast(argv: list[str]) -> int | None:
    """Answer ``argv`` through the daemon; ``None`` when the full CLI must run."""
    if not argv or os.environ.get("LANSER_NO_FAST_PATH"):
        return None
    parsed = _parse(argv)
    if parsed is None:
        return None
    command, args, options = parsed
    from lanser.lsp import daemon_client
    from lanser.roots import DEFAULT_TIMEOUT, find_root, may_have_config

    try:
        root = find_root(options.get("--root"))
        if not daemon_client.socket_path(root).exists():
            return None
        from lanser.edits import in_flight

        if in_flight(root):
            return None  # a crashed apply: the full CLI restores the tree first
        if "--timeout" in options:
            timeout = float(options["--timeout"])
        elif may_have_config(root):  # only then pay for reading it
            from lanser.config import load_config

            timeout = load_config(root).timeout
        else:
            timeout = DEFAULT_TIMEOUT
    except Exception:
        return None  # the full CLI explains the mistake
    if not timeout > 0:
        return None
    message = query_message(options.get("--server"), [{"op": command, **args}],
                            timeout=timeout, cwd=os.getcwd())
    human = "--human" in options
    try:
        reply = daemon_client.request(root, message, timeout=daemon_client.reply_wait(timeout))
    except Exception as exc:  # lanser.errors only now: the answered path never imports it
        from lanser.errors import LanserError

        if not isinstance(exc, LanserError):
            return None  # no daemon after all (a stale socket): the full CLI runs
        _emit_error(exc.to_json(), human)  # it did not answer in time: asking again
        return int(exc.exit_code)  # would not help
    if not reply.get("ok"):
        if reply.get("error", {}).get("code") == "internal":
            return None  # let the full CLI report (and log) it
        _emit_error({"error": reply["error"]}, human)
        return int(reply.get("exit_code", 3))
    answer = reply["answers"][0]
    if human:  # no rich, no typer: the warm human path costs what --json does
        import sys

        from lanser.cli.plain import answer as plain_answer
        from lanser.cli.plain import wants_color

        lines = plain_answer(answer, color=wants_color())
        sys.stdout.write("".join(line + "\n" for line in lines))
    else:
        from lanser.cli.output import emit_json

        emit_json(answer)
    if command == "diagnostics":
        from lanser.severities import diagnostics_exit_code

        return diagnostics_exit_code(answer["summary"], options.get("--fail-on", "never"))
    return 0


def _emit_error(payload: dict[str, Any], human: bool) -> None:
    if human:
        import sys

        from lanser.cli.plain import error

        sys.stderr.write("".join(line + "\n" for line in error(payload)))
    else:
        from lanser.cli.output import emit_json

        emit_json(payload)
