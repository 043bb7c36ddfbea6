"""Relocation benchmark: capture selectors at commit A, relocate to B, score against history.

Ground truth comes from the history, not from lanser: a position on a line that
``git diff --histogram A B`` leaves unchanged moves with that line (same column); a
definition's name whose qualified name survives (in the same file, else uniquely in
another: a move) is at that definition's name. Other positions are "not surviving":
they count in no accuracy, but a confident answer for them is reported as "claimed".

Per selector kind, over surviving positions: correct (confident and right), wrong
(confident and elsewhere: the failure that matters), lost (not confident). Kinds:
``position`` (the naive baseline: keep line:col), ``symbolic`` (definition names only),
``ast``, ``anchor``, ``composite`` (the captured selector resolved on B alone) and
``relocate`` (``lanser selector relocate``: the composite plus the A snapshot).

    python bench/relocation.py [--repo PATH] [--head REV | --from A --to B]
        [--samples 300] [--pairs 8] [--far 50] [--top-k 50] [--failures N] [--json]

Without ``--repo`` it generates a synthetic history (bench/relocation_history.py).
Without ``--from/--to`` it takes pairs of adjacent commits ("nearby") and pairs 50
first-parent commits apart ("far") along the history of ``--head`` (default HEAD).
The relocate kind is also tallied at the thresholds in ``SWEEP`` (the confidence it
reports is kept), which is how the default threshold is chosen (SPEC.md 6).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lanser.errors import LanserError
from lanser.positions import Position
from lanser.selectors.capture import capture
from lanser.selectors.relocation import THRESHOLD, TOP_K, Relocator
from lanser.selectors.resolver import confident, parse_and_resolve
from lanser.selectors.snapshot import GitRevision
from lanser.selectors.syntax import quote_path
from lanser.workspace import Workspace

KINDS = ("position", "symbolic", "ast", "anchor", "composite", "relocate")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          check=True).stdout


Hunk = tuple[int, int, int, int]


def line_maps(root: Path, a: str, b: str) -> dict[str, tuple[str | None, list[Hunk]]]:
    """Changed files: old path -> (new path or None if deleted, its -U0 hunks)."""
    out = git(root, "diff", "--histogram", "-M", "-U0", "--no-color", a, b, "--", "*.py")
    maps: dict[str, tuple[str | None, list[Hunk]]] = {}
    old = None
    for line in out.splitlines():
        if line.startswith("--- "):
            old = None if line == "--- /dev/null" else line[6:]
        elif line.startswith("+++ ") and old is not None:
            maps[old] = (None if line == "+++ /dev/null" else line[6:], [])
        elif line.startswith("@@") and old is not None and (m := _HUNK.match(line)):
            maps[old][1].append((int(m[1]), int(m[2] or 1), int(m[3]), int(m[4] or 1)))
    return maps


def map_line(hunks: list[Hunk], line: int) -> int | None:
    """Where old ``line`` is in the new file, or None when the diff removes it."""
    shift = 0
    for old_start, old_len, _new_start, new_len in hunks:
        if old_len and old_start <= line < old_start + old_len:
            return None
        last_before = old_start + old_len - 1 if old_len else old_start
        if last_before < line:
            shift += new_len - old_len
    return line + shift


def truth_for(maps: dict[str, Any], old: GitRevision, new: GitRevision, rel: str,
              pos: Position, is_def: bool) -> tuple[str, Position] | None:
    if rel not in maps:  # file untouched
        return rel, pos
    new_path, hunks = maps[rel]
    if new_path is not None:
        line = map_line(hunks, pos.line)
        if line is not None:
            return new_path, Position(line, pos.col)
    if is_def:
        doc = old.doc(rel)
        assert doc is not None
        offset = doc.source.offset(pos)
        d = next(d for d in doc.definitions if doc.start(d.name_node) == offset)
        for scope in ([new_path] if new_path is not None else []), new.files():
            hits = []
            for f in scope:
                ndoc = new.doc(f)
                if ndoc is not None:
                    hits += [(f, ndoc.position(nd.name_node)) for nd in ndoc.definitions
                             if nd.qualname == d.qualname and nd.kind == d.kind]
            if len(hits) == 1:
                return hits[0]
            if hits:
                return None
    return None


def sample_positions(old: GitRevision, files: list[str], n: int,
                     rng: random.Random) -> list[tuple[str, Position, bool]]:
    """Identifier starts and definition names in ``files``, ``n`` at most, seeded."""
    pool = []
    for rel in files:
        doc = old.doc(rel)
        if doc is None:
            continue
        names = {doc.start(d.name_node) for d in doc.definitions}
        stack = [doc.root]
        while stack:
            node = stack.pop()
            if node.type == "identifier":
                off = doc.start(node)
                pool.append((rel, doc.source.position(off), off in names))
            stack.extend(node.children)
    pool.sort(key=lambda t: (t[0], t[1]))
    return rng.sample(pool, min(n, len(pool)))


#: Thresholds the relocate kind is also tallied at (its confidence is kept either way).
SWEEP = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)

Counts = dict[str, dict[str, int]]


def run_pair(root: Path, a: str, b: str, samples: int, seed: int, *,
             top_k: int = TOP_K, failures: list[str] | None = None) -> dict[str, Any]:
    """Score every kind on one pair: ``kinds`` (per kind), ``sweep`` (relocate per
    threshold) and ``stats`` (relocations scored, and those cut to ``top_k``)."""
    ws = Workspace.open(root)
    old, new = GitRevision(ws, a), GitRevision(ws, b)
    maps = line_maps(root, a, b)
    changed = sorted(f for f in maps if f in old.files())
    rng = random.Random(f"{seed}:{a}:{b}")
    counts: Counts = {k: defaultdict(int) for k in KINDS}
    sweep: Counts = {f"{t:.2f}": defaultdict(int) for t in SWEEP}
    relocator = Relocator(old, new, threshold=THRESHOLD, top_k=top_k)
    for rel, pos, is_def in sample_positions(old, changed, samples, rng):
        truth = truth_for(maps, old, new, rel, pos, is_def)
        cap = capture(old, rel, pos)
        if is_def:  # the symbolic selector of the definition named here (not its scope)
            cap.parts["symbolic"] = _symbolic_at(old, rel, pos)
        for kind in KINDS:
            if kind == "symbolic" and not is_def:
                continue
            if kind == "relocate":
                guess, confidence = _relocate(relocator, cap.selector)
                for t in SWEEP:
                    _tally(sweep[f"{t:.2f}"], truth, guess if confidence >= t else None)
                got = guess if confidence >= THRESHOLD else None
                if failures is not None and truth is not None and got != truth:
                    failures.append(f"{a[:8]}..{b[:8]} {rel}:{pos} truth {truth} got {guess} "
                                    f"at {confidence}: {cap.selector}")
            else:
                got = _attempt(kind, cap, rel, pos, new)
            _tally(counts[kind], truth, got)
    return {"kinds": {k: dict(v) for k, v in counts.items()},
            "sweep": {t: dict(v) for t, v in sweep.items()}, "stats": dict(relocator.stats)}


def _relocate(relocator: Relocator, selector: str) -> tuple[tuple[str, Position] | None, float]:
    """The relocation's best guess and its confidence (0 when nothing to guess)."""
    try:
        result = relocator.relocate(selector)
    except LanserError:
        return None, 0.0
    if result.position is None or result.path is None:
        return None, 0.0
    return (result.path, result.position), result.confidence


