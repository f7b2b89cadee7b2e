"""``shopkeeper serve --workers N`` spreads connections across its workers."""

from __future__ import annotations

import os
import socket
import time
from collections import Counter
from pathlib import Path

from tests.collect.server import collect_settings, start_server


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def _sockets(port: int, state: str) -> set[int]:
    """Socket inodes on this local port in this state (01 established, 0A
    listening)."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == state and int(fields[1].split(":")[1], 16) == port:
                inodes.add(int(fields[9]))
    return inodes


def _per_worker(supervisor: int, port: int, state: str) -> Counter[int]:
    wanted, held = _sockets(port, state), Counter[int]()
    for worker in _children(supervisor):
        for fd in os.listdir(f"/proc/{worker}/fd"):
            try:
                target = os.readlink(f"/proc/{worker}/fd/{fd}")
            except OSError:  # closed meanwhile
                continue
            if target.startswith("socket:[") and int(target[8:-1]) in wanted:
                held[worker] += 1
    return held


def test_a_burst_of_keep_alive_connections_reaches_every_worker(
    tmp_path: Path,
) -> None:
    """A load balancer or load generator opens its keep-alive connections at
    once. uvicorn's shared listening socket gave all of them to whichever
    worker woke first; with a socket per worker the kernel spreads them."""
    server = start_server(collect_settings(tmp_path), tmp_path, workers=2)
    host, port = server.url.removeprefix("http://").split(":")
    # The server answers once one worker is up; wait for the second.
    deadline = time.monotonic() + 30
    while len(_per_worker(server.proc.pid, int(port), "0A")) < 2:
        assert time.monotonic() < deadline, "the second worker never listened"
        time.sleep(0.1)
    conns = [socket.create_connection((host, int(port))) for _ in range(32)]
    try:
        for conn in conns:
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        for conn in conns:
            assert conn.recv(4096).startswith(b"HTTP/1.1 200")
        held = _per_worker(server.proc.pid, int(port), "01")
        assert sum(held.values()) == 32
        # Two workers, both serving (32 connections hashed onto two sockets
        # all land on one about once in 2**31 runs).
        assert len(held) == 2, held
    finally:
        for conn in conns:
            conn.close()
        server.stop()
