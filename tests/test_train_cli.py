"""``lanser train`` through typer's CliRunner: bad input is exit 2 with JSON, a run works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from typer.testing import CliRunner

from lanser.cli.app import app
from tests import train_toy
from tests.conftest import init_repo, write_files
from tests.test_train_rewards import FILES

# Whole-module slow: the quick loop (-m 'not slow') leaves it to the full suite.
pytestmark = pytest.mark.slow


def _invoke(*args: str):
    return CliRunner().invoke(app, ["train", *args])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "tasks" / "calc-add"
    write_files(root, FILES)
    return init_repo(root)


def _error(result) -> str:
    assert result.exit_code == 2, result.output
    return json.loads(result.stdout)["error"]["code"]


def test_bad_input_is_exit_2_with_a_json_error(tmp_path, workspace):
    assert _error(_invoke(str(tmp_path / "nowhere"), "--json")) in {"missing_file", "not_found"}
    assert _error(_invoke("eval", "--json")) == "usage"
    assert _error(_invoke(str(workspace), "--model", str(tmp_path / "no-model"),
                          "--json")) == "unknown_model"
    # A name that is not packaged is never looked up on a hub.
    assert _error(_invoke(str(workspace), "--model", "HuggingFaceTB/SmolLM2-135M",
                          "--json")) == "unknown_model"
    assert _error(_invoke(str(workspace), "--device", "tpu", "--json")) == "usage"
    assert _error(_invoke(str(workspace), str(workspace), "--json")) == "usage"


@pytest.mark.slow  # one real one-shot reward (server + pytest) per step and per eval
def test_a_run_writes_metrics_checkpoint_and_a_model_eval_reads(tmp_path, workspace):
    model_dir = tmp_path / "tiny"
    train_toy.model().save_pretrained(model_dir)
    train_toy.tokenizer().save_pretrained(model_dir)
    out = tmp_path / "run"
    result = _invoke(str(workspace.parent), "--model", str(model_dir), "--out", str(out),
                     "--steps", "1", "--group", "2", "--max-new-tokens", "2",
                     "--prompt-budget", "64", "--device", "cpu", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["steps"] == 1 and payload["last"]["tasks"] == ["calc-add"]
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["reward_mean"] < 0  # prose: invalid
    assert (out / "checkpoints" / "step-000001" / "model.safetensors").is_file()
    again = _invoke("eval", str(workspace.parent), "--model", str(out / "model"),
                    "--max-new-tokens", "2", "--json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert report["tasks"] == 1 and report["pass_at_1"] == 0.0
