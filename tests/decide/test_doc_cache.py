"""A worker's memory of documents: pruning finds what writes made stale
by the slots that moved, however many documents it keeps."""

from __future__ import annotations

from pathlib import Path

import orjson

from shopkeeper.decide.doc_cache import DocCache, Generations


def test_prune_drops_exactly_the_entries_whose_slots_moved(tmp_path: Path) -> None:
    gens = Generations(tmp_path / "online.sqlite-gen")
    cache = DocCache(gens)
    docs = {("alias", f"a{n}"): {"customer_id": f"c{n}"} for n in range(500)}
    docs |= {("customer", f"c{n}"): {"n": n} for n in range(500)}

    def read(view: str, key: str) -> bytes | None:
        doc = docs.get((view, key))
        return orjson.dumps(doc) if doc is not None else None

    def resolve(n: int) -> dict | None:
        return cache.resolve("alias", "customer_id", "customer", f"a{n}", read)

    for n in range(500):
        assert resolve(n) == {"n": n}
    assert cache.prune() == 0 and len(cache) == 500
    gens.bump("customer", ["c7"])
    assert cache.prune() == 1 and len(cache) == 499
    assert cache.prune() == 0
    # Read again, then written again: still watched.
    assert resolve(7) == {"n": 7}
    gens.bump("customer", ["c7"])
    assert cache.prune() == 1
    # Written, then read again before the prune: fresh, kept, and watched.
    gens.bump("alias", ["a8"])
    assert resolve(8) == {"n": 8}
    assert cache.prune() == 0
    gens.bump("alias", ["a8"])
    assert cache.prune() == 1
    # A slot moving for a key nobody kept drops nothing else.
    gens.bump("decision", [f"dec_{n}" for n in range(1000)])
    dropped = cache.prune()
    shared = {Generations.slot("decision", f"dec_{n}") for n in range(1000)}
    kept = {
        n
        for n in range(500)
        if n not in (7, 8)
        and {Generations.slot("alias", f"a{n}"), Generations.slot("customer", f"c{n}")}
        & shared
    }
    assert dropped == len(kept)
    assert len(cache) == 498 - len(kept)
