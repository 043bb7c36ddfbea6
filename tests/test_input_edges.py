"""Every input edge answers exit 2 with a code (issue 17, finding 5).

Bounded reads (devices, FIFOs, directories, size), JSON depth and NaN, the jail
before any probe, ENAMETOOLONG, and the daemon's malformed requests. Each case here
answered ``internal`` (exit 3), read forever, or dropped the connection.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lanser.cli.app import app
from lanser.errors import UsageError
from lanser.jsonio import load_json_bounded, loads_bounded, read_bounded

DEEP = "[" * 100_000 + "]" * 100_000


def invoke(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
def test_bundle_verify_refuses_what_is_not_a_regular_file(tmp_path, kind) -> None:
    path = {"device": Path("/dev/zero"), "directory": tmp_path}.get(kind, tmp_path / "fifo")
    if kind == "fifo":
        os.mkfifo(path)  # nobody writes: opening it for reading used to block forever
    code, out = invoke("bundle", "verify", str(path))
    assert code == 2 and out["error"]["code"] == "not_a_file", out


@pytest.mark.parametrize("text,code", [
    (DEEP, "malformed_bundle"), ('{"hash": NaN}', "malformed_bundle"),
    ('{"x": 1e999999}', "malformed_bundle"), ("1" * 5000, "malformed_bundle")])
def test_bundle_json_depth_and_constants(tmp_path, text, code) -> None:
    (tmp_path / "b.json").write_text(text)
    result_code, out = invoke("bundle", "verify", str(tmp_path / "b.json"))
    assert result_code == 2 and out["error"]["code"] == code, out


def test_a_too_large_file_is_refused_before_it_is_read(tmp_path) -> None:
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(2 << 20)  # sparse: costs no disk
    with pytest.raises(UsageError) as info:
        read_bounded(big, limit=1 << 20)
    assert info.value.code == "too_large"


@pytest.mark.parametrize("text", [DEEP + "\n", '{"type": "header", "x": NaN}\n', "[]\n"])
def test_episode_input_is_checked(tmp_path, text) -> None:
    (tmp_path / "ep.jsonl").write_text(text)
    code, out = invoke("replay", str(tmp_path / "ep.jsonl"))
    assert code == 2, out
    assert out["error"]["code"] in {"malformed_episode", "bad_json"}, out


def test_episode_path_that_is_a_directory(tmp_path) -> None:
    code, out = invoke("replay", str(tmp_path))
    assert code == 2 and out["error"]["code"] == "not_a_file", out


@pytest.mark.parametrize("data", [{"FAIL_TO_PASS": "not json ["}, {"FAIL_TO_PASS": "[NaN]"},
                                  {"PASS_TO_PASS": "[" * 5000 + "]" * 5000}])
def test_task_lists_encoded_as_strings_are_checked(tmp_path, data) -> None:
    from lanser.runner.grading import TestLists

    (tmp_path / "task.json").write_text(json.dumps(data))
    with pytest.raises(UsageError) as info:
        TestLists.load(tmp_path / "task.json")
    assert info.value.code == "bad_task"


def test_a_bad_task_file_is_refused_before_any_test_runs(workspace, tmp_path) -> None:
    root = workspace({"test_a.py": "import time\ndef test_a():\n    time.sleep(60)\n"})
    (tmp_path / "task.json").write_text('{"FAIL_TO_PASS": "oops"}')
    code, out = invoke("test", "--root", str(root), "--task", str(tmp_path / "task.json"))
    assert code == 2 and out["error"]["code"] == "bad_task", out


def _delete_edit(uri: str, **options) -> str:
    return json.dumps({"documentChanges": [{"kind": "delete", "uri": uri,
                                            "options": options}]})


def test_a_delete_outside_is_refused_without_probing(workspace, tmp_path) -> None:
    """A directory, a file, and nothing at all outside: one answer for all three (the
    existence of outside paths must not leak through what lanser says)."""
    root = workspace({"m.py": "x = 1\n"})
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file").write_text("secret")
    answers = []
    for target in (outside, outside / "file", outside / "missing"):
        for options in ({}, {"ignoreIfNotExists": True}):
            edit = tmp_path / "edit.json"
            edit.write_text(_delete_edit(f"file://{target}", **options))
            code, out = invoke("apply", str(edit), "--root", str(root))
            answers.append((code, out["error"]["code"]))
            assert str(tmp_path) not in out["error"]["message"]
    assert set(answers) == {(2, "outside_workspace")}, answers
    assert (outside / "file").read_text() == "secret"


def test_a_path_too_long_is_bad_path(workspace, tmp_path) -> None:
    root = workspace({"m.py": "x = 1\n"})
    long = "a" * 5000
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps({"documentChanges": [
        {"kind": "create", "uri": f"file://{root}/{long}.py"}]}))
    code, out = invoke("apply", str(edit), "--root", str(root))
    assert code == 2 and out["error"]["code"] == "bad_path", out
    edit.write_text(json.dumps({"changes": {f"file://{root}/{'b' * 300}.py": []}}))
    code, out = invoke("apply", str(edit), "--root", str(root))
    assert code == 2 and out["error"]["code"] in {"bad_path", "empty_edit"}, out
    code, out = invoke("hover", f"{long}.py:1:1", "--root", str(root), "--no-daemon")
    assert code == 2 and out["error"]["code"] == "bad_path", out


def test_the_bounded_reader_api(tmp_path) -> None:
    """lanser.jsonio is the one reader for JSON input (task JSONL builds on it)."""
    (tmp_path / "ok.json").write_text('{"a": [1, 2.5, "x"]}')
    assert load_json_bounded(tmp_path / "ok.json") == {"a": [1, 2.5, "x"]}
    for text in ("[Infinity]", "[-Infinity]", DEEP, "{", "[1,]"):
        with pytest.raises(UsageError) as info:
            loads_bounded(text)
        assert info.value.code == "bad_json"


# -- the daemon: every malformed request is bad_request, and it stays up -------------------


MALFORMED = [
    b"not json", b"[]", b'"ping"', b"{}", b'{"method": 3}', b'{"method": "nope"}',
    b'{"method": "query"}', b'{"method": "query", "server": "x"}',
    b'{"method": "query", "server": 3, "queries": []}',
    b'{"method": "query", "server": "x", "queries": "not a list"}',
    b'{"method": "query", "server": "x", "queries": [1]}',
    b'{"method": "query", "server": "x", "queries": [{"op": "bogus"}]}',
    b'{"method": "query", "server": "x", "queries": [{"op": "hover"}]}',
    b'{"method": "query", "server": "x", "queries": [{"op": "hover", "path": "m.py", '
    b'"line": "1", "col": 1}]}',
    b'{"method": "query", "server": "x", "queries": [{"op": "hover", "loc": 5}]}',
    b'{"method": "query", "server": "x", "queries": [{"op": "references", "loc": "m.py:1:1", '
    b'"include_declaration": "yes"}]}',
    b'{"method": "query", "server": "x", "queries": [{"op": "symbols"}]}',
    b'{"method": "query", "server": "x", "queries": [{"op": "diagnostics", "paths": [1]}]}',
    b'{"method": "query", "server": "x", "queries": [{"op": "workspace-symbols", '
    b'"query": []}]}',
    b'{"method": "query", "queries": [], "cwd": 5}',
    b'{"method": "warm", "servers": "basedpyright"}',
    b'{"method": "command", "command": "hover", "args": {"loc": "m.py:1:1"}}',
    b'{"method": "ping", "x": NaN}', DEEP.encode(),
]


@pytest.fixture
def daemon(workspace):
    from lanser.queries.daemon import daemon_for

    # server = a name no server has: a well-formed query can never start one here
    root = workspace({"m.py": "x = 1\n", "lanser.toml": 'server = "fuzz-none"\n'})
    return daemon_for(root)


@pytest.mark.parametrize("line", MALFORMED, ids=range(len(MALFORMED)))
def test_daemon_malformed_requests_are_bad_request(daemon, line) -> None:
    reply = asyncio.run(daemon._dispatch(line))
    assert reply["ok"] is False and reply["exit_code"] == 2, reply
    assert reply["error"]["code"] == "bad_request", reply


def test_daemon_answers_a_deep_line_and_stays_up(daemon, tmp_path) -> None:
    """Over the socket: the 100k-deep line and an over-long line each get an answer,
    and the daemon still answers a new connection."""
    socket = str(tmp_path / "d.sock")

    async def run() -> list[dict]:
        server = await asyncio.start_unix_server(daemon._client, path=socket, limit=1 << 16)
        replies = []
        try:
            for line in (DEEP.encode(), b"[" * (1 << 17), b'{"method": "ping"}'):
                reader, writer = await asyncio.open_unix_connection(socket, limit=1 << 20)
                writer.write(line + b"\n")
                await writer.drain()
                replies.append(json.loads(await asyncio.wait_for(reader.readline(), 10)))
                writer.close()
        finally:
            server.close()
        return replies

    deep, long, ping = asyncio.run(run())
    assert deep["error"]["code"] == "bad_request" and long["error"]["code"] == "bad_request"
    assert ping["ok"] is True
