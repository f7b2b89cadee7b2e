"""A copy of the real slice with consent decisions for the activation tests.

The Complete Journey has no consent records and no holdout members, so the
copy gets generated ones: personalization decisions (through the real consent
ledger) for real households chosen from the real coupon loads and store
visits, and one campaign member moved to the holdout group.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest

from shopkeeper import model
from shopkeeper.activate.pos import coupon_loads
from shopkeeper.settings import Settings
from shopkeeper.trust.consents import record_consent
from shopkeeper.warehouse import Warehouse, connect

DAY = dt.date(2018, 1, 2)
"""The slice's as-of day (a Tuesday): campaigns 20 to 23 are running."""
WEEKS = 13


@dataclass(frozen=True)
class Activated:
    path: Path
    objector: str
    """Granted personalization, then revoked it: no coupons, not on lists."""
    granted: str
    """Granted personalization: coupons, and listed when expected."""
    silent: str
    """No consent record: coupons (a card service), never on staff lists."""
    holdout: tuple[str, str]
    """(customer_id, campaign_id) moved to the campaign's holdout group."""
    store: str
    """The store with the most regular shoppers on DAY's weekday."""
    regulars: dict[str, int]
    """Household identifier -> visits on the last WEEKS same weekdays there."""


def _household(wh: Warehouse, customer_id: str) -> str:
    idmap = wh.table("identity_map")
    found = wh.execute(idmap.filter(idmap.customer_id == customer_id).identifier)
    return str(found.iloc[0])


def regular_visits(wh: Warehouse, day: dt.date) -> dict[tuple[str, str], int]:
    """(store, household) -> distinct same-weekday visit days, counted in pandas
    from the raw orders (independent of the Ibis code under test)."""
    orders = wh.execute(wh.table("orders"))
    since = day - dt.timedelta(weeks=WEEKS)
    at = orders.ordered_at
    mine = orders[
        (at >= str(since)) & (at < str(day)) & (at.dt.weekday == day.weekday())
    ]
    days = mine.assign(d=mine.ordered_at.dt.date).groupby(["store_id", "identifier"])
    return {k: int(v) for k, v in days.d.nunique().items()}


@pytest.fixture(scope="session")
def activated(built_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Activated:
    path = tmp_path_factory.mktemp("activated") / "act.duckdb"
    shutil.copy(built_path, path)
    with connect(f"duckdb:///{path}", settings=Settings()) as wh:
        visits = regular_visits(wh, DAY)
        stores: dict[str, dict[str, int]] = {}
        for (store, household), n in visits.items():
            stores.setdefault(store, {})[household] = n
        store = max(sorted(stores), key=lambda s: len(stores[s]))
        regulars = stores[store]
        loads = wh.to_arrow(coupon_loads(wh, DAY))
        # Coupon customers apart from the regulars, so decisions never collide.
        customers = [
            c
            for c in sorted(set(loads.column("customer_id").to_pylist()))
            if _household(wh, c) not in regulars
        ]
        objector, granted, silent, moved = customers[:4]
        early = dt.datetime(2017, 6, 1)
        for customer in (objector, granted):
            subject = _household(wh, customer)
            record_consent(
                wh, subject, "personalization", "granted", source="test", at=early
            )
        record_consent(
            wh,
            _household(wh, objector),
            "personalization",
            "revoked",
            source="test",
            at=early + dt.timedelta(days=30),
        )
        ordered = sorted(regulars, key=lambda h: (-regulars[h], h))
        for household in ordered[:-1]:
            record_consent(
                wh, household, "personalization", "granted", source="test", at=early
            )
        record_consent(  # the last regular said no: never listed
            wh, ordered[-1], "personalization", "denied", source="test", at=early
        )
        campaign = sorted(
            {
                c
                for c, who in zip(
                    loads.column("campaign_id").to_pylist(),
                    loads.column("customer_id").to_pylist(),
                    strict=True,
                )
                if who == moved
            }
        )[0]
        member = pa.Table.from_pylist(
            [
                {
                    "campaign_id": campaign,
                    "identifier": _household(wh, moved),
                    "member_group": "holdout",
                }
            ],
            schema=model.CAMPAIGN_MEMBERS.schema.to_pyarrow(),
        )
        wh.upsert(model.CAMPAIGN_MEMBERS, wh.stage_arrow("_tmp_holdout", member))
        wh.drop_temp("_tmp_holdout")
    return Activated(
        path, objector, granted, silent, (moved, campaign), store, regulars
    )


@pytest.fixture
def activated_wh(activated: Activated) -> Iterator[Warehouse]:
    wh = connect(f"duckdb:///{activated.path}", read_only=True)
    yield wh
    wh.close()
