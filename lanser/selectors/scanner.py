"""The selector parser's lexical level: a cursor over one string, and its tokens.

:class:`Scanner` holds the text and the position, and reads what the grammar's
productions (:mod:`lanser.selectors.parser`) are made of: literals, names, numbers,
quoted strings with escapes, percent-encoded bytes, and the few value shapes
(hashes, choices). Every failure is a :class:`~lanser.errors.BadSelector` naming the
1-based column and what was expected there.
"""

from __future__ import annotations

import re

from lanser.errors import BadSelector

INT = re.compile(r"\d+")
BARE = re.compile(r"[\w.:+\-/]+")
HASH = re.compile(r"sha256:[0-9a-fA-F]{12}")
ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "0": "\0"}


class Scanner:
    """A position in a selector's text and the readers of its tokens."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def error(self, expected: str, *, at: int | None = None,
              found: str | None = None) -> BadSelector:
        at = self.i if at is None else at
        if found is None:
            found = "end of selector" if at >= len(self.s) else repr(self.s[at])
        return BadSelector(
            f"bad selector {self.s!r}: at column {at + 1}, expected {expected}, found {found}",
            selector=self.s, column=at + 1, expected=expected, found=found,
        )

    def peek(self, lit: str) -> bool:
        return self.s.startswith(lit, self.i)

    def eat(self, lit: str) -> bool:
        if self.s.startswith(lit, self.i):
            self.i += len(lit)
            return True
        return False

    def expect(self, lit: str, what: str | None = None) -> None:
        if not self.eat(lit):
            raise self.error(what or repr(lit))

    def regex(self, pattern: re.Pattern[str], what: str) -> str:
        match = pattern.match(self.s, self.i)
        if match is None or not match.group():
            raise self.error(what)
        self.i = match.end()
        return match.group()

    def integer(self, what: str = "a number") -> int:
        start = self.i
        digits = self.regex(INT, what)
        if len(digits) > 9:
            raise self.error("a number below 1000000000", at=start, found=digits)
        return int(digits)

    def positive(self, what: str) -> int:
        start = self.i
        value = self.integer(what)
        if value < 1:
            raise self.error(f"{what} (1-based: 1 or more)", at=start, found="0")
        return value

    def at_end(self) -> bool:
        return self.i >= len(self.s)

    def percent(self) -> bytes:
        hexa = self.s[self.i + 1:self.i + 3]
        if len(hexa) != 2 or any(c not in "0123456789abcdefABCDEF" for c in hexa):
            raise self.error("two hex digits after '%'", at=self.i + 1)
        self.i += 3
        return bytes([int(hexa, 16)])

    def value(self) -> str:
        if self.peek('"'):
            return self.string()
        return self.regex(BARE, "a value (bare word or quoted string)")

    def string(self) -> str:
        """A double-quoted string with backslash escapes."""
        self.expect('"')
        out = []
        while True:
            if self.at_end():
                raise self.error("a closing '\"'")
            ch = self.s[self.i]
            if ch == '"':
                self.i += 1
                return "".join(out)
            if ch == "\\":
                esc = self.s[self.i + 1:self.i + 2]
                if esc in ESCAPES:
                    out.append(ESCAPES[esc])
                    self.i += 2
                elif esc == "u" and self.s.startswith("{", self.i + 2):
                    end = self.s.find("}", self.i + 3)
                    digits = self.s[self.i + 3:end] if end > 0 else ""
                    if not re.fullmatch(r"[0-9a-fA-F]{1,6}", digits) or \
                            int(digits, 16) > 0x10FFFF or 0xD800 <= int(digits, 16) < 0xE000:
                        raise self.error("\\u{HEX} with a valid code point", at=self.i)
                    out.append(chr(int(digits, 16)))
                    self.i = end + 1
                else:
                    raise self.error("an escape: \\\" \\\\ \\n \\t \\r \\0 \\u{HEX}",
                                     at=self.i + 1)
                continue
            out.append(ch)
            self.i += 1

    def as_int(self, value: str, at: int, *, signed: bool = False) -> int:
        if not re.fullmatch(r"-?\d{1,9}" if signed else r"\d{1,9}", value):
            raise self.error("a non-negative number" if not signed else "a number",
                             at=at, found=repr(value))
        return int(value)

    def content_hash(self, value: str, at: int) -> str:
        """``sha256:`` and the 12 hex digits :func:`anchors.line_hash` writes (lowercased)."""
        if not HASH.fullmatch(value):
            raise self.error("hash=sha256: and 12 hex digits", at=at, found=repr(value))
        return value.lower()

    def choice(self, value: str, allowed: tuple[str, ...], at: int, what: str) -> str:
        if value not in allowed:
            raise self.error(f"a {what}: {', '.join(allowed)}", at=at, found=repr(value))
        return value

    def unpercent(self, text: str, at: int) -> str:
        """Decode ``%XX`` in an ``anchor://`` value; bytes that are not UTF-8 are an error."""
        if "%" not in text:
            return text
        data = bytearray()
        i = 0
        while i < len(text):
            if text[i] == "%" and re.fullmatch(r"[0-9a-fA-F]{2}", text[i + 1:i + 3]):
                data.append(int(text[i + 1:i + 3], 16))
                i += 3
            else:
                data.extend(text[i].encode("utf-8", "surrogatepass"))
                i += 1
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error("percent-escapes that decode as UTF-8", at=at,
                             found="invalid UTF-8") from None
