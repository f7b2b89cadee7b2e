"""Typed identifiers from raw values, and the values that must never link.

E-mail and phone are normalised by the rules in ``collect.personal`` (trimmed
lower case; the digits of a phone and a leading ``+``) and kept only as SHA-256,
so an ``email:`` identifier from a tracked event equals the one from an
imported customer file. The Ibis expressions here apply the same rules in the
warehouse, and a test holds the two together.

Blocked values are the placeholders that tracking code and forms send when they
know nothing ("null", "undefined", "0000-0000", "test@example.com"): linking on
them merges strangers by the thousand, the most reported failure of CDPs.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from shopkeeper.collect.personal import (
    hash_email,
    hash_phone,
    normalize_email,
    normalize_phone,
)
from shopkeeper.warehouse.jsontext import json_text

__all__ = [
    "BLOCKED_EMAILS",
    "BLOCKED_TEXT",
    "TEST_EMAIL_DOMAINS",
    "blocked_reason",
    "email_identifier",
    "hash_email",
    "hash_phone",
    "json_text",
    "normalize_email",
    "normalize_phone",
    "phone_identifier",
    "typed",
]

BLOCKED_TEXT = ("", "null", "none", "nil", "nan", "undefined", "anonymous", "-1")
BLOCKED_TEXT += ("unknown", "n/a", "[object object]")
"""Values (after the type prefix, trimmed, any case) that identify nobody."""

TEST_EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "test.com")
"""Reserved and test domains: an address there is never a real shopper."""

BLOCKED_EMAILS = ("test@test.com", "a@a.com", "noreply@gmail.com", "none@none.com")
"""Addresses forms are filled with; checked by hash, so imported files match too."""

_ZEROS = r"^[0\-]+$"  # 0000, 00000000-0000-0000-0000-000000000000


def _sha256(value: ir.StringValue) -> ir.StringValue:
    return value.hexdigest("sha256")


def email_identifier(raw: ir.StringValue) -> ir.StringValue:
    """``email:<sha256>`` of a raw address, or NULL when it has no ``@``.

    Test domains are not dropped here but mapped onto the blocked hash of
    ``test@example.com``, so the link is refused, and recorded, like any
    other blocked value.
    """
    norm = raw.strip().lower()
    domain = norm.re_extract(r"@([^@]+)$", 1)
    test = domain.isin(TEST_EMAIL_DOMAINS)
    hashed = test.ifelse(ibis.literal(hash_email("test@example.com")), _sha256(norm))
    return norm.contains("@").ifelse("email:" + hashed, ibis.null("string"))


def phone_identifier(raw: ir.StringValue) -> ir.StringValue:
    """``phone:<sha256>`` of a raw number, or NULL when it has no digit.

    Numbers of all zeros or under 6 digits become the (blocked) hash of empty
    input, so their links are refused and recorded rather than silently lost.
    """
    text = raw.strip()
    digits = text.re_replace(r"\D", "")
    norm = text.startswith("+").ifelse("+", "") + digits
    junk = digits.re_search(r"^0*$") | (digits.length() < 6)
    hashed = junk.ifelse(ibis.literal(hash_phone("")), _sha256(norm))
    return raw.isnull().ifelse(ibis.null("string"), "phone:" + hashed)


def typed(prefix: str, raw: ir.StringValue) -> ir.StringValue:
    """``<prefix>:<raw>``, NULL when the raw value is NULL."""
    return raw.isnull().ifelse(ibis.null("string"), prefix + ":" + raw)


def blocked_reason(identifier: ir.StringValue) -> ir.StringValue:
    """Why a typed identifier may never link, or NULL if it may.

    Checks the value after the type prefix against placeholder text and
    all-zero strings, and ``email:``/``phone:`` hashes against the hashes of
    known test addresses and of empty input.
    """
    value = identifier.re_extract(r"^[^:]*:(.*)$", 1).strip().lower()
    emails = [f"email:{hash_email(e)}" for e in BLOCKED_EMAILS]
    emails += [f"email:{hash_email(f'test@{d}')}" for d in TEST_EMAIL_DOMAINS]
    hashes = [*emails, f"email:{hash_email('')}", f"phone:{hash_phone('')}"]
    return ibis.cases(
        (identifier.isnull(), "blocked: missing identifier"),
        (value.isin(BLOCKED_TEXT), "blocked: placeholder value"),
        (value.re_search(_ZEROS), "blocked: all-zero value"),
        (identifier.isin(hashes), "blocked: test e-mail or empty value"),
        else_=ibis.null("string"),
    )
