"""Files lanser ships beside its code.

``lanser/data/`` holds links to the top-level spec folders (``bundles/schema``,
``rewards``, ``examples/demo``, which stay the one copy), and the wheel build copies
what they point to: a source checkout and an installed wheel read the same paths.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
#: The JSON Schemas of bundles and episode files.
SCHEMAS = DATA / "schema"
#: The shipped reward profiles (``*.toml``).
PROFILES = DATA / "profiles"
#: The demo example workspace.
DEMO = DATA / "demo"
