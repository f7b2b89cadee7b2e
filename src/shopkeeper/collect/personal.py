"""E-mail and phone as Shopkeeper keeps them: normalised, then only as SHA-256.

One rule for every way a value arrives (a CSV import here, a tracked trait in
the identity stage, a lookup by raw e-mail in the API), so an ``email:``
identifier from one source equals the one from another.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["hash_email", "hash_phone", "normalize_email", "normalize_phone"]


def normalize_email(text: str) -> str:
    """Trimmed lower case (no Gmail dot folding: that would be a guess)."""
    return text.strip().lower()


def normalize_phone(text: str) -> str:
    """Digits only, keeping one leading ``+`` (E.164 when the caller sent it)."""
    text = text.strip()
    return ("+" if text.startswith("+") else "") + re.sub(r"\D", "", text)


def hash_email(text: str) -> str:
    """SHA-256 hex of the normalised address: what ``email:`` identifiers carry."""
    return hashlib.sha256(normalize_email(text).encode()).hexdigest()


def hash_phone(text: str) -> str:
    """SHA-256 hex of the normalised number: what ``phone:`` identifiers carry."""
    return hashlib.sha256(normalize_phone(text).encode()).hexdigest()
