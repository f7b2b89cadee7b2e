"""Collector throughput on loopback: single-event track and 100-event batches.

Starts a real ``shopkeeper serve`` (uvicorn workers, durability on: every 200
waits for the group-commit fsync), drives it with a small asyncio HTTP/1.1
load generator in separate processes (keep-alive connections, raw requests,
so the generator costs far less CPU than the server), then runs the loader
and checks that every acknowledged event is in the warehouse exactly once.

    python benchmarks/collect.py [--seconds 10] [--workers 2] [--json PATH]

Published anchor: RudderStack's gateway, about 1,700 requests/s on 2 cores.
Goals here: >= 5,000 single-event requests/s and >= 100,000 batched events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.collect.server import collect_settings, registry, start_server  # noqa: E402

_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.I)


def _request(path: str, auth: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: {auth}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _template(kind: str, prefix: str, batch: int) -> bytes:
    """A request body with ``@@`` where each request puts its sequence number.

    Bodies are built once and stamped per request, so the generator spends
    its CPU on the network, not on JSON, and every messageId is unique.
    """
    if kind == "track":
        return json.dumps(
            {
                "userId": "user-@@",
                "event": "Product Viewed",
                "messageId": f"{prefix}-@@",
                "properties": {"sku": "sku-@@", "price": 3.49},
                "timestamp": "2026-11-25T10:00:00Z",
            }
        ).encode()
    items = [
        {
            "type": "track",
            "userId": f"user-{i}",
            "event": "Product Viewed",
            "messageId": f"{prefix}-@@-{i}",
            "properties": {"sku": f"sku-{i}", "price": 3.49},
            "timestamp": "2026-11-25T10:00:00Z",
        }
        for i in range(batch)
    ]
    context = {"library": {"name": "bench"}}
    return json.dumps({"batch": items, "context": context}).encode()


async def _connection(
    host: str,
    port: int,
    kind: str,
    prefix: str,
    auth: str,
    batch: int,
    deadline: float,
    latencies: list[float],
    counts: dict[str, int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    path = "/v1/track" if kind == "track" else "/v1/batch"
    template = _template(kind, prefix, batch)
    n = 0
    while time.perf_counter() < deadline:
        request = _request(path, auth, template.replace(b"@@", str(n).encode()))
        n += 1
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = _LENGTH.search(head)
        await reader.readexactly(int(length.group(1)) if length else 0)
        latencies.append(time.perf_counter() - started)
        status = int(head[9:12])
        if status == 200:
            counts["ok"] += 1
        else:
            counts[str(status)] = counts.get(str(status), 0) + 1
    writer.close()


def _generator(args: tuple) -> dict:
    host, port, kind, prefix, key, batch, seconds, connections = args
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    latencies: list[float] = []
    counts: dict[str, int] = {"ok": 0}

    async def run() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _connection(
                    host,
                    port,
                    kind,
                    f"{prefix}-{c}",
                    auth,
                    batch,
                    deadline,
                    latencies,
                    counts,
                )
                for c in range(connections)
            )
        )

    asyncio.run(run())
    return {"latencies": latencies, "counts": counts}


def _phase(
    url: str,
    key: str,
    kind: str,
    batch: int,
    seconds: float,
    connections: int,
    generators: int,
) -> dict:
    host, port = url.removeprefix("http://").split(":")
    jobs = [
        (host, int(port), kind, f"{kind}-g{g}", key, batch, seconds, connections)
        for g in range(generators)
    ]
    started = time.perf_counter()
    with mp.get_context("spawn").Pool(generators) as pool:
        results = pool.map(_generator, jobs)
    wall = time.perf_counter() - started
    latencies = sorted(x for r in results for x in r["latencies"])
    ok = sum(r["counts"]["ok"] for r in results)
    errors: dict[str, int] = {}
    for r in results:
        for status, n in r["counts"].items():
            if status != "ok":
                errors[status] = errors.get(status, 0) + n
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 100 else [0.0] * 99
    return {
        "kind": kind,
        "batch_size": batch,
        "seconds": seconds,
        "wall_seconds": round(wall, 2),
        "connections": connections * generators,
        "requests_ok": ok,
        "errors": errors,
        "requests_per_second": round(ok / seconds),
        "events_per_second": round(ok * batch / seconds),
        "events_acknowledged": ok * batch,
        "p50_ms": round(q[49] * 1000, 2),
        "p99_ms": round(q[98] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--generators", type=int, default=1)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "collect.json"
    )
    args = parser.parse_args()

    from shopkeeper import model
    from shopkeeper.server.serve import load_once
    from shopkeeper.warehouse import connect

    with tempfile.TemporaryDirectory(prefix="sk-bench-") as tmp:
        root = Path(tmp)
        settings = collect_settings(root)
        key = registry(settings).add("bench", "web").write_key
        assert key
        server = start_server(settings, root, workers=args.workers)
        try:
            single = _phase(
                server.url,
                key,
                "track",
                1,
                args.seconds,
                args.connections,
                args.generators,
            )
            batched = _phase(
                server.url,
                key,
                "batch",
                100,
                args.seconds,
                max(4, args.connections // 4),
                args.generators,
            )
        finally:
            server.stop()
        started = time.perf_counter()
        report = load_once(settings)
        load_seconds = time.perf_counter() - started
        with connect(settings=settings, read_only=True) as wh:
            t = wh.table(model.EVENTS)
            stored = wh.count(t)
            distinct = wh.count(t.select("source_id", "message_id").distinct())
    acknowledged = single["events_acknowledged"] + batched["events_acknowledged"]
    result = {
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "server_workers": args.workers,
            "fsync": True,
        },
        "single_event": single,
        "batched": batched,
        "loader": {
            "records": report.records,
            "inserted": report.inserted,
            "seconds": round(load_seconds, 2),
            "events_per_second": round(report.records / load_seconds),
        },
        "acknowledged": acknowledged,
        "stored": stored,
        "lost": acknowledged - distinct,
        "duplicated": stored - distinct,
    }
    print(
        f"single-event /v1/track: {single['requests_per_second']:,} req/s, "
        f"p50 {single['p50_ms']} ms, p99 {single['p99_ms']} ms, "
        f"errors {single['errors']}"
    )
    print(
        f"batched /v1/batch (100/batch): {batched['events_per_second']:,} events/s, "
        f"{batched['requests_per_second']:,} req/s, p50 {batched['p50_ms']} ms, "
        f"p99 {batched['p99_ms']} ms, errors {batched['errors']}"
    )
    print(
        f"loader: {report.records:,} records in {load_seconds:.1f} s "
        f"({result['loader']['events_per_second']:,} events/s)"
    )
    print(
        f"acknowledged {acknowledged:,}, stored {stored:,}, "
        f"lost {result['lost']}, duplicated {result['duplicated']}"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
