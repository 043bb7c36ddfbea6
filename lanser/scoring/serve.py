"""``lanser serve reward``: OpenRLHF's remote reward server over a Scorer (FastAPI).

``POST /get_reward`` takes ``{"query": [...], "prompts": [...], "labels": [...]}``
(labels: the task ids) and answers ``{"rewards", "scores", "extra_logs"}``
(:func:`~lanser.scoring.adapters.openrlhf_reward`); ``GET /health`` says it is up and
what it serves. Limits: a request body over ``max_body`` bytes is 413 (counted as it
arrives, whatever Content-Length claims), more than ``max_items`` samples 413, more
than ``max_concurrency`` requests in flight 503 with ``Retry-After`` (OpenRLHF's
client retries), malformed JSON or misaligned lists 400 with a JSON error code.
Binds 127.0.0.1 unless told otherwise. Needs the ``serve`` extra.
"""

# No "from __future__ import annotations": FastAPI reads the endpoints' annotations
# (Request, imported inside the app factory) at definition time.

import asyncio
import json
from typing import Any

from lanser.scoring.adapters import openrlhf_reward


def error(status: int, code: str, message: str, **headers: str) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers or None)


class TooLarge(ValueError):
    """A request body past the server's limit (413)."""


async def read_json(request: Any, limit: int) -> Any:
    """The body as JSON, read chunk by chunk and refused past ``limit`` bytes, whatever
    Content-Length says (a chunked body has none)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the body is over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the body is over {limit} bytes")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"the body is not JSON ({exc})") from None


async def json_or_error(request: Any, limit: int) -> tuple[Any, Any]:
    """``(body, None)``, or ``(None, the 413/400 response)`` when :func:`read_json` refuses."""
    try:
        return await read_json(request, limit), None
    except TooLarge as exc:
        return None, error(413, "too_large", str(exc))
    except ValueError as exc:
        return None, error(400, "bad_request", str(exc))


def reward_app(scorer: Any, *, max_concurrency: int = 4, max_items: int = 4096,
               max_body: int = 64 * 1024 * 1024, fmt: str = "auto") -> Any:
    """The FastAPI app (module docstring)."""
    from fastapi import FastAPI, Request

    app = FastAPI(title="lanser reward", docs_url=None, redoc_url=None)
    state = {"in_flight": 0, "served": 0}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "tasks": len(scorer.tasks),
                "profile": {"name": scorer.profile.name, "hash": scorer.profile.hash},
                "in_flight": state["in_flight"], "served": state["served"]}

    @app.post("/get_reward")
    async def get_reward(request: Request) -> Any:
        if state["in_flight"] >= max_concurrency:
            return error(503, "busy", f"{max_concurrency} requests in flight; retry",
                         **{"Retry-After": "1"})
        state["in_flight"] += 1
        try:
            try:
                data = await read_json(request, max_body)
                if not isinstance(data, dict):
                    raise ValueError("the body must be a JSON object")
                if len(data.get("query") or []) > max_items:
                    return error(413, "too_many", f"more than {max_items} samples")
                return await asyncio.to_thread(openrlhf_reward, scorer, data, fmt=fmt)
            except TooLarge as exc:
                return error(413, "too_large", str(exc))
            except ValueError as exc:
                return error(400, "bad_request", str(exc))
        finally:
            state["in_flight"] -= 1
            state["served"] += 1

    return app


def run(app: Any, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``app`` with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")


__all__ = ["TooLarge", "read_json", "reward_app", "run"]
