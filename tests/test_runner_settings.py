"""``[runner]`` settings: the command line's value, else the workspace table's, else the
default, the same for every command that runs tests (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lanser.config import load_config
from lanser.errors import ConfigError
from lanser.runner.settings import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, RunnerSettings
from lanser.trust import UntrustedConfig


def _config(tmp_path: Path, text: str):
    (tmp_path / "lanser.toml").write_text(text, encoding="utf-8")
    return load_config(tmp_path)


def test_defaults_without_a_table(tmp_path):
    settings = RunnerSettings.of(load_config(tmp_path))
    assert (settings.timeout, settings.memory_mb, settings.python) == (
        DEFAULT_TIMEOUT, DEFAULT_MEMORY_MB, None)


def test_the_table_then_the_command_line(tmp_path):
    config = _config(tmp_path, "[runner]\ntimeout = 7\nrun_timeout = 90\nmemory_mb = 512\n")
    settings = RunnerSettings.of(config)
    assert (settings.timeout, settings.run_timeout, settings.memory_mb) == (7.0, 90.0, 512)
    assert RunnerSettings.of(config, timeout=3, memory_mb=256).timeout == 3.0
    assert RunnerSettings.of(config, timeout=3, memory_mb=256).memory_mb == 256


def test_a_bad_value_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="runner"):
        RunnerSettings.of(_config(tmp_path, '[runner]\ntimeout = "soon"\n'))


def test_an_unapproved_interpreter_is_refused_not_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LANSER_CONFIG_DIR", str(tmp_path / "user"))
    config = _config(tmp_path, '[runner]\npython = "./evil.sh"\n')
    with pytest.raises(UntrustedConfig):
        RunnerSettings.of(config)
    assert RunnerSettings.of(config, python="/usr/bin/python3").python == "/usr/bin/python3"
