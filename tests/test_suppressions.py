"""The strip pass's early-exit guard (issue 16) on files that parse and that do not."""

from __future__ import annotations

from lanser.runner.suppressions import EXIT_GUARD, strip

#: A base that does not parse on this Python (a generator argument beside another, as
#: toolz's functoolz.py had before its 3.7 fix): a checker still reads past it.
UNPARSEABLE = "x = sum(a for a in b, 1)\n\n\ndef f() -> int:\n    return 1\n"
PARSEABLE = "x = 1\n\n\ndef f() -> int:\n    return 1\n"


def test_an_exit_at_the_top_of_a_module_is_guarded():
    out, count = strip("import sys\nsys.exit(0)\n" + PARSEABLE, PARSEABLE)
    assert count == 1 and out.splitlines()[1] == EXIT_GUARD + "sys.exit(0)"


def test_an_exit_is_guarded_in_a_file_that_does_not_parse():
    """bench/integrity_bench.py on toolz 8da305854df1: sys.exit(0) at the top of a module
    whose base has a syntax error paid +0.6 (the guard needed a parse)."""
    out, count = strip("import sys\nsys.exit(0)\n" + UNPARSEABLE, UNPARSEABLE)
    assert count == 1 and out.splitlines()[1] == EXIT_GUARD + "sys.exit(0)"
    early = UNPARSEABLE.replace("    return 1\n", "    return 0\n    return 1\n")
    out, count = strip(early, UNPARSEABLE)
    assert count == 1 and "    " + EXIT_GUARD + "return 0" in out.splitlines()


def test_an_exit_with_nothing_after_it_is_left_alone():
    for base in (PARSEABLE, UNPARSEABLE):
        assert strip(base + "raise SystemExit\n", base) == (base + "raise SystemExit\n", 0)
