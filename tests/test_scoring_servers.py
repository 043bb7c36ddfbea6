"""lanser serve reward (OpenRLHF) and lanser serve env, over real HTTP on loopback."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from scoring_repo import BREAK, FIX, NOTHING, make_task  # noqa: E402

from lanser.rewards import load_profile  # noqa: E402
from lanser.scoring import Scorer  # noqa: E402


@contextlib.contextmanager
def serving(app):
    """``app`` under a real uvicorn on 127.0.0.1 (a free port), in a thread."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


@pytest.mark.slow
def test_openrlhf_get_reward_matches_the_scorer_and_enforces_limits(tmp_path: Path):
    from lanser.scoring.serve import reward_app

    task = make_task(tmp_path / "repo")
    prompt = "Fix add in pkg/calc.py.\n"
    with Scorer([task], "diagnostics-only", workers=1) as scorer:
        direct = [scorer.score(task.instance_id, c).reward for c in (FIX, BREAK, NOTHING)]
        app = reward_app(scorer, max_concurrency=2, max_items=8, max_body=64 * 1024)
        with serving(app) as url, httpx.Client(base_url=url, timeout=120) as client:
            assert client.get("/health").json()["status"] == "ok"
            body = {"query": [prompt + c for c in (FIX, BREAK, NOTHING)],
                    "prompts": [prompt] * 3, "labels": [task.instance_id] * 3}
            reply = client.post("/get_reward", json=body)
            assert reply.status_code == 200
            data = reply.json()
            assert data["rewards"] == direct == data["scores"]
            assert set(data["extra_logs"]) >= {"diagnostics", "safety", "failed"}
            assert len(data["extra_logs"]["safety"]) == 3
            # Misaligned lists, bad JSON, too many samples, too large a body.
            bad = client.post("/get_reward", json={**body, "labels": body["labels"][:2]})
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
            assert client.post("/get_reward", content=b"{nope").status_code == 400
            many = {"query": ["x"] * 9, "prompts": [""] * 9, "labels": ["a"] * 9}
            assert client.post("/get_reward", json=many).status_code == 413
            huge = client.post("/get_reward", content=b"[" + b"1," * 40000 + b"1]")
            assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"

            def chunks():
                for _ in range(100):
                    yield b" " * 1024

            streamed = client.post("/get_reward", content=chunks())  # no Content-Length
            assert streamed.status_code == 413


@pytest.mark.slow
def test_env_sessions_reset_step_state_and_idle_reclaim(tmp_path: Path):
    from lanser.scoring.envserver import Sessions, env_app

    task = make_task(tmp_path / "repo")
    sessions = Sessions({task.instance_id: task}, load_profile("diagnostics-only"),
                        max_sessions=2, idle_timeout=3600)
    with serving(env_app(sessions, reap_every=0.2)) as url, \
            httpx.Client(base_url=url, timeout=180) as client:
        assert client.post("/reset", json={"task_id": "nope"}).status_code == 404
        a = client.post("/reset", json={"task_id": task.instance_id}).json()
        b = client.post("/reset", json={"task_id": task.instance_id}).json()
        assert a["session_id"] != b["session_id"]
        assert client.post("/reset", json={"task_id": task.instance_id}).status_code == 503
        broken = {"action": "edit", "path": "pkg/calc.py",
                  "content": "def add(a, b):\n    return a + nothing\n"}
        step = client.post("/step", json={"session_id": a["session_id"], "action": broken})
        out = step.json()
        assert step.status_code == 200 and out["reward"] < 0 and out["done"] is False
        assert out["state"]["steps"] == 1
        # The other session's workspace is its own: its base is untouched.
        other = client.post("/step", json={"session_id": b["session_id"],
                                           "action": {"action": "submit"}}).json()
        assert other["reward"] == 0.0 and other["done"] is True
        assert client.post("/step", json={"session_id": b["session_id"],
                                          "action": {"action": "submit"}}).status_code == 409
        bad = client.post("/step", json={"session_id": a["session_id"], "action": {"x": 1}})
        assert bad.json()["observation"]["status"] == "invalid"
        assert client.get(f"/state/{a['session_id']}").json()["steps"] == 2
        # Idle sessions are reclaimed by the server's own timer.
        sessions.idle_timeout = 0
        deadline = time.monotonic() + 60
        while client.get("/health").json()["sessions"] != 0 or any(sessions.scratch.iterdir()):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert client.get(f"/state/{a['session_id']}").status_code == 404
