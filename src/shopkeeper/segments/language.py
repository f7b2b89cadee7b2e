"""The segment language: a hand-written tokenizer and recursive-descent parser.

Grammar (keywords are case-insensitive)::

    segment    := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | atom
    atom       := "(" or ")" | consent | did | bought | comparison
    consent    := "consent" "." PURPOSE
    comparison := target OP literal | target ["not"] "in" "[" literal ("," literal)* "]"
    target     := FIELD | "affinity" "." "department" "[" STRING "]"
    did        := "did" STRING ["where" test ("and" test)*] [count] [window]
    bought     := "bought" [test ("and" test)*] [count] [window]
    test       := NAME OP literal | NAME ["not"] "in" "[" literal ("," literal)* "]"
    count      := "at" ("least" | "most") INT ("time" | "times")
    window     := "in" INT ("day" | "days")
    OP         := "=" | "!=" | ">" | ">=" | "<" | "<="
    literal    := NUMBER | STRING | "true" | "false"

A ``where`` list goes on across ``and`` while the next word is an event
property; it ends at a profile field, a keyword (consent, affinity, did,
bought, not) or a parenthesis, so ``did "X" where a = 1 and clv_52w > 300``
reads as the did clause and a profile comparison. Quote a property that shares
a profile field's name: ``where "frequency" = 3``.

Every error is a ``SegmentSyntaxError`` naming ``line:column`` and the reason,
so a definition is fixed without guessing.
"""

from __future__ import annotations

import difflib

from shopkeeper.collect.csvfile import PURPOSES
from shopkeeper.segments.ast import (
    Affinity,
    All,
    Any_,
    Bought,
    Compare,
    Consent,
    Did,
    Literal,
    Node,
    Not,
    ProfileField,
    PropertyTest,
)
from shopkeeper.segments.fields import BOUGHT_PROPERTIES, FIELDS
from shopkeeper.segments.tokens import (
    KEYWORDS,
    MAX_LENGTH,
    SegmentSyntaxError,
    Token,
    tokenize,
)

__all__ = ["MAX_LENGTH", "SegmentSyntaxError", "Token", "parse", "tokenize"]

_STOP = frozenset({"consent", "affinity", "did", "bought", "not"})


