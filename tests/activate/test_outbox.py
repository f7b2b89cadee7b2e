"""The webhook outbox against a real local receiver that fails on purpose."""

from __future__ import annotations

import json
import random
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shopkeeper.activate import (
    Endpoint,
    Outbox,
    WarehouseConsent,
    WebhookWorker,
    backoff,
    deliver_due,
    envelope,
    sign,
)
from shopkeeper.errors import BadRequest, Conflict, TooLarge
from shopkeeper.settings import Settings
from shopkeeper.trust.consents import record_consent
from shopkeeper.warehouse import connect
from tests.activate.receiver import SECRET, Receiver, first_try_key, running_receiver


class Ledger:
    """A consent check over a dict: the outbox's real seam (a callable), with
    decisions the test changes between enqueue and send."""

    def __init__(self) -> None:
        self.granted: set[tuple[str, str]] = set()
        self.calls = 0

    def __call__(self, customer_id: str, purpose: str) -> bool:
        self.calls += 1
        return (customer_id, purpose) in self.granted


@pytest.fixture
def ledger() -> Ledger:
    ledger = Ledger()
    for n in range(60):
        ledger.granted |= {(f"cus_{n}", "email"), (f"cus_{n}", "push")}
    return ledger


@pytest.fixture
def outbox(tmp_path: Path, ledger: Ledger) -> Iterator[Outbox]:
    with Outbox(tmp_path / "state" / "outbox.sqlite", ledger) as box:
        yield box


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def endpoint(receiver: Receiver, path: str, **options: object) -> Endpoint:
    values: dict[str, object] = dict(
        name=path.strip("/"),
        channel="email",
        url=receiver.url + path,
        secret=SECRET,
        timeout=0.3,
        backoff_base=0.01,
        backoff_cap=0.05,
    )
    return Endpoint(**(values | options))  # type: ignore[arg-type]


def drain(outbox: Outbox, endpoints: dict[str, Endpoint], seconds: float = 30) -> int:
    """Run delivery passes until nothing is pending; returns the passes."""
    deadline = time.monotonic() + seconds
    passes = 0
    with httpx.Client() as client:
        while any(status == "pending" for _, status, _ in outbox.counts()):
            assert time.monotonic() < deadline, outbox.counts()
            deliver_due(outbox, endpoints, client, rng=random.Random(passes))
            passes += 1
            time.sleep(0.02)
    return passes


def test_every_message_reaches_a_flaky_receiver_exactly_once(
    outbox: Outbox, receiver: Receiver
) -> None:
    keys = [f"decision-{n}" for n in range(50)]
    for n, key in enumerate(keys):
        outbox.enqueue("email", "flaky", f"cus_{n}", {"template": "t1", "n": n}, key)
    for n, key in enumerate(keys[:10]):  # a retried decision enqueues again
        again = outbox.enqueue(
            "email", "flaky", f"cus_{n}", {"n": n, "template": "t1"}, key
        )
        assert again.status == "pending"
    assert outbox.counts() == [("flaky", "pending", 50)]

    drain(outbox, {"flaky": endpoint(receiver, "/flaky")})

    assert outbox.counts() == [("flaky", "delivered", 50)]
    assert receiver.bad_signatures == 0
    # The receiver's dedup log holds each key once, with the right body ...
    assert sorted(receiver.bodies) == sorted(keys)
    for key in keys:
        body = json.loads(receiver.bodies[key])
        assert body["id"] == key and body["payload"]["template"] == "t1"
    # ... although failures made the sender try again (about half the keys),
    retried = [k for k in keys if receiver.requests[k] > 1]
    assert 15 <= len(retried) <= 40
    # and answers lost to timeouts made it send accepted messages twice: the
    # at-least-once duplicates the idempotency key lets the receiver drop.
    assert sum(receiver.duplicates.values()) >= 1
    assert receiver.mismatched == 0
    # The sender's count of tries agrees with what the receiver saw.
    for key in keys:
        assert outbox.get(key).attempts == receiver.requests[key]


