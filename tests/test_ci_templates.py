"""The CI templates in ci/ and .pre-commit-hooks.yaml, run for real.

The GitHub action's and workflow's own ``run:`` steps (read from the YAML, their
``${{ }}`` expressions evaluated the way the runner would for a pull request) run
with bash on a real git repository made here, not on a GitHub runner; the ``uses:``
steps (setup-python, the uploads) and the pip install are GitHub's and PyPI's, so
they are not run: the installed lanser is this one. The pre-commit hook's entry runs
through the CLI on a staged change, and through ``pre-commit try-repo`` when
pre-commit is installed (slow: it builds lanser into a fresh virtualenv).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import GIT_ENV, REPO, git, init_repo, write_files

# Whole-module slow: the quick loop (-m 'not slow') leaves it to the full suite.
pytestmark = pytest.mark.slow

ACTION = REPO / "ci" / "github" / "action.yml"
WORKFLOW = REPO / "ci" / "github" / "workflows" / "lanser-ci.yml"
GITLAB = REPO / "ci" / "gitlab" / "lanser-ci.gitlab-ci.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

BASE = "def total(xs: list[int]) -> int:\n    return sum(xs)\n"
TEST = "from app import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _evaluate(text: str, context: dict[str, str]) -> str:
    """``${{ a || b }}`` with dotted names looked up in ``context`` ('' when absent)."""
    def one(match: re.Match[str]) -> str:
        for name in match.group(1).split("||"):
            value = context.get(name.strip(), "")
            if value:
                return value
        return ""

    return EXPRESSION.sub(one, str(text))


def _run_steps(steps: list[dict], repo: Path, context: dict[str, str],
               tmp: Path) -> dict[str, str]:
    """Run the ``run:`` steps (not the install) as GitHub would; returns the outputs."""
    tmp.mkdir(parents=True, exist_ok=True)
    output, summary = tmp / "github_output", tmp / "step_summary"
    output.touch()
    summary.touch()
    env = {**os.environ, **GIT_ENV, "GITHUB_OUTPUT": str(output),
           "GITHUB_STEP_SUMMARY": str(summary),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    outputs: dict[str, str] = {}
    for step in steps:
        if "run" not in step or step.get("id") == "install":
            continue
        step_env = {k: _evaluate(v, {**context, **outputs}) for k, v in
                    (step.get("env") or {}).items()}
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                               step["run"]], cwd=repo, env={**env, **step_env},
                              capture_output=True, text=True, timeout=300, check=False)
        for line in output.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            outputs[f"steps.{step.get('id')}.outputs.{key}"] = value
        outputs[f"exit.{step.get('id')}"] = str(proc.returncode)
        if proc.returncode != 0:
            outputs["failed_step"] = str(step.get("id"))
            outputs["stderr"] = proc.stderr
            break
    outputs["summary"] = summary.read_text(encoding="utf-8")
    return outputs


@pytest.fixture
def pull_request(tmp_path) -> tuple[Path, str]:
    """A repository whose HEAD adds a type error to a tested module; the base commit."""
    repo = tmp_path / "repo"
    write_files(repo, {"app.py": BASE, "tests/test_app.py": TEST})
    init_repo(repo)
    base = git(repo, "rev-parse", "HEAD").strip()
    write_files(repo, {"app.py": BASE + "\n\ndef label() -> str:\n    return 1\n"})
    git(repo, "commit", "-qam", "add label")
    return repo, base


def test_templates_parse_and_call_lanser_ci_with_real_options():
    from lanser.cli.app import app

    action, workflow, gitlab = _load(ACTION), _load(WORKFLOW), _load(GITLAB)
    assert action["runs"]["using"] == "composite"
    uses = [s.get("uses", "") for s in action["runs"]["steps"]]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    assert "workflow_call" in workflow[True]  # YAML 1.1 reads the key `on` as True
    commands = [step["run"] for step in action["runs"]["steps"] if "run" in step]
    commands += [s["run"] for s in workflow["jobs"]["gate"]["steps"] if "run" in s]
    commands += gitlab["lanser-ci"]["script"]
    commands.append(_load(HOOKS)[0]["entry"])
    help_text = CliRunner().invoke(app, ["ci", "--help"], terminal_width=200).output
    flags = set(re.findall(r"--[a-z][a-z-]+", help_text))
    used = {f for c in commands for f in re.findall(r"lanser ci[^\n]*(?:\\\n[^\n]*)*", c)}
    assert used, "no lanser ci command in the templates"
    for command in used:
        for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]+", command):
            assert flag in flags, f"{flag} is not an option of lanser ci"


@pytest.mark.slow
def test_the_github_actions_own_steps_gate_a_real_pull_request(pull_request, tmp_path):
    repo, base = pull_request
    action = _load(ACTION)
    context = {f"inputs.{k}": str(v.get("default", "")) for k, v in action["inputs"].items()}
    context["github.event.pull_request.base.sha"] = base
    out = _run_steps(action["runs"]["steps"], repo, context, tmp_path)
    assert out["steps.gate.outputs.exit-code"] == "1", out  # the new error fails the gate
    assert out.get("failed_step") == "verdict" and out["exit.verdict"] == "1"
    log = json.loads((repo / "lanser.sarif").read_text(encoding="utf-8"))
    new = [r for r in log["runs"][0]["results"] if r["baselineState"] == "new"]
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in new] == [6]
    assert "test_total" in (repo / "lanser-junit.xml").read_text(encoding="utf-8")
    assert out["summary"].startswith("## ❌ lanser ci: failed")

    # the reusable workflow's steps: same commands, the PR base from the event
    workflow = _load(WORKFLOW)
    context = {f"inputs.{k}": str(v.get("default", ""))
               for k, v in workflow[True]["workflow_call"]["inputs"].items()}
    context.update({"github.event.pull_request.base.sha": base, "inputs.tests": "none"})
    out = _run_steps(workflow["jobs"]["gate"]["steps"], repo, context, tmp_path / "wf")
    assert out["steps.gate.outputs.exit-code"] == "1" and out["exit.verdict"] == "1"


def test_the_pre_commit_hook_entry_fails_on_a_staged_new_error(tmp_path):
    """The hook's entry as pre-commit calls it (staged file names appended) on the
    first commit of a repository: the base is the empty tree, the head the index."""
    from lanser.cli.app import app

    hook = _load(HOOKS)[0]
    assert hook["language"] == "python" and hook["types"] == ["python"]
    argv = shlex.split(hook["entry"])
    assert argv[:2] == ["lanser", "ci"]
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")  # no commit yet: the base is the empty tree
    write_files(repo, {"ok.py": "x: int = 1\n", "bad.py": "y: int = 'no'\n",
                       "later.py": "z: int = 'not staged'\n"})
    git(repo, "add", "ok.py", "bad.py")  # later.py is not part of the commit
    result = CliRunner().invoke(app, [*argv[1:], "--root", str(repo), "--json", "bad.py",
                                      "ok.py"])
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert [d["path"] for d in payload["diagnostics"]["new"]] == ["bad.py"]
    assert payload["changed"] == ["bad.py", "ok.py"] and payload["tests"] is None


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pre-commit") is None and
                    not (Path(sys.executable).parent / "pre-commit").exists(),
                    reason="pre-commit is not installed")
def test_pre_commit_try_repo_runs_the_hook(tmp_path):
    """pre-commit builds this checkout of lanser into its own virtualenv (from the
    configured package index) and runs the hook on a staged change."""
    pre_commit = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
    repo = tmp_path / "repo"
    write_files(repo, {"ok.py": "x: int = 1\n"})
    init_repo(repo)
    write_files(repo, {"ok.py": "x: int = 1\n\n\ndef f() -> int:\n    return 'no'\n"})
    git(repo, "add", "ok.py")
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(tmp_path / "cache")}
    proc = subprocess.run([pre_commit, "try-repo", str(REPO), "lanser-new-errors"], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "lanser (new type errors)" in proc.stdout and "Failed" in proc.stdout
    # failed for the new error, not because lanser crashed in the hook's environment
    assert "ok.py:5" in proc.stdout and "crash" not in proc.stdout.lower(), proc.stdout
