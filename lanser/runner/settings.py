"""The test runner's settings, one way for every command: the command line's value,
else the workspace's ``[runner]`` table, else the default.

``lanser test``, ``lanser reward``, ``lanser episode`` and ``lanser ci`` all run tests,
so all honour ``[runner] timeout`` (seconds one test may run), ``run_timeout`` (the
whole run), ``memory_mb`` and ``python``; the interpreter comes only from the command
line, an approved workspace configuration or the user's own (SECURITY.md), through
:meth:`lanser.config.Config.program`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lanser.config import Config
from lanser.errors import ConfigError

#: Seconds one test may run, seconds a whole run may take, MiB of memory.
DEFAULT_TIMEOUT = 60.0
DEFAULT_RUN_TIMEOUT = 1800.0
DEFAULT_MEMORY_MB = 4096


@dataclass(frozen=True)
class RunnerSettings:
    timeout: float = DEFAULT_TIMEOUT
    run_timeout: float = DEFAULT_RUN_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY_MB
    #: The tests' interpreter (None: lanser's own).
    python: str | None = None

    @classmethod
    def of(cls, config: Config, *, timeout: float | None = None,
           run_timeout: float | None = None, memory_mb: int | None = None,
           python: str | None = None) -> RunnerSettings:
        """The given values, else ``[runner]``'s, else the defaults."""
        section = config.section("runner")
        try:
            return cls(
                timeout=float(timeout if timeout is not None
                              else section.get("timeout", DEFAULT_TIMEOUT)),
                run_timeout=float(run_timeout if run_timeout is not None
                                  else section.get("run_timeout", DEFAULT_RUN_TIMEOUT)),
                memory_mb=int(memory_mb if memory_mb is not None
                              else section.get("memory_mb", DEFAULT_MEMORY_MB)),
                python=python or config.program("runner", "python"))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[runner] in the lanser configuration: {exc}") from None