def test_dead_letter_after_max_attempts(outbox: Outbox, receiver: Receiver) -> None:
    outbox.enqueue("email", "down", "cus_1", {"template": "t1"}, "k-down")
    drain(outbox, {"down": endpoint(receiver, "/down", max_attempts=3)})

    dead = outbox.get("k-down")
    assert dead.status == "dead" and dead.attempts == 3
    assert (
        dead.last_error
        == "gave up after 3 attempts; last: HTTP 503 Service Unavailable"
    )
    assert receiver.requests["k-down"] == 3
    assert [m.idempotency_key for m in outbox.messages("dead")] == ["k-down"]


def test_a_4xx_is_permanent_and_a_dead_letter_can_be_replayed(
    outbox: Outbox, receiver: Receiver
) -> None:
    outbox.enqueue("email", "reject", "cus_1", {"template": "t1"}, "k-400")
    drain(outbox, {"reject": endpoint(receiver, "/reject")})
    assert outbox.get("k-400").status == "dead"
    assert outbox.get("k-400").last_error == "HTTP 400 Bad Request"
    assert receiver.requests["k-400"] == 1

    # The provider fixed its side: replay the dead letter to a working URL.
    outbox.replay("k-400")
    drain(outbox, {"reject": endpoint(receiver, "/flaky", name="reject")})
    assert outbox.get("k-400").status == "delivered"
    with pytest.raises(Conflict, match="only dead messages"):
        outbox.replay("k-400")


def test_the_receiver_refuses_a_wrong_signature(
    outbox: Outbox, receiver: Receiver
) -> None:
    outbox.enqueue("email", "flaky", "cus_1", {"template": "t1"}, "k-sig")
    wrong = endpoint(receiver, "/flaky", secret="not-the-shared-secret")
    drain(outbox, {"flaky": wrong})
    assert receiver.bad_signatures == 1
    assert outbox.get("k-sig").last_error == "HTTP 401 Unauthorized"
    assert receiver.bodies == {}


def test_consent_revoked_between_enqueue_and_send_is_never_sent(
    outbox: Outbox, ledger: Ledger, receiver: Receiver
) -> None:
    kept = outbox.enqueue("email", "flaky", "cus_1", {"template": "t1"}, "k-kept")
    gone = outbox.enqueue("email", "flaky", "cus_2", {"template": "t1"}, "k-gone")
    assert kept.status == gone.status == "pending"
    ledger.granted.discard(("cus_2", "email"))  # cus_2 revokes while it waits

    drain(outbox, {"flaky": endpoint(receiver, "/flaky")})

    assert outbox.get("k-kept").status == "delivered"
    suppressed = outbox.get("k-gone")
    assert suppressed.status == "suppressed"
    assert suppressed.last_error == "no email consent at send"
    assert "k-gone" not in receiver.requests


def test_no_consent_at_enqueue_is_stored_suppressed(
    outbox: Outbox, ledger: Ledger, receiver: Receiver
) -> None:
    # cus_1 allows push but not SMS: the purpose follows the channel.
    message = outbox.enqueue("sms", "sms", "cus_1", {"text": "hi"}, "k-sms")
    assert message.status == "suppressed"
    assert message.last_error == "no sms consent at enqueue"
    drain(outbox, {"sms": endpoint(receiver, "/flaky", name="sms", channel="sms")})
    assert receiver.requests == {}
    # Granting consent later does not resurrect a refused decision.
    ledger.granted.add(("cus_1", "sms"))
    assert outbox.enqueue("sms", "sms", "cus_1", {"text": "hi"}, "k-sms").status == (
        "suppressed"
    )


def test_a_crash_between_send_and_mark_resends_and_the_receiver_dedups(
    outbox: Outbox, receiver: Receiver
) -> None:
    outbox.enqueue("email", "flaky", "cus_5", {"template": "t1"}, "k-crash")
    ep = endpoint(receiver, "/flaky")
    start = time.time()
    # A worker claims the message, sends it, and dies before marking it.
    (claimed,) = outbox.claim_due(["flaky"], now=start, lease_seconds=60)
    body = envelope(claimed)
    headers = {"Idempotency-Key": "k-crash", "Shopkeeper-Signature": sign(SECRET, body)}
    for _ in range(4):  # past the receiver's planned failures for this key, if any
        if httpx.post(ep.url, content=body, headers=headers).status_code == 200:
            break
    tries_before = receiver.requests["k-crash"]
    # Another pass before the lease ends leaves it alone ...
    with httpx.Client() as client:
        assert deliver_due(outbox, {"flaky": ep}, client, now=start + 1).attempted == 0
        # ... and after the lease it is sent again: at least once.
        report = deliver_due(outbox, {"flaky": ep}, client, now=start + 61)
    assert report.delivered == 1
    assert outbox.get("k-crash").status == "delivered"
    assert receiver.requests["k-crash"] == tries_before + 1
    assert receiver.duplicates["k-crash"] == 1
    assert list(receiver.bodies) == ["k-crash"]


