"""Dashboard sign-in: a signed session cookie and a CSRF token per session.

The admin token is typed once into the login form; the browser then holds a
short-lived cookie signed with HMAC-SHA256 (HTTP-only, Secure, SameSite
Strict) instead of the token itself. The signing key mixes a secret kept in
the state directory with the admin token, so rotating either signs everyone
out. Every form carries a token derived from the session cookie: another
site can make the browser send the cookie but cannot read the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path

from shopkeeper.collect.secret_file import secret_file

__all__ = ["COOKIE", "LOGIN_COOKIE", "UiSessions"]

COOKIE = "shopkeeper_session"
LOGIN_COOKIE = "shopkeeper_login"
"""Holds a random value the login form repeats (double submit): the login
form has no session yet to derive its CSRF token from."""


class UiSessions:
    """Issue and check dashboard sessions and their form tokens."""

    def __init__(
        self, key_path: Path, admin_token: str | None, *, max_age: int = 8 * 3600
    ) -> None:
        self.key_path = key_path
        self.admin_token = admin_token
        self.max_age = max_age
        self._key: bytes | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.admin_token)

    def _mac(self, text: str) -> str:
        if self._key is None:
            secret = secret_file(self.key_path)
            self._key = hmac.new(
                secret, (self.admin_token or "").encode(), hashlib.sha256
            ).digest()
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def login(self, token: str) -> str | None:
        """A new session cookie value if ``token`` is the admin token."""
        if not self.admin_token or not hmac.compare_digest(
            token.encode(), self.admin_token.encode()
        ):
            return None
        body = f"{int(time.time()) + self.max_age}.{secrets.token_hex(16)}"
        return f"{body}.{self._mac('session|' + body)}"

    def valid(self, cookie: str | None) -> bool:
        if not cookie or not self.admin_token or cookie.count(".") != 2:
            return False
        body, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self._mac("session|" + body)):
            return False
        expires = body.split(".", 1)[0]
        return expires.isdigit() and int(expires) > time.time()

    def csrf(self, cookie: str) -> str:
        """The form token for the session in ``cookie``."""
        return self._mac("csrf|" + cookie)

    def check_csrf(self, cookie: str | None, given: str | None) -> bool:
        return bool(cookie and given) and hmac.compare_digest(
            self.csrf(cookie or ""), given or ""
        )
