"""The selector parser: a hand-written recursive descent over one string.

Hand-written rather than generated (lark was the alternative) because the errors are
the product here: an agent that typed a selector wrong must learn *where* (a 1-based
column in code points) and *what was expected* there, in words, and the grammar is
small enough that the descent stays readable. The grammar is in ``selectors/SPEC.md``;
the functions below follow its productions one to one. Every failure is a
:class:`lanser.errors.BadSelector`; nothing else escapes (a hypothesis fuzz test keeps
that true).
"""

from __future__ import annotations

import posixpath
import re

from lanser.errors import BadSelector
from lanser.selectors.scanner import Scanner
from lanser.selectors.syntax import KINDS, ROLES, Anchor, Parsed, Range, Selector, Step, Symbol

#: Longest selector accepted; longer input is refused rather than scanned.
MAX_LENGTH = 8192

_NAME = re.compile(r"[^\W\d]\w*")
_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\*")
_MODULE = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*")
_PATH_STOP = set(':@"#?[]|,\t\r\n ')
#: The paper's AST-path keys, and the tree-sitter node type each one means.
PAPER_AST_TYPES = {"class": "class_definition", "def": "function_definition",
                   "function": "function_definition", "method": "function_definition",
                   "func": "function_definition"}


def _spot(sel: Selector) -> str:
    return f"{sel.line}:{sel.col}" if sel.col is not None else f"{sel.line}"


def parse_selector(text: str) -> Parsed:
    """Parse selector ``text``; raise :class:`BadSelector` with position and expectation."""
    if not isinstance(text, str):
        raise BadSelector("a selector must be a string", selector=repr(text))
    if len(text) > MAX_LENGTH:
        raise BadSelector(f"selector is longer than {MAX_LENGTH} characters",
                          selector=text[:80] + "...", column=MAX_LENGTH + 1)
    return _Parser(text).parse()


