"""The episode pillar: online step latency, and offline replay throughput.

    .venv/bin/python bench/episode_latency.py [--files 200] [--steps 40]
        [--test-steps 20] [--replay-steps 1000] [--cprofile 6] [--json]

Targets (issue): an online diagnostics-only step under 200 ms p50 on a 200-file
workspace, and offline replay of a 1,000-step episode in under 5 s.

"Warm" here means what it means for an episode in production: one
:class:`~lanser.episodes.observer.Observer` starts one language server for the
whole episode (the episode process is long-lived, like the daemon), so the cold
start is paid once, by ``Recorder.start()`` (the base observation), which is
reported apart and left out of the step figures.

Three cases, each on a fresh generated git workspace (``bench/genworkspace.py``):

1. ``online``: the ``diagnostics-only`` profile on a ``--files`` workspace, ``--steps``
   steps in cycles of five: a range edit that adds a type error (the envelope rolls
   it back), a whole-content edit that removes one (or adds a comment when none is
   left), a range edit that changes a return value (new tree, no new error), a
   query (hover/definition/references in rotation), and a whole-content edit that
   changes what importers see (a module-level constant; reported apart as
   ``edit (interface)``: its importers are asked again, the other edits ask one
   file). Step latency is wall time around ``Recorder.step``, reported for all steps
   and for edit steps alone (the target holds for both), with a breakdown of where
   it goes (see ``PHASES``: a step takes at most one snapshot, and a tree already
   kept costs no commit-tree/update-ref), and a cProfile of a few edit steps.
2. ``tests``: the ``default`` profile on the demo example (``lanser.episodes.demo``) with the
   demo's task: whole-content edits that toggle the bug (and stamp a revision
   comment, so every tree is new) alternating with ``test`` actions.
3. ``replay``: a real ``--replay-steps`` episode recorded with the real Recorder on a
   small workspace (``--replay-files``, 20 by default, so recording 1,000 steps takes
   about a minute and a half; the steps are case 1's, with one in eight replaced by
   an invalid action), then ``load`` + ``replay`` timed, with the recorded profile
   (must match exactly: the exit status is 1 otherwise) and counterfactually with
   ``default``. Replay reads bundles from the store and starts no server.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from _stats import pct  # noqa: E402
from genworkspace import generate  # noqa: E402

#: The phases of a step, in the order the recorder runs them (inclusive times; the
#: server's own part of each is also reported as "... server").
PHASES = (
    "edit: resolve target, build changes",
    "edit: preview + syntax check",
    "edit: envelope verify (apply_verified)",
    "edit: envelope verify server",
    "query",
    "tests",
    "tests: run_tests (sandbox + pytest)",
    "tests: sandbox copy",
    "snapshot: git add -A + write-tree",
    "snapshot: commit-tree + update-ref",
    "tree_changes (git diff-tree)",
    "diagnostics",
    "diagnostics: server",
    "diagnostics: store get",
    "diagnostics: bundle + store put",
    "state + reward",
    "writing the step line",
)


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50_ms": round(pct(values, 0.5), 1),
            "p95_ms": round(pct(values, 0.95), 1), "mean_ms": round(statistics.mean(values), 1),
            "max_ms": round(max(values), 1)}


# -- where the time goes --------------------------------------------------------------

class Breakdown:
    """Times named functions while a step runs, by patching them (restored on exit).

    A phase's time is the wall time between entering and leaving the patched
    function (inclusive). Phases that run beside others (the snapshot's keep and
    diff, in threads, during the observation) are timed all the same, so the
    phases of a step can add up to more than the step.
    """

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)
        self._local = threading.local()
        self.patches: list[tuple[Any, str, Any]] = []
        self.store_hits = 0

    @property
    def stack(self) -> list[str]:
        """The phases being timed, per thread (keeping a snapshot and diffing it run
        in worker threads beside the observation)."""
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        return self._local.stack

    def _add(self, label: str, began: float) -> None:
        self.current[label] += (time.perf_counter() - began) * 1000

    def patch(self, owner: Any, name: str, label: str | Callable[[], str]) -> None:
        original = getattr(owner, name)
        name_of = label if callable(label) else (lambda: label)
        this = self

        if asyncio.iscoroutinefunction(original):
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                tag = name_of()
                began = time.perf_counter()
                this.stack.append(tag)
                try:
                    return await original(*args, **kwargs)
                finally:
                    this.stack.pop()
                    this._add(tag, began)
        else:
            def wrapper(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                tag = name_of()
                began = time.perf_counter()
                this.stack.append(tag)
                try:
                    return original(*args, **kwargs)
                finally:
                    this.stack.pop()
                    this._add(tag, began)

        setattr(owner, name, wrapper)
        self.patches.append((owner, name, original))

    def __enter__(self) -> Breakdown:
        from lanser.bundles.store import BundleStore
        from lanser.edits import verify
        from lanser.edits.envelope import Envelope
        from lanser.episodes import format as episode_format
        from lanser.episodes import recorder, snapshots
        from lanser.episodes.observer import Observer
        from lanser.lsp.service import LanguageService

        def server_label() -> str:
            outer = self.stack[-1] if self.stack else ""
            if outer.startswith("edit: envelope"):
                return "edit: envelope verify server"
            if outer == "diagnostics":
                return "diagnostics: server"
            return "other server diagnostics"

        def store_label() -> str:
            return "diagnostics: store get" if self.stack[-1:] == ["diagnostics"] else "store"

        self.patch(recorder.Recorder, "_changes", "edit: resolve target, build changes")
        self.patch(Envelope, "preview", "edit: preview + syntax check")
        self.patch(verify, "refuse_syntax_errors", "edit: preview + syntax check")
        self.patch(verify, "apply_verified", "edit: envelope verify (apply_verified)")
        self.patch(LanguageService, "diagnostics", server_label)
        self.patch(Observer, "query", "query")
        self.patch(Observer, "tests", "tests")
        self._patch_runner()
        self.patch(snapshots, "working_tree_hash", "snapshot: git add -A + write-tree")
        self.patch(snapshots, "keep", "snapshot: commit-tree + update-ref")
        self.patch(snapshots, "tree_changes", "tree_changes (git diff-tree)")
        self.patch(Observer, "diagnostics", "diagnostics")
        if hasattr(Observer, "_whole_workspace"):  # the overlapped pulls (else the service's)
            self.patch(Observer, "_whole_workspace", "diagnostics: server")
        self.patch(BundleStore, "get", store_label)
        self.patch(BundleStore, "put", lambda: ("diagnostics: bundle + store put"
                                                if self.stack[-1:] == ["diagnostics"]
                                                else "store put"))
        self.patch(recorder, "next_state", "state + reward")
        self.patch(recorder, "step_reward", "state + reward")
        self.patch(episode_format.Writer, "write", "writing the step line")
        return self

    def _patch_runner(self) -> None:
        """``run_tests`` (sandbox copy + pytest), with the copy's own time from its timings."""
        import lanser.runner

        original = lanser.runner.run_tests

        def run_tests(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            result = original(*args, **kwargs)
            self._add("tests: run_tests (sandbox + pytest)", began)
            self.current["tests: sandbox copy"] += result.timings.get("copy_seconds", 0) * 1000
            return result

        lanser.runner.run_tests = run_tests
        self.patches.append((lanser.runner, "run_tests", original))

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self.patches):
            setattr(owner, name, original)

    def take(self) -> dict[str, float]:
        out = dict(self.current)
        self.current = defaultdict(float)
        return out


