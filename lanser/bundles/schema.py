"""Validation against the versioned JSON Schema in ``bundles/schema/``."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "bundles" / "schema" / "bundle-1.schema.json"


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def validate(bundle: Any) -> None:
    from lanser.bundles.bundle import MalformedBundle

    errors = sorted(_validator().iter_errors(bundle), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top)"
        raise MalformedBundle(f"not a valid bundle at {where}: {first.message}",
                              errors=len(errors))
