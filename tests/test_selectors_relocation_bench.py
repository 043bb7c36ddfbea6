"""The relocation benchmark cannot rot: build its fixture history, score one pair."""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))

import relocation as bench
from relocation_history import generate


def test_benchmark_scores_one_pair_of_a_generated_history(tmp_path: Path) -> None:
    root = generate(tmp_path / "repo", commits=4, seed=3)
    (a, b), = bench.pairs(root, 4, 1)
    failures: list[str] = []
    result = bench.run_pair(root, a, b, samples=40, seed=0, failures=failures)
    kinds = result["kinds"]
    assert set(kinds) == set(bench.KINDS)
    for counts in kinds.values():  # every surviving sample is exactly one outcome
        assert counts.get("n", 0) == sum(counts.get(k, 0) for k in ("correct", "wrong", "lost"))
    relocated, baseline = kinds["relocate"], kinds["position"]
    assert relocated["n"] > 10 and relocated.get("wrong", 0) == 0
    assert relocated.get("correct", 0) > baseline.get("correct", 0)
    at_default = result["sweep"][f"{bench.THRESHOLD:.2f}"]
    assert at_default.get("correct", 0) == relocated.get("correct", 0)
    assert result["stats"]["scored"] > 0 and len(failures) == relocated.get("lost", 0)
    lines = bench.report("one pair", result)
    assert lines[0] == "one pair" and any(line.strip().startswith("relocate ") for line in lines)
