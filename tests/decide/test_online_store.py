"""One contract, two online stores: embedded SQLite and a real Redis server."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopkeeper.decide.feedback import DECISIONS, ArmStats
from shopkeeper.decide.online_store import OnlineStore, SQLiteStore, merge, open_store
from shopkeeper.errors import ConfigError

from .online import redis_server


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'online.sqlite'}"
    else:
        url = request.getfixturevalue("redis_url")
    opened = open_store(url)
    if request.param == "redis":
        opened.client.flushdb()  # type: ignore[attr-defined]
    yield opened
    opened.close()


def test_documents_round_trip_and_replace(store: OnlineStore) -> None:
    assert store.write_batch("customer", [("c1", {"a": 1}), ("c2", {"b": [1, 2]})]) == 2
    assert store.read_many("customer", ["c2", "nobody", "c1"]) == [
        {"b": [1, 2]},
        None,
        {"a": 1},
    ]
    store.write_batch("customer", [("c1", {"a": 2})])
    assert store.read_many("customer", ["c1"]) == [{"a": 2}]
    # Views are separate namespaces.
    assert store.read_many("alias", ["c1"]) == [None]
    assert store.read_many("customer", []) == []


def test_read_through_follows_the_first_alias_that_resolves(
    store: OnlineStore,
) -> None:
    store.write_batch("customer", [("c1", {"n": 1}), ("c2", {"n": 2})])
    store.write_batch(
        "alias",
        [
            ("email:x", {"customer_id": "c1"}),
            ("anon:y", {"customer_id": "c2"}),
            ("stale", {"customer_id": "erased"}),
        ],
    )
    assert store.read_through("alias", "customer_id", "customer", ["email:x"]) == {
        "n": 1
    }
    # The first key that resolves wins; unknown keys and aliases whose
    # customer is gone are passed over.
    keys = ["nobody", "stale", "anon:y", "email:x"]
    assert store.read_through("alias", "customer_id", "customer", keys) == {"n": 2}
    assert store.read_through("alias", "customer_id", "customer", ["nobody"]) is None
    assert store.read_through("alias", "customer_id", "customer", []) is None


def test_merge_sets_top_level_fields(store: OnlineStore) -> None:
    store.write_batch("customer", [("c1", {"consents": {}, "keep": True})])
    merge(store, "customer", "c1", {"consents": {"email": "granted"}})
    merge(store, "customer", "new", {"x": 1})
    assert store.read_many("customer", ["c1", "new"]) == [
        {"consents": {"email": "granted"}, "keep": True},
        {"x": 1},
    ]


def test_delete_removes_documents(store: OnlineStore) -> None:
    store.write_batch("alias", [("a", {}), ("b", {}), ("c", {})])
    assert store.delete("alias", ["a", "c", "missing"]) == 2
    assert store.read_many("alias", ["a", "b", "c"]) == [None, {}, None]


def test_counters_are_atomic_under_concurrency(store: OnlineStore) -> None:
    """Caps rely on this: 8 threads x 50 increments must count 400, not fewer."""

    def bump() -> None:
        for _ in range(50):
            store.incr("cap:c1:email:20261125", ttl_seconds=3600)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.incr("cap:c1:email:20261125", 0) == 400
    assert store.incr("other", 5) == 5


def test_counters_expire(store: OnlineStore) -> None:
    store.incr("short", ttl_seconds=1)
    assert store.incr("short", 0) == 1
    time.sleep(2.1)
    assert store.incr("short", 0) == 0


def test_unknown_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="neither sqlite"):
        open_store("mysql://x")


def test_many_increments_in_one_go(store: OnlineStore) -> None:
    store.incr("arm:a", 2)
    assert store.incr_many({"arm:a": 3, "arm:b": 1, "arm:c": 0}) == {
        "arm:a": 5,
        "arm:b": 1,
        "arm:c": 0,
    }
    assert store.incr("arm:b", 0) == 1


def test_a_worker_never_serves_a_document_another_process_changed(
    tmp_path: Path,
) -> None:
    """Two store objects on one file stand for two processes: each keeps what
    it resolved in memory, and a write or delete by the other is seen by the
    very next read (the write counters are shared through a mapped file)."""
    url = f"sqlite:///{tmp_path / 'online.sqlite'}"
    reader, writer = open_store(url), open_store(url)
    try:
        writer.write_batch("customer", [("c1", {"consents": {"email": "granted"}})])
        writer.write_batch("alias", [("email:x", {"customer_id": "c1"})])
        resolve = ("alias", "customer_id", "customer", ["email:x"])
        assert reader.read_through(*resolve) == {"consents": {"email": "granted"}}
        assert reader.read_through(*resolve) is reader.read_through(*resolve)  # kept
        merge(writer, "customer", "c1", {"consents": {"email": "denied"}})
        assert reader.read_through(*resolve) == {"consents": {"email": "denied"}}
        # An alias moved to another customer, then an unknown alias that
        # appears later: both seen at once.
        writer.write_batch("customer", [("c2", {"n": 2})])
        writer.write_batch("alias", [("email:x", {"customer_id": "c2"})])
        assert reader.read_through(*resolve) == {"n": 2}
        assert reader.read_through("alias", "customer_id", "customer", ["new"]) is None
        writer.write_batch("alias", [("new", {"customer_id": "c2"})])
        assert reader.read_through("alias", "customer_id", "customer", ["new"]) == {
            "n": 2
        }
        # Erasure: gone for the reader, and out of its memory after a prune.
        writer.delete("customer", ["c2"])
        writer.delete("alias", ["email:x", "new"])
        assert reader.read_through(*resolve) is None
        reader.read_through("alias", "customer_id", "customer", ["new"])
        writer.write_batch("alias", [("new", {"customer_id": "c1"})])
        assert reader.prune() == 1
        assert reader.prune() == 0
    finally:
        reader.close()
        writer.close()


def test_documents_with_a_time_to_live_are_swept_and_others_stay(
    store: OnlineStore,
) -> None:
    store.write_batch("decision", [("d1", {"items": ["a"]})], ttl_seconds=1)
    store.write_batch("decision", [("d2", {"items": ["b"]})])
    store.incr("fb:d1:a", ttl_seconds=1)
    store.incr("arm:shows:home|a", 3)
    assert store.read_many("decision", ["d1"]) == [{"items": ["a"]}]
    time.sleep(2.1)
    swept = store.sweep()
    assert store.read_many("decision", ["d1", "d2"]) == [None, {"items": ["b"]}]
    assert store.incr("fb:d1:a", 0) == 0
    assert store.incr("arm:shows:home|a", 0) == 3
    # SQLite removes two rows here; Redis had removed them itself.
    assert swept == (2 if isinstance(store, SQLiteStore) else 0)
    assert store.sweep() == 0


def test_a_store_made_before_documents_expired_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "online.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "create table docs (view text, key text, doc blob,"
            " primary key (view, key)) without rowid"
        )
        db.execute("insert into docs values ('customer', 'c1', '{\"n\": 1}')")
    store = open_store(f"sqlite:///{path}")
    try:
        assert store.read_many("customer", ["c1"]) == [{"n": 1}]
        store.write_batch("decision", [("d1", {"items": []})], ttl_seconds=3600)
        assert store.read_many("decision", ["d1"]) == [{"items": []}]
        assert store.sweep() == 0
    finally:
        store.close()


def test_decisions_kept_for_feedback_expire_after_a_week(store: OnlineStore) -> None:
    arms = ArmStats()
    arms.shown("home", ["a", "b"])
    arms.remember("dec_1", {"placement": "home", "items": ["a", "b"]})
    arms.sync(store)
    assert store.read_many(DECISIONS, ["dec_1"]) == [
        {"placement": "home", "items": ["a", "b"]}
    ]
    week = 7 * 86_400
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as db:
            ((expires,),) = db.execute(
                "select expires from docs where view = ? and key = 'dec_1'",
                (DECISIONS,),
            )
        left = expires - time.time()
    else:
        left = store.client.ttl(f"{store.prefix}{DECISIONS}:dec_1")  # type: ignore[attr-defined]
    assert week - 60 < left <= week