def test_enqueue_is_idempotent_from_many_threads(outbox: Outbox) -> None:
    def enqueue_all() -> None:
        for n in range(20):
            outbox.enqueue("push", "app", f"cus_{n}", {"title": "hi"}, f"push-{n}")

    threads = [threading.Thread(target=enqueue_all) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outbox.counts() == [("app", "pending", 20)]


def test_enqueue_refuses_conflicts_and_bad_messages(outbox: Outbox) -> None:
    outbox.enqueue("email", "esp", "cus_1", {"template": "a"}, "k1")
    with pytest.raises(Conflict, match="already used"):
        outbox.enqueue("email", "esp", "cus_1", {"template": "b"}, "k1")
    with pytest.raises(BadRequest, match="unknown channel 'fax'"):
        outbox.enqueue("fax", "esp", "cus_1", {}, "k2")
    with pytest.raises(BadRequest, match="non-empty idempotency_key"):
        outbox.enqueue("email", "esp", "cus_1", {}, " ")
    with pytest.raises(TooLarge):
        outbox.enqueue("email", "esp", "cus_1", {"x": "y" * 70_000}, "k3")


def test_worker_sends_within_a_second_of_a_wake(
    outbox: Outbox, receiver: Receiver
) -> None:
    ep = endpoint(receiver, "/flaky", name="app", channel="push")
    # An interval far longer than the test: only wake() can make it send.
    worker = WebhookWorker(outbox, {"app": ep}, interval=30)
    worker.start()
    try:
        while worker.passes == 0:
            time.sleep(0.01)
        key = first_try_key("zone")
        outbox.enqueue("push", "app", "cus_3", {"title": "Welcome in"}, key)
        sent_at = time.monotonic()
        worker.wake()
        while outbox.get(key).status != "delivered":
            assert time.monotonic() - sent_at < 1.0
            time.sleep(0.01)
    finally:
        worker.stop()
    assert not worker.is_alive()


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    ep = Endpoint(
        name="x", channel="push", url="https://push.example.com/hook", secret=SECRET
    )
    rng = random.Random(0)
    waits = [backoff(n, ep, rng) for n in range(1, 16)]
    for n, wait in enumerate(waits, start=1):
        step = min(3600.0, 2.0 * 2 ** (n - 1))
        assert step / 2 <= wait <= step
    again = random.Random(0)
    assert [backoff(n, ep, again) for n in range(1, 16)] == waits  # seeded: replayable
    assert waits[-1] >= 1800  # capped at an hour, never less than half of it


def test_the_warehouse_ledger_decides_and_a_revocation_counts_at_once(
    built_path: Path, tmp_path: Path, receiver: Receiver
) -> None:
    path = tmp_path / "wh.duckdb"
    shutil.copy(built_path, path)
    with connect(f"duckdb:///{path}", settings=Settings()) as wh:
        idmap = wh.execute(wh.table("identity_map").order_by("identifier").limit(2))
        (ann, ann_id), (bob, _) = zip(idmap.customer_id, idmap.identifier, strict=True)
        # Generated decision: the slice has no consent records of its own.
        record_consent(wh, ann_id, "email", "granted", source="test")
        with Outbox(tmp_path / "outbox.sqlite", WarehouseConsent(wh)) as box:
            assert box.enqueue("email", "flaky", ann, {"t": 1}, "k-ann").status == (
                "pending"
            )
            never = box.enqueue("email", "flaky", bob, {"t": 1}, "k-bob")
            assert never.status == "suppressed"  # no record is no opt-in
            record_consent(wh, ann_id, "email", "revoked", source="test")
            drain(box, {"flaky": endpoint(receiver, "/flaky")})
            assert box.get("k-ann").status == "suppressed"
            assert box.get("k-ann").last_error == "no email consent at send"
    assert receiver.requests == {}