# -- driving a Recorder -----------------------------------------------------------------

class Session:
    """A Recorder on one workspace, driven step by step (what ``record()`` does)."""

    def __init__(self, root: Path, profile: str, out: Path, task: Any = None) -> None:
        from lanser.episodes.task import TaskSpec
        from lanser.lsp.registry import get_server
        from lanser.rewards import load_profile
        from lanser.workspace import Workspace

        self.root = root
        self.workspace = Workspace.open(root)
        self.profile = load_profile(profile)
        self.task = task or TaskSpec()
        self.spec = get_server("basedpyright", self.workspace.config.servers)
        self.out = out

    async def run(self, next_action: Callable[[int], Any], steps: int, *,
                  label: Callable[[int], str | None] = lambda i: None,
                  breakdown: Breakdown | None = None, profile_steps: set[int] = frozenset(),
                  profiler: cProfile.Profile | None = None) -> dict[str, Any]:
        from lanser.episodes.format import Writer
        from lanser.episodes.observer import Observer
        from lanser.episodes.recorder import Recorder

        records: list[dict[str, Any]] = []
        with self.out.open("w", encoding="utf-8") as stream:
            async with Observer(self.workspace, self.spec, timeout=120,
                                test_timeout=120) as observer:
                recorder = Recorder(self.workspace, observer, self.profile, self.task,
                                    Writer(stream))
                began = time.perf_counter()
                await recorder.start()
                start_ms = (time.perf_counter() - began) * 1000
                if breakdown is not None:
                    breakdown.take()
                for i in range(steps):
                    action = next_action(i)
                    if profiler is not None and i in profile_steps:
                        profiler.enable()
                    began = time.perf_counter()
                    observation = await recorder.step(action)
                    wall = (time.perf_counter() - began) * 1000
                    if profiler is not None and i in profile_steps:
                        profiler.disable()
                    records.append({
                        "index": observation["step"], "kind": observation["kind"],
                        "status": observation["status"], "reason": observation["reason"],
                        "label": label(i),
                        "wall_ms": wall, "reported_ms": observation["timings_ms"]["step"],
                        "phases": breakdown.take() if breakdown is not None else {}})
                await recorder.settle()
                footer = recorder.finish()
        return {"start_ms": start_ms, "steps": records, "footer": footer}


