"""When the gate fails: ``--fail-on`` conditions (or ``[ci] fail_on`` in the config).

Conditions, comma-separated:

``new-errors``        a diagnostic of severity error the base did not have
``new-warnings``      the same for warnings
``new-diagnostics``   any new diagnostic, whatever its severity
``new-failures``      a test that fails at head and did not fail at base
``new-suppressions``  an added ``# type: ignore`` / ``# pyright:`` comment or a changed
                      ``pyrightconfig.json`` (:mod:`lanser.gate.suppressions`)
``lost-tests``        a test that passed at base and is gone, skipped or xfailed at head
``reward<X``          the change's reward below X (a decimal, may be negative)

An empty string fails on nothing (the gate only reports). The default is
``new-errors,new-failures,new-suppressions,lost-tests``: the last two are the
cheapest ways to pass the first two without doing the work (silence the error,
delete or skip the failing test), so they fail the gate unless a project says
otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from lanser.errors import UsageError

DEFAULT = "new-errors,new-failures,new-suppressions,lost-tests"
NAMED = ("new-errors", "new-warnings", "new-diagnostics", "new-failures", "new-suppressions",
         "lost-tests")


@dataclass(frozen=True)
class FailOn:
    """Parsed conditions; ``reward_below`` is the threshold of ``reward<X``."""

    names: tuple[str, ...] = ("lost-tests", "new-errors", "new-failures", "new-suppressions")
    reward_below: Fraction | None = None

    @classmethod
    def parse(cls, text: str | Iterable[str] | None) -> FailOn:
        """From ``--fail-on`` text or the config's string or list; exit 2 on a typo."""
        if text is None:
            text = DEFAULT
        parts = text.split(",") if isinstance(text, str) else list(text)
        names: list[str] = []
        below: Fraction | None = None
        for raw in parts:
            if not isinstance(raw, str):
                raise UsageError(f"--fail-on: {raw!r} is not a condition", code="bad_fail_on")
            part = raw.strip()
            if not part:
                continue
            if part.startswith("reward<"):
                number = part.removeprefix("reward<").strip()
                try:
                    value = Decimal(number) if len(number) <= 40 else None
                except InvalidOperation:
                    value = None
                # Bounded: Fraction(Decimal("1e999999999")) would build a huge integer.
                if value is None or not value.is_finite() or abs(value.adjusted()) > 30:
                    raise UsageError(f"--fail-on {part}: {number!r} is not a decimal number",
                                     code="bad_fail_on")
                below = Fraction(value)
            elif part in NAMED:
                if part not in names:
                    names.append(part)
            else:
                raise UsageError(f"--fail-on: unknown condition {part!r} (known: "
                                 f"{', '.join(NAMED)}, reward<X)", code="bad_fail_on")
        return cls(tuple(sorted(names)), below)

    def to_json(self) -> list[str]:
        out = list(self.names)
        if self.reward_below is not None:
            out.append(f"reward<{_decimal(self.reward_below)}")
        return out


@dataclass(frozen=True)
class Breach:
    """One condition the change broke, and what broke it."""

    condition: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"condition": self.condition, "detail": self.detail}


def judge(fail_on: FailOn, *, new_by_severity: dict[str, int], new_failures: int,
          reward: Fraction | None, suppressions: int = 0, lost_tests: int = 0
          ) -> tuple[Breach, ...]:
    """The conditions broken, in the order of :meth:`FailOn.to_json`."""
    out = []
    counts = {"new-errors": new_by_severity.get("error", 0),
              "new-warnings": new_by_severity.get("warning", 0),
              "new-diagnostics": sum(new_by_severity.values()),
              "new-failures": new_failures, "new-suppressions": suppressions,
              "lost-tests": lost_tests}
    words = {"new-errors": "new error(s)", "new-warnings": "new warning(s)",
             "new-diagnostics": "new diagnostic(s)", "new-failures": "test(s) newly failing",
             "new-suppressions": "suppression(s) added",
             "lost-tests": "test(s) passing at base gone, skipped or xfailed at head"}
    for name in fail_on.names:
        if counts[name]:
            out.append(Breach(name, f"{counts[name]} {words[name]}"))
    if fail_on.reward_below is not None and reward is not None and \
            reward < fail_on.reward_below:
        out.append(Breach(f"reward<{_decimal(fail_on.reward_below)}",
                          f"reward {_decimal(reward)} is below {_decimal(fail_on.reward_below)}"))
    return tuple(out)


def _decimal(value: Fraction) -> str:
    """A short decimal for people (9 places at most, trailing zeros trimmed)."""
    text = f"{float(value):.9f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


__all__ = ["DEFAULT", "NAMED", "Breach", "FailOn", "judge"]
