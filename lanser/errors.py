"""Every error lanser raises on purpose, and the exit code each one maps to.

The tree::

    LanserError                      exit 3 unless a subclass says otherwise
    ├── UsageError                   exit 2: the caller asked for something invalid
    │   ├── BadSelector              bad_selector
    │   ├── OutsideWorkspace         outside_workspace
    │   ├── MissingFile              missing_file
    │   ├── PositionOutOfRange       out_of_range
    │   ├── UnreadableFile           unreadable_file (binary, not UTF-8, too large)
    │   ├── ConfigError              bad_config
    │   └── Unsupported              unsupported (the server lacks the feature)
    ├── CheckFailed                  exit 1: a check ran and found problems
    ├── ServerError                  exit 3: the language server failed us
    │   ├── ServerUnavailable        server_unavailable
    │   ├── ServerTimeout            timeout
    │   └── ServerCrash              server_crash
    └── NotResolved                  exit 4: no single confident target
        ├── NotFound                 not_found
        └── Ambiguous                ambiguous

Foreign errors (pygls, subprocess, git) are translated into these at the boundary
where they occur, so the CLI's one handler knows every code it can meet.
"""

from __future__ import annotations

import enum
from typing import Any


class ExitCode(enum.IntEnum):
    """Exit codes of the ``lanser`` command, documented in ``lanser --help``."""

    #: Success.
    OK = 0
    #: A check ran and found problems (verify drift, a failed gate).
    CHECK_FAILED = 1
    #: Usage or input error: bad selector, path outside the workspace, missing file.
    USAGE = 2
    #: Server or runtime failure: crash, timeout, internal error.
    RUNTIME = 3
    #: The target did not resolve to one confident location (not found, ambiguous).
    NOT_RESOLVED = 4
    #: Interrupted by Ctrl-C.
    INTERRUPTED = 130


class LanserError(Exception):
    """Root of lanser's errors; carries a stable ``code`` string and an exit code."""

    exit_code: ExitCode = ExitCode.RUNTIME
    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_json(self) -> dict[str, Any]:
        """The ``{"error": ...}`` object printed in ``--json`` mode."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class UsageError(LanserError):
    exit_code = ExitCode.USAGE
    code = "usage"


class BadSelector(UsageError):
    code = "bad_selector"


class OutsideWorkspace(UsageError):
    code = "outside_workspace"


class MissingFile(UsageError):
    code = "missing_file"


class PositionOutOfRange(UsageError):
    code = "out_of_range"


class UnreadableFile(UsageError):
    code = "unreadable_file"


class ConfigError(UsageError):
    code = "bad_config"


class Unsupported(UsageError):
    code = "unsupported"


class CheckFailed(LanserError):
    exit_code = ExitCode.CHECK_FAILED
    code = "check_failed"


class ServerError(LanserError):
    exit_code = ExitCode.RUNTIME
    code = "server_error"


class ServerUnavailable(ServerError):
    code = "server_unavailable"


class ServerTimeout(ServerError):
    code = "timeout"


class ServerCrash(ServerError):
    code = "server_crash"


class NotResolved(LanserError):
    exit_code = ExitCode.NOT_RESOLVED
    code = "not_resolved"


class NotFound(NotResolved):
    code = "not_found"


class Ambiguous(NotResolved):
    code = "ambiguous"
