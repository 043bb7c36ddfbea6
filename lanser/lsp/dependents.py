"""Which files' diagnostics can change when some files change.

A type checker's diagnostics of file X are a function of X's text and of what X sees
of the modules it imports, transitively. After an edit, then, a whole-workspace
answer needs fresh diagnostics only for the changed files and for the files that
reach, through imports, a changed file whose *interface* changed; every other file's
last answer still holds. Pulling 200 unchanged files costs 150–250 ms of round trips,
and basedpyright re-checks every importer of an edited file (it discards its whole
type cache on any edit), about 15 ms a file after an 80 ms restart of the cache
(``bench/episode_latency.py``): most of an episode step.

Everything here over-approximates, never under-: a wrong extra dependency costs a
pull, a missing one a stale answer.

**Imports.** An import names candidate files by *suffix* of their module path, so
``pkg.mod`` matches ``pkg/mod.py`` as well as ``src/pkg/mod.py`` or
``typings/pkg/mod.pyi``, whatever the server's search roots are. ``import a.b.c``
depends on ``a``, ``a.b``, ``a.b.c`` and every module below ``a.b.c`` (a package's
implicit submodule imports); ``from m import n`` on ``m``'s prefixes, ``m`` and
``m.n`` (``n`` may be a submodule); ``from m import *`` on everything below ``m``
too. Every import counts: inside functions, ``try``, ``if TYPE_CHECKING``. A file
that does not parse, or whose relative import climbs above the workspace, may import
anything.

**Interfaces.** What an importer can see of a module is its text outside the bodies
of *closed* functions: a function (at module or class level, not nested in another)
with a return annotation, whose body holds no ``global`` statement and assigns or
deletes no attribute (``self.x = ...`` declares a member), and starts below the
signature. A checker takes a closed function's type from its signature alone
(decorators, parameters, the declared return; the declared return also decides
``NoReturn``), save for a few facts of the body itself, which the interface keeps:
whether it yields (an ``async def`` that yields is an async generator, not a
coroutine), returns, raises or awaits, whether it is a placeholder (only ``...``
and docstrings: protocol members and default values read that), and whether it is
all simple statements (pyright's "always raises NotImplementedError"). Checker
directives (``# pyright:``, ``# type:``, ``# mypy:`` comments, but not the
``# type: ignore`` and ``# pyright: ignore[...]`` that only silence their own line)
and imports count wherever they are (imports are what import-cycle checks read
across files); other comments and blank lines do not (outside strings). Positions
are not part of an interface: lanser keeps no related locations
(:meth:`lanser.lsp.facts.Normalizer.diagnostics`), so an importer's diagnostics name
positions in the importer only. Editing inside a closed body, or a comment, the
common agent edits, re-checks that one file.

**Globals.** A change to *which* files exist changes what every import resolves
to, so it affects everything (:meth:`DependencyGraph.affected` answers ``None``
when the two states' files differ). So does an interface change of a file that
every module may import implicitly (a name in the standard library, which
``builtins`` reaches, or ``builtins`` itself).

Only edges out of *unchanged* files matter: a path to a changed file that runs
through another changed file already reaches that one, so the closure is the same
under the old imports and the new ones (and import cycles, ``reportImportCycles``,
are caught from either side).
"""

from __future__ import annotations

import ast
import hashlib
import re
import sys
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

#: Module names every file may import without saying so.
IMPLICIT = frozenset(sys.stdlib_module_names) | {
    "builtins", "__builtins__", "_typeshed", "typing_extensions", "mypy_extensions",
}

#: Comments a checker reads as directives.
DIRECTIVE = re.compile(r"#\s*(?:pyright|type|mypy)\s*:[^\r\n]*")
#: Of those, the ones that only silence diagnostics on their own line (or, first in a
#: file, in their own file): nothing another file sees.
SUPPRESSION = re.compile(r"#\s*(?:pyright|type)\s*:\s*ignore\b(?:\[[^\]\r\n]*\])?\s*(?:#.*)?")
#: Python's own line ends (``str.splitlines`` knows more, which would shift lines).
LINE_END = re.compile(r"\r\n|\r|\n")

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@dataclass(frozen=True)
class Imports:
    """What one file's import statements name (dotted module names)."""

    #: Modules named exactly.
    exact: frozenset[str]
    #: Modules everything below which counts too.
    below: frozenset[str]


@dataclass(frozen=True)
class Outline:
    """What of one file's text other files can depend on."""

    #: ``None``: unknown (the file may import anything).
    imports: Imports | None
    #: A digest of the interface; ``None``: unknown (never equal to another).
    interface: str | None


def module_parts(relative: str) -> tuple[str, ...]:
    """``pkg/sub/mod.py`` → ``("pkg", "sub", "mod")``; a package's ``__init__``
    is the package (the root's own ``__init__`` is ``()``)."""
    path = PurePosixPath(relative)
    parts = (*path.parent.parts, path.name.rsplit(".", 1)[0])
    return parts[:-1] if parts[-1] == "__init__" else parts


