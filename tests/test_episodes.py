"""Episodes, end to end: record with a real server and real pytest, replay offline, tamper.

Every episode here runs basedpyright on a real git repository (``tmp_path``) and the
demo's tests through the sandboxed runner; nothing is mocked. Recordings cost a few
seconds each, so the two central ones (the demo script, and an episode of malformed
and refused actions) are recorded once per module and only read by the tests; a test
that changes a workspace works on a copy.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from lanser.episodes import snapshots
from lanser.episodes.demo import SCRIPT, TASK, prepare_workspace
from lanser.episodes.format import Episode, load
from lanser.episodes.recorder import record
from lanser.episodes.replay import ProfileChanged, replay
from lanser.episodes.task import TaskSpec
from lanser.lsp.registry import get_server
from lanser.rewards import Profile, load_profile
from lanser.workspace import Workspace
from tests.conftest import init_repo, write_files

COMPONENTS = ("confidence", "diagnostics", "integrity", "outcome", "safety", "tests")
LABELS = [label for label, _ in SCRIPT]


# -- helpers -----------------------------------------------------------------------------


@dataclass
class Recorded:
    root: Path
    out: Path
    observations: list[dict[str, Any]]
    footer: dict[str, Any]
    episode: Episode = field(init=False)

    def __post_init__(self) -> None:
        self.episode = load(self.out)

    def step(self, label: str) -> dict[str, Any]:
        return self.episode.steps[LABELS.index(label)]


def record_actions(root: Path, actions: Iterable[Any], name: str, *, profile: Profile,
                   task: TaskSpec | None = None) -> Recorded:
    """Record ``actions`` on the git repository at ``root`` (real server, real tests)."""
    workspace = Workspace.open(root)
    out = workspace.state_dir / "episodes" / f"{name}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    observations: list[dict[str, Any]] = []
    footer: dict[str, Any] = {}
    asyncio.run(record(workspace, list(actions), out, profile=profile, task=task or TaskSpec(),
                       spec=get_server("basedpyright"), timeout=60.0, test_timeout=30.0,
                       on_observation=observations.append, on_footer=footer.update))
    return Recorded(root, out, observations, footer)


def demo_task() -> TaskSpec:
    return TaskSpec(TASK["name"], fail_to_pass=tuple(TASK["fail_to_pass"]),
                    pass_to_pass=tuple(TASK["pass_to_pass"]))


def parts(reward: dict[str, Any]) -> dict[str, Fraction]:
    """A recorded reward's components as exact fractions."""
    return {k: Fraction(v["exact"]) for k, v in reward["components"].items()}


def nonzero(reward: dict[str, Any]) -> dict[str, Fraction]:
    return {k: v for k, v in parts(reward).items() if v}


def run_git(root: Path, *args: str, check: bool = True, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          input=stdin, check=check)


