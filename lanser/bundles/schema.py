"""Validation against the versioned JSON Schemas in ``bundles/schema/``.

Every bundle lanser makes is validated before it is written, and every bundle and
episode line it reads before it is used, so validation is on the hot path of an
episode step (a 200-file diagnostics bundle) and of replay (thousands of lines).
``jsonschema-rs`` compiles a schema once and checks such a bundle in 0.25 ms, where
the pure-Python ``jsonschema`` took 19 ms (``bench/episode_latency.py``).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from lanser.errors import UsageError
from lanser.resources import SCHEMAS

SCHEMA_FILE = SCHEMAS / "bundle-1.schema.json"


class MalformedBundle(UsageError):
    """Not a bundle, or its hash does not match its content (exit 2)."""

    code = "malformed_bundle"


def compile_schema(schema: dict[str, Any]) -> Any:
    """A validator for ``schema`` (its draft from ``$schema``)."""
    import jsonschema_rs

    return jsonschema_rs.validator_for(schema)


def first_error(validator: Any, instance: Any) -> tuple[str, str] | None:
    """Where (a ``/``-path, ``(top)`` for the root) and why ``instance`` fails, for
    the first error in document order; ``None`` when it is valid."""
    if validator.is_valid(instance):
        return None
    errors = sorted(validator.iter_errors(instance),
                    key=lambda e: [str(p) for p in e.instance_path])
    first = errors[0]
    return "/".join(str(p) for p in first.instance_path) or "(top)", first.message


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    return compile_schema(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def validate(bundle: Any) -> None:
    error = first_error(_validator(), bundle)
    if error is not None:
        where, message = error
        raise MalformedBundle(f"not a valid bundle at {where}: {message}")