def outline(relative: str, text: str) -> Outline:
    """The imports and interface of ``text``, the file at ``relative``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes and the like are not ours
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return Outline(None, None)
    scan = _Scan(relative)
    scan.run(tree)
    imports = None if scan.climbs else Imports(frozenset(scan.exact), frozenset(scan.below))
    return Outline(imports, _interface(scan, text))


def _prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


@dataclass
class _Function:
    """A function at module or class level, and what its body does."""

    node: ast.FunctionDef | ast.AsyncFunctionDef
    #: A ``global`` statement, or an attribute assigned or deleted, anywhere inside.
    open: bool = False
    #: The node types of its own scope (outside nested functions, lambdas, classes).
    own: set[type] = field(default_factory=set)


class _Scan:
    """One pass over a module: its imports, and its top functions' bodies.

    An explicit stack, not recursion: a deeply nested expression is not an error.
    """

    def __init__(self, relative: str) -> None:
        parts = module_parts(relative)
        is_package = PurePosixPath(relative).name.rsplit(".", 1)[0] == "__init__"
        self.package = parts if is_package else parts[:-1]
        self.exact: set[str] = set()
        self.below: set[str] = set()
        #: A relative import that climbs above the workspace: it may name anything.
        self.climbs = False
        self.functions: list[_Function] = []
        #: Lines inside multi-line strings (their text is the string's, never a comment).
        self.in_strings: set[int] = set()

    def run(self, tree: ast.Module) -> None:
        # (node, the top function it is in, that function's own-scope types if the
        # node is in its own scope)
        stack: list[tuple[ast.AST, _Function | None, set[type] | None]] = [(tree, None, None)]
        while stack:
            node, top, own = stack.pop()
            kind = type(node)
            if kind is ast.Import or kind is ast.ImportFrom:
                self._import(node)  # type: ignore[arg-type]
            elif kind is ast.Constant or kind is ast.JoinedStr:
                first, last = node.lineno, node.end_lineno  # type: ignore[attr-defined]
                if last is not None and last > first:
                    self.in_strings.update(range(first + 1, last + 1))
            if top is None:
                if kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
                    function = _Function(node)  # type: ignore[arg-type]
                    self.functions.append(function)
                    stack.extend((statement, function, function.own)
                                 for statement in function.node.body)
                    continue  # decorators and the signature hold no imports
            else:
                if kind is ast.Global or (kind is ast.Attribute and isinstance(
                        node.ctx, (ast.Store, ast.Del))):  # type: ignore[attr-defined]
                    top.open = True
                if own is not None:
                    own.add(kind)
                    if kind in _SCOPES:
                        own = None
            stack.extend((child, top, own) for child in ast.iter_child_nodes(node))

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.exact.update(_prefixes(alias.name))
                self.below.add(alias.name)
            return
        package = self.package
        if node.level:
            up = node.level - 1
            if up > len(package):
                self.climbs = True
                return
            base = ".".join(p for p in (*package[:len(package) - up],
                                        *(node.module or "").split(".")) if p)
        else:
            base = node.module or ""
        if base:
            self.exact.update(_prefixes(base))
        else:
            self.exact.add("")  # the root's own __init__
        for alias in node.names:
            if alias.name == "*":
                self.below.add(base)
            else:
                self.exact.add(f"{base}.{alias.name}" if base else alias.name)


def _interface(scan: _Scan, text: str) -> str:
    """A digest of ``text`` without closed bodies (each stands as its marker) and
    without lines that are only a comment or blank (directives are added apart)."""
    lines = LINE_END.split(text)
    blanks: dict[int, tuple[int, str]] = {}  # first line -> (last line, marker)
    for function in scan.functions:
        marker = _closed_body(function)
        if marker is not None:  # from below the signature to the body's last line
            returns = function.node.returns
            assert returns is not None
            blanks[(returns.end_lineno or 0) + 1] = (function.node.end_lineno or 0, marker)
    digest = hashlib.sha256()
    number = 1
    while number <= len(lines):
        blank = blanks.get(number)
        if blank is not None:
            digest.update(f"\0{blank[1]}\n".encode())
            number = blank[0] + 1
            continue
        line = lines[number - 1]
        stripped = line.strip()
        if number in scan.in_strings or (stripped and not stripped.startswith("#")):
            digest.update(line.encode("utf-8", "surrogatepass") + b"\n")
        number += 1
    for directive in DIRECTIVE.findall(text):
        if not SUPPRESSION.fullmatch(directive):
            digest.update(f"\0{directive}\n".encode("utf-8", "surrogatepass"))
    # Imports inside closed bodies too: they are edges of the import graph, which
    # import-cycle checks (``reportImportCycles``) read across files.
    digest.update(repr((sorted(scan.exact), sorted(scan.below), scan.climbs)).encode())
    return digest.hexdigest()


def _closed_body(function: _Function) -> str | None:
    """The marker that stands for a closed function's body; ``None``: not closed."""
    node = function.node
    if node.returns is None or function.open:
        return None
    if node.body[0].lineno <= (node.returns.end_lineno or node.lineno):
        return None  # a body on the signature's line
    own = function.own
    flags = {
        "yields": ast.Yield in own or ast.YieldFrom in own,
        "returns": ast.Return in own,
        "raises": ast.Raise in own,
        "awaits": ast.Await in own,
        "placeholder": _is_placeholder(node.body),
        "simple": all(isinstance(s, _SIMPLE) for s in node.body),
    }
    return repr(sorted(flags.items()))


