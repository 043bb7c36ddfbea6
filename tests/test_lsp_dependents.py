"""Which files a change can affect: imports, interfaces and the closure (no server).

The equivalence with what a real server says is in ``test_lsp_incremental.py``; here
each rule of :mod:`lanser.lsp.dependents` is pinned on its own, including the ones
that must *widen* the answer (an over-approximation is the contract).
"""

from __future__ import annotations

import hashlib

import pytest

from lanser.lsp.dependents import DependencyGraph, outline

BASE = '''"""A module."""

from dataclasses import dataclass


class Item:
    def __init__(self, value: int) -> None:
        self.value = value

    def double(self) -> int:
        return self.value * 2


def total(items: list[Item]) -> int:
    return sum(i.value for i in items)


async def fetch() -> int:
    return 1
'''


def interface(text: str, rel: str = "pkg/mod.py") -> str | None:
    return outline(rel, text).interface


def imports(text: str, rel: str = "pkg/sub/mod.py") -> tuple[set[str], set[str]]:
    found = outline(rel, text).imports
    assert found is not None
    return set(found.exact), set(found.below)


# -- interfaces ------------------------------------------------------------------------

@pytest.mark.parametrize("edit", [
    ("return sum(i.value for i in items)", "return 0"),                       # a new value
    ("return sum(i.value for i in items)", "x = 1\n    y = 2\n    return x"),  # more lines
    ("        return self.value * 2", "        # a comment\n        return 7"),
    ("    return 1\n", "    return 1  # trailing\n"),
    ('"""A module."""\n', '"""A module."""\n\n# a comment line, and a blank one above\n'),
    ("class Item:\n", "# Items.\nclass Item:\n"),
    ("        return self.value * 2", "        return self.value * 2  # type: ignore[misc]"),
    ("        return self.value * 2", "        return self.value  # pyright: ignore  # why"),
])
def test_an_edit_inside_a_closed_body_keeps_the_interface(edit) -> None:
    old, new = edit
    assert old in BASE
    assert interface(BASE.replace(old, new)) == interface(BASE)


@pytest.mark.parametrize("edit", [
    ("def total(items: list[Item]) -> int:", "def total(items: list[Item]) -> str:"),
    ("class Item:", "class Item(object):"),
    ("from dataclasses import dataclass", "from dataclasses import field"),
    # the body now declares a member
    ("        return self.value * 2", "        self.cache = 2\n        return 2"),
    # an async def that yields is an async generator, not a coroutine
    ("async def fetch() -> int:\n    return 1", "async def fetch() -> int:\n    yield 1"),
    ("    return 1\n", "    global STATE\n    return 1\n"),
    ("    return sum(i.value for i in items)", "    raise ValueError"),   # raises, no return
    ("    return sum(i.value for i in items)", "    ..."),                # a placeholder now
    ('"""A module."""', '"""A module."""\n# pyright: basic'),
    ("    return 1\n", "    return 1  # pyright: basic\n"),             # a directive anywhere
    ("    return 1\n", "    import json\n    return 1\n"),             # an import anywhere
])
def test_an_edit_that_others_can_see_changes_the_interface(edit) -> None:
    old, new = edit
    assert old in BASE
    assert interface(BASE.replace(old, new)) != interface(BASE)


def test_comment_like_lines_inside_strings_are_part_of_the_interface() -> None:
    text = 'TEMPLATE: Final = """\n# heading\n\n"""\nRENDERED = f"""\n# {TEMPLATE}\n"""\n'
    assert interface(text) != interface(text.replace("# heading", "# other"))
    assert interface(text) != interface(text.replace("\n\n", "\n \n"))
    assert interface(text) != interface(text.replace("# {TEMPLATE}", "# {TEMPLATE}!"))


def test_a_type_comment_at_module_level_is_part_of_the_interface() -> None:
    text = "LIMIT = []  # type: list[int]\n"
    assert interface(text) != interface(text.replace("list[int]", "list[str]"))
    assert interface(text) != interface(text.replace("# type: list[int]", "# type: ignore"))


def test_unannotated_and_one_line_bodies_are_part_of_the_interface() -> None:
    inferred = "def f(x):\n    return x + 1\n"
    assert interface(inferred) != interface(inferred.replace("x + 1", "str(x)"))
    one_line = "def f() -> int: return 1\n"
    assert interface(one_line) != interface(one_line.replace("1", "2"))


def test_a_nested_function_is_inside_its_outer_closed_body() -> None:
    text = "def outer() -> int:\n    def inner():\n        return 1\n    return inner()\n"
    assert interface(text) == interface(text.replace("return 1", "return 'a'"))


def test_line_ends_are_python_ones() -> None:
    # \x0c and \u2028 are not line ends to Python: the body stays where ast puts it.
    text = "x = '\u2028'\n\x0c\ndef f() -> int:\n    return 1\n"
    assert interface(text) == interface(text.replace("return 1", "return 2"))
    crlf = BASE.replace("\n", "\r\n")
    assert interface(crlf.replace("return 0", "return 1")) == interface(crlf)


def test_a_file_that_does_not_parse_is_unknown() -> None:
    found = outline("a.py", "def broken(:\n")
    assert found.imports is None and found.interface is None