def disk(root: Path) -> dict[str, bytes]:
    """Every file of the workspace but git's and lanser's own."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not {".git", ".lanser"} & set(p.relative_to(root).parts)}


def copy_workspace(root: Path, dest: Path) -> Path:
    shutil.copytree(root, dest, symlinks=True)
    return dest


# -- the demo episode, recorded once -------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    root = prepare_workspace(tmp_path_factory.mktemp("demo-a") / "demo")
    return record_actions(root, [action for _, action in SCRIPT], "demo",
                          profile=load_profile("default"), task=demo_task())


def test_demo_episode_records_the_rewards_the_spec_prescribes(demo: Recorded) -> None:
    episode, base_tree = demo.episode, demo.episode.header["base"]["tree"]
    assert [s["index"] for s in episode.steps] == list(range(1, len(SCRIPT) + 1))
    assert [s["action"] for s in episode.steps] == [a for _, a in SCRIPT]

    hover = demo.step("hover Stock.remove")
    assert (hover["info"]["status"], nonzero(hover["reward"])) == ("ok", {})
    assert hover["observed"]["query"] is not None

    # The typo leaves an undefined name: verified, rolled back, only the safety price.
    typo = demo.step("typo fix")
    assert typo["info"] == {"kind": "edit", "status": "rolled_back", "reason": "new_errors",
                            "confidence": "1"}
    assert nonzero(typo["reward"]) == {"safety": Fraction(-1, 5)}
    assert typo["envelope"]["new_diagnostics"][0]["message"] == '"quantiy" is not defined'
    assert typo["snapshot"]["tree"] == base_tree and typo["changed"] == []

    # Fixing the behavioural bug changes no diagnostic and no test ran: exactly 0.
    fix = demo.step("fix Stock.remove")
    assert fix["info"]["status"] == "ok" and nonzero(fix["reward"]) == {}
    assert fix["changed"] == ["inventory/stock.py"]

    # The report's type error goes away: w_diag * v(error) = 1/10, and nothing else.
    report = demo.step("fix summary()")
    assert report["info"]["status"] == "ok"
    assert nonzero(report["reward"]) == {"diagnostics": Fraction(1, 10)}
    assert report["changed"] == ["inventory/report.py", "inventory/stock.py"]

    # The jail refuses ../escape.py at its own price, and nothing is written outside.
    escape = demo.step("write ../escape.py")
    assert (escape["info"]["status"], escape["info"]["reason"]) == ("refused",
                                                                    "outside_workspace")
    assert nonzero(escape["reward"]) == {"safety": Fraction(-1, 2)}
    assert not (demo.root.parent / "escape.py").exists()
    assert escape["snapshot"] == report["snapshot"]

    # The test run: every listed test passes now, so tests and outcome both pay.
    tests = demo.step("run tests")
    got = parts(tests["reward"])
    assert got["tests"] > 0 and got["outcome"] == 1
    assert got["diagnostics"] == got["safety"] == got["confidence"] == 0
    assert tests["observed"]["tests"] is not None
    assert demo.observations[LABELS.index("run tests")]["tests"]["summary"]

    submit = demo.step("submit")
    assert nonzero(submit["reward"]) == {} and submit["observed"]["tests"] is None
    assert demo.observations[-1]["done"] is True

    footer = episode.footer
    assert footer == demo.footer
    assert footer is not None and footer["steps"] == len(SCRIPT)
    assert footer["outcome"] == {"submitted": True, "resolved": True}
    totals = [Fraction(s["reward"]["total_exact"]) for s in episode.steps]
    assert Fraction(footer["return"]["total_exact"]) == sum(totals)
    for name in COMPONENTS:
        assert parts(footer["return"])[name] == sum(parts(s["reward"])[name]
                                                    for s in episode.steps)
    # Observations carry the same numbers the file does (plus timings the file lacks).
    for observation, step in zip(demo.observations, episode.steps, strict=True):
        assert observation["reward"] == step["reward"]
        assert "timings_ms" in observation and "timings_ms" not in json.dumps(step)


def test_offline_replay_reproduces_every_number_without_server_or_tests(
        demo: Recorded, monkeypatch: pytest.MonkeyPatch) -> None:
    import lanser.runner
    import lanser.runner.run
    from lanser.lsp.service import LanguageService

    workspace = Workspace.open(demo.root)
    store = sorted(p.name for p in (demo.root / ".lanser" / "bundles").rglob("*.json"))

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("offline replay started a process")

    monkeypatch.setattr(LanguageService, "start", forbidden)
    monkeypatch.setattr(lanser.runner, "run_tests", forbidden)
    monkeypatch.setattr(lanser.runner.run, "run_tests", forbidden)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr(asyncio, "create_subprocess_exec", forbidden)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(AssertionError):  # the traps are armed
        lanser.runner.run_tests(workspace)

    result = replay(workspace, demo.episode)
    assert not result.counterfactual and result.matches
    assert [s["index"] for s in result.steps] == [s["index"] for s in demo.episode.steps]
    for replayed, recorded in zip(result.steps, demo.episode.steps, strict=True):
        assert replayed["reward"] == recorded["reward"]
        assert replayed["recorded"] == recorded["reward"]["total_exact"]
    assert demo.episode.footer is not None
    assert result.total.to_json() == demo.episode.footer["return"]
    assert sorted(p.name for p in (demo.root / ".lanser" / "bundles").rglob("*.json")) == store


def test_counterfactual_profile_rescores_where_the_profiles_differ(demo: Recorded) -> None:
    result = replay(Workspace.open(demo.root), demo.episode, "diagnostics-only")
    assert result.counterfactual and result.matches
    assert result.to_json()["profile"]["name"] == "diagnostics-only"
    replayed = {LABELS[i]: parts(s["reward"]) for i, s in enumerate(result.steps)}
    # diagnostics-only: weight 1 on a whole-workspace scope, no tests, no outcome,
    # and one refusal price for every reason.
    assert replayed["fix summary()"]["diagnostics"] == 1
    assert replayed["run tests"]["tests"] == replayed["run tests"]["outcome"] == 0
    assert replayed["write ../escape.py"]["safety"] == Fraction(-1, 5)
    assert replayed["typo fix"] == parts(demo.step("typo fix")["reward"])
    differing = [s["index"] for s in result.steps
                 if s["reward"] != demo.episode.steps[s["index"] - 1]["reward"]]
    assert differing == [4, 5, 6]
    assert demo.episode.footer is not None
    assert result.total.to_json() != demo.episode.footer["return"]


def test_replay_refuses_a_profile_that_changed_since_recording(demo: Recorded) -> None:
    header = {**demo.episode.header,
              "profile": {"name": "default", "hash": "sha256:" + "0" * 64}}
    stale = Episode(header, demo.episode.steps, demo.episode.footer)
    with pytest.raises(ProfileChanged) as caught:
        replay(Workspace.open(demo.root), stale)
    assert caught.value.code == "profile_mismatch" and "--profile" in caught.value.message
    assert replay(Workspace.open(demo.root), stale, "default").counterfactual


def test_same_actions_at_another_path_give_the_same_bytes(demo: Recorded,
                                                          tmp_path: Path) -> None:
    root = prepare_workspace(tmp_path / "somewhere" / "else" / "checkout")
    again = record_actions(root, [action for _, action in SCRIPT], "demo",
                           profile=load_profile("default"), task=demo_task())
    assert again.out.read_bytes() == demo.out.read_bytes()
    text = demo.out.read_text(encoding="utf-8")
    assert str(demo.root) not in text and str(tmp_path) not in text
    assert "timings" not in text


def test_reexecution_matches_every_bundle_hash(demo: Recorded, cli, tmp_path: Path) -> None:
    """One re-execution of a file whose first sight of a tree was given other changed
    paths (offline replay cannot know them): git's diff-tree flags exactly that, and
    every bundle hash of every step matches."""
    index = LABELS.index("fix Stock.remove") + 1
    edited = _tampered(demo, tmp_path, lambda r: r.update(changed=["inventory/x.py"]), index)
    result = cli(["replay", str(edited), "--root", str(demo.root), "--reexecute", "--json"],
                 cwd=demo.root)
    assert result.code == 1, result.stdout + result.stderr
    report = result.json
    assert report["matches"] is False
    assert [s["index"] for s in report["steps"]] == list(range(len(SCRIPT) + 1))
    assert [(s["index"], s["differed"]) for s in report["steps"] if not s["match"]] == [
        (index, ["changed"])]
    by_index = {s["index"]: s for s in report["steps"]}
    assert by_index[index]["reexecuted"]["changed"] == {"changed": ["inventory/stock.py"],
                                                        "deleted": []}
    assert set(by_index[0]["reexecuted"]) == {"diagnostics", "tests"}
    assert "query" in by_index[LABELS.index("hover Stock.remove") + 1]["reexecuted"]
    assert "tests" in by_index[LABELS.index("run tests") + 1]["reexecuted"]
    for step in report["steps"]:
        if step["index"] != index:
            assert step["reexecuted"] == step["recorded"]


def test_missing_or_tampered_bundle_is_an_error_not_a_traceback(demo: Recorded, tmp_path: Path,
                                                                 cli) -> None:
    copy = copy_workspace(demo.root, tmp_path / "copy")
    episode_file = copy / ".lanser" / "episodes" / "demo.jsonl"
    wanted = demo.step("fix summary()")["observed"]["diagnostics"]
    stored = copy / ".lanser" / "bundles" / "by-hash" / f"{wanted.split(':')[1]}.json"
    original = stored.read_text(encoding="utf-8")

    bundle = json.loads(original)
    bundle["facts"]["files"] = []  # forged: "no diagnostics at all"
    stored.write_text(json.dumps(bundle), encoding="utf-8")
    for args in (["--json"], []):
        result = cli(["replay", str(episode_file), *args], cwd=copy)
        assert result.code == 2, result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        assert wanted in result.stdout + result.stderr
    assert cli(["replay", str(episode_file), "--json"], cwd=copy).json["error"]["code"] == \
        "missing_bundle"

    stored.unlink()
    result = cli(["replay", str(episode_file), "--json"], cwd=copy)
    assert result.code == 2
    assert result.json["error"]["code"] == "missing_bundle"
    assert wanted in result.json["error"]["message"]

    stored.write_text(original, encoding="utf-8")
    assert cli(["replay", str(episode_file), "--json"], cwd=copy).code == 0


def test_an_edited_reward_is_flagged_at_its_step(demo: Recorded, tmp_path: Path, cli) -> None:
    lines = demo.out.read_text(encoding="utf-8").splitlines()
    index = LABELS.index("fix summary()") + 1
    step = json.loads(lines[index])
    assert step["index"] == index
    forged = Fraction(1, 5)
    step["reward"]["components"]["diagnostics"]["exact"] = str(forged)
    step["reward"]["total_exact"] = str(forged)
    step["reward"]["total"] = float(forged)
    lines[index] = json.dumps(step, sort_keys=True, separators=(",", ":"))
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = cli(["replay", str(edited), "--root", str(demo.root), "--json"], cwd=tmp_path)
    assert result.code == 1, result.stdout + result.stderr
    flagged = [s["index"] for s in result.json["steps"] if not s["match"]]
    # The footer's return is the sum of the true rewards, so it still matches.
    assert flagged == [index]
    assert result.json["steps"][index - 1]["recorded"] == "1/5"
    assert result.json["steps"][index - 1]["reward"]["total_exact"] == "1/10"
    human = cli(["replay", str(edited), "--root", str(demo.root)], cwd=tmp_path)
    assert human.code == 1 and "Traceback" not in human.stdout + human.stderr


def _tampered(demo: Recorded, tmp_path: Path, change: Any, line: int) -> Path:
    lines = demo.out.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[line])
    change(record)
    lines[line] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    edited = tmp_path / f"tampered-{line}.jsonl"
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return edited


def _clean(record: dict[str, Any], demo: Recorded) -> None:
    """A tampered step that claims a clean action: no penalty, total 0."""
    record["info"].update(status="ok", reason=None)
    record["reward"]["components"]["safety"] = {"exact": "0", "decimal": "0.000000000",
                                                "float": 0.0}
    record["reward"].update(total=0.0, total_exact="0", total_decimal="0.000000000")


def _rescored(record: dict[str, Any], demo: Recorded) -> None:
    """The submit step claims the scored run of "run tests", on the same tree."""
    record["observed"]["tests"] = demo.step("run tests")["observed"]["tests"]


@pytest.mark.parametrize(("label", "change", "differed"), [
    # A rolled-back edit re-labelled clean, its penalty removed to match.
    ("typo fix", _clean, ["info"]),
    # A refusal relabelled: the envelope record still says refused.
    ("write ../escape.py", _clean, ["info"]),
    # The tree of the step before, with other changed paths.
    ("write ../escape.py", lambda r, d: r.update(changed=["inventory/report.py"]),
     ["changed"]),
    # A query that claims a confidence its bundle does not record.
    ("hover Stock.remove", lambda r, d: r["info"].update(confidence="1/2"), ["info"]),
    # A second scored run on a tree the state already has a run for.
    ("submit", _rescored, ["tests"]),
])
def test_replay_recomputes_what_the_recorded_data_determines(
        demo: Recorded, tmp_path: Path, cli, label: str, change: Any,
        differed: list[str]) -> None:
    index = LABELS.index(label) + 1
    edited = _tampered(demo, tmp_path, lambda r: change(r, demo), index)
    result = cli(["replay", str(edited), "--root", str(demo.root), "--json"], cwd=tmp_path)
    assert result.code == 1, result.stdout + result.stderr
    flagged = [(s["index"], s["differed"]) for s in result.json["steps"] if not s["match"]]
    assert flagged[0] == (index, differed)
    # Replay scored what the data determines, so it reproduces the true reward.
    assert result.json["steps"][index - 1]["reward"] == demo.step(label)["reward"]


def test_an_edited_header_is_refused(demo: Recorded, tmp_path: Path, cli) -> None:
    edited = _tampered(demo, tmp_path, lambda r: r["task"].update(fail_to_pass=[]), 0)
    result = cli(["replay", str(edited), "--root", str(demo.root), "--json"], cwd=tmp_path)
    assert result.code == 2, result.stdout + result.stderr
    assert result.json["error"]["code"] == "malformed_episode"
    assert "the header was edited" in result.json["error"]["message"]


def test_a_step_naming_another_kind_of_bundle_is_malformed(demo: Recorded, tmp_path: Path,
                                                          cli) -> None:
    lines = demo.out.read_text(encoding="utf-8").splitlines()
    index = LABELS.index("run tests") + 1
    step = json.loads(lines[index])
    step["observed"]["tests"] = step["observed"]["diagnostics"]  # stored, but not a test run
    lines[index] = json.dumps(step)
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli(["replay", str(edited), "--root", str(demo.root), "--json"], cwd=tmp_path)
    assert result.code == 2, result.stdout + result.stderr
    assert result.json["error"]["code"] == "malformed_episode"
    assert "needs 'test'" in result.json["error"]["message"]


def test_snapshots_survive_gc_and_rebuild_exactly(demo: Recorded, tmp_path: Path) -> None:
    copy = copy_workspace(demo.root, tmp_path / "copy")
    episode = demo.episode
    points = [episode.header["base"], *(s["snapshot"] for s in episode.steps)]
    refs = dict(line.split() for line in run_git(
        copy, "for-each-ref", "--format=%(refname) %(objectname)",
        snapshots.REF_PREFIX).stdout.splitlines())
    for point in points:
        assert refs[snapshots.REF_PREFIX + point["tree"]] == point["commit"]
    # Control: an object nothing refers to is pruned by the same gc.
    stray = run_git(copy, "hash-object", "-w", "--stdin", stdin="stray object\n").stdout.strip()
    run_git(copy, "reflog", "expire", "--expire=now", "--all")
    run_git(copy, "gc", "--prune=now", "--quiet")
    assert run_git(copy, "cat-file", "-e", stray, check=False).returncode != 0
    for point in points:
        for obj in (point["tree"], point["commit"]):
            assert run_git(copy, "cat-file", "-e", obj, check=False).returncode == 0, obj
    workspace = Workspace.open(copy)
    for n, tree in enumerate(sorted({p["tree"] for p in points})):
        rebuilt = snapshots.materialize(workspace, tree, tmp_path / f"rebuilt{n}")
        assert snapshots.working_tree_hash(Workspace.open(rebuilt)) == tree
    fixed = snapshots.materialize(workspace, demo.step("fix Stock.remove")["snapshot"]["tree"],
                                  tmp_path / "fixed")
    assert "self.level(item) - quantity" in (fixed / "inventory/stock.py").read_text()


# -- malformed, refused and syntax-breaking actions ---------------------------------------

SANDBOX_FILES = {
    "pkg/__init__.py": "",
    "pkg/mod.py": "def add(a: int, b: int) -> int:\n    return a + b\n",
    "pkg/broken.py": "def f(:\n    return 1\n",
    "prices.toml": (
        'name = "prices"\nscope = "workspace"\n\n[weights]\ndiagnostics = 1\n'
        'confidence = "0.1"\n\n[severity]\nerror = 1\nwarning = "0.25"\n\n'
        '[penalties]\nrefused = "0.3"\nrolled_back = "0.2"\ninvalid = "0.1"\n\n'
        '[penalties.refused_by]\noutside_workspace = "0.5"\nsyntax_error = "0.7"\n'),
    "lanser.toml": '[rewards]\nprofile = "prices.toml"\n',
}
INVALID, NOT_FOUND = Fraction(-1, 10), Fraction(-3, 10)
OUTSIDE, SYNTAX = Fraction(-1, 2), Fraction(-7, 10)
BAD_PATCH = ("--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -1,1 +1,1 @@\n"
             "-def nope():\n+def yes():\n")
BROKEN_AGAIN = "def f(:\n    return 2\n"
#: A file beside the workspace, and a diff that names it: its content must never be
#: read, so it can never be echoed back in a mismatch message.
SECRET = "the outside secret 4e1b\n"
#: Deleting the broken file: its syntax error goes with it, which fixes nothing.
DELETE_BROKEN = ("--- a/pkg/broken.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n"
                 "-def f(:\n-    return 2\n")
WORKSPACE_SYMBOLS = {"action": "query", "op": "workspace-symbols", "query": "add"}
LEAK = ("--- a/../outside.txt\n+++ b/../outside.txt\n@@ -1,1 +1,1 @@\n"
        "-not what the file says\n+x\n")


def sandbox_actions(outside: Path) -> list[tuple[Any, str, str | None, Fraction]]:
    """(action, status, reason, safety) in order; the last three are legitimate (an
    edit, a query, a deletion)."""
    invalid = ("invalid", "invalid_action", INVALID)
    return [
        ("not json {", *invalid),                                   # undecodable line
        ({"action": "fly"}, *invalid),                              # unknown action
        ({"verb": "edit"}, *invalid),                               # no action at all
        ([1, 2], *invalid),                                         # not an object
        ({"action": "edit", "path": "pkg/mod.py"}, *invalid),       # missing content
        ({"action": "patch"}, *invalid),                            # missing diff
        ({"action": "query", "op": "hover"}, *invalid),             # missing at
        ({"action": "edit", "path": 3, "content": "x = 1\n"}, *invalid),  # wrong type
        ({"action": "edit", "at": "pkg/mod.py:1:1", "text": None}, *invalid),
        ({"action": "test", "args": "pkg"}, *invalid),
        ({"action": "query", "op": "fly", "at": "pkg/mod.py:1:5"}, *invalid),
        ({"action": "query", "op": "hover", "at": "pkg/nope.py:1:1"},
         "invalid", "missing_file", INVALID),
        ({"action": "edit", "at": 'pkg/mod.py@"no such text"', "text": "x"},
         "refused", "not_found", NOT_FOUND),
        ({"action": "patch", "diff": BAD_PATCH}, "refused", "patch_mismatch", NOT_FOUND),
        ({"action": "patch", "diff": "this is not a diff\n"}, "invalid", "bad_diff", INVALID),
        ({"action": "patch", "diff": LEAK}, "refused", "outside_workspace", OUTSIDE),
        ({"action": "edit", "path": "../outside.py", "content": "x = 1\n"},
         "refused", "outside_workspace", OUTSIDE),
        ({"action": "edit", "path": str(outside), "content": "x = 1\n"},
         "refused", "outside_workspace", OUTSIDE),
        ({"action": "edit", "at": 'pkg/mod.py@"return a + b"', "text": "return a +"},
         "refused", "syntax_error", SYNTAX),
        ({"action": "edit", "path": "pkg/new.py", "content": "def g(:\n"},
         "refused", "syntax_error", SYNTAX),
        (WORKSPACE_SYMBOLS, "ok", None, Fraction(0)),               # unlocated query
        ({"action": "edit", "path": "pkg/broken.py", "content": BROKEN_AGAIN}, "ok", None,
         Fraction(0)),
        ({"action": "query", "op": "hover", "at": "pkg/mod.py:1:5"}, "ok", None, Fraction(0)),
        ({"action": "patch", "diff": DELETE_BROKEN}, "ok", None, Fraction(0)),
    ]


@dataclass
class Sandbox:
    recorded: Recorded
    cases: list[tuple[Any, str, str | None, Fraction]]
    outside: Path


def make_sandbox(root: Path, outside: Path, *, reverse: bool = False) -> Recorded:
    files = list(SANDBOX_FILES.items())
    root.mkdir(parents=True)
    (root.parent / "outside.txt").write_text(SECRET, encoding="utf-8")
    for rel, text in reversed(files) if reverse else files:
        write_files(root, {rel: text})
        if reverse:  # other mtimes, other creation order: must not matter
            os.utime(root / rel, (1_000_000, 1_000_000))
    init_repo(root)
    return record_actions(root, [a for a, *_ in sandbox_actions(outside)], "sandbox",
                          profile=load_profile(root / "prices.toml"))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    outside = tmp_path_factory.mktemp("outside") / "abs.py"
    root = tmp_path_factory.mktemp("sandbox-a") / "ws"
    return Sandbox(make_sandbox(root, outside), sandbox_actions(outside), outside)


def test_malformed_actions_are_priced_and_the_episode_goes_on(sandbox: Sandbox) -> None:
    episode = sandbox.recorded.episode
    observations = sandbox.recorded.observations
    base_tree = episode.header["base"]["tree"]
    assert len(episode.steps) == len(sandbox.cases) == len(observations)
    assert episode.footer is not None and episode.footer["steps"] == len(sandbox.cases)
    for step, observation, (action, status, reason, safety) in zip(
            episode.steps, observations, sandbox.cases, strict=True):
        where = f"step {step['index']}: {action!r}"
        assert (step["info"]["status"], step["info"]["reason"]) == (status, reason), where
        assert nonzero(step["reward"]) == ({"safety": safety} if safety else {}), where
        assert observation["done"] is False
        if status == "invalid":
            assert observation["error"]["code"] == reason and observation["error"]["message"]
            assert step["envelope"] is None
        elif status == "refused":
            assert observation["edit"]["status"] == "refused"
            assert observation["edit"]["reason"] == reason and observation["edit"]["message"]
            assert step["envelope"]["status"] == "refused"
        # The action is kept as received: an undecodable line as {"invalid": text}.
        assert step["action"] == (action if isinstance(action, dict) else {"invalid": action})
    for step in episode.steps[:-3]:  # every bad action left the disk as it was
        assert step["snapshot"]["tree"] == base_tree and step["changed"] == []
    root = sandbox.recorded.root
    assert not (root.parent / "outside.py").exists() and not sandbox.outside.exists()
    assert not (root / "pkg" / "new.py").exists()
    assert (root / "pkg" / "mod.py").read_text() == SANDBOX_FILES["pkg/mod.py"]
    # ... and the server still answers after all of them.
    assert observations[-2]["answer"] and observations[-2]["target"]["path"] == "pkg/mod.py"


def test_an_unlocated_query_answers_and_targets_nothing(sandbox: Sandbox) -> None:
    """workspace-symbols takes a query string, not a location: it answers (the
    workspace's ``add``), is recorded without a target, and carries no confidence."""
    index = next(i for i, (a, *_) in enumerate(sandbox.cases) if a == WORKSPACE_SYMBOLS)
    step = sandbox.recorded.episode.steps[index]
    observation = sandbox.recorded.observations[index]
    assert step["info"] == {"kind": "query", "status": "ok", "reason": None,
                            "confidence": None}
    assert observation["target"] is None
    assert any(symbol["name"] == "add" for symbol in observation["answer"]["symbols"])


def test_deleting_a_file_with_base_errors_earns_nothing(sandbox: Sandbox) -> None:
    """pkg/broken.py's syntax error is in the base; deleting the file makes it vanish
    from the server's answer, but the deleted path is held at the base: 0, not +1."""
    step = sandbox.recorded.episode.steps[-1]
    assert step["action"] == {"action": "patch", "diff": DELETE_BROKEN}
    assert step["info"]["status"] == "ok" and step["deleted"] == ["pkg/broken.py"]
    assert "pkg/broken.py" in step["changed"]
    before = sandbox.recorded.observations[-2]["diagnostics"]
    after = sandbox.recorded.observations[-1]["diagnostics"]
    assert after["error"] < before["error"]  # the error did go away ...
    assert nonzero(step["reward"]) == {}  # ... and paid nothing
    assert not (sandbox.recorded.root / "pkg" / "broken.py").exists()


def test_a_patch_never_reads_outside_the_jail(sandbox: Sandbox) -> None:
    """A diff naming ../outside.txt is a jail refusal, decided before any read: the
    outside file's content reaches neither the agent nor the episode file."""
    index = next(i for i, (a, *_) in enumerate(sandbox.cases)
                 if isinstance(a, dict) and a.get("diff") == LEAK)
    step = sandbox.recorded.episode.steps[index]
    observation = sandbox.recorded.observations[index]
    assert (step["info"]["status"], step["info"]["reason"]) == ("refused", "outside_workspace")
    assert observation["edit"]["reason"] == "outside_workspace"
    assert "outside.txt" in observation["edit"]["message"]
    secret = SECRET.strip()
    assert secret not in json.dumps(sandbox.recorded.observations)
    assert secret not in sandbox.recorded.out.read_text(encoding="utf-8")
    assert (sandbox.recorded.root.parent / "outside.txt").read_text() == SECRET


def test_a_malformed_diff_is_an_invalid_action_not_a_refusal(sandbox: Sandbox) -> None:
    index = next(i for i, (a, *_) in enumerate(sandbox.cases)
                 if isinstance(a, dict) and a.get("diff") == "this is not a diff\n")
    step = sandbox.recorded.episode.steps[index]
    assert step["info"] == {"kind": "patch", "status": "invalid", "reason": "bad_diff",
                            "confidence": None}
    assert step["envelope"] is None
    assert nonzero(step["reward"]) == {"safety": INVALID}  # p(invalid), not p(refused)
    assert "not a unified diff" in sandbox.recorded.observations[index]["error"]["message"] \
        or "no file changes" in sandbox.recorded.observations[index]["error"]["message"]


def test_new_syntax_errors_are_refused_but_a_broken_file_may_be_edited(sandbox: Sandbox
                                                                       ) -> None:
    steps = {json.dumps(s["action"], sort_keys=True): s for s in sandbox.recorded.episode.steps}

    def step(action: dict[str, Any]) -> dict[str, Any]:
        return steps[json.dumps(action, sort_keys=True)]

    breaking = step({"action": "edit", "at": 'pkg/mod.py@"return a + b"', "text": "return a +"})
    assert breaking["envelope"]["reason"] == "syntax_error"
    assert "pkg/mod.py" in breaking["envelope"]["message"]
    assert breaking["info"]["confidence"] == "1"  # the selector resolved; the edit did not land
    new_file = step({"action": "edit", "path": "pkg/new.py", "content": "def g(:\n"})
    assert new_file["envelope"]["reason"] == "syntax_error"

    repair = step({"action": "edit", "path": "pkg/broken.py", "content": BROKEN_AGAIN})
    assert repair["info"]["status"] == "ok" and repair["envelope"]["status"] == "applied"
    assert repair["changed"] == ["pkg/broken.py"]
    # The episode's last step deletes the file; nothing else changed on disk.
    root = sandbox.recorded.root
    assert disk(root) == {k: v.encode() for k, v in SANDBOX_FILES.items()
                          if k != "pkg/broken.py"}


def test_bad_actions_replay_and_record_the_same_bytes_anywhere(sandbox: Sandbox,
                                                               tmp_path: Path) -> None:
    result = replay(Workspace.open(sandbox.recorded.root), sandbox.recorded.episode)
    assert result.matches and not result.counterfactual
    assert result.to_json()["profile"]["name"] == "prices"
    again = make_sandbox(tmp_path / "other" / "ws", sandbox.outside, reverse=True)
    assert again.out.read_bytes() == sandbox.recorded.out.read_bytes()
    text = again.out.read_text(encoding="utf-8")
    assert str(again.root) not in text and str(sandbox.recorded.root) not in text


def test_a_changed_workspace_profile_file_is_a_mismatch(sandbox: Sandbox,
                                                        tmp_path: Path) -> None:
    copy = copy_workspace(sandbox.recorded.root, tmp_path / "copy")
    prices = copy / "prices.toml"
    prices.write_text(prices.read_text().replace('invalid = "0.1"', 'invalid = "0.4"'))
    workspace = Workspace.open(copy)
    with pytest.raises(ProfileChanged) as caught:
        replay(workspace, sandbox.recorded.episode)
    assert caught.value.code == "profile_mismatch"
    rescored = replay(workspace, sandbox.recorded.episode, str(prices))
    assert rescored.counterfactual
    assert Fraction(rescored.steps[0]["reward"]["total_exact"]) == Fraction(-2, 5)


# -- test runs the agent chooses, and the end of an episode --------------------------------

PROBE_FILES = {
    "pkg/__init__.py": "",
    "pkg/calc.py": "def double(x: int) -> int:\n    return x + x + 1\n",
    "tests/__init__.py": "",
    "tests/test_calc.py": ("from pkg.calc import double\n\n\n"
                           "def test_passing() -> None:\n    assert double(0) >= 0\n\n\n"
                           "def test_double() -> None:\n    assert double(2) == 4\n"),
}
FIX_DOUBLE = {"action": "edit", "path": "pkg/calc.py",
              "content": "def double(x: int) -> int:\n    return x + x\n"}
SUBSET = {"action": "test", "args": ["-k", "passing"]}


def probe_root(parent: Path) -> Path:
    root = parent / "ws"
    root.mkdir(parents=True)
    write_files(root, PROBE_FILES)
    return init_repo(root)


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """No listed tests, so Phi_test is the mean credit over the task's run."""
    root = probe_root(tmp_path_factory.mktemp("probe"))
    return record_actions(root, [SUBSET, {"action": "test"}, FIX_DOUBLE, SUBSET,
                                 {"action": "submit"}], "probe",
                          profile=load_profile("default"))


def test_agent_chosen_test_runs_are_observed_never_scored(probed: Recorded) -> None:
    """`-k passing` would lift a mean over what ran to 1; a rerun on the tested tree
    would let a flaky test score a no-op. Both are observations: reported and bundled,
    with every component 0, and the state keeps the task's own run."""
    steps, observations = probed.episode.steps, probed.observations
    base_tree = probed.episode.header["base"]["tree"]
    for n in (0, 1, 3):  # the subset twice, the task's tests on the untouched base
        assert nonzero(steps[n]["reward"]) == {}, n
        assert steps[n]["observed"]["tests"] is None, n
        assert steps[n]["observed"]["unscored_tests"] is not None, n
        assert observations[n]["tests"]["scored"] is False, n
    assert [t["nodeid"] for t in observations[0]["tests"]["tests"]] == [
        "tests/test_calc.py::test_passing"]
    assert steps[1]["snapshot"]["tree"] == base_tree
    assert len(observations[1]["tests"]["tests"]) == 2
    # The fix is scored where the task's tests first see it: the submit reruns them,
    # since the state's run is for the base tree (the subset run does not count).
    submit = steps[4]
    assert submit["observed"]["tests"] is not None
    assert submit["snapshot"]["tree"] == steps[2]["snapshot"]["tree"] != base_tree
    lift = parts(submit["reward"])["tests"]  # to 1 from the base's mean (partial credit)
    assert 0 < lift < 1 and nonzero(submit["reward"]) == {"tests": lift}
    assert observations[4]["tests"]["scored"] is True
    assert {t["outcome"] for t in observations[4]["tests"]["tests"]} == {"passed"}
    footer = probed.episode.footer
    assert footer is not None and footer["observed"]["tests"] is None
    assert parts(footer["return"]) == {**{k: Fraction(0) for k in COMPONENTS}, "tests": lift}
    result = replay(Workspace.open(probed.root), probed.episode)
    assert result.matches, result.to_json()


def test_replay_refuses_to_score_an_unscored_run_moved_into_the_state(
        probed: Recorded, tmp_path: Path, cli) -> None:
    lines = probed.out.read_text(encoding="utf-8").splitlines()
    step = json.loads(lines[1])  # the subset run: as if it had been scored
    step["observed"]["tests"] = step["observed"]["unscored_tests"]
    step["observed"]["unscored_tests"] = None
    lines[1] = json.dumps(step)
    edited = tmp_path / "moved.jsonl"
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli(["replay", str(edited), "--root", str(probed.root), "--json"], cwd=tmp_path)
    assert result.code == 1, result.stdout + result.stderr
    first = result.json["steps"][0]
    assert (first["match"], first["differed"]) == (False, ["tests"])
    assert first["reward"]["total_exact"] == "0"  # replay did not score it
    assert [s["index"] for s in result.json["steps"] if not s["match"]] == [1]


def test_an_episode_ending_without_submit_tests_the_last_tree(tmp_path: Path, cli) -> None:
    """The footer's ``resolved`` is for the tree the episode left, not a stale run."""
    root = probe_root(tmp_path)
    task = TaskSpec(fail_to_pass=("tests/test_calc.py::test_double",),
                    pass_to_pass=("tests/test_calc.py::test_passing",))
    ended = record_actions(root, [{"action": "test"}, FIX_DOUBLE], "ended",
                           profile=load_profile("diagnostics-only"), task=task)
    footer = ended.episode.footer
    assert footer is not None
    assert ended.episode.steps[0]["observed"]["tests"] is not None  # scored, weight 0
    assert footer["outcome"] == {"submitted": False, "resolved": True}
    assert footer["observed"]["tests"] is not None
    assert replay(Workspace.open(root), ended.episode).matches

    lines = ended.out.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[-1])
    record["outcome"]["resolved"] = False
    edited = tmp_path / "footer.jsonl"
    edited.write_text("\n".join([*lines[:-1], json.dumps(record)]) + "\n", encoding="utf-8")
    result = cli(["replay", str(edited), "--root", str(root), "--json"], cwd=tmp_path)
    assert result.code == 1, result.stdout + result.stderr
    assert result.json["steps"][-1]["kind"] == "footer"
    assert result.json["steps"][-1]["differed"] == ["outcome"]
