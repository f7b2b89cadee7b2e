"""Segment definitions as tokens, with the error every reader of them raises."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shopkeeper.errors import BadRequest

__all__ = ["KEYWORDS", "MAX_LENGTH", "SegmentSyntaxError", "Token", "tokenize"]

MAX_LENGTH = 10_000
"""Longer definitions are refused: a segment is a rule, not a data dump."""

KEYWORDS = frozenset(
    "and or not in did bought where at least most time times day days consent "
    "affinity true false".split()
)
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<op>==|!=|<>|>=|<=|=|>|<)
  | (?P<punct>[()\[\],.])
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)


class SegmentSyntaxError(BadRequest):
    """A definition that cannot be read; ``line`` and ``column`` are 1-based."""

    code = "segment_syntax"

    def __init__(
        self, reason: str, line: int, column: int, suggestion: str = ""
    ) -> None:
        super().__init__(
            f"{reason} at {line}:{column}" + (f"; {suggestion}" if suggestion else ""),
            hint="see docs/segments.md for the segment language",
        )
        self.reason = reason
        self.line = line
        self.column = column
        self.suggestion = suggestion


@dataclass(frozen=True)
class Token:
    """One lexical unit; ``kind`` is number, string, op, punct, word or end."""

    kind: str
    text: str
    value: object
    line: int
    column: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words

    def describe(self) -> str:
        return "the end" if self.kind == "end" else repr(self.text)


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token."""
    if len(text) > MAX_LENGTH:
        raise SegmentSyntaxError(
            f"definition is {len(text):,} characters; at most {MAX_LENGTH:,}", 1, 1
        )
    tokens: list[Token] = []
    line, line_start, pos = 1, 0, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        column = pos - line_start + 1
        if match is None:
            char = text[pos]
            reason = (
                "unterminated string"
                if char in "\"'"
                else f"unexpected character {char!r}"
            )
            raise SegmentSyntaxError(reason, line, column)
        kind, raw = match.lastgroup or "", match.group()
        if kind == "space":
            line += raw.count("\n")
            if "\n" in raw:
                line_start = pos + raw.rindex("\n") + 1
        else:
            tokens.append(Token(kind, raw, _value(kind, raw), line, column))
        pos = match.end()
    tokens.append(Token("end", "", None, line, len(text) - line_start + 1))
    return tokens


def _value(kind: str, raw: str) -> object:
    if kind == "number":
        return float(raw)
    if kind == "string":
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    if kind == "op":
        return {"==": "=", "<>": "!="}.get(raw, raw)
    return raw