def _symbolic_at(old: GitRevision, rel: str, pos: Position) -> str:
    doc = old.doc(rel)
    assert doc is not None
    offset = doc.source.offset(pos)
    d = next(d for d in doc.definitions if doc.start(d.name_node) == offset)
    same = [e for e in doc.definitions if e.qualname == d.qualname]
    index = f"[index={same.index(d)}]" if len(same) > 1 else ""
    return f"{quote_path(rel)}::{d.dotted}{index}"


def _attempt(kind: str, cap: Any, rel: str, pos: Position,
             new: GitRevision) -> tuple[str, Position] | None:
    """What a selector kind resolved on B alone answers confidently, or None (lost)."""
    try:
        if kind == "position":
            ndoc = new.doc(rel)
            if ndoc is None or pos.line > ndoc.source.line_count or \
                    pos.col > len(ndoc.source.lines[pos.line - 1]) + 1:
                return None
            return rel, pos
        text = cap.selector if kind == "composite" else cap.parts.get(kind)
        if text is None:
            return None
        _, found = parse_and_resolve(new, text)
        if not confident(found, THRESHOLD):
            return None
        return found[0].path, found[0].position
    except LanserError:
        return None


def _tally(c: dict[str, int], truth: tuple[str, Position] | None,
           got: tuple[str, Position] | None) -> None:
    if truth is None:
        c["gone"] += 1
        c["claimed"] += got is not None
        return
    c["n"] += 1
    if got is None:
        c["lost"] += 1
    elif got == truth:
        c["correct"] += 1
    else:
        c["wrong"] += 1


