"""Signed, expiring links: how a shopper reaches their preference center.

No login: Shopkeeper issues a link (for an e-mail footer, a receipt, an app
screen) that names the customer and an expiry, signed with HMAC-SHA256 under
a key kept in the state directory. Anyone holding the link may act for that
customer until it expires, exactly like an unsubscribe link, so links are
short-lived and rotating the key (deleting the file) revokes them all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path

import orjson

from shopkeeper.collect.secret_file import secret_file
from shopkeeper.errors import Unauthorized

__all__ = ["LinkSigner"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Issue and check preference-center tokens."""

    def __init__(self, key_path: Path) -> None:
        self.key_path = key_path
        self._key: bytes | None = None

    def key(self) -> bytes:
        if self._key is None:
            self._key = secret_file(self.key_path)
        return self._key

    def _sign(self, purpose: bytes, body: bytes) -> bytes:
        return hmac.new(self.key(), purpose + b"." + body, hashlib.sha256).digest()

    def issue(self, subject: str, *, ttl_seconds: int, now: float | None = None) -> str:
        """A token for ``subject`` (a typed identifier) valid for ``ttl_seconds``."""
        expires = int((now if now is not None else time.time()) + ttl_seconds)
        body = orjson.dumps({"s": subject, "e": expires})
        return _b64(body) + "." + _b64(self._sign(b"link", body))

    def verify(self, token: str, *, now: float | None = None) -> tuple[str, int]:
        """(subject, expiry) of a good token; Unauthorized says what is wrong."""
        body_text, sep, signature = token.partition(".")
        try:
            body = _unb64(body_text)
            given = _unb64(signature)
        except (ValueError, TypeError):
            raise Unauthorized("this link is not a Shopkeeper link") from None
        if not sep or not hmac.compare_digest(given, self._sign(b"link", body)):
            raise Unauthorized("this link is not valid (it was changed or revoked)")
        claims = orjson.loads(body)
        if claims["e"] < (now if now is not None else time.time()):
            raise Unauthorized(
                "this link has expired", hint="ask for a new one from the shop"
            )
        return str(claims["s"]), int(claims["e"])

    def form_token(self, token: str) -> str:
        """The CSRF token a page served for ``token`` must send back with a form."""
        return _b64(self._sign(b"form", token.encode()))[:32]

    def check_form(self, token: str, given: str | None) -> None:
        if not given or not hmac.compare_digest(given, self.form_token(token)):
            raise Unauthorized("the form is missing its check token; reload the page")