# -- imports ---------------------------------------------------------------------------

def test_imports_name_modules_their_prefixes_and_what_is_below() -> None:
    exact, below = imports("import a.b.c as d\nfrom x.y import n, m\n")
    assert {"a", "a.b", "a.b.c", "x", "x.y", "x.y.n", "x.y.m"} <= exact
    assert below == {"a.b.c"}


def test_relative_imports_resolve_against_the_package() -> None:
    exact, below = imports("from . import sibling\nfrom ..up import thing\nfrom .m import *\n")
    assert {"pkg.sub", "pkg.sub.sibling", "pkg", "pkg.up", "pkg.up.thing", "pkg.sub.m"} <= exact
    assert below == {"pkg.sub.m"}
    # a package's own __init__ is the package
    exact, _ = imports("from . import x\n", rel="pkg/__init__.py")
    assert "pkg.x" in exact


def test_imports_anywhere_count_and_one_above_the_root_is_unknown() -> None:
    exact, _ = imports("def f() -> None:\n    import late\nif TYPE_CHECKING:\n    import typed\n")
    assert {"late", "typed"} <= exact
    assert outline("top.py", "from .. import x\n").imports is None


# -- the closure -----------------------------------------------------------------------

def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Files:
    """A workspace in memory: name -> text, and the graph's view of it (told each
    version as it goes, as the service does before it syncs an edit)."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = dict(files)
        self.graph = DependencyGraph()

    def state(self) -> dict[str, str]:
        return {name: digest(text) for name, text in self.files.items()}

    def change(self, name: str, text: str | None) -> set[str] | None:
        before = self.state()
        if name in self.files:
            self.graph.remember(name, before[name], self.files[name])
        if text is None:
            del self.files[name]
        else:
            self.files[name] = text
        return self.graph.affected(before, self.state(), self.files.get)


CHAIN = {
    "pkg/__init__.py": "",
    "pkg/a.py": "def a() -> int:\n    return 1\n",
    "pkg/b.py": "from pkg.a import a\n\n\ndef b() -> int:\n    return a()\n",
    "pkg/c.py": "from . import b\n\n\ndef c() -> int:\n    return b.b()\n",
    "src/other/d.py": "import pkg.c\n",
    "lone.py": "x = 1\n",
}


def test_a_body_edit_affects_only_its_own_file() -> None:
    files = Files(CHAIN)
    assert files.change("pkg/a.py", "def a() -> int:\n    return 2\n") == {"pkg/a.py"}


def test_an_interface_edit_affects_every_file_that_reaches_it() -> None:
    files = Files(CHAIN)
    found = files.change("pkg/a.py", "def a() -> str:\n    return ''\n")
    assert found == {"pkg/a.py", "pkg/b.py", "pkg/c.py", "src/other/d.py"}
    # a package's __init__ is imported by every import through it
    assert files.change("pkg/__init__.py", "X = 1\n") == {
        "pkg/__init__.py", "pkg/b.py", "pkg/c.py", "src/other/d.py"}


def test_the_closure_runs_through_a_file_changed_only_inside_a_body() -> None:
    files = Files(CHAIN)
    before = files.state()
    for name, text in (("pkg/a.py", "def a() -> str:\n    return ''\n"),  # interface
                       ("pkg/b.py", CHAIN["pkg/b.py"].replace("return a()", "return a() * 1"))):
        files.graph.remember(name, before[name], files.files[name])
        files.files[name] = text
    found = files.graph.affected(before, files.state(), files.files.get)
    assert found == {"pkg/a.py", "pkg/b.py", "pkg/c.py", "src/other/d.py"}


def test_suffix_names_match_whatever_the_search_root() -> None:
    files = Files({**CHAIN, "user.py": "from other.d import pkg\n"})
    assert "user.py" in files.change("src/other/d.py", "import pkg.c\nY = 2\n")


def test_a_star_import_depends_on_everything_below() -> None:
    files = Files({**CHAIN, "star.py": "from pkg import *\n"})
    assert "star.py" in files.change("pkg/a.py", "def a() -> str:\n    return ''\n")


def test_a_file_that_does_not_parse_may_import_anything() -> None:
    files = Files({**CHAIN, "broken.py": "import (\n"})
    assert "broken.py" in files.change("lone.py", "x = 2\n")
    assert files.change("lone.py", "x = 2\n") == set()  # nothing changed: nothing affected


def test_a_file_that_shadows_the_standard_library_affects_everything() -> None:
    files = Files({**CHAIN, "typing.py": "X = 1\n"})
    assert files.change("typing.py", "X = 2\n") is None


def test_a_different_file_set_affects_everything() -> None:
    files = Files(CHAIN)
    assert files.change("lone.py", None) is None


def test_a_version_never_seen_counts_as_an_interface_change() -> None:
    files = Files(CHAIN)
    before = files.state()
    files.files["pkg/a.py"] = "def a() -> int:\n    return 2\n"  # behind the graph's back
    found = files.graph.affected(before, files.state(), files.files.get)
    assert found == {"pkg/a.py", "pkg/b.py", "pkg/c.py", "src/other/d.py"}
