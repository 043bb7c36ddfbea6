"""Benchmark of ``lanser.runner``: sandbox overhead and test-impact selection.

Generates a real-sized project (N modules, each with a test module of M tests doing a
little real work), makes it a git repository, then measures, best of R repeats:

- bare ``python -m pytest`` in the directory vs ``run_tests`` (sandboxed: copy,
  namespaces, plugin) on the whole suite, and on a one-test suite (fixed overhead);
- the same with ``isolation="none"`` (copy + plugin, no namespaces);
- building the coverage map once, then a step that changes one source module:
  the full run vs the selected run (checking both give the same outcomes).

Usage::

    .venv/bin/python bench/runner_bench.py [--modules 40] [--tests 25] [--repeat 3]

Measured 2026-11-24 on the 2-core dev box (shared, noisy; best of N), Python 3.11,
pytest 9.2, full isolation (net+pid+mount namespaces, pids cgroup):

    suite (tests)   bare    sandboxed   per-run overhead   map build   step full   selected
    1000  (r=5)     2.56 s  2.99 s      0.135 s            6.98 s      3.37 s      1.21 s (2.8x)
    3000  (r=3)     7.14 s  9.18 s      0.126 s            20.4 s      8.72 s      1.10 s (7.9x)

Per-run overhead = one-test suite sandboxed minus bare; the copy itself took 12-80 ms.
The selected step changes ``proj/mod3.py``, which only ``tests/test_mod3.py`` imports:
it re-runs that module's tests (``selected_ran`` = ``--tests``, 25 here, of the 1000 or
3000), reuses the others' base outcomes, and matched the full run's outcomes exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lanser.runner import run_tests
from lanser.runner.run import map_impact


def generate(root: Path, modules: int, tests: int) -> None:
    (root / "proj").mkdir(parents=True)
    (root / "proj" / "__init__.py").write_text("")
    (root / "tests").mkdir()
    for m in range(modules):
        (root / "proj" / f"mod{m}.py").write_text(
            f"SCALE = {m + 1}\n\n"
            "def work(n):\n"
            "    total = 0\n"
            "    for i in range(n):\n"
            "        total += (i * SCALE) % 7\n"
            "    return total\n\n"
            "def words(text):\n"
            "    return sorted(set(text.split()))\n")
        body = [f"from proj import mod{m}\n", "import pytest\n"]
        for t in range(tests):
            body.append(
                f"\n@pytest.mark.parametrize('n', [{200 + t}])\n"
                f"def test_work_{t}(n):\n"
                f"    assert mod{m}.work(n) == sum((i * mod{m}.SCALE) % 7 for i in range(n))\n"
                f"    assert mod{m}.words('b a b c') == ['a', 'b', 'c']\n")
        (root / "tests" / f"test_mod{m}.py").write_text("".join(body))
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b.invalid",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b.invalid"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)


def best(func, repeat: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = func()
        times.append(time.perf_counter() - start)
    return min(times), value


def bare(root: Path, *args: str) -> float:
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                   cwd=root, check=False, capture_output=True,
                   env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modules", type=int, default=40)
    parser.add_argument("--tests", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lanser-bench-") as tmp:
        root = Path(tmp) / "project"
        generate(root, opts.modules, opts.tests)
        one = "tests/test_mod0.py::test_work_0"
        out: dict[str, object] = {"modules": opts.modules,
                                  "tests": opts.modules * opts.tests}
        out["bare_full_s"], _ = best(lambda: bare(root), opts.repeat)
        out["sandbox_full_s"], result = best(lambda: run_tests(root), opts.repeat)
        assert result.ok, result.counts
        out["isolation"] = result.isolation
        out["copy_s"] = result.timings["copy_seconds"]
        out["bare_one_s"], _ = best(lambda: bare(root, one), opts.repeat)
        out["sandbox_one_s"], _ = best(lambda: run_tests(root, args=[one]), opts.repeat)
        out["nons_one_s"], _ = best(lambda: run_tests(root, args=[one], isolation="none"),
                                    opts.repeat)
        out["overhead_per_run_s"] = out["sandbox_one_s"] - out["bare_one_s"]
        start = time.perf_counter()
        impact = map_impact(root, rev="HEAD")
        out["map_build_s"] = time.perf_counter() - start
        src = root / "proj" / "mod3.py"
        src.write_text(src.read_text().replace("% 7", "% 5"))  # breaks mod3's tests
        out["step_full_s"], full = best(lambda: run_tests(root), opts.repeat)
        out["step_selected_s"], sel = best(lambda: run_tests(root, select=impact), opts.repeat)
        pairs = lambda r: {t.nodeid: t.outcome for t in r.tests}  # noqa: E731
        out["selected_equals_full"] = pairs(full) == pairs(sel)
        out["selected_ran"] = sum(1 for t in sel.tests if not t.reused)
        out["speedup"] = round(out["step_full_s"] / out["step_selected_s"], 2)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()},
                     indent=2))


if __name__ == "__main__":
    main()
