"""A running worker removes expired decisions and counters from the store."""

from __future__ import annotations

import time
from pathlib import Path

from shopkeeper.decide.online_store import open_store
from shopkeeper.server.realtime import Realtime, online_store_url
from tests.collect.server import collect_settings


def test_the_arm_sync_sweeps_what_expired(tmp_path: Path) -> None:
    settings = collect_settings(tmp_path)
    realtime = Realtime(settings, sync_seconds=0.05, sweep_seconds=0.2)
    other = open_store(online_store_url(settings))  # another process's view
    try:
        other.write_batch("decision", [("dec_old", {"items": ["a"]})], ttl_seconds=1)
        other.write_batch("decision", [("dec_kept", {"items": ["b"]})])
        deadline = time.monotonic() + 10
        while other.read_many("decision", ["dec_old"]) != [None]:
            assert time.monotonic() < deadline, "the expired decision stayed"
            time.sleep(0.1)
        assert other.read_many("decision", ["dec_kept"]) == [{"items": ["b"]}]
    finally:
        other.close()
        realtime.close()