def parse(text: str) -> Node:
    """The tree of a definition; raises SegmentSyntaxError at the first problem."""
    parser = _Parser(tokenize(text))
    if parser.peek().kind == "end":
        raise SegmentSyntaxError("empty definition", 1, 1)
    node = parser.expression()
    last = parser.peek()
    if last.kind != "end":
        raise parser.error(f"expected 'and', 'or' or the end, found {last.describe()}")
    return node


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else ""


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    # -- cursor ----------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.pos += 1
        return token

    def error(
        self, reason: str, token: Token | None = None, suggestion: str = ""
    ) -> SegmentSyntaxError:
        at = token or self.peek()
        return SegmentSyntaxError(reason, at.line, at.column, suggestion)

    def expect_word(self, *words: str) -> Token:
        token = self.peek()
        if not token.is_word(*words):
            wanted = " or ".join(repr(w) for w in words)
            raise self.error(f"expected {wanted}, found {token.describe()}")
        return self.next()

    def expect_punct(self, char: str) -> Token:
        token = self.peek()
        if token.kind != "punct" or token.text != char:
            raise self.error(f"expected {char!r}, found {token.describe()}")
        return self.next()

    def integer(self, what: str) -> int:
        token = self.peek()
        value = token.value
        if token.kind != "number" or not isinstance(value, float):
            raise self.error(
                f"expected {what} (a whole number), found {token.describe()}"
            )
        if value != int(value) or value < 0:
            raise self.error(f"{what} must be a whole number >= 0, not {token.text}")
        self.next()
        return int(value)

    # -- boolean structure -----------------------------------------------------
    def expression(self) -> Node:
        parts = [self.conjunction()]
        while self.peek().is_word("or"):
            self.next()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Any_(tuple(parts))

    def conjunction(self) -> Node:
        parts = [self.negation()]
        while self.peek().is_word("and"):
            self.next()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def negation(self) -> Node:
        if self.peek().is_word("not"):
            self.next()
            return Not(self.negation())
        return self.atom()

    def atom(self) -> Node:
        token = self.peek()
        if token.kind == "punct" and token.text == "(":
            self.next()
            node = self.expression()
            self.expect_punct(")")
            return node
        if token.is_word("consent"):
            return self.consent()
        if token.is_word("did"):
            return self.did()
        if token.is_word("bought"):
            return self.bought()
        if token.is_word("affinity") or (
            token.kind == "word" and not token.is_word(*KEYWORDS)
        ):
            return self.comparison()
        raise self.error(
            f"expected a condition (a profile field, consent, affinity, did or "
            f"bought), found {token.describe()}"
        )

    # -- conditions ------------------------------------------------------------
    def consent(self) -> Consent:
        self.next()
        self.expect_punct(".")
        token = self.peek()
        if token.kind != "word" or token.text not in PURPOSES:
            known = list(PURPOSES)
            raise self.error(
                f"unknown consent purpose {token.text!r}",
                suggestion=_suggest(token.text, known)
                or f"purposes are {', '.join(known)}",
            )
        self.next()
        return Consent(token.text)

    def comparison(self) -> Compare:
        token = self.peek()
        target: ProfileField | Affinity
        if token.is_word("affinity"):
            target = self.affinity()
            kind = "number"
        elif token.text in FIELDS:
            self.next()
            target = ProfileField(token.text)
            kind = FIELDS[token.text].kind
        else:
            raise self.error(
                f"unknown field {token.text!r}",
                suggestion=_suggest(token.text, list(FIELDS)),
            )
        op, value, at = self.operator_and_value()
        for item in value if isinstance(value, tuple) else (value,):
            if kind == "number" and not isinstance(item, float):
                raise self.error(f"{_name(target)} is a number, not {item!r}", at)
            if kind == "text" and not isinstance(item, str):
                raise self.error(f"{_name(target)} is text; quote the value", at)
        return Compare(target, op, value)

    def affinity(self) -> Affinity:
        self.next()
        self.expect_punct(".")
        if not self.peek().is_word("department"):
            raise self.error(
                f'affinity is by department: affinity.department["PRODUCE"], '
                f"found {self.peek().describe()}"
            )
        self.next()
        self.expect_punct("[")
        token = self.peek()
        if token.kind != "string" or not str(token.value).strip():
            raise self.error(f"expected a quoted department, found {token.describe()}")
        self.next()
        self.expect_punct("]")
        return Affinity(str(token.value))

    def operator_and_value(self) -> tuple[str, Literal | tuple[Literal, ...], Token]:
        token = self.peek()
        if token.kind == "op":
            self.next()
            at = self.peek()
            return str(token.value), self.literal(), at
        negated = token.is_word("not") and self.peek(1).is_word("in")
        if negated:
            self.next()
        if self.peek().is_word("in"):
            self.next()
            at = self.peek()
            self.expect_punct("[")
            items = [self.literal()]
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.next()
                items.append(self.literal())
            self.expect_punct("]")
            return ("not in" if negated else "in"), tuple(items), at
        raise self.error(
            f"expected a comparison (= != > >= < <= in), found {token.describe()}"
        )

    def literal(self) -> Literal:
        token = self.next()
        if token.kind in ("number", "string"):
            assert isinstance(token.value, float | str)
            return token.value
        if token.is_word("true", "false"):
            return token.text.lower() == "true"
        raise self.error(
            f'expected a value (number, "text", true or false), found '
            f"{token.describe()}",
            token,
        )

    def did(self) -> Did:
        self.next()
        token = self.peek()
        if token.kind != "string" or not str(token.value):
            raise self.error(
                f"expected the event name in quotes, found {token.describe()}"
            )
        self.next()
        where: list[PropertyTest] = []
        if self.peek().is_word("where"):
            self.next()
            where = self.tests(product=False)
        at_least, at_most, days = self.count_and_window()
        return Did(str(token.value), tuple(where), at_least, at_most, days)

    def bought(self) -> Bought:
        self.next()
        where: list[PropertyTest] = []
        if self.peek().kind == "word" and not self.peek().is_word("at", "in"):
            where = self.tests(product=True)
        at_least, at_most, days = self.count_and_window()
        return Bought(tuple(where), at_least, at_most, days)

    def tests(self, product: bool) -> list[PropertyTest]:
        """``test ("and" test)*``: product properties for bought, event
        properties for did; the list ends where the next word is not one."""
        found = [self.test(product)]
        while self.peek().is_word("and"):
            after = self.peek(1)
            goes_on = (
                after.kind == "word" and after.text in BOUGHT_PROPERTIES
                if product
                else after.kind == "string" or _is_property(after)
            )
            if not goes_on:
                break
            self.next()
            found.append(self.test(product))
        return found

    def test(self, product: bool) -> PropertyTest:
        token = self.peek()
        if product:
            if token.kind != "word" or token.text not in BOUGHT_PROPERTIES:
                known = list(BOUGHT_PROPERTIES)
                raise self.error(
                    f"unknown product property {token.text!r}",
                    suggestion=_suggest(token.text, known)
                    or f"properties are {', '.join(known)}",
                )
        elif token.kind not in ("word", "string") or (
            token.kind == "word" and token.is_word(*KEYWORDS)
        ):
            raise self.error(f"expected an event property, found {token.describe()}")
        self.next()
        op, value, _ = self.operator_and_value()
        return PropertyTest(str(token.value), op, value)

    def count_and_window(self) -> tuple[int | None, int | None, int | None]:
        at_least: int | None = 1
        at_most: int | None = None
        if self.peek().is_word("at"):
            self.next()
            bound = self.expect_word("least", "most").text.lower()
            n = self.integer("a count")
            self.expect_word("time", "times")
            if bound == "least":
                at_least = n
            else:
                at_least, at_most = None, n
        days = None
        if self.peek().is_word("in") and self.peek(1).kind == "number":
            self.next()
            days = self.integer("a number of days")
            if days == 0:
                raise self.error("a window of 0 days holds nothing", self.peek(-1))
            self.expect_word("day", "days")
        return at_least, at_most, days


def _is_property(token: Token) -> bool:
    """An event property name, as opposed to what starts a new condition."""
    return (
        token.kind == "word"
        and token.text not in FIELDS
        and not token.is_word(*_STOP, *KEYWORDS)
    )


def _name(target: ProfileField | Affinity) -> str:
    if isinstance(target, Affinity):
        return f'affinity.department["{target.department}"]'
    return target.name