def return_range(text: str, function: str) -> str:
    """``l:c..l:c`` (1-based, end exclusive) of what ``function``'s one-line return returns."""
    match = re.search(rf"def {function}\(\) -> int:\n    return (.*)\n", text)
    assert match is not None, function

    def lc(offset: int) -> str:
        line = text.count("\n", 0, offset) + 1
        return f"{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"

    return f"{lc(match.start(1))}..{lc(match.end(1))}"


# -- case 1: online, diagnostics-only, N files ----------------------------------------

QUERY_OPS = ("hover", "definition", "references")
#: Steps per cycle of ``online_actions``; the last kind changes an interface.
CYCLE = 5


def online_label(i: int) -> str | None:
    """The class a step of ``online_actions`` is reported under, when not its kind's."""
    return "edit (interface)" if i % CYCLE == CYCLE - 1 else None


def online_actions(root: Path, files: int) -> Callable[[int], Any]:
    """Cycles of five steps over the packages; each action is made from the disk now."""
    packages = max(1, files // 20)

    def modules(pkg: int) -> int:
        return min(20, files - 20 * pkg)

    def action(i: int) -> dict[str, Any]:
        cycle, kind = divmod(i, CYCLE)
        pkg = cycle % packages
        variant = cycle // packages
        count = modules(pkg)
        # Module picks inside the package: never the one that carries the error (7).
        add_at, neutral_at = (1 + 2 * variant) % count, (2 + 2 * variant) % count
        if add_at == 7 % max(count, 1):
            add_at = (add_at + 1) % count
        if neutral_at == 7 % max(count, 1):
            neutral_at = (neutral_at + 1) % count
        if kind == 0:  # add a type error: the envelope rolls it back (new_errors)
            rel = f"pkg{pkg}/m{add_at}.py"
            text = (root / rel).read_text()
            return {"action": "edit", "text": '"oops"',
                    "at": f"{rel}:{return_range(text, f'broken_{add_at}')}"}
        if kind == 1:  # remove an error (whole content), or rewrite a file if none left
            target = 7 if count > 7 else 0
            rel = f"pkg{pkg}/m{target}.py"
            text = (root / rel).read_text()
            if 'return "not an int"' in text:
                text = text.replace('return "not an int"', "return 0")
            else:
                text += f"# revision {i}\n"
            return {"action": "edit", "path": rel, "content": text}
        if kind == 2:  # a new tree with no new error: a different int
            rel = f"pkg{pkg}/m{neutral_at}.py"
            text = (root / rel).read_text()
            return {"action": "edit", "text": str(i + 1),
                    "at": f"{rel}:{return_range(text, f'broken_{neutral_at}')}"}
        if kind == 3:
            op = QUERY_OPS[cycle % len(QUERY_OPS)]
            module = max(0, count - 1 - variant % count)
            return {"action": "query", "op": op,
                    "at": f"pkg{pkg}/m{module}.py::Record{module}"}
        # What importers see changes: a module-level constant, new on every visit.
        rel = f"pkg{pkg}/m{neutral_at}.py"
        text = re.sub(r"\nLIMIT = \d+\n", "\n", (root / rel).read_text())
        return {"action": "edit", "path": rel, "content": f"{text}LIMIT = {i}\n"}

    return action


def classify(step: dict[str, Any]) -> str:
    if step.get("label") and step["status"] == "ok":
        return step["label"]
    if step["kind"] in ("edit", "patch"):
        return f"edit ({step['status']})"
    return step["kind"]


def report_steps(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Latency of all steps, of edit steps alone (any status: the target is about
    them, and queries answered from memory would flatter "all"), and per kind."""
    by_class: dict[str, list[float]] = defaultdict(list)
    for s in steps:
        by_class[classify(s)].append(s["wall_ms"])
    phases: dict[str, list[float]] = defaultdict(list)
    for s in steps:
        for name in set(PHASES) | set(s["phases"]):
            phases[name].append(s["phases"].get(name, 0.0))
    return {
        "all": summary([s["wall_ms"] for s in steps]),
        "edits": summary([s["wall_ms"] for s in steps if s["kind"] in ("edit", "patch")]),
        "by_kind": {k: summary(v) for k, v in sorted(by_class.items())},
        "phases_mean_ms": {k: round(statistics.mean(v), 1) for k, v in phases.items()
                           if any(v)},
        "phases_by_kind_mean_ms": {
            kind: {name: round(statistics.mean([s["phases"].get(name, 0.0) for s in steps
                                               if classify(s) == kind]), 1)
                   for name in sorted({n for s in steps if classify(s) == kind
                                       for n in s["phases"]})}
            for kind in sorted(by_class)},
    }


def hotspots(profiler: cProfile.Profile, limit: int = 25) -> list[dict[str, Any]]:
    stats = pstats.Stats(profiler)
    rows = []
    for (file, line, func), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():
        rows.append({"function": f"{Path(file).name}:{line}({func})", "calls": calls,
                     "tottime_ms": round(tottime * 1000, 1),
                     "cumtime_ms": round(cumtime * 1000, 1)})
    rows.sort(key=lambda r: r["tottime_ms"], reverse=True)
    return rows[:limit]


async def case_online(options: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    root = generate(tmp / "online", options.files)
    session = Session(root, "diagnostics-only", tmp / "online.jsonl")
    profiler = cProfile.Profile() if options.cprofile else None
    # Profile a few edit steps past the first cycle (the server has settled by then).
    edit_steps = [i for i in range(CYCLE, options.steps)
                  if i % CYCLE in (1, 2)][:options.cprofile]
    with Breakdown() as breakdown:
        run = await session.run(online_actions(root, options.files), options.steps,
                                label=online_label,
                                breakdown=breakdown, profile_steps=set(edit_steps),
                                profiler=profiler)
    out = {"files": options.files, "profile": "diagnostics-only",
           "start_ms": round(run["start_ms"], 1), **report_steps(run["steps"])}
    if profiler is not None:
        out["cprofile_steps"] = [i + 1 for i in edit_steps]
        out["hotspots_by_tottime"] = hotspots(profiler)
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(
            r"lanser/", 30)
        out["cprofile_text"] = buffer.getvalue()
    return out


# -- case 2: online with tests (default profile, the demo) -------------------------------

async def case_tests(options: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from lanser.episodes.demo import TASK, prepare_workspace
    from lanser.episodes.task import TaskSpec

    root = prepare_workspace(tmp / "demo")
    task = TaskSpec(TASK["name"], fail_to_pass=tuple(TASK["fail_to_pass"]),
                    pass_to_pass=tuple(TASK["pass_to_pass"]))
    session = Session(root, "default", tmp / "tests.jsonl", task)
    buggy, fixed = "self.level(item) + quantity", "self.level(item) - quantity"

    def action(i: int) -> dict[str, Any]:
        if i % 2:
            return {"action": "test"}
        text = (root / "inventory/stock.py").read_text()
        text = (text.replace(buggy, fixed) if buggy in text else text.replace(fixed, buggy))
        return {"action": "edit", "path": "inventory/stock.py",
                "content": text + f"# revision {i}\n"}

    with Breakdown() as breakdown:
        run = await session.run(action, options.test_steps, breakdown=breakdown)
    bare = []
    for _ in range(5):  # what pytest alone costs on the same tree, no sandbox
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                       cwd=root, capture_output=True, check=False)
        bare.append((time.perf_counter() - began) * 1000)
    return {"workspace": "examples/demo (lanser.episodes.demo.prepare_workspace)",
            "profile": "default",
            "start_ms": round(run["start_ms"], 1), **report_steps(run["steps"]),
            "bare_pytest": summary(bare)}


# -- case 3: offline replay of a real N-step episode ------------------------------------

async def case_replay(options: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from lanser.episodes.format import load
    from lanser.episodes.replay import replay

    root = generate(tmp / "replay", options.replay_files)
    path = tmp / "replay.jsonl"
    session = Session(root, "diagnostics-only", path)
    online = online_actions(root, options.replay_files)

    def action(i: int) -> Any:
        if i % 8 == 7:  # a cheap step: an invalid action (penalised, nothing runs)
            return {"action": "fly", "to": i}
        return online(i)

    began = time.perf_counter()
    run = await session.run(action, options.replay_steps)
    record_s = time.perf_counter() - began
    kinds = defaultdict(int)
    for s in run["steps"]:
        kinds[classify(s)] += 1

    began = time.perf_counter()
    episode = load(path)
    loaded = time.perf_counter()
    replayed = replay(session.workspace, episode)
    done = time.perf_counter()
    counterfactual = replay(session.workspace, episode, "default")
    cf_done = time.perf_counter()
    assert len(episode.steps) == options.replay_steps
    return {
        "files": options.replay_files, "steps": len(episode.steps),
        "record_s": round(record_s, 1), "recorded_kinds": dict(sorted(kinds.items())),
        "episode_bytes": path.stat().st_size,
        "load_s": round(loaded - began, 3), "replay_s": round(done - loaded, 3),
        "total_s": round(done - began, 3),
        "steps_per_s": round(len(episode.steps) / (done - began)),
        "matches": replayed.matches,
        "return": replayed.total.to_json()["total_exact"],
        "counterfactual_default_s": round(cf_done - done, 3),
        "counterfactual_default_return": counterfactual.total.to_json()["total_exact"],
    }


# -- output ---------------------------------------------------------------------------------

def print_steps(title: str, case: dict[str, Any]) -> None:
    print(f"\n{title}")
    print(f"  base observation (Recorder.start, cold server start): {case['start_ms']:.0f} ms")
    print(f"  {'step kind':24s} {'n':>4s} {'p50':>9s} {'p95':>9s} {'mean':>9s} {'max':>9s}")
    rows = [("all steps", case["all"]), ("edit steps (any status)", case["edits"]),
            *case["by_kind"].items()]
    for name, s in rows:
        if not s["n"]:
            continue
        print(f"  {name:24s} {s['n']:4d} {s['p50_ms']:7.1f}ms {s['p95_ms']:7.1f}ms "
              f"{s['mean_ms']:7.1f}ms {s['max_ms']:7.1f}ms")
    kinds = list(case["phases_by_kind_mean_ms"])
    print("\n  where a step's time goes (mean ms per step; inclusive; 'server' lines are "
          "part of the line above)")
    print(f"  {'phase':40s} " + " ".join(f"{k[:14]:>14s}" for k in kinds))
    names = [n for n in PHASES if any(n in case["phases_by_kind_mean_ms"][k] for k in kinds)]
    names += sorted({n for k in kinds for n in case["phases_by_kind_mean_ms"][k]} - set(names))
    for name in names:
        print(f"  {name:40s} " + " ".join(
            f"{case['phases_by_kind_mean_ms'][k].get(name, 0.0):14.1f}" for k in kinds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--test-steps", type=int, default=20)
    parser.add_argument("--replay-steps", type=int, default=1000)
    parser.add_argument("--replay-files", type=int, default=20)
    parser.add_argument("--cprofile", type=int, default=6,
                        help="cProfile this many edit steps of the online case (0: none)")
    parser.add_argument("--cases", default="online,tests,replay")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    cases = set(options.cases.split(","))
    import logging

    logging.disable(logging.WARNING)
    results: dict[str, Any] = {"command": " ".join([".venv/bin/python", *sys.argv])}
    with tempfile.TemporaryDirectory(prefix="lanser-episode-bench-") as tmp:
        if "online" in cases:
            results["online"] = asyncio.run(case_online(options, Path(tmp)))
        if "tests" in cases:
            results["tests"] = asyncio.run(case_tests(options, Path(tmp)))
        if "replay" in cases:
            results["replay"] = asyncio.run(case_replay(options, Path(tmp)))
    if options.json:
        print(json.dumps(results, indent=2))
        if "replay" in results and not results["replay"]["matches"]:
            raise SystemExit(1)
        return
    print(f"command: {results['command']}")
    print("warm: one Observer (one basedpyright) serves the whole episode, as in "
          "production; step figures exclude the base observation")
    if "online" in results:
        case = results["online"]
        print_steps(f"1. online, diagnostics-only, {case['files']}-file workspace "
                    f"(target: p50 < 200 ms, all steps and edit steps alone)", case)
        if "cprofile_text" in case:
            print(f"\n  cProfile of steps {case['cprofile_steps']} (top by own time):")
            for row in case["hotspots_by_tottime"][:15]:
                print(f"    {row['tottime_ms']:8.1f} ms own {row['cumtime_ms']:8.1f} ms cum "
                      f"{row['calls']:7d}x  {row['function']}")
    if "tests" in results:
        print_steps("2. online with tests, default profile, the demo example", results["tests"])
    if "tests" in results:
        b = results["tests"]["bare_pytest"]
        print(f"\n  for scale: bare `python -m pytest -q` on the same tree (no sandbox): "
              f"p50 {b['p50_ms']:.0f} ms")
    if "replay" in results:
        r = results["replay"]
        print(f"\n3. offline replay of a real {r['steps']}-step episode ({r['files']}-file "
              f"workspace; recorded in {r['record_s']} s: {r['recorded_kinds']}; "
              f"{r['episode_bytes']} bytes)")
        print(f"  load (parse + schema) {r['load_s']:.3f} s, replay {r['replay_s']:.3f} s, "
              f"total {r['total_s']:.3f} s = {r['steps_per_s']} steps/s "
              f"(target: < 5 s); matches={r['matches']}; return {r['return']}")
        print(f"  counterfactual re-scoring with 'default': {r['counterfactual_default_s']:.3f} s "
              f"(return {r['counterfactual_default_return']})")
    if "replay" in results and not results["replay"]["matches"]:
        raise SystemExit("replay did not reproduce the recorded rewards")


if __name__ == "__main__":
    main()
