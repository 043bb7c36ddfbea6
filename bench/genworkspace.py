"""A deterministic, realistic Python workspace of N files for benchmarks.

Ten packages of modules; each module defines a dataclass-like class with methods,
a few functions, imports from an earlier module and calls into it, so references,
call hierarchies and cross-file diagnostics have real work to do. One module in
twenty carries a type error so diagnostics are not trivially empty.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MODULE = '''"""Module {pkg}.m{idx}: generated for lanser benchmarks."""

from __future__ import annotations

{imports}


class Record{idx}:
    """A record with a value and a label."""

    def __init__(self, value: int, label: str) -> None:
        self.value = value
        self.label = label

    def scaled(self, factor: int) -> int:
        return self.value * factor

    def describe(self) -> str:
        return f"{{self.label}}={{self.value}}"


def build_{idx}(count: int) -> list[Record{idx}]:
    return [Record{idx}(i, "r{idx}") for i in range(count)]


def total_{idx}(records: list[Record{idx}]) -> int:
    return sum(r.scaled(2) for r in records){call}


def broken_{idx}() -> int:
    {broken}
'''


def module_source(pkg: int, idx: int) -> str:
    if idx > 0:
        prev = idx - 1
        imports = f"from pkg{pkg}.m{prev} import Record{prev}, build_{prev}, total_{prev}"
        call = (f"\n\n\ndef chain_{idx}() -> int:\n"
                f"    base = build_{idx - 1}(3)\n"
                f"    first: Record{idx - 1} = base[0]\n"
                f"    return total_{idx - 1}(base) + first.scaled(3)")
    else:
        imports = "import os"
        call = "\n\n\ndef chain_0() -> int:\n    return len(os.sep)"
    broken = 'return "not an int"' if idx % 20 == 7 else "return 0"
    return MODULE.format(pkg=f"pkg{pkg}", idx=idx, imports=imports, call=call, broken=broken)


def generate(root: Path, files: int = 200, *, git: bool = True) -> Path:
    """Write ``files`` modules (in packages of 20) under ``root``; commit them if ``git``."""
    root.mkdir(parents=True, exist_ok=True)
    per_package = 20
    for n in range(files):
        pkg, idx = divmod(n, per_package)
        package = root / f"pkg{pkg}"
        package.mkdir(exist_ok=True)
        (package / "__init__.py").touch()
        (package / f"m{idx}.py").write_text(module_source(pkg, idx))
    if git:
        env = ["-c", "user.name=bench", "-c", "user.email=bench@lanser.invalid",
               "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "generated"]):
            subprocess.run(["git", *env, *args], cwd=root, check=True, capture_output=True)
    return root


if __name__ == "__main__":
    print(generate(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 200))
