"""Benchmark: the safety envelope's overhead for a 20-file rename on a 200-file workspace.

Generates a git repository of 200 Python modules in which ``shared_helper`` (defined
in ``pkg/core.py``) is used by 19 others, starts basedpyright once, then renames the
symbol back and forth. Each round times, separately:

* ``rename``: the server's prepareRename + rename (not envelope overhead);
* ``preview``: planning through the jail, hashes, diff and summary;
* ``apply``: lock, recovery check, dirty and stale checks, journal with backups and
  fsyncs, temp files + os.replace, the commits on refs/lanser/applies;
* ``verify``: the same apply with fresh diagnostics before and after, of the whole
  workspace (the default ``[edits] verify_scope``: importers the edit broke count).

Run: ``.venv/bin/python bench/edits_apply.py [--rounds 10] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FILES = 200
USERS = 19  # modules using the symbol; with its definition, 20 files change


def generate(root: Path) -> None:
    pkg = root / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "core.py").write_text(
        "def shared_helper(value: int) -> int:\n    \"\"\"Double it.\"\"\"\n"
        "    return value * 2\n")
    for i in range(FILES - 2):
        lines = [f'"""Module {i}."""', ""]
        if i < USERS:
            lines += ["from pkg.core import shared_helper", ""]
        lines += [f"def compute_{i}(x: int) -> int:",
                  f"    total = x + {i}",
                  "    for step in range(3):",
                  "        total += step",
                  ("    return shared_helper(total)" if i < USERS else "    return total"),
                  "", "",
                  f"class Thing{i}:",
                  "    def __init__(self) -> None:",
                  f"        self.value = compute_{i}({i})",
                  ""]
        (pkg / f"mod_{i:03d}.py").write_text("\n".join(lines))
    env = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "b@x", "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
        subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false",
                        *args], cwd=root, env=env, check=True)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def measure(root: Path, rounds: int) -> dict:
    from lanser.edits import Envelope
    from lanser.edits.verify import apply_verified
    from lanser.lsp.registry import get_server
    from lanser.lsp.service import LanguageService
    from lanser.positions import Position
    from lanser.workspace import Workspace

    ws = Workspace.open(root)
    spec = get_server("basedpyright")
    started = time.perf_counter()
    service = LanguageService(ws, spec, timeout=120, track_disk=True)
    await service.start()
    await service.diagnostics([root / "pkg" / "core.py"])  # warm up the analysis
    startup = time.perf_counter() - started
    times: dict[str, list[float]] = {"rename": [], "preview": [], "apply": [], "verify": []}
    files = edits = 0
    try:
        for index in range(rounds * 2):
            new = f"shared_helper_{index}"
            verify = index % 2 == 1
            t0 = time.perf_counter()
            changes = await service.rename(root / "pkg" / "core.py", Position(1, 5), new)
            t1 = time.perf_counter()
            envelope = Envelope(ws)
            preview = envelope.preview(changes, origin=f"bench {new}")
            t2 = time.perf_counter()
            if verify:
                result = await apply_verified(envelope, preview, service)
            else:
                result = envelope.apply(preview)
            t3 = time.perf_counter()
            if result.status != "applied":
                raise SystemExit(f"round {index}: {result.to_json()}")
            files, edits = len(preview.effects), preview.edit_count
            times["rename"].append(t1 - t0)
            times["preview"].append(t2 - t1)
            times["verify" if verify else "apply"].append(t3 - t2)
    finally:
        await service.close()
    median = {k: _ms(statistics.median(v)) for k, v in times.items()}
    return {
        "workspace_files": FILES, "files_changed": files, "edits": edits, "rounds": rounds,
        "server_start_and_warmup_ms": _ms(startup),
        "median_ms": median,
        "min_ms": {k: _ms(min(v)) for k, v in times.items()},
        "overhead_ms": {
            "preview+apply": round(median["preview"] + median["apply"], 1),
            "preview+apply+verify": round(median["preview"] + median["verify"], 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from lanser.lsp.logs import silence_pygls

    silence_pygls()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve() / "ws"
        generate(root)
        report = asyncio.run(measure(root, args.rounds))
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return
    print(f"{report['files_changed']}-file rename ({report['edits']} edits) on a "
          f"{FILES}-file workspace, {args.rounds} rounds each, medians:")
    for key, value in report["median_ms"].items():
        print(f"  {key:8} {value:8.1f} ms   (min {report['min_ms'][key]:.1f})")
    print(f"  envelope overhead preview+apply        {report['overhead_ms']['preview+apply']} ms")
    print(f"  envelope overhead preview+apply+verify "
          f"{report['overhead_ms']['preview+apply+verify']} ms")
    print(f"  (server start + warm-up, once: {report['server_start_and_warmup_ms']} ms)")


if __name__ == "__main__":
    main()
