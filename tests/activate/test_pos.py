"""POS coupon files on the real slice, checked against the raw tables."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd

from shopkeeper.activate import POS_COLUMNS, coupon_loads, write_pos_files
from shopkeeper.warehouse import Warehouse
from tests.activate.conftest import DAY, Activated


def _read(folder: Path) -> list[dict[str, str]]:
    rows = []
    for file in sorted(folder.glob("*.csv")):
        with open(file, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            assert tuple(reader.fieldnames or ()) == POS_COLUMNS
            for row in reader:
                assert row["store_id"] == file.stem  # one file per store
                rows.append(row)
    return rows


def test_files_load_running_campaigns_on_the_preferred_store(
    activated: Activated, activated_wh: Warehouse, tmp_path: Path
) -> None:
    wh = activated_wh
    written = write_pos_files(wh, DAY, tmp_path / "pos")
    assert written.folder == tmp_path / "pos" / "2018-01-02"
    rows = _read(written.folder)
    assert len(rows) == written.rows > 0
    assert {r["date"] for r in rows} == {"2018-01-02"}

    campaigns = wh.execute(wh.table("campaigns"))
    on = pd.Timestamp(DAY)
    running = campaigns[(campaigns.start_date <= on) & (campaigns.end_date >= on)]
    end = running.end_date.dt.strftime("%Y-%m-%d")
    ends = dict(zip(running.campaign_id, end, strict=True))
    assert {r["campaign_id"] for r in rows} <= set(ends)
    assert all(r["expires"] == ends[r["campaign_id"]] for r in rows)

    features = wh.execute(wh.table("profiles_features"))
    preferred = dict(zip(features.customer_id, features.preferred_store, strict=True))
    assert all(r["store_id"] == preferred[r["customer_id"]] for r in rows)
    idmap = wh.execute(wh.table("identity_map"))
    household = dict(zip(idmap.customer_id, idmap.identifier, strict=True))
    assert all(r["card"] == household[r["customer_id"]] for r in rows)

    # Every coupon of the campaigns the granted customer is in, bar redeemed ones.
    coupons = wh.execute(wh.table("coupons"))
    members = wh.execute(wh.table("campaign_members"))
    theirs = members[members.identifier == household[activated.granted]]
    in_running = set(theirs.campaign_id) & set(ends)
    redeemed = wh.execute(wh.table("coupon_redemptions"))
    used = redeemed[
        (redeemed.identifier == household[activated.granted])
        & (redeemed.redeemed_on < on)
    ]
    expected = {
        (c, u)
        for c, u in zip(coupons.campaign_id, coupons.coupon_upc, strict=True)
        if c in in_running
    } - set(zip(used.campaign_id, used.coupon_upc, strict=True))
    got = {
        (r["campaign_id"], r["coupon_upc"])
        for r in rows
        if r["customer_id"] == activated.granted
    }
    assert got == expected and got


def test_consent_and_holdouts_decide_who_gets_coupons(
    activated: Activated, activated_wh: Warehouse
) -> None:
    loads = activated_wh.execute(coupon_loads(activated_wh, DAY))
    customers = set(loads.customer_id)
    assert activated.objector not in customers  # revoked personalization
    assert activated.granted in customers
    assert activated.silent in customers  # no record: the card's own service
    moved, campaign = activated.holdout
    theirs = loads[loads.customer_id == moved]
    assert campaign not in set(theirs.campaign_id)  # never a holdout's coupon


def test_redeemed_coupons_are_not_loaded_again(built: Warehouse) -> None:
    loads = built.execute(coupon_loads(built, DAY))
    redeemed = built.execute(built.table("coupon_redemptions"))
    redeemed = redeemed[
        (redeemed.redeemed_on < pd.Timestamp(DAY))
        & redeemed.campaign_id.isin(set(loads.campaign_id))
    ]
    idmap = built.execute(built.table("identity_map"))
    customer = dict(zip(idmap.identifier, idmap.customer_id, strict=True))
    redeemed = redeemed.assign(customer_id=redeemed.identifier.map(customer))
    assert len(redeemed) > 0, "the slice has redemptions in running campaigns"
    loaded = set(
        zip(loads.customer_id, loads.campaign_id, loads.coupon_upc, strict=True)
    )
    members = built.execute(built.table("campaign_members"))
    member = set(zip(members.identifier, members.campaign_id, strict=True))
    checked = 0
    for r in redeemed.itertuples():
        assert (r.customer_id, r.campaign_id, r.coupon_upc) not in loaded
        if (r.identifier, r.campaign_id) in member:
            # ... while the rest of that campaign's coupons are still loaded.
            assert any(k[:2] == (r.customer_id, r.campaign_id) for k in loaded)
            checked += 1
    assert checked > 0


def test_a_rerun_replaces_the_days_folder(built: Warehouse, tmp_path: Path) -> None:
    first = write_pos_files(built, DAY, tmp_path)
    (first.folder / "999999.csv").write_text("stale\n")
    second = write_pos_files(built, DAY, tmp_path)
    assert not (second.folder / "999999.csv").exists()
    assert second.rows_by_store == first.rows_by_store
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2018-01-02"]
    quiet = write_pos_files(built, dt.date(2016, 1, 4), tmp_path)  # no campaign ran
    assert quiet.rows == 0 and list(quiet.folder.iterdir()) == []
