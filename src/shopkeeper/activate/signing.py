"""Webhook signatures: how a receiver knows a request came from us, unaltered.

The scheme is Stripe's, because receivers already know it: the header
``Shopkeeper-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` where the HMAC
key is the endpoint's shared secret and the signed text is ``f"{t}.{body}"``.
Signing the timestamp with the body lets a receiver refuse replays of an old
captured request (outside the tolerance window) without keeping state; the
idempotency key then removes the duplicates inside the window.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from shopkeeper.errors import Unauthorized

__all__ = ["SIGNATURE_HEADER", "TOLERANCE_SECONDS", "sign", "verify"]

SIGNATURE_HEADER = "Shopkeeper-Signature"
TOLERANCE_SECONDS = 300
"""How old a signed request may be: clock skew plus a slow retry, not more."""


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The ``Shopkeeper-Signature`` header value for ``body`` sent now."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_digest(secret, body, t)}"


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a signature header the way a receiver should; return its timestamp.

    Accepts any ``v1=`` entry that matches (a sender rotating its secret may
    send one per secret), compares in constant time, and refuses a timestamp
    further than ``tolerance`` seconds from ``now`` in either direction.

    Raises:
        Unauthorized: the header is missing or malformed, no signature
            matches, or the timestamp is outside the window.
    """
    if not header:
        raise Unauthorized(f"missing {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise Unauthorized(f"malformed {SIGNATURE_HEADER} header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise Unauthorized(
            f"signature timestamp is {abs(current - timestamp):.0f} s away from "
            f"now; at most {tolerance} s are accepted"
        )
    expected = _digest(secret, body, timestamp)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise Unauthorized("no signature matches the body")
    return timestamp
