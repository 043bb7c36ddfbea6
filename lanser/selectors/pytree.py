"""Python syntax trees for selectors: definitions, qualified names, AST paths.

tree-sitter parses any text, broken or not, which is what selectors need: an agent's
half-edited file must still be addressable. tree-sitter counts in UTF-8 bytes; a
:class:`PyDoc` converts to the code-point offsets of :class:`lanser.positions.SourceText`
at this one boundary, so nothing above it sees a byte.

tree-sitter is imported lazily: ``import lanser.selectors`` must stay cheap.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lanser.positions import Position, SourceText

#: Nodes that open a scope: an AST-path step never looks through them.
SCOPES = frozenset({"function_definition", "class_definition", "lambda"})
#: Nodes the capture prefers as AST-path steps (plus every ``*_statement``).
_STOPS = frozenset({"function_definition", "class_definition", "decorated_definition",
                    "expression_statement", "if_statement", "for_statement", "while_statement",
                    "with_statement", "try_statement", "match_statement"})


@functools.lru_cache(maxsize=1)
def _parser() -> Any:
    import tree_sitter
    import tree_sitter_python

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_python.language()))


def has_syntax_error(data: bytes) -> bool:
    """Whether Python source ``data`` fails to parse (tree-sitter's ERROR/MISSING nodes)."""
    return bool(_parser().parse(data).root_node.has_error)


@dataclass(frozen=True)
class Definition:
    """A class, function, method or variable, with the name Python code would use."""

    qualname: tuple[str, ...]
    kind: str
    node: Any          # the class_definition / function_definition / assignment node
    name_node: Any     # its name identifier

    @property
    def dotted(self) -> str:
        return ".".join(self.qualname)


class PyDoc:
    """One file's text, its tree, and the byte <-> code-point conversions."""

    def __init__(self, text: str) -> None:
        self.source = SourceText(text)
        self.text = text
        self.data = text.encode("utf-8", "surrogatepass")
        self._ascii = len(self.data) == len(text)
        self._byte_starts: list[int] | None = None
        self.tree = _parser().parse(self.data)

    @property
    def root(self) -> Any:
        return self.tree.root_node

    def _starts(self) -> list[int]:
        if self._byte_starts is None:
            starts, total = [], 0
            for ch in self.text:
                starts.append(total)
                total += len(ch.encode("utf-8", "surrogatepass"))
            starts.append(total)
            self._byte_starts = starts
        return self._byte_starts

    def cp(self, byte_offset: int) -> int:
        """Code-point offset of a UTF-8 byte offset."""
        if self._ascii:
            return byte_offset
        return bisect.bisect_right(self._starts(), byte_offset) - 1

    def byte(self, cp_offset: int) -> int:
        """UTF-8 byte offset of a code-point offset."""
        return cp_offset if self._ascii else self._starts()[cp_offset]

    def start(self, node: Any) -> int:
        return self.cp(node.start_byte)

    def end(self, node: Any) -> int:
        return self.cp(node.end_byte)

    def position(self, node: Any) -> Position:
        return self.source.position(self.start(node))

    def node_text(self, node: Any) -> str:
        return self.data[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def node_at(self, offset: int) -> Any:
        """The smallest node that covers code-point ``offset`` (a leaf where there is one)."""
        b = self.byte(min(offset, len(self.text)))
        return self.root.descendant_for_byte_range(b, b + 1 if b < len(self.data) else b)

    # -- definitions ------------------------------------------------------------

    @functools.cached_property
    def definitions(self) -> list[Definition]:
        """Every definition in document order (duplicates kept: index picks one)."""
        found: list[Definition] = []
        self._collect(self.root, (), False, found)
        return found

    def _collect(self, node: Any, prefix: tuple[str, ...], in_class: bool,
                 found: list[Definition]) -> None:
        for child in node.named_children:
            target = child
            if child.type == "decorated_definition":
                target = child.child_by_field_name("definition") or child
            if target.type in ("class_definition", "function_definition"):
                name_node = target.child_by_field_name("name")
                if name_node is None:
                    continue
                qual = (*prefix, self.node_text(name_node))
                if target.type == "class_definition":
                    kind = "class"
                else:
                    kind = "method" if in_class else "function"
                found.append(Definition(qual, kind, target, name_node))
                body = target.child_by_field_name("body")
                if body is not None:
                    self._collect(body, qual, target.type == "class_definition", found)
            elif child.type == "expression_statement" and node.type in ("module", "block") \
                    and (not prefix or in_class):
                assign = child.named_children[0] if child.named_children else None
                if assign is not None and assign.type == "assignment":
                    left = assign.child_by_field_name("left")
                    if left is not None and left.type == "identifier":
                        found.append(Definition((*prefix, self.node_text(left)), "variable",
                                                assign, left))
            elif child.type in ("if_statement", "try_statement", "with_statement", "block",
                                "else_clause", "elif_clause", "except_clause",
                                "finally_clause") and (not prefix or in_class):
                # Conditional definitions (``if TYPE_CHECKING:``, ``try: import``) count.
                self._collect(child, prefix, in_class, found)

    def enclosing(self, offset: int) -> Definition | None:
        """The innermost class or function whose node covers ``offset``."""
        best = None
        for d in self.definitions:
            if d.kind != "variable" and self.start(d.node) <= offset < self.end(d.node):
                best = d  # document order: later covering ones are nested deeper
        return best

    def definition_of(self, node: Any) -> Definition | None:
        for d in self.definitions:
            if d.node == node or d.name_node == node:
                return d
        return None


def node_name(doc: PyDoc, node: Any) -> str | None:
    """The name an AST-path ``[name=...]`` filter compares against, if the node has one."""
    for field in ("name", "function", "left"):
        sub = node.child_by_field_name(field)
        if sub is not None:
            return doc.node_text(sub)
    if node.type == "decorated_definition":
        inner = node.child_by_field_name("definition")
        return node_name(doc, inner) if inner is not None else None
    if node.type in ("identifier", "attribute", "keyword_argument", "dotted_name"):
        return doc.node_text(node)
    return None


def step_candidates(node: Any, node_type: str) -> Iterator[Any]:
    """Descendants of ``node`` of ``node_type`` not behind a scope or a node of that type.

    This is what ``/`` means in an AST path (SPEC.md): the nearest matches below,
    skipping structural nodes (``block``, ``expression_statement``...) without
    entering nested functions, classes or lambdas.
    """
    if node_type == "*":
        yield from node.named_children
        return
    stack = list(reversed(node.children))
    while stack:
        child = stack.pop()
        if child.type == node_type:
            yield child
            continue
        if child.type in SCOPES:
            continue
        stack.extend(reversed(child.children))


def match_steps(doc: PyDoc, roots: list[Any], steps: tuple[Any, ...]) -> list[Any]:
    """Nodes an AST path addresses from ``roots``: each step filters, then indexes."""
    current = roots
    for step in steps:
        nxt = []
        for node in current:
            found = [c for c in step_candidates(node, step.type)
                     if step.name is None or node_name(doc, c) == step.name]
            if step.index is not None:
                found = found[step.index:step.index + 1] if step.index < len(found) else []
            nxt.extend(found)
        current = nxt
    return current


def _reachable(doc: PyDoc, top: Any, node: Any) -> bool:
    parent = node.parent
    while parent is not None and parent != top:
        if parent.type in SCOPES or parent.type == node.type:
            return False
        parent = parent.parent
    return parent == top


def ast_path(doc: PyDoc, top: Any, target: Any) -> list[tuple[str, str | None, int | None]]:
    """Steps ``(type, name, index)`` that lead from ``top`` to exactly ``target``.

    Prefers definitions and statements as steps (they survive edits best), names
    over indexes, and adds an index only where a name leaves more than one match.
    """
    chain = []
    node = target
    while node is not None and node != top:
        chain.append(node)
        node = node.parent
    if node is None:
        return []
    chain.reverse()
    steps: list[tuple[str, str | None, int | None]] = []
    current = top
    while current != target:
        below = chain[chain.index(current) + 1:] if current in chain else chain
        pick = next((n for n in below if n.type in _STOPS or n.type.endswith("_statement")
                     or n == target), target)
        if pick.type == "decorated_definition" and pick != target:
            pick = pick.child_by_field_name("definition") or pick
        while pick is not None and pick != current and not _reachable(doc, current, pick):
            pick = pick.parent
        if pick is None or pick == current:  # no spellable step: capture goes without
            return []
        name = node_name(doc, pick) if pick.type in (
            "function_definition", "class_definition") else None
        same = [c for c in step_candidates(current, pick.type)
                if name is None or node_name(doc, c) == name]
        index = same.index(pick) if len(same) > 1 else None
        steps.append((pick.type, name, index))
        current = pick
    return steps
