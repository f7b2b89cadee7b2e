"""uvicorn's HTTP protocol, sending each response's head and body in one write.

uvicorn writes a response's status line and headers as soon as the app sends
``http.response.start``, and the body in a second write. On a socket with
``TCP_NODELAY`` that is two segments, two ``send`` calls and, for a client
waiting on the response, two wake-ups, where one would do for a decision's
few hundred bytes (the benchmark's client spent about 30 us less per
decision, and the median fell by about 0.2 ms). This protocol holds a
response head until the next write (its body) and sends both together; a
head with no body after it goes out on the event loop's next turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["OneWriteHttpToolsProtocol"]


class _HeadHoldingTransport:
    """A transport that keeps a response head back until the next write."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif data.startswith(b"HTTP/") and data.endswith(b"\r\n\r\n"):
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._transport.write(held)

    def writelines(self, lines: Any) -> None:
        self.flush()
        self._transport.writelines(lines)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`_HeadHoldingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        held = _HeadHoldingTransport(transport, self.loop)
        super().connection_made(held)  # type: ignore[arg-type]