class _Parser(Scanner):
    """The grammar's productions (selectors/SPEC.md), one method each."""

    # -- top level --------------------------------------------------------------

    def parse(self) -> Parsed:
        if not self.s.strip():
            raise self.error("a selector (path:line:col, path::name, path//ast, path@\"text\")")
        start = self.single()
        result: Parsed = start
        if isinstance(start, Range):  # the paper's @R(...) form is a whole range
            pass
        elif self.eat(".."):
            end_at = self.i
            result = self.checked_range(Range(start, self.range_end(start)), end_at)
        if not self.at_end():
            raise self.error("'..' (a range) or the end of the selector" if isinstance(
                result, Selector) else "the end of the selector")
        return result

    def checked_range(self, rng: Range, end_at: int) -> Range:
        """A range's ends must be in one file, the end not before the start (SPEC.md 3.6)."""
        start, end = rng.start, rng.end
        scopes = [posixpath.normpath(s.path) if s.path is not None else f"module {s.module}"
                  for s in (start, end)]
        if scopes[0] != scopes[1]:
            raise self.error(f"an end in the same file as the start ({scopes[0]})",
                             at=end_at, found=repr(end.path or end.module))
        if start.line is not None and end.line is not None and (
                end.line < start.line or (end.line == start.line and
                start.col is not None and end.col is not None and end.col < start.col)):
            raise self.error("an end at or after the start (a range runs forward)", at=end_at,
                             found=f"end {_spot(end)} before start {_spot(start)}")
        return rng

    def range_end(self, start: Selector) -> Selector:
        """The end of a range: a full selector, or a shorthand in the start's scope."""
        if self.at_end():
            raise self.error("the end of the range (line[:col], a selector, or ::, //, @)")
        if self.s[self.i].isdigit():
            line = self.positive("a line number")
            col = self.positive("a column number") if self.eat(":") else None
            return Selector(path=start.path, module=start.module, line=line, col=col)
        if self.peek("::") or self.peek("//") or self.peek("@"):
            end = self.facets(start.path, start.module, allow_position=start.path is not None)
            return end
        end = self.single()
        if isinstance(end, Range):
            raise self.error("a single location after '..', not a range", at=self.i - 1)
        return end

    def single(self) -> Parsed:
        if self.peek("py://"):
            return self.paper_symbolic()
        if self.peek("ast://"):
            return self.paper_ast()
        if self.peek("anchor://"):
            return self.paper_anchor()
        start = self.i
        scope = self.path()
        if not scope:
            raise self.error("a path, or py://, ast://, anchor://")
        if self.at_end() or self.peek(".."):
            raise self.error("':' (line or name), '::' (name), '//' (AST path) or '@' "
                             "(anchor or @L/@R position) after the path")
        is_module = (_MODULE.fullmatch(scope) is not None
                     and not scope.endswith((".py", ".pyi")) and "%" not in self.s[start:self.i])
        if is_module and self.peek(":") and not self.peek("::") and \
                _NAME.match(self.s, self.i + 1):
            self.i += 1
            return self.facets(None, scope, allow_position=False, symbol_started=True)
        if is_module and self.peek("::"):
            return self.facets(None, scope, allow_position=False)
        if self.eat("@R("):
            return self.paper_range(scope)
        return self.facets(scope, None, allow_position=True)

    def paper_range(self, path: str) -> Range:
        """``path@R(42,7->44,1)``: the paper's range, start inclusive, end exclusive."""
        line = self.positive("a line number after '@R('")
        self.expect(",", "',' and a column")
        col = self.positive("a column number")
        self.expect("->", "'->' and the end line")
        end_at = self.i
        end_line = self.positive("an end line number")
        self.expect(",", "',' and the end column")
        end_col = self.positive("an end column number")
        self.expect(")", "')'")
        return self.checked_range(Range(Selector(path=path, line=line, col=col),
                                        Selector(path=path, line=end_line, col=end_col)), end_at)

    def path(self) -> str:
        """A path: raw characters up to a delimiter, ``%XX`` decoded as UTF-8."""
        out = bytearray()
        while not self.at_end():
            ch = self.s[self.i]
            if ch in _PATH_STOP or self.peek("//"):
                break
            if ch == "%":
                out.extend(self.percent())
                continue
            if ord(ch) < 0x20 or ch == "\x7f":
                raise self.error("a printable path character (percent-encode others)")
            out.extend(ch.encode("utf-8", "surrogatepass"))
            self.i += 1
        try:
            return out.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error("percent-escapes that decode as UTF-8", at=self.i,
                             found="invalid UTF-8") from None

    # -- native facets ----------------------------------------------------------

    def facets(self, path: str | None, module: str | None, *, allow_position: bool,
               symbol_started: bool = False) -> Selector:
        if allow_position and not symbol_started:
            if self.peek(":") and not self.peek("::"):
                self.i += 1
                if self.i < len(self.s) and self.s[self.i].isdigit():
                    return self.position_tail(path)
                if _NAME.match(self.s, self.i):  # path:name is path::name
                    symbol_started = True
                else:
                    raise self.error("a line number, or a name (path:name)")
            elif self.peek("@L"):
                self.i += 2
                line = self.positive("a line number after '@L'")
                col = None
                if self.eat(":"):
                    self.eat("C")
                    col = self.positive("a column number after ':C'")
                return Selector(path=path, line=line, col=col)
        symbol = ast = anchor = None
        if symbol_started or self.eat("::"):
            symbol = self.symbol()
        if self.eat("//"):
            ast = self.ast_steps()
        if self.eat("@"):
            anchor = self.anchor()
        if symbol is None and ast is None and anchor is None:
            if allow_position:
                raise self.error("':' (line or name), '::' (name), '//' (AST path) or '@' "
                                 "(anchor, @L position, @R range)")
            raise self.error("'::' (name), '//' (AST path) or '@' (anchor)")
        if module is not None and symbol is None:
            raise self.error("'::' or ':' and a name after a module")
        return Selector(path=path, module=module, symbol=symbol, ast=ast, anchor=anchor)

    def position_tail(self, path: str | None) -> Selector:
        line = self.positive("a line number")
        col = None
        if self.peek(":"):
            self.i += 1
            col = self.positive("a column number")
        return Selector(path=path, line=line, col=col)

    def qualname(self) -> tuple[str, ...]:
        parts = [self.regex(_NAME, "a name (identifier)")]
        while self.peek(".") and not self.peek(".."):
            self.i += 1
            parts.append(self.regex(_NAME, "a name after '.'"))
        return tuple(parts)

    def symbol(self) -> Symbol:
        return self.symbol_with(self.qualname(), "name", None)

    def ast_steps(self) -> tuple[Step, ...]:
        steps = [self.step()]
        while self.peek("/") and not self.peek("//"):
            self.i += 1
            steps.append(self.step())
        return tuple(steps)

    def step(self) -> Step:
        node_type = self.regex(_TYPE, "a tree-sitter node type (e.g. function_definition) or '*'")
        name = index = None
        for key, value, at in self.options(("name", "index")):
            if key == "name":
                name = value
            else:
                index = self.as_int(value, at)
        return Step(node_type, name, index)

    def anchor(self) -> Anchor:
        if not self.peek('"'):
            raise self.error("'\"' (a quoted snippet), 'L' or 'R(' after '@'")
        snippet = self.string()
        if not snippet:
            raise self.error("a non-empty snippet", at=self.i - 2, found='""')
        fields: dict[str, object] = {}
        for key, value, at in self.options(("before", "after", "n", "off", "hash", "ctx")):
            if key in ("n", "#", "ctx"):
                fields["occurrence" if key != "ctx" else "ctx"] = self.as_int(value, at)
            elif key == "off":
                fields["offset"] = self.as_int(value, at, signed=True)
            elif key == "hash":
                fields["hash"] = self.content_hash(value, at)
            else:
                fields[key] = value
        return Anchor(snippet, **fields)  # type: ignore[arg-type]

    def options(self, keys: tuple[str, ...]) -> list[tuple[str, str, int]]:
        """``[key=value, INT, ...]`` groups (any number); a bare INT is an index."""
        found: list[tuple[str, str, int]] = []
        seen: set[str] = set()
        while self.eat("["):
            while True:
                at = self.i
                if self.i < len(self.s) and (self.s[self.i].isdigit() or self.peek("-")):
                    key, value = "#", self.regex(re.compile(r"-?\d+"), "a number")
                else:
                    key = self.regex(_TYPE, f"an option ({', '.join(keys)}) or an index")
                    if key not in keys:
                        raise self.error(f"one of {', '.join(keys)}", at=at, found=repr(key))
                    self.expect("=", f"'=' after {key}")
                    value = self.value()
                canonical = {"#": "n" if "n" in keys else "index"}.get(key, key)
                if canonical in seen:
                    raise self.error(f"{canonical} given once", at=at, found=f"{canonical} again")
                seen.add(canonical)
                found.append((key, value, at))
                if self.eat("]"):
                    break
                self.expect(",", "',' or ']'")
        return found

    # -- the paper's forms --------------------------------------------------------

    def paper_symbolic(self) -> Selector:
        """``py://pkg.mod#Class.method:role`` ; ``:`` is only ever a role (SPEC.md)."""
        self.expect("py://")
        start = self.i
        ref = self.path()
        if not ref:
            raise self.error("a module (pkg.mod) or a path after 'py://'")
        path, module = self.module_or_path(ref, start)
        self.expect("#", "'#' and a qualified name after the module")
        qualname = self.qualname()
        role = "name"
        if self.peek(":"):
            self.i += 1
            at = self.i
            word = self.regex(_TYPE, f"a role ({', '.join(ROLES)}) after ':'")
            role = self.choice(word, ROLES, at, "role (nested names use '.', not ':')")
        index = None
        if self.eat("?"):
            at = self.i
            key = self.regex(_TYPE, "overload=N")
            if key not in ("overload", "index"):
                raise self.error("overload=N", at=at, found=repr(key))
            self.expect("=", "'='")
            index = self.integer("a number")
        symbol = self.symbol_with(qualname, role, index)
        return Selector(path=path, module=module, symbol=symbol)

    def symbol_with(self, qualname: tuple[str, ...], role: str, index: int | None) -> Symbol:
        rest = self.options(("kind", "index", "role", "overload"))
        kind = None
        for key, value, at in rest:
            if key in ("index", "overload", "#"):
                index = self.as_int(value, at)
            elif key == "kind":
                kind = self.choice(value, KINDS, at, "kind")
            else:
                role = self.choice(value, ROLES, at, "role")
        return Symbol(qualname, kind, index, role)

    def module_or_path(self, ref: str, at: int) -> tuple[str | None, str | None]:
        if "/" in ref or ref.endswith((".py", ".pyi")):
            return ref, None
        if _MODULE.fullmatch(ref) is None:
            raise self.error("a dotted module name or a path", at=at, found=repr(ref))
        return None, ref

    def paper_ast(self) -> Selector:
        """``ast://[module=pkg.mod]/[class=C]/[def=m]``: the paper's example, made a grammar."""
        self.expect("ast://")
        scope_at = self.i
        path = module = None
        steps: list[Step] = []
        first = True
        while True:
            at = self.i
            self.expect("[", "'[' (a step like [class=Name])")
            key = self.regex(_TYPE, "a step key: module, file, class, def, or a node type")
            value = index = None
            if self.eat("="):
                value = self.value()
            while self.eat(","):
                opt_at = self.i
                opt = self.regex(_TYPE, "index=N")
                if opt != "index":
                    raise self.error("index=N", at=opt_at, found=repr(opt))
                self.expect("=")
                index = self.integer()
            self.expect("]", "',' or ']'")
            if key in ("module", "file"):
                if not first or value is None:
                    raise self.error(f"[{key}=...] only as the first step, with a value", at=at)
                if key == "module":
                    path, module = self.module_or_path(value, at)
                else:
                    path = value
            else:
                steps.append(Step(PAPER_AST_TYPES.get(key, key), value, index))
            first = False
            if not self.peek("/") or self.peek("//"):
                break
            self.i += 1
        if path is None and module is None:
            raise self.error("[module=...] or [file=...] as the first step", at=scope_at)
        if not steps:
            raise self.error("'/' and a step after the module")
        return Selector(path=path, module=module, ast=tuple(steps))

    def paper_anchor(self) -> Selector:
        """``anchor://path#"snippet"?ctx=24&n=1`` (percent-escapes in path and snippet)."""
        self.expect("anchor://")
        path = self.path()
        if not path:
            raise self.error("a path after 'anchor://'")
        self.expect("#", "'#' and a quoted snippet after the path")
        snippet_at = self.i
        snippet = self.unpercent(self.string(), snippet_at)
        if not snippet:
            raise self.error("a non-empty snippet", at=self.i - 2, found='""')
        fields: dict[str, object] = {}
        if self.eat("?"):
            seen: set[str] = set()
            while True:
                at = self.i
                key = self.regex(_TYPE, "a query key: ctx, n, before, after")
                if key in seen:
                    raise self.error(f"{key} given once", at=at, found=f"{key} again")
                seen.add(key)
                self.expect("=", f"'=' after {key}")
                if key in ("ctx", "n"):
                    fields["ctx" if key == "ctx" else "occurrence"] = self.integer()
                elif key in ("before", "after"):
                    value_at = self.i
                    raw = self.string() if self.peek('"') else self.regex(
                        re.compile(r"[^&]*"), "a value")
                    fields[key] = self.unpercent(raw, value_at)
                else:
                    raise self.error("one of ctx, n, before, after", at=at, found=repr(key))
                if not self.eat("&"):
                    break
        return Selector(path=path, anchor=Anchor(snippet, **fields))  # type: ignore[arg-type]

