"""Refused decisions in the durable log: loaded into ``refusals`` once, and
erased (from the log and the table) with the person they name."""

from __future__ import annotations

import asyncio
from pathlib import Path

from shopkeeper import model
from shopkeeper.collect.eventloader import load_events
from shopkeeper.collect.eventlog import EventLog
from shopkeeper.collect.logscrub import scrub_log
from shopkeeper.decide.decisions import Decision
from shopkeeper.profiles.customer360 import resolve
from shopkeeper.server.exposures import refusal_record
from shopkeeper.trust.erasure import erase_customer, erasure_order
from shopkeeper.warehouse import Warehouse
from tests.conftest import busiest_households


def _refused(customer_id: str, n: int) -> Decision:
    # Built by hand for two real households of the slice: a refusal needs no
    # candidates, and the Decider's own refusals are made over real HTTP in
    # tests/ui/test_decisions.py.
    return Decision(
        decision_id=f"dec_{n:020d}",
        customer_id=customer_id,
        channel="email",
        placement="weekly",
        policy="thompson-rerank",
        personalized=False,
        refused="no email consent granted",
        refused_kind="consent",
    )


async def _append(directory: Path, records: list[bytes]) -> None:
    log = EventLog(directory, fsync=False)
    await log.start()
    try:
        await log.append(records)
    finally:
        await log.close()


def test_refusals_load_once_and_are_erased_with_their_person(
    built: Warehouse, wh: Warehouse, tmp_path: Path
) -> None:
    gone, kept = (resolve(built, i) for i in busiest_households(built, 2))
    events = tmp_path / "events"
    records = [
        refusal_record(_refused(gone.customer_id, 1), None),
        refusal_record(_refused(kept.customer_id, 2), None),
    ]
    asyncio.run(_append(events, records))

    assert load_events(wh, events).inserted == 0  # refusals are not events
    rows = wh.to_arrow(wh.table("refusals").order_by("refusal_id")).to_pylist()
    assert [(r["identifier"], r["reason_kind"]) for r in rows] == [
        (gone.customer_id, "consent"),
        (kept.customer_id, "consent"),
    ]
    assert rows[0]["refusal_id"] == "ref_" + "1".zfill(20)
    load_events(wh, events, replay=True)  # a replay adds nothing
    assert wh.count("refusals") == 2

    # Erasure reaches both copies: the table (through the registry) and the log.
    assert model.REFUSALS in erasure_order()
    assert erase_customer(wh, gone)["refusals"] == 1
    scrubbed = scrub_log(events, lambda m: m.get("identifier") == gone.customer_id)
    assert (scrubbed.records, scrubbed.messages) == (1, 1)
    load_events(wh, events, replay=True)
    left = wh.to_arrow(wh.table("refusals")).to_pylist()
    assert [r["identifier"] for r in left] == [kept.customer_id]