def pairs(root: Path, gap: int, count: int, head: str = "HEAD") -> list[tuple[str, str]]:
    """``count`` pairs ``gap`` first-parent commits apart, spread along ``head``'s history."""
    commits = git(root, "rev-list", "--first-parent", "--reverse", head).split()
    if len(commits) <= gap:
        return []
    starts = list(range(len(commits) - gap))
    step = max(1, len(starts) // count)
    return [(commits[i], commits[i + gap]) for i in starts[::step][:count]]


def merge(into: dict[str, Any], part: dict[str, Any]) -> None:
    """Add ``part`` (nested dicts of counts) into ``into``."""
    for key, value in part.items():
        if isinstance(value, dict):
            merge(into.setdefault(key, {}), value)
        else:
            into[key] = into.get(key, 0) + value


def _cells(c: dict[str, int]) -> list[str]:
    n = c.get("n", 0)
    return [f"{100 * c.get(k, 0) / n:6.1f}%" if n else "     -"
            for k in ("correct", "wrong", "lost")]


def report(title: str, totals: dict[str, Any]) -> list[str]:
    head = f" {'n':>6} {'correct':>8} {'wrong':>7} {'lost':>7} {'gone':>6} {'claimed':>8}"
    lines = [f"{title}", f"  {'kind':<10}{head}"]
    for kind in KINDS:
        c = totals["kinds"].get(kind, {})
        cells = _cells(c)
        lines.append(f"  {kind:<10} {c.get('n', 0):>6} {cells[0]:>8} {cells[1]:>7} "
                     f"{cells[2]:>7} {c.get('gone', 0):>6} {c.get('claimed', 0):>8}")
    lines.append(f"  relocate by threshold{head}")
    for t, c in sorted(totals.get("sweep", {}).items()):
        cells = _cells(c)
        lines.append(f"  >= {t:<18} {c.get('n', 0):>6} {cells[0]:>8} {cells[1]:>7} "
                     f"{cells[2]:>7} {c.get('gone', 0):>6} {c.get('claimed', 0):>8}")
    stats = totals.get("stats", {})
    lines.append(f"  relocations scored {stats.get('scored', 0)}, cut to top-k "
                 f"{stats.get('truncated', 0)}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, help="a git repository (default: synthetic)")
    parser.add_argument("--from", dest="rev_a")
    parser.add_argument("--to", dest="rev_b")
    parser.add_argument("--samples", type=int, default=300, help="positions per pair")
    parser.add_argument("--pairs", type=int, default=8, help="pairs per distance")
    parser.add_argument("--far", type=int, default=50, help="commits apart for 'far'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--commits", type=int, default=80, help="synthetic history length")
    parser.add_argument("--head", default="HEAD", help="pairs along this commit's history")
    parser.add_argument("--top-k", type=int, default=TOP_K, help="relocation's top-k")
    parser.add_argument("--failures", type=int, default=0, metavar="N",
                        help="print N relocate failures (wrong or lost) to stderr")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tmp = None
    root = args.repo
    if root is None:
        from relocation_history import generate

        tmp = tempfile.TemporaryDirectory(prefix="lanser-bench-")
        root = generate(Path(tmp.name) / "repo", commits=args.commits, seed=args.seed)
    root = root.resolve()
    head = git(root, "rev-parse", args.head).strip()
    if args.rev_a:
        plan = {"given": [(args.rev_a, args.rev_b or head)]}
    else:
        plan = {"nearby": pairs(root, 1, args.pairs, head), f"far ({args.far} apart)":
                pairs(root, args.far, args.pairs, head)}
    results: dict[str, Any] = {}
    failures: list[str] = []
    for title, todo in plan.items():
        totals: dict[str, Any] = {}
        for a, b in todo:
            merge(totals, run_pair(root, a, b, args.samples, args.seed, top_k=args.top_k,
                                   failures=failures))
        results[title] = {"pairs": len(todo), **totals}
    for line in failures[:args.failures]:
        print(line, file=sys.stderr)
    where = str(args.repo) if args.repo else f"synthetic (seed {args.seed}, " \
        f"{args.commits} commits)"
    if args.json:
        print(json.dumps({"repo": where, "head": head, "top_k": args.top_k,
                          "samples": args.samples, "results": results},
                         sort_keys=True, indent=1))
    else:
        print(f"repo: {where} at {head[:12]}, top-k {args.top_k}")
        for title, res in results.items():
            print("\n".join(report(f"{title}: {res['pairs']} pairs", res)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
