"""Time the identity graph on about a million identifiers (DuckDB).

Usage: python benchmarks/identity_graph.py [--identifiers N]

Generates a synthetic population, since no public data set has web identities
joined to store purchases: each person has a user id, 1 to 8 anonymous ids
(geometric, so some exceed the limit of 5 and are refused), usually an e-mail,
often a loyalty card and sometimes a household; one person in a hundred has
a loyalty card replaced 10 to 50 times (a long chain), and one anonymous id in
two hundred is a shared device identified by a second user. The events go
through the real ``events`` table (JSON traits, hashed in the engine), the
cards through ``customers``. Prints the figures and writes
benchmarks/results/identity_graph.json. ``graph_benchmark`` can be called from
another script (benchmarks/identity.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from shopkeeper import model
from shopkeeper.identity import build_identity, hash_email
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect

__all__ = ["graph_benchmark", "main"]

RESULTS = Path(__file__).parent / "results" / "identity_graph.json"
PER_PERSON = 4.6
"""Identifiers per generated person, on average (to size the population)."""


def _events(rng: np.random.Generator, people: int) -> pa.Table:
    anons = np.minimum(rng.geometric(0.5, people), 8)
    person = np.repeat(np.arange(people), anons)
    slot = np.concatenate([np.arange(k) for k in anons])
    n = len(person)
    anon = np.char.add(
        np.char.add("a", person.astype(str)), np.char.add("-", slot.astype(str))
    )
    user = np.char.add("u", person.astype(str))
    # One anonymous id in 200 is also identified by the next person (shared).
    shared = rng.random(n) < 0.005
    user2 = np.char.add("u", ((person + 1) % people).astype(str))
    has_email = rng.random(people) < 0.8
    traits = np.where(
        (slot == 0) & has_email[person],
        np.char.add(np.char.add('{"email": "P', person.astype(str)), '@mail.net"}'),
        None,
    )
    start = datetime(2024, 1, 1)
    at = [start + timedelta(minutes=int(m)) for m in rng.integers(0, 500_000, n)]
    later = [t + timedelta(days=1) for t in np.array(at)[shared]]
    rows = {
        "message_id": [f"m{i}" for i in range(n + int(shared.sum()))],
        "type": ["identify"] * (n + int(shared.sum())),
        "user_id": np.concatenate([user, user2[shared]]).tolist(),
        "anonymous_id": np.concatenate([anon, anon[shared]]).tolist(),
        "timestamp": at + later,
        "traits": np.concatenate([traits, np.full(int(shared.sum()), None)]).tolist(),
    }
    fixed = {"received_at": rows["timestamp"], "channel": ["web"] * len(at + later)}
    return _table(model.EVENTS, rows | fixed | {"source_id": fixed["channel"]})


def _customers(rng: np.random.Generator, people: int) -> pa.Table:
    carded = np.flatnonzero(rng.random(people) < 0.5)
    refs = np.char.add("loyalty:L", carded.astype(str)).tolist()
    cards = [None] * len(refs)
    emails = [hash_email(f"P{p}@mail.net") for p in carded]
    houses = np.where(
        rng.random(len(carded)) < 0.3,
        np.char.add("household:H", (carded // 2).astype(str)),
        None,
    ).tolist()
    # Long chains: card i replaced by card i.1, i.2, ... (10 to 50 links).
    for p in carded[rng.random(len(carded)) < 0.02]:
        chain = [f"L{p}"] + [f"L{p}.{k}" for k in range(1, int(rng.integers(10, 51)))]
        for old, new in zip(chain, chain[1:], strict=False):
            refs.append(f"loyalty:{new}")
            cards.append(old)
            emails.append(None)
            houses.append(None)
    rows = {
        "customer_ref": refs,
        "loyalty_card": cards,
        "email_sha256": emails,
        "household_ref": houses,
        "source": ["bench"] * len(refs),
    }
    return _table(model.CUSTOMERS, rows)


def _table(spec: model.TableSpec, columns: dict[str, Any]) -> pa.Table:
    schema = spec.schema.to_pyarrow()
    size = len(next(iter(columns.values())))
    return pa.Table.from_arrays(
        [pa.array(columns.get(f.name, [None] * size), f.type) for f in schema],
        schema=schema,
    )


def _load(wh: Warehouse, people: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for spec, data in ((model.EVENTS, _events(rng, people)),
                       (model.CUSTOMERS, _customers(rng, people))):  # fmt: skip
        wh.append(spec, wh.stage_arrow(f"_bench_{spec.name}", data))
        wh.drop_temp(f"_bench_{spec.name}")


def graph_benchmark(n_identifiers: int, *, seed: int = 7) -> dict[str, Any]:
    """Build the identity graph for about ``n_identifiers`` and time it.

    Returns the identifier, link and customer counts, the build time and the
    time of a rebuild with no new data (which must rename nobody).
    """
    people = max(1, round(n_identifiers / PER_PERSON))
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(warehouse=f"duckdb:///{Path(folder) / 'bench.duckdb'}")
        wh = connect(settings=settings)
        started = time.perf_counter()
        _load(wh, people, seed)
        loaded = time.perf_counter()
        build_identity(wh, settings)
        built = time.perf_counter()
        first = wh.table("identity_map")
        n_customers = wh.count(first.select("customer_id").distinct())
        build_identity(wh, settings)
        rebuilt = time.perf_counter()
        result = {
            "identifiers": wh.count("identifiers"),
            "links": wh.count("identity_links"),
            "refused_links": wh.count("identity_refused_links"),
            "customers": n_customers,
            "events": wh.count("events"),
            "merges_on_rebuild": wh.count("identity_merges"),
            "load_seconds": round(loaded - started, 2),
            "build_seconds": round(built - loaded, 2),
            "rebuild_seconds": round(rebuilt - built, 2),
        }
        wh.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--identifiers", type=int, default=1_000_000)
    args = parser.parse_args()
    result = graph_benchmark(args.identifiers)
    print(
        f"identity graph: {result['identifiers']:,} identifiers, "
        f"{result['links']:,} links kept, {result['refused_links']:,} refused, "
        f"{result['customers']:,} customers"
    )
    print(
        f"build {result['build_seconds']:.1f} s, rebuild "
        f"{result['rebuild_seconds']:.1f} s (merges on rebuild: "
        f"{result['merges_on_rebuild']}), "
        f"data generation {result['load_seconds']:.1f} s"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "identity_graph",
        "engine": "duckdb",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        **result,
    }
    RESULTS.write_text(json.dumps(payload, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
