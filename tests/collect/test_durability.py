"""Durability: acknowledged events survive SIGKILL; torn records are never loaded.

The load is generated (the real data sets have no web events); the server,
its workers, the kill and the disk are real.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from shopkeeper import model
from shopkeeper.collect.eventloader import load_events
from shopkeeper.collect.eventlog import EventLog, frame, read_segment, segments
from shopkeeper.collect.messages import record_rows, write_record
from shopkeeper.server.serve import load_once
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect
from tests.collect.server import (
    basic,
    collect_settings,
    registry,
    running_server,
    start_server,
)


def record(message_id: str) -> bytes:
    """One log record as the server writes it: header line, then the body."""
    header = {
        "kind": "track",
        "received_at": 1_767_225_600_000_000,
        "source_id": "src",
        "channel": "web",
    }
    body = {"userId": "u", "event": "Test", "messageId": message_id}
    return write_record(header, orjson.dumps(body))


def message_ids(wh: Warehouse) -> list[str]:
    t = wh.table(model.EVENTS)
    return wh.to_arrow(t.select("message_id")).column("message_id").to_pylist()


def test_sigkill_mid_load_loses_no_acknowledged_event(tmp_path: Path) -> None:
    settings = collect_settings(tmp_path)
    key = registry(settings).add("web", "web").write_key
    assert key
    server = start_server(settings, tmp_path, workers=2)
    acked: set[str] = set()
    stop = threading.Event()

    def send(worker: int) -> None:
        with httpx.Client(base_url=server.url, headers=basic(key), timeout=5) as c:
            for i in range(1_000_000):
                if stop.is_set():
                    return
                ids = [f"w{worker}-{i}-{j}" for j in range(5 if worker % 2 else 1)]
                batch = [
                    {"type": "track", "userId": "u", "event": "Load", "messageId": m}
                    for m in ids
                ]
                try:
                    if len(batch) == 1:
                        response = c.post("/v1/track", json=batch[0])
                    else:
                        response = c.post("/v1/batch", json={"batch": batch})
                except httpx.TransportError:
                    continue
                if response.status_code == 200:
                    acked.update(ids)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acked) < 2_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()  # SIGKILL to the server and both workers, mid-load
    stop.set()
    for thread in threads:
        thread.join()
    assert len(acked) >= 2_000

    # Restart: the service comes back and takes new events.
    with running_server(settings, tmp_path) as again:
        after = {"userId": "u", "event": "After", "messageId": "after-restart"}
        assert httpx.post(f"{again.url}/v1/track", json=after, headers=basic(key))
    report = load_once(settings)
    with connect(settings=settings, read_only=True) as wh:
        stored = message_ids(wh)
    assert len(stored) == len(set(stored)), "an event was loaded twice"
    missing = acked - set(stored)
    assert not missing, f"{len(missing)} acknowledged events lost"
    assert "after-restart" in stored
    assert report.inserted == len(stored)
    # Loading again, or replaying the whole log, adds nothing.
    assert load_once(settings).inserted == 0
    replayed = load_once(settings, replay=True)
    assert replayed.inserted == 0
    assert replayed.duplicates == replayed.records >= len(acked)


def test_a_torn_final_record_is_skipped_with_a_log_line(
    wh: Warehouse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # What a crash mid-write leaves: three whole records and half of a fourth.
    log_dir = tmp_path / "events"
    log_dir.mkdir()
    whole = b"".join(frame(record(f"t-{i}")) for i in range(3))
    (log_dir / "20260101T000000-1-torn.seg").write_bytes(
        whole + frame(record("t-3"))[:20]
    )
    with caplog.at_level(logging.WARNING):
        report = load_events(wh, log_dir)
    assert sorted(message_ids(wh)) == ["t-0", "t-1", "t-2"]
    assert report.inserted == 3
    assert len(report.torn) == 1
    assert "skipped the last 20 bytes" in report.torn[0]
    assert "torn" in caplog.text or "cut short" in caplog.text
    assert load_events(wh, log_dir).records == 0  # the checkpoint moved past it


def test_a_segment_still_being_written_is_not_called_torn(
    wh: Warehouse, tmp_path: Path
) -> None:
    log_dir = tmp_path / "events"
    log_dir.mkdir()
    path = log_dir / "20260101T000000-1-live.seg"
    last = frame(record("live-1"))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a live writer holds its segment
    try:
        os.write(fd, frame(record("live-0")) + last[:10])
        report = load_events(wh, log_dir)
        assert report.torn == []
        assert message_ids(wh) == ["live-0"]
        os.write(fd, last[10:])  # the writer finishes the record
    finally:
        os.close(fd)
    assert load_events(wh, log_dir).inserted == 1
    assert sorted(message_ids(wh)) == ["live-0", "live-1"]


def test_group_commit_shares_fsyncs_and_keeps_every_record(tmp_path: Path) -> None:
    async def run() -> EventLog:
        log = EventLog(tmp_path, segment_bytes=4096)
        await log.start()
        await asyncio.gather(
            *(log.append([record(f"g-{i}-{j}") for j in range(2)]) for i in range(300))
        )
        for i in range(300, 305):  # one at a time: one commit each
            await log.append([record(f"g-{i}-{j}") for j in range(2)])
        await log.close()
        return log

    log = asyncio.run(run())
    assert log.appended == 610
    assert log.commits < 100, "concurrent appends should share an fsync"
    files = segments(tmp_path)
    assert len(files) > 1, "segments roll over at segment_bytes"
    ids = [
        row["message_id"]
        for f in files
        for r in read_segment(f).records
        for row in record_rows(r)
    ]
    assert sorted(ids) == sorted(f"g-{i}-{j}" for i in range(305) for j in range(2))


@pytest.mark.spark
def test_the_loader_runs_exactly_once_on_spark(
    tmp_path: Path, spark_root: Path
) -> None:
    log_dir = tmp_path / "events"
    log_dir.mkdir()
    records = b"".join(frame(record(f"s-{i}")) for i in range(20))
    (log_dir / "20260101T000000-1-spark.seg").write_bytes(records)
    settings = Settings(
        spark_warehouse_dir=str(spark_root / "loader"), spark_shuffle_partitions=1
    )
    spark = connect("pyspark://local[1]", settings=settings)
    first = load_events(spark, log_dir)
    again = load_events(spark, log_dir, replay=True)
    assert (first.inserted, again.inserted, again.duplicates) == (20, 0, 20)
    assert sorted(message_ids(spark)) == sorted(f"s-{i}" for i in range(20))
    spark.close()
