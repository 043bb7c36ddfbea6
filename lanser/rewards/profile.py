"""Reward profiles: the weights of the functional, loaded from TOML, hashed.

A profile is data (``rewards/<name>.toml``); its identity is the sha256 of its
canonical JSON (RFC 8785) with every weight written as an exact fraction string, so
an episode can record which weights scored it and replay can refuse a mismatch.
Weights are read as integers or decimal strings, never floats: ``"0.1"`` must mean
exactly 1/10 so online and offline scoring agree to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from lanser.canonical import content_hash
from lanser.configfiles import tomllib  # tomli on Python 3.10
from lanser.errors import ConfigError
from lanser.resources import PROFILES
from lanser.severities import NAMES as SEVERITIES  # worst first, as bundles name them

SCOPES = ("workspace", "touched", "targets")
STATUSES = ("ok", "refused", "rolled_back", "invalid")
#: The functional's revision (rewards/SPEC.md §7), hashed with the weights: when what
#: the weights mean changes (2: a deleted file's diagnostics are held at the base's),
#: every profile gets a new hash, so replay refuses an episode scored under the old
#: meaning rather than report other numbers as the same episode's. 3: the regression
#: term of Phi_test, the base run's tests as the graded set, and Phi_int (issue 16).
FUNCTIONAL = "3"
#: What ``[integrity]`` may price (lanser.findings.KINDS).
INTEGRITY_KINDS = ("protected_edit", "suppression_added", "outcome_missing", "early_exit",
                   "xfail_added", "skip_added", "forged_events", "always_equal")


def fraction(value: Any, what: str) -> Fraction:
    """An exact non-negative weight from a TOML int or decimal/fraction string."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"{what} must be an integer or a decimal string, not {value!r}")
    try:
        out = Fraction(value)
    except (ValueError, ZeroDivisionError) as exc:
        raise ConfigError(f"{what}: {value!r} is not a number") from exc
    if out < 0:
        raise ConfigError(f"{what} must not be negative (monotonicity needs it)")
    return out


def fraction_text(value: Fraction) -> str:
    """``"3"`` or ``"1/10"``: exact, float-free, stable for hashing."""
    return str(value)


@dataclass(frozen=True)
class Profile:
    """Weights of each component, severity weights, scope and penalties."""

    name: str
    scope: str
    weights: dict[str, Fraction]  # diagnostics, tests, outcome, confidence
    severity: dict[str, Fraction]
    fail_to_pass: Fraction  # weight of the F2P mean inside Phi_test
    pass_to_pass: Fraction
    penalties: dict[str, Fraction]  # refused:<reason>, refused, rolled_back, invalid
    #: rho of Phi_test's regression term (SPEC §3); >= 1 keeps "breaking what passed
    #: never pays" (a missing key means 1)
    regression: Fraction = Fraction(1)
    #: price per instance of each integrity finding kind (SPEC §12); missing: 0
    integrity: dict[str, Fraction] = field(default_factory=dict)

    def content(self) -> dict[str, Any]:
        """The hashed content: everything that changes a number, not the name."""
        def table(d: dict[str, Fraction]) -> dict[str, str]:
            return {k: fraction_text(v) for k, v in sorted(d.items())}
        return {
            "functional": FUNCTIONAL,
            "scope": self.scope,
            "weights": table(self.weights),
            "severity": table(self.severity),
            "tests": {"fail_to_pass": fraction_text(self.fail_to_pass),
                      "pass_to_pass": fraction_text(self.pass_to_pass),
                      "regression": fraction_text(self.regression)},
            "penalties": table(self.penalties),
            "integrity": table(self.integrity),
        }

    @property
    def hash(self) -> str:
        return content_hash(self.content())

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "hash": self.hash, **self.content()}

    def penalty(self, status: str, reason: str | None) -> Fraction:
        """The penalty of an action's status; a refusal may be priced per reason."""
        if status == "ok":
            return Fraction(0)
        if status == "refused" and reason and f"refused:{reason}" in self.penalties:
            return self.penalties[f"refused:{reason}"]
        return self.penalties.get(status, Fraction(0))

    @classmethod
    def from_mapping(cls, name: str, raw: dict[str, Any]) -> Profile:
        scope = raw.get("scope", "workspace")
        if scope not in SCOPES:
            raise ConfigError(f"profile {name}: scope must be one of {SCOPES}")
        weights = {k: fraction(raw.get("weights", {}).get(k, 0), f"weights.{k}")
                   for k in ("diagnostics", "tests", "outcome", "confidence")}
        sev_raw = raw.get("severity", {})
        severity = {k: fraction(sev_raw.get(k, 0), f"severity.{k}") for k in SEVERITIES}
        tests = raw.get("tests", {})
        penalties: dict[str, Fraction] = {}
        for key, value in raw.get("penalties", {}).items():
            if isinstance(value, dict):  # [penalties.refused_by] reason = weight
                for reason, w in value.items():
                    penalties[f"refused:{reason}"] = fraction(w, f"penalties.{key}.{reason}")
            else:
                penalties[key] = fraction(value, f"penalties.{key}")
        unknown = {k.split(":")[0] for k in penalties} - set(STATUSES)
        if unknown:
            raise ConfigError(f"profile {name}: unknown penalties {sorted(unknown)}")
        integrity_raw = raw.get("integrity", {})
        unknown_kinds = set(integrity_raw) - set(INTEGRITY_KINDS)
        if unknown_kinds:
            raise ConfigError(f"profile {name}: unknown integrity kinds {sorted(unknown_kinds)}")
        return cls(
            name=name, scope=scope, weights=weights, severity=severity,
            fail_to_pass=fraction(tests.get("fail_to_pass", 1), "tests.fail_to_pass"),
            pass_to_pass=fraction(tests.get("pass_to_pass", 1), "tests.pass_to_pass"),
            penalties=penalties,
            regression=fraction(tests.get("regression", 1), "tests.regression"),
            integrity={k: fraction(v, f"integrity.{k}") for k, v in sorted(integrity_raw.items())},
        )


def load_profile(name_or_path: str | Path = "default") -> Profile:
    """Load a profile by shipped name (``default``) or by a path to a TOML file."""
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith(".toml") or path.is_file()):
        path = PROFILES / f"{text}.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"no reward profile {text!r} (looked at {path.name})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"reward profile {text!r} is not valid TOML: {exc}") from exc
    return Profile.from_mapping(str(raw.get("name", path.stem)), raw)


def configured_profile(raw_config: dict[str, Any], root: Path | None = None) -> str | None:
    """``[rewards] profile`` as a name or a path; a relative path is read from ``root``.

    Takes the already-parsed ``[rewards]`` table (``Config.section("rewards")``) so
    this package does no config I/O of its own. A path in lanser.toml means a file
    of the workspace whatever the cwd, so commands and replay find the same file.
    """
    value = raw_config.get("profile")
    if not isinstance(value, str):
        return None
    if root is not None and not Path(value).is_absolute():
        local = root / value
        if value.endswith(".toml") or local.is_file():
            return str(local)
    return value


def profile_for_workspace(raw_config: dict[str, Any], override: str | None = None,
                          root: Path | None = None) -> Profile:
    """The profile a command uses: ``--profile`` first (a name, or a path from the
    cwd), else ``[rewards] profile`` (see :func:`configured_profile`), else default."""
    return load_profile(override or configured_profile(raw_config, root) or "default")
