"""A real webhook receiver on a loopback port, written as a provider would.

It verifies the signature with nothing but the standard library (the recipe in
docs/activate.md, not Shopkeeper's own ``verify``), drops duplicates by
``Idempotency-Key`` and fails on purpose, deterministically per key:

- ``/flaky``: about half of the keys fail their first tries (503, 429 with
  Retry-After, two 500s in a row, or accept-then-hang past the sender's
  timeout, so the sender never hears the 200 and sends again);
- ``/down``: always 503;
- ``/reject``: always 400.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["HANG_SECONDS", "SECRET", "Receiver", "first_try_key", "running_receiver"]

SECRET = "whsec_test_0123456789abcdef"
HANG_SECONDS = 0.6
"""How long an accept-then-hang answer takes; senders in tests time out first."""


@dataclass
class Receiver:
    url: str
    requests: Counter[str] = field(default_factory=Counter)
    """Signed requests per key, whatever the answer."""
    bodies: dict[str, bytes] = field(default_factory=dict)
    """The dedup log: the one body acted on per key."""
    duplicates: Counter[str] = field(default_factory=Counter)
    """Requests for a key already acted on, dropped thanks to the key."""
    mismatched: int = 0
    """Duplicates whose body differed from the first (dedup would be unsafe)."""
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _valid(header: str, body: bytes, tolerance: int = 300) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t, v1 = parts.get("t", ""), parts.get("v1", "")
    if not t.isdigit() or abs(time.time() - int(t)) > tolerance:
        return False
    expected = hmac.new(
        SECRET.encode(), t.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, v1)


def _bucket(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 10


def first_try_key(prefix: str) -> str:
    """A key that ``/flaky`` accepts on its first try."""
    return next(f"{prefix}-{n}" for n in range(100) if _bucket(f"{prefix}-{n}") >= 5)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # A hung answer's client has gone (that is the point); stay quiet.
        pass


def _handler(state: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            key = self.headers.get("Idempotency-Key", "")
            if not _valid(self.headers.get("Shopkeeper-Signature", ""), body):
                with state.lock:
                    state.bad_signatures += 1
                return self._answer(401)
            with state.lock:
                state.requests[key] += 1
                tries = state.requests[key]
            if self.path == "/down":
                return self._answer(503)
            if self.path == "/reject":
                return self._answer(400)
            bucket = _bucket(key)
            if bucket in (0, 1) and tries == 1:
                return self._answer(503)
            if bucket == 2 and tries == 1:
                return self._answer(429, {"Retry-After": "0"})
            if bucket == 3 and tries <= 2:
                return self._answer(500)
            with state.lock:
                # The dedup a provider keeps: act on a key once, answer 200 always.
                if key in state.bodies:
                    state.duplicates[key] += 1
                    state.mismatched += state.bodies[key] != body
                else:
                    state.bodies[key] = body
            if bucket == 4 and tries == 1:
                time.sleep(HANG_SECONDS)
            return self._answer(200)

    return Handler


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), _handler(Receiver(url="")))
    state = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(state)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