_SIMPLE = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Raise,
           ast.Pass, ast.Break, ast.Continue, ast.Delete, ast.Assert, ast.Import,
           ast.ImportFrom, ast.Global, ast.Nonlocal)


def _is_placeholder(body: list[ast.stmt]) -> bool:
    """pyright's empty suite: only ``...`` and string statements, one ``...`` at least."""
    saw_ellipsis = False
    for statement in body:
        if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)):
            return False
        if statement.value.value is Ellipsis:
            saw_ellipsis = True
        elif not isinstance(statement.value.value, (str, bytes)):
            return False
    return saw_ellipsis


# -- the graph -------------------------------------------------------------------------

class ModuleIndex:
    """Files by every module name they may be imported under (one file set)."""

    def __init__(self, relatives: Iterable[str]) -> None:
        self.named: dict[str, set[str]] = defaultdict(set)
        self.under: dict[str, set[str]] = defaultdict(set)
        self.implicit: set[str] = set()
        for rel in relatives:
            parts = module_parts(rel)
            if not parts:
                self.named[""].add(rel)
            for start in range(len(parts)):
                self.named[".".join(parts[start:])].add(rel)
                for end in range(start + 1, len(parts)):
                    self.under[".".join(parts[start:end])].add(rel)
            if any(".".join(parts[i:]) in IMPLICIT for i in range(len(parts))):
                self.implicit.add(rel)

    def targets(self, imports: Imports) -> set[str]:
        found: set[str] = set()
        for name in imports.exact:
            found |= self.named.get(name, set())
        for name in imports.below:
            found |= self.named.get(name, set())
            found |= self.under.get(name, set())
        return found


class DependencyGraph:
    """Outlines of a workspace's files by content digest, and what depends on what.

    Outlines are made when needed and remembered per (file, digest), a bounded
    number of them: a changed file's new version when it is compared, its old one
    when the caller saw it go (:meth:`remember`; one never seen counts as an
    interface change), and every file's imports the first time an interface changes
    (about 1 ms a file, ``ast`` being most of it), then only for new versions.
    """

    def __init__(self, memory: int = 4096) -> None:
        self._outlines: OrderedDict[tuple[str, str], Outline] = OrderedDict()
        self._memory = memory
        self._index: tuple[frozenset[str], ModuleIndex] | None = None

    def remember(self, relative: str, digest: str, text: str) -> None:
        """Outline one version of a file now, before its text is gone (a version an
        answer was made in, about to be replaced by an edit)."""
        self._outline((relative, digest), lambda _: text)

    def affected(self, before: dict[str, str], now: dict[str, str],
                 text_of: Callable[[str], str | None]) -> set[str] | None:
        """The files whose diagnostics may differ between two states of the same
        files (relative name → digest); ``None`` means any file may."""
        if before.keys() != now.keys():
            return None
        changed = {rel for rel, digest in now.items() if before[rel] != digest}
        if not changed:
            return set()
        # Room for every file's outline and as many old versions: a workspace larger
        # than the bound would otherwise re-parse everything on each interface change.
        self._memory = max(self._memory, 2 * len(now))
        index = self._index_of(frozenset(now))
        sources = set()
        for rel in changed:
            old = self._outlines.get((rel, before[rel]))
            new = self._outline((rel, now[rel]), text_of)
            if old is None or new.interface is None or old.interface != new.interface:
                sources.add(rel)
        if sources & index.implicit:
            return None
        if not sources:
            return changed
        importers: dict[str, set[str]] = defaultdict(set)
        anything: set[str] = set()  # files that may import anything
        for key in now.items():
            imports = self._outline(key, text_of).imports
            if imports is None:
                anything.add(key[0])
                continue
            for target in index.targets(imports):
                importers[target].add(key[0])
        # Reached from the sources, through changed files too: a file whose own edit
        # left its interface alone still passes on what it imports.
        reached = set(sources)
        frontier = list(sources)
        while frontier:
            for importer in importers.get(frontier.pop(), ()):
                if importer not in reached:
                    reached.add(importer)
                    frontier.append(importer)
        return changed | reached | anything

    def _index_of(self, names: frozenset[str]) -> ModuleIndex:
        if self._index is None or self._index[0] != names:
            self._index = (names, ModuleIndex(names))
        return self._index[1]

    def _outline(self, key: tuple[str, str], text_of: Callable[[str], str | None]) -> Outline:
        known = self._outlines.get(key)
        if known is not None:
            self._outlines.move_to_end(key)
            return known
        text = text_of(key[0])
        known = Outline(None, None) if text is None else outline(key[0], text)
        self._outlines[key] = known
        while len(self._outlines) > self._memory:
            self._outlines.popitem(last=False)
        return known
