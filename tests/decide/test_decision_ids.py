"""Decision ids sort by time (so the store appends them) and stay unguessable."""

from __future__ import annotations

import re
import time

from shopkeeper.decide.decisions import DecisionIds


def test_ids_from_any_worker_sort_in_time_order_and_never_repeat() -> None:
    workers = [DecisionIds(batch=16), DecisionIds(batch=16)]
    made = []
    for n in range(40):
        made.append(workers[n % 2].next_id())
        time.sleep(0.002)  # a new millisecond: ids of one millisecond tie
    assert made == sorted(made)
    many = {workers[0].next_id() for _ in range(10_000)}
    assert len(many) == 10_000
    for decision_id in made:
        assert re.fullmatch(r"dec_[0-9a-f]{11}[0-9a-f]{20}", decision_id)
        millis = int(decision_id[4:15], 16)
        assert abs(millis - time.time() * 1000) < 60_000


def test_the_random_part_differs_within_a_millisecond() -> None:
    ids = DecisionIds()
    first, second = ids.next_id(), ids.next_id()
    assert first[15:] != second[15:]
