"""The one progress display of the long commands (lanser/cli/progress.py)."""

from __future__ import annotations

from lanser.cli.progress import ProgressBar


def test_at_a_terminal_the_bar_counts_with_its_note(monkeypatch, capsys) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    with ProgressBar("scoring", quiet=False, eta=True) as bar:
        bar.update(5, 12)  # 5 already done (a resumed file): not in the rate
        bar.update(12, 12, note="last")
    err = capsys.readouterr().err
    assert "scoring" in err and "12/12" in err and "last" in err


def test_advance_counts_one_at_a_time(monkeypatch, capsys) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")
    with ProgressBar("mining", quiet=False) as bar:
        for n in range(3):
            bar.advance(f"commit{n} kept")
    assert bar.done == 3
    assert "commit2 kept" in capsys.readouterr().err


def test_quiet_or_a_pipe_prints_nothing(capsys) -> None:
    with ProgressBar("scoring", quiet=True) as bar:
        bar.update(1, 2)
    with ProgressBar("scoring", quiet=False) as bar:  # stderr is not a terminal here
        bar.update(2, 2)
    assert capsys.readouterr().err == ""
