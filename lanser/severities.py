"""Diagnostic severities, worst first, and what they mean for a command's exit code.

Light on purpose (nothing but :mod:`lanser.errors`): the daemon's fast path decides
``lanser diagnostics --fail-on`` with it, where importing the LSP normalizer or the
query planner would cost more than the warm answer.
"""

from __future__ import annotations

from lanser.errors import ExitCode, UsageError

#: LSP's DiagnosticSeverity numbers and lanser's names for them.
SEVERITIES = {1: "error", 2: "warning", 3: "information", 4: "hint"}
#: The names, worst first.
NAMES = tuple(SEVERITIES[rank] for rank in sorted(SEVERITIES))


def check_fail_on(fail_on: str) -> None:
    if fail_on not in (*NAMES, "never"):
        raise UsageError(f"--fail-on {fail_on}: expected one of {', '.join(NAMES)}, never")


def diagnostics_exit_code(summary: dict[str, int], fail_on: str) -> int:
    """3 when a file was not ready, 1 when ``fail_on`` severity (or worse) was found."""
    if summary["not_ready"]:
        return int(ExitCode.RUNTIME)
    if fail_on == "never":
        return 0
    if any(summary[s] for s in NAMES[: NAMES.index(fail_on) + 1]):
        return int(ExitCode.CHECK_FAILED)
    return 0
