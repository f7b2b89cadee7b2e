"""Each response leaves the server in one write: head and body together."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import sys
from pathlib import Path

import pytest

from shopkeeper.server.http_protocol import _HeadHoldingTransport
from tests.collect.server import collect_settings, running_server

_TCP_INFO_SEGS_IN = 140
"""Offset of ``tcpi_segs_in`` in Linux's ``struct tcp_info`` (since 4.2)."""


def _segments_in(conn: socket.socket) -> int:
    info = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    return struct.unpack_from("I", info, _TCP_INFO_SEGS_IN)[0]


def _get(conn: socket.socket, path: str) -> bytes:
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
    while len(body) < length:
        body += conn.recv(65536)
    assert head.startswith(b"HTTP/1.1 200"), head
    return body


@pytest.mark.skipif(sys.platform != "linux", reason="counts segments with TCP_INFO")
def test_a_response_reaches_the_client_as_one_segment(tmp_path: Path) -> None:
    """uvicorn alone writes the head, then the body: two segments per small
    response (this test counted 2.0 before). The client's kernel counts the
    segments that arrive on a keep-alive connection."""
    with running_server(collect_settings(tmp_path), tmp_path) as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as conn:
            assert b"ok" in _get(conn, "/health")
            before = _segments_in(conn)
            for _ in range(30):
                _get(conn, "/health")
            per_response = (_segments_in(conn) - before) / 30
    # A stray pure ACK may add one now and then; two writes would give 2.0.
    assert per_response <= 1.2, per_response


class _Recorder:
    """Stands in for the event loop's socket transport: what was written."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"extra {name}"


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


def test_head_and_body_go_out_in_one_write() -> None:
    async def main() -> list[bytes]:
        sink = _Recorder()
        held = _HeadHoldingTransport(sink, asyncio.get_running_loop())  # type: ignore[arg-type]
        held.write(HEAD)
        assert sink.writes == []
        held.write(b"{}")
        await asyncio.sleep(0)
        return sink.writes

    assert asyncio.run(main()) == [HEAD + b"{}"]


def test_a_head_without_body_leaves_at_the_end_of_the_step() -> None:
    async def main() -> list[bytes]:
        sink = _Recorder()
        held = _HeadHoldingTransport(sink, asyncio.get_running_loop())  # type: ignore[arg-type]
        held.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await asyncio.sleep(0)
        return sink.writes

    assert asyncio.run(main()) == [b"HTTP/1.1 204 No Content\r\n\r\n"]


def test_streamed_chunks_keep_their_order_and_close_sends_what_is_held() -> None:
    async def main() -> _Recorder:
        sink = _Recorder()
        held = _HeadHoldingTransport(sink, asyncio.get_running_loop())  # type: ignore[arg-type]
        held.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        held.write(b"2\r\nab\r\n")
        held.write(b"0\r\n\r\n")
        held.write(HEAD)  # the next response on the connection
        held.close()
        assert held.get_extra_info("peername") == "extra peername"
        await asyncio.sleep(0)
        return sink

    sink = asyncio.run(main())
    assert sink.writes == [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n",
        b"0\r\n\r\n",
        HEAD,
    ]
    assert sink.closed
