"""The git gateway (:mod:`lanser.git`): one environment, one timeout, one error code
for a revision that does not resolve. Real git, real repositories in temp dirs."""

from __future__ import annotations

import pytest

from lanser import git
from lanser.errors import ExitCode
from tests.conftest import REPO, init_repo, write_files


@pytest.fixture
def repo(tmp_path):
    return init_repo(write_files(tmp_path / "r", {"a.py": "x = 1\n"}))


def test_a_bad_revision_is_one_code_wherever_it_is_given(repo) -> None:
    for kind in ("commit", "tree"):
        with pytest.raises(git.BadRevision) as caught:
            git.resolve(repo, "no-such-rev", kind)
        assert caught.value.code == "bad_rev" and caught.value.exit_code == ExitCode.USAGE
    with pytest.raises(git.BadRevision):
        git.resolve(repo, "--output=/tmp/x")  # an option is never a revision
    with pytest.raises(git.BadRevision):
        git.run(repo, "ls-tree", "nope", revision="nope")
    assert len(git.resolve(repo, "HEAD", "tree")) == 40


def test_other_failures_are_git_errors_or_nothing(repo, tmp_path) -> None:
    with pytest.raises(git.GitError) as caught:
        git.run(repo, "no-such-subcommand")
    assert caught.value.code == "git_error" and caught.value.exit_code == ExitCode.RUNTIME
    assert git.run(repo, "no-such-subcommand", check=False) is None
    assert git.toplevel(repo) == repo
    outside = tmp_path / "plain"
    outside.mkdir()
    assert git.toplevel(outside) is None


def test_input_env_and_bytes(repo) -> None:
    blob = git.run(repo, "hash-object", "-w", "--stdin", input="hello\n").strip()
    assert git.run(repo, "cat-file", "blob", blob, binary=True) == b"hello\n"
    # The fixed environment wins over the caller's: git never prompts, never translates.
    assert git.environment({"X": "1"})["GIT_TERMINAL_PROMPT"] == "0"
    out = git.run(repo, "var", "GIT_AUTHOR_IDENT",
                  env={"GIT_AUTHOR_NAME": "gateway", "GIT_AUTHOR_EMAIL": "g@x.invalid"})
    assert out.startswith("gateway <g@x.invalid>")


def test_a_command_past_the_timeout_is_killed(repo) -> None:
    # `git hash-object --stdin` with a stdin that never ends would block forever; a
    # pager-less `git -c alias.s='!sleep 5' s` stands in for a hung command.
    with pytest.raises(git.GitError):
        git.run(repo, "-c", "alias.s=!sleep 5", "s", timeout=0.5)


def test_only_the_gateway_spawns_git() -> None:
    spawning = sorted(
        str(path.relative_to(REPO)) for path in (REPO / "lanser").rglob("*.py")
        if '"git"' in path.read_text(encoding="utf-8") and path.name != "git.py")
    assert not spawning, f"modules that run git themselves: {spawning}"


def test_a_bundle_carries_commits_to_a_new_repository(repo, tmp_path) -> None:
    """What the Ray executor ships through the object store instead of a shared path."""
    first = git.resolve(repo, "HEAD")
    (repo / "a.py").write_text("x = 2\n")
    git.run(repo, "commit", "-qam", "two", env=git.FIXED_IDENTITY)
    second = git.resolve(repo, "HEAD")
    data = git.bundle(repo, [second, first, second])
    assert data == git.bundle(repo, [first, second])          # same commits, same bytes
    assert git.run(repo, "for-each-ref", git.BUNDLE_REFS) == ""  # its refs are gone
    clone = git.unbundle(data, tmp_path / "clone")
    assert git.run(clone, "show", f"{second}:a.py") == "x = 2\n"
    assert git.resolve(clone, first) == first
    with pytest.raises(git.BadRevision):
        git.bundle(repo, ["0" * 40])
