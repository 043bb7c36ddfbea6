"""What a wheel carries: the data files lanser reads at run time (schemas, reward
profiles, the demo) are reached through ``lanser/data`` links and listed as package
data, so an installed lanser finds what a checkout finds."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from lanser.config import tomllib
from lanser.resources import DATA, DEMO, PROFILES, SCHEMAS

REPO = Path(__file__).resolve().parent.parent


def test_data_links_point_at_the_top_level_spec_folders() -> None:
    assert SCHEMAS.resolve() == REPO / "bundles" / "schema"
    assert PROFILES.resolve() == REPO / "rewards"
    assert DEMO.resolve() == REPO / "examples" / "demo"
    for link in (SCHEMAS, PROFILES, DEMO):
        assert link.is_symlink() and not os.path.isabs(os.readlink(link))  # relocatable


def test_package_data_lists_every_file_lanser_reads() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["lanser"]
    shipped = {name for pattern in patterns
               for name in glob.glob(pattern, root_dir=DATA.parent, recursive=True)}
    needed = {f"data/schema/{p.name}" for p in SCHEMAS.glob("*.json")}
    needed |= {f"data/profiles/{p.name}" for p in PROFILES.glob("*.toml")}
    needed |= {f"data/demo/{p.relative_to(DEMO).as_posix()}" for p in DEMO.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts
               and not any(part.startswith(".") for part in p.relative_to(DEMO).parts)}
    assert needed and needed <= shipped, sorted(needed - shipped)
