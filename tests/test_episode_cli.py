"""``lanser episode serve|run`` and ``lanser replay`` as agents and trainers call them.

Real subprocesses, a real basedpyright, real git repositories in ``tmp_path``. The
serve test talks to the process line by line, as an agent loop does: each action is
written only after the previous observation was read.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from lanser.episodes.format import load
from lanser.episodes.replay import replay
from lanser.workspace import Workspace
from tests.conftest import init_repo, run_cli, write_files

FILES = {
    "pkg/__init__.py": "",
    "pkg/mod.py": "def add(a: int, b: int) -> int:\n    return a + b\n\n\nx: str = add(1, 2)\n",
}
HOVER = {"action": "query", "op": "hover", "at": "pkg/mod.py:1:5"}
FIX = {"action": "edit", "at": 'pkg/mod.py@"x: str"', "text": "x: int"}


def make_root(parent: Path, extra: dict[str, str] | None = None) -> Path:
    root = parent / "ws"
    root.mkdir(parents=True)
    write_files(root, {**FILES, **(extra or {})})
    return init_repo(root).resolve()


def exact(reward: dict[str, Any], name: str | None = None) -> str:
    return reward["total_exact"] if name is None else reward["components"][name]["exact"]


# -- serve ---------------------------------------------------------------------------------


class Agent:
    """The agent's side of ``lanser episode serve``: one line out, one line back."""

    def __init__(self, root: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lanser", "episode", "serve", *args], cwd=root,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, encoding="utf-8", env=os.environ.copy())
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def read(self, timeout: float = 90) -> dict[str, Any]:
        line = self.lines.get(timeout=timeout)
        assert line is not None, f"serve ended early: {self.stderr()}"
        return json.loads(line)

    def send(self, line: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.read()

    def stderr(self) -> str:
        self.proc.wait(timeout=60)
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


def test_serve_speaks_json_lines_and_ends_cleanly_at_eof(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    # --out under a .lanser/ that does not exist yet: it must still stay out of snapshots.
    agent = Agent(root, "--profile", "diagnostics-only", "--out", ".lanser/serve.jsonl")
    try:
        hello = agent.read()
        assert set(hello) == {"episode"}
        assert hello["episode"]["file"] == ".lanser/serve.jsonl"

        query = agent.send(json.dumps(HOVER))
        assert (query["step"], query["kind"], query["status"]) == (1, "query", "ok")
        assert "add" in json.dumps(query["answer"]) and query["done"] is False
        assert query["diagnostics"]["error"] == 1 and exact(query["reward"]) == "0"

        garbage = agent.send("this is not json")
        assert (garbage["step"], garbage["status"]) == (2, "invalid")
        assert garbage["error"]["code"] == "invalid_action"
        assert exact(garbage["reward"], "safety") == "-1/10"

        fixed = agent.send(json.dumps(FIX))
        assert (fixed["step"], fixed["status"], fixed["edit"]["status"]) == (3, "ok", "applied")
        assert exact(fixed["reward"], "diagnostics") == "1" and fixed["diagnostics"]["error"] == 0
        for observation in (query, garbage, fixed):
            assert observation["timings_ms"]["step"] >= 0

        assert agent.proc.stdin is not None
        agent.proc.stdin.close()  # EOF: the episode ends, the footer comes last
        footer = agent.read()
        assert set(footer) == {"footer"}
        assert footer["footer"]["steps"] == 3
        assert footer["footer"]["outcome"] == {"submitted": False, "resolved": False}
        assert exact(footer["footer"]["return"]) == "9/10"
        assert agent.lines.get(timeout=60) is None  # nothing after the footer
        assert agent.proc.wait(timeout=60) == 0
        assert "Traceback" not in agent.stderr()
    finally:
        agent.close()

    episode = load(root / ".lanser" / "serve.jsonl")
    assert episode.header["id"] == hello["episode"]["id"]
    assert episode.header["base"] == hello["episode"]["base"]
    assert episode.footer == footer["footer"]
    assert [s["info"]["status"] for s in episode.steps] == ["ok", "invalid", "ok"]
    assert episode.steps[1]["action"] == {"invalid": "this is not json"}
    # Neither the episode file nor the bundle store is part of any snapshot.
    base = episode.header["base"]["tree"]
    assert [s["changed"] for s in episode.steps] == [[], [], ["pkg/mod.py"]]
    assert episode.steps[0]["snapshot"]["tree"] == episode.steps[1]["snapshot"]["tree"] == base
    status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True,
                            text=True, check=True).stdout
    assert status.splitlines() == [" M pkg/mod.py"]
    assert replay(Workspace.open(root), episode).matches


def test_serve_stops_at_submit_without_waiting_for_eof(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    out = tmp_path / "episodes" / "submit.jsonl"
    agent = Agent(root, "--profile", "diagnostics-only", "--out", str(out))
    try:
        agent.read()
        done = agent.send(json.dumps({"action": "submit"}))
        assert (done["kind"], done["done"]) == ("submit", True)
        assert agent.read()["footer"]["outcome"]["submitted"] is True
        assert agent.proc.wait(timeout=60) == 0  # stdin still open
    finally:
        agent.close()
    assert len(load(out).steps) == 1


def test_serve_survives_lines_the_episode_file_cannot_hold(tmp_path: Path) -> None:
    """Bytes that are not UTF-8, and JSON that decodes to a lone surrogate, are invalid
    actions recorded as text, not an internal error on writing the episode file."""
    root = make_root(tmp_path)
    out = tmp_path / "odd.jsonl"
    lines = b"\xff\xfe not utf-8\n" + b'{"action": "edit", "path": "b.py", "content": "\\ud800"}\n'
    done = subprocess.run([sys.executable, "-m", "lanser", "episode", "serve", "--profile",
                           "diagnostics-only", "--out", str(out)], cwd=root, input=lines,
                          capture_output=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    replies = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert [r.get("status") for r in replies[1:-1]] == ["invalid", "invalid"]
    episode = load(out)
    assert [s["action"] for s in episode.steps] == [
        {"invalid": "\ufffd\ufffd not utf-8"},
        {"invalid": '{"action": "edit", "path": "b.py", "content": "\\ud800"}'}]
    assert not (root / "b.py").exists()


# -- run and replay ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One ``episode run --json`` (actions after the submit are never carried out)."""
    base = tmp_path_factory.mktemp("run")
    root = make_root(base)
    actions = base / "actions.jsonl"
    after = {"action": "edit", "path": "pkg/late.py", "content": "y = 1\n"}
    actions.write_text("\n".join(json.dumps(a) for a in
                                 (HOVER, FIX, {"action": "submit"}, after)) + "\n\n")
    out = base / "out" / "run.jsonl"
    result = run_cli(["episode", "run", str(actions), "--profile", "diagnostics-only",
                      "--out", str(out), "--json"], cwd=root)
    return {"root": root, "out": out, "result": result, "base": base}


def test_episode_run_json_shape(ran: dict[str, Any]) -> None:
    result = ran["result"]
    assert result.code == 0, result.stdout + result.stderr
    data = result.json
    assert set(data) == {"file", "steps", "footer"} and data["file"] == str(ran["out"])
    assert [s["step"] for s in data["steps"]] == [1, 2, 3]
    assert [s["kind"] for s in data["steps"]] == ["query", "edit", "submit"]
    for step in data["steps"]:
        assert isinstance(step["reward"]["total"], float)
        assert set(step["reward"]["components"]) == {
            "confidence", "diagnostics", "integrity", "outcome", "safety", "tests"}
    assert data["steps"][1]["reward"]["total"] == 1.0
    footer = data["footer"]
    assert footer["steps"] == 3 and footer["outcome"]["submitted"] is True
    assert footer["return"]["total"] == 1.0 and footer["return"]["total_exact"] == "1"
    assert not (ran["root"] / "pkg" / "late.py").exists()
    assert load(ran["out"]).footer == footer


def test_replay_json_shape_and_exit_codes(ran: dict[str, Any]) -> None:
    root, out = ran["root"], ran["out"]
    result = run_cli(["replay", str(out), "--root", str(root), "--json"], cwd=ran["base"])
    assert result.code == 0, result.stdout + result.stderr
    data = result.json
    assert set(data) == {"profile", "counterfactual", "matches", "steps", "return"}
    assert data["matches"] is True and data["counterfactual"] is False
    assert data["profile"]["name"] == "diagnostics-only"
    assert data["return"]["total"] == 1.0 and data["return"]["total_exact"] == "1"
    assert [(s["index"], s["match"]) for s in data["steps"]] == [(1, True), (2, True), (3, True)]
    assert [s["recorded"] for s in data["steps"]] == ["0", "1", "0"]
    assert all(isinstance(s["reward"]["total"], float) for s in data["steps"])

    human = run_cli(["replay", str(out), "--root", str(root)], cwd=ran["base"])
    assert human.code == 0 and "Traceback" not in human.stdout + human.stderr
    assert human.stdout.strip()

    other = run_cli(["replay", str(out), "--root", str(root), "--profile", "default",
                     "--json"], cwd=ran["base"])
    assert other.code == 0 and other.json["counterfactual"] is True
    assert other.json["profile"]["name"] == "default"
    # default: w_diag = 1/10 on the touched scope, where the fixed error lives
    assert other.json["return"]["total_exact"] == "1/10"


def test_human_replay_names_what_a_tampered_step_changed(ran: dict[str, Any]) -> None:
    """A step whose recorded ``changed`` list was edited: the table says NO and names
    the field, in an exact replay and in a counterfactual one alike."""
    lines = ran["out"].read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    step = next(r for r in records if r.get("index") == 2)
    step["changed"] = [*step["changed"], "pkg/elsewhere.py"]
    tampered = ran["base"] / "tampered.jsonl"
    tampered.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records),
                        encoding="utf-8")
    for extra in ([], ["--profile", "default"]):
        human = run_cli(["replay", str(tampered), "--root", str(ran["root"]), *extra],
                        cwd=ran["base"])
        assert human.code == 1, human.stdout + human.stderr
        assert "NO" in human.stdout and "changed" in human.stdout, extra
        assert "differs from the recording" in human.stdout, extra


def test_workspace_profile_file_replays_and_a_changed_one_is_refused(tmp_path: Path) -> None:
    profile = (Path(__file__).resolve().parent.parent / "rewards" /
               "diagnostics-only.toml").read_text(encoding="utf-8")
    profile = profile.replace('name = "diagnostics-only"', 'name = "house"')
    root = make_root(tmp_path, {"house.toml": profile,
                                "lanser.toml": '[rewards]\nprofile = "house.toml"\n'})
    actions = tmp_path / "actions.jsonl"
    actions.write_text(json.dumps(FIX) + "\n")
    out = tmp_path / "house.jsonl"
    # Run from elsewhere: the configured relative path is read from the root.
    ran = run_cli(["episode", "run", str(actions), "--root", str(root), "--out", str(out),
                   "--json"], cwd=tmp_path)
    assert ran.code == 0, ran.stdout + ran.stderr
    assert load(out).header["profile"]["name"] == "house"

    same = run_cli(["replay", str(out), "--root", str(root), "--json"], cwd=tmp_path)
    assert same.code == 0, same.stdout + same.stderr
    assert same.json["matches"] is True and same.json["counterfactual"] is False
    assert same.json["profile"]["name"] == "house"

    (root / "house.toml").write_text(profile.replace("diagnostics = 1", "diagnostics = 2"))
    changed = run_cli(["replay", str(out), "--root", str(root), "--json"], cwd=tmp_path)
    assert changed.code == 2
    assert changed.json["error"]["code"] == "profile_mismatch"
    assert "--profile" in changed.json["error"]["message"]
    human = run_cli(["replay", str(out), "--root", str(root)], cwd=tmp_path)
    assert human.code == 2 and "profile_mismatch" in human.stderr
    assert "Traceback" not in human.stdout + human.stderr

    rescored = run_cli(["replay", str(out), "--root", str(root), "--profile",
                        str(root / "house.toml"), "--json"], cwd=tmp_path)
    assert rescored.code == 0 and rescored.json["counterfactual"] is True
    assert rescored.json["return"]["total_exact"] == "2"


# -- malformed episode files -----------------------------------------------------------------


def _edit(lines: list[str], index: int, change: Any) -> list[str]:
    record = json.loads(lines[index])
    change(record)
    return [*lines[:index], json.dumps(record), *lines[index + 1:]]


MALFORMED = {
    "not JSON": (lambda ls: [ls[0], "{not json", *ls[2:]], ":2: not JSON"),
    "header without server": (
        lambda ls: _edit(ls, 0, lambda r: r.pop("server")),
        '"server" is a required property'),
    "unknown status": (
        lambda ls: _edit(ls, 1, lambda r: r["info"].update(status="great")),
        'at info/status: "great" is not one of'),
    "not a record": (lambda ls: [ls[0], "[1, 2]", *ls[2:]], ":2: not an episode record"),
    "steps out of order": (lambda ls: [ls[0], ls[2], ls[1], *ls[3:]],
                           "step 2 out of order (expected 1)"),
    "no header": (lambda ls: ls[1:], "the first record must be the header"),
    "step after the footer": (lambda ls: [*ls, ls[1]], "comes after the footer"),
    "empty": (lambda ls: [], "the first record must be the header"),
    "edited header": (lambda ls: _edit(ls, 0, lambda r: r["task"].update(name="other")),
                      "the header was edited"),
    "another tool": (lambda ls: _edit(ls, 0, lambda r: r["tool"].update(name="not-lanser")),
                     "at tool/name"),
    "server without its hashes": (
        lambda ls: _edit(ls, 0, lambda r: r["server"].pop("capabilities_hash")),
        '"capabilities_hash" is a required property'),
    "unknown component": (
        lambda ls: _edit(ls, 1, lambda r: r["reward"]["components"].update(
            bonus=r["reward"]["components"]["safety"])),
        "at reward/components"),
    "value without decimal places": (
        lambda ls: _edit(ls, 1, lambda r: r["reward"]["components"]["safety"].update(
            decimal="0")),
        "at reward/components/safety/decimal"),
    "value with an extra field": (
        lambda ls: _edit(ls, 1, lambda r: r["reward"]["components"]["safety"].update(
            note="x")),
        "at reward/components/safety"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_episode_file_is_exit_2_with_a_clear_message(ran: dict[str, Any],
                                                                tmp_path: Path,
                                                                case: str) -> None:
    mangle, needle = MALFORMED[case]
    lines = ran["out"].read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(f"{line}\n" for line in mangle(lines)), encoding="utf-8")
    result = run_cli(["replay", str(bad), "--root", str(ran["root"]), "--json"], cwd=tmp_path)
    assert result.code == 2, result.stdout + result.stderr
    error = result.json["error"]
    assert error["code"] == "malformed_episode"
    assert needle in error["message"] and len(error["message"]) < 300


@pytest.mark.parametrize(("make", "code", "needle"), [
    (lambda p: p.write_bytes(b"\xff\xfe\x00junk"), "malformed_episode", "not UTF-8"),
    (lambda p: p.mkdir(), "not_a_file", "not a regular file"),
    (lambda p: None, "missing_file", "no such episode file"),
])
def test_unreadable_episode_path_is_exit_2(tmp_path: Path, make: Any, code: str,
                                           needle: str) -> None:
    path = tmp_path / "episode.jsonl"
    make(path)
    result = run_cli(["replay", str(path), "--json"], cwd=tmp_path)
    assert result.code == 2, result.stdout + result.stderr
    assert result.json["error"]["code"] == code and needle in result.json["error"]["message"]
    human = run_cli(["replay", str(path)], cwd=tmp_path)
    assert human.code == 2 and needle in human.stderr and "Traceback" not in human.stderr
