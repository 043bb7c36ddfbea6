"""Completion parsing: the forms models write, with the mistakes they make (issue 19)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lanser.scoring import parse_completion
from lanser.scoring.patching import MAX_FUZZ, changes, resolve
from lanser.scoring.tools import tool_schemas

CALC = ("def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n\n\n"
        "def sub(a, b):\n    return a - b\n")
FILES = {"pkg/calc.py": CALC}


def score(text: str, fmt: str = "auto", files: dict[str, str] | None = None):
    parsed = parse_completion(text, fmt)
    return parsed, resolve(parsed, (files or FILES).get)


def test_diff_without_git_header_and_wrong_counts_is_recounted():
    text = ("Here is the fix.\n\n--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -1,7 +1,9 @@\n"
            " def add(a, b):\n-    return a - b\n+    return a + b\n")
    parsed, found = score(text)
    assert parsed.format == "diff" and "recounted" in parsed.notes
    assert found.ok and found.fuzz == 0
    assert found.contents["pkg/calc.py"] == CALC.replace("a - b", "a + b", 1)


def test_fenced_diff_with_prose_and_a_blank_context_line_stripped_of_its_space():
    text = ("I think the bug is in add.\n```diff\ndiff --git a/pkg/calc.py b/pkg/calc.py\n"
            "--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -1,5 +1,5 @@\n def add(a, b):\n"
            "-    return a - b\n+    return a + b\n\n\n def mul(a, b):\n```\nDone!\n")
    _, found = score(text)
    assert found.ok and found.contents["pkg/calc.py"] == CALC.replace("a - b", "a + b", 1)


def test_wrong_line_numbers_find_the_unique_place_without_fuzz():
    text = ("--- pkg/calc.py\n+++ pkg/calc.py\n@@ -40,2 +40,2 @@\n def mul(a, b):\n"
            "-    return a * b\n+    return b * a\n")
    _, found = score(text)
    assert found.ok and found.fuzz == 0 and "return b * a" in found.contents["pkg/calc.py"]


def test_a_duplicated_block_takes_the_place_nearest_the_stated_line():
    text = ("--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -10,1 +10,1 @@\n-    return a - b\n"
            "+    return b - a\n")
    _, found = score(text)
    assert found.ok
    out = found.contents["pkg/calc.py"]
    assert out.splitlines()[1] == "    return a - b" and out.splitlines()[9] == "    return b - a"


def test_trailing_whitespace_is_fuzz_one_and_reported():
    text = ("--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):   \n"
            "-    return a - b \n+    return a + b\n")
    _, found = score(text)
    assert found.ok and found.fuzz == 1


def test_a_wrong_outer_context_line_is_dropped_with_bounded_fuzz():
    text = ("--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -1,3 +1,3 @@\n def add(x, y):\n"
            "-    return a - b\n+    return a + b\n \n")
    _, found = score(text)
    assert found.ok and found.fuzz == 2
    assert found.contents["pkg/calc.py"].startswith("def add(a, b):\n    return a + b\n")


def test_a_changed_line_that_is_not_there_is_never_fuzzed():
    text = ("--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n"
            "-    return a ** b\n+    return a + b\n")
    _, found = score(text)
    assert found.reason == "hunk_not_found" and found.status == "invalid"
    assert MAX_FUZZ == 2


def test_search_replace_under_a_decorated_path_with_an_inherited_second_block():
    text = ("**pkg/calc.py**\n```python\n<<<<<<< SEARCH\ndef add(a, b):\n    return a - b\n"
            "=======\ndef add(a, b):\n    return a + b\n>>>>>>> REPLACE\n```\n\n```python\n"
            "<<<<<<< SEARCH\n    return a * b\n=======\n    return b * a\n>>>>>>> REPLACE\n```\n")
    parsed, found = score(text)
    assert parsed.format == "search-replace" and found.ok
    assert found.contents["pkg/calc.py"] == (CALC.replace("a - b", "a + b", 1)
                                             .replace("a * b", "b * a"))


def test_an_ambiguous_search_block_is_refused():
    text = "pkg/calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return 0\n>>>>>>> REPLACE\n"
    _, found = score(text)
    assert found.reason == "ambiguous_match"


def test_an_empty_search_creates_a_file_and_a_missing_path_is_named():
    _, found = score("pkg/new.py\n<<<<<<< SEARCH\n=======\nX = 1\n>>>>>>> REPLACE\n")
    assert found.ok and found.contents == {"pkg/new.py": "X = 1\n"}
    parsed, _ = score("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n")
    assert parsed.reason == "missing_path"


def test_whole_file_blocks_with_the_path_in_the_info_string_or_above_the_fence():
    text = "```python pkg/calc.py\nX = 1\n```\n\nAnd `pkg/extra.py`:\n```python\nY = 2\n```\n"
    parsed, found = score(text)
    assert parsed.format == "whole-file"
    assert found.contents == {"pkg/calc.py": "X = 1\n", "pkg/extra.py": "Y = 2\n"}


def test_a_fence_without_a_path_is_no_edit():
    parsed, found = score("Use this:\n```python\nprint('hi')\n```\n")
    assert parsed.reason == "no_edit_found" and found.status == "invalid"


def test_openai_tool_calls_with_string_arguments():
    message = {"role": "assistant", "tool_calls": [
        {"id": "1", "type": "function", "function": {"name": "query", "arguments": "{}"}},
        {"id": "2", "type": "function", "function": {
            "name": "edit", "arguments": json.dumps({"path": "pkg/calc.py", "content": "X = 1"})}}]}
    parsed, found = score(json.dumps(message))
    assert parsed.format == "tool-calls" and found.contents == {"pkg/calc.py": "X = 1\n"}


def test_hermes_style_tool_call_tags_carrying_a_patch():
    diff = ("--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n"
            "-    return a - b\n+    return a + b\n")
    call = json.dumps({"name": "patch", "arguments": {"diff": diff}})
    text = f"<tool_call>\n{call}\n</tool_call>"
    _, found = score(text)
    assert found.ok and "a + b" in found.contents["pkg/calc.py"]


@pytest.mark.parametrize(("call", "reason"), [
    ({"name": "rm_rf", "arguments": {}}, "bad_tool_call"),
    ({"name": "edit", "arguments": "{not json"}, "bad_tool_call"),
    ({"name": "edit", "arguments": {"at": "pkg/calc.py:1:1", "text": "x"}}, "unsupported_action"),
    ({"name": "submit", "arguments": {}}, "no_edit_found"),
])
def test_bad_tool_calls_are_reasons_not_exceptions(call, reason):
    parsed = parse_completion(json.dumps(call), "tool-calls")
    assert parsed.reason == reason


def test_a_draft_inside_think_is_not_the_answer():
    draft = ("--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n"
             "-    return a - b\n+    return 0\n")
    parsed = parse_completion(f"<think>\n{draft}</think>\nI give up.")
    assert parsed.reason == "no_edit_found"


def test_crlf_files_keep_their_line_breaks():
    files = {"w.py": "a = 1\r\nb = 2\r\n"}
    _, found = score("w.py\n<<<<<<< SEARCH\nb = 2\n=======\nb = 3\nc = 4\n>>>>>>> REPLACE\n",
                     files=files)
    assert found.contents["w.py"] == "a = 1\r\nb = 3\r\nc = 4\r\n"


def test_new_and_deleted_files_and_the_envelope_form():
    text = ("--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1,2 @@\n+A = 1\n+B = 2\n"
            "--- a/pkg/calc.py\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-def add(a, b):\n")
    _, found = score(text)
    assert found.contents == {"pkg/new.py": "A = 1\nB = 2\n", "pkg/calc.py": None}
    made = changes(found.contents, FILES.get)
    assert [(c.kind, c.path) for c in made] == [("delete", "pkg/calc.py"),
                                               ("create", "pkg/new.py"), ("edit", "pkg/new.py")]


def test_nothing_and_garbage_and_unknown_formats():
    for text in ("", "   ", "Sorry, I cannot help.", "@@ nonsense", "{]", None):
        assert not parse_completion(text).ok  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        parse_completion("x", "yaml")


def test_a_real_git_diff_round_trips_and_agrees_with_unidiff(tmp_path: Path):
    """The parser reads what git writes exactly as unidiff does, and applying it gives
    git's after-bytes."""
    import unidiff

    root = tmp_path / "r"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "calc.py").write_text(CALC)
    run = lambda *a: subprocess.run(["git", *a], cwd=root, check=True, capture_output=True,  # noqa: E731
                                    text=True).stdout
    run("init", "-q")
    run("add", "-A")
    after = (CALC.replace("a - b", "a + b", 1).replace("a * b", "a * b * 1")
             + "\n\ndef z():\n    pass\n")
    (root / "pkg" / "calc.py").write_text(after)
    diff = run("diff")
    parsed, found = score(diff)
    assert found.ok and found.fuzz == 0 and found.contents["pkg/calc.py"] == after
    theirs = unidiff.PatchSet(diff)
    assert [f.path for f in theirs] == [op.path for op in parsed.ops]
    assert len(theirs[0]) == len(parsed.ops[0].blocks)


def test_tool_schemas_are_valid_json_schema_and_stable():
    import jsonschema_rs

    tools = tool_schemas()
    assert [t["function"]["name"] for t in tools] == sorted(t["function"]["name"] for t in tools)
    for tool in tools:
        jsonschema_rs.validator_for(tool["function"]["parameters"])
    check = jsonschema_rs.validator_for(tools[0]["function"]["parameters"])
    assert check.is_valid({"path": "a.py", "content": ""})
    assert not check.is_valid({"path": "a.py"})
    assert json.dumps(tools, sort_keys=True) == json.dumps(tool_schemas(), sort_keys=True)
