"""Guards: shared devices, blocked placeholder values and per-customer limits.

Events are generated (the real data has no web or app events); each test
builds the identity stage on a fresh warehouse holding only these events.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from shopkeeper.identity import build_identity, hash_email
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse

from .events import add_customers, add_events, event


def _customers(wh: Warehouse) -> dict[str, str]:
    frame = wh.execute(wh.table("identity_map"))
    return dict(zip(frame.identifier, frame.customer_id, strict=True))


def _refused(wh: Warehouse) -> pd.DataFrame:
    return wh.execute(wh.table("identity_refused_links"))


def test_shared_device_keeps_two_customers(wh: Warehouse) -> None:
    add_events(
        wh,
        [
            event("identify", "2024-03-01T09:00:00", user="alice", anon="family-ipad"),
            event("track", "2024-03-01T09:05:00", anon="family-ipad", name="Viewed"),
            event("identify", "2024-03-02T20:00:00", user="bob", anon="family-ipad"),
        ],
    )
    build_identity(wh, Settings())
    ids = _customers(wh)
    assert ids["user:alice"] == ids["anon:family-ipad"]
    assert ids["user:bob"] != ids["user:alice"]
    refused = _refused(wh)
    assert len(refused) == 1
    row = refused.iloc[0]
    assert {row.identifier_a, row.identifier_b} == {"user:bob", "anon:family-ipad"}
    assert row.rule == "identify"
    assert row.reason.startswith("limit: anon:family-ipad would hold more than 1 user")


def test_blocked_values_never_link(wh: Warehouse) -> None:
    add_events(
        wh,
        [
            event("identify", "2024-01-01T10:00:00", user="null", anon="a1"),
            event("identify", "2024-01-01T10:00:00", user="Undefined", anon="a2"),
            event("identify", "2024-01-01T11:00:00", user="u1", anon="0000-0000"),
            event("identify", "2024-01-01T11:00:00", user="u2", anon="-1"),
            event("identify", "2024-01-01T12:00:00", user="u3",
                  traits={"email": "test@example.com", "phone": "000-000-0000"}),
            event("identify", "2024-01-01T12:00:00", user="u4",
                  traits={"email": "Test@Example.com ", "phone": "0000000000"}),
            event("identify", "2024-01-01T12:00:00", user="u5",
                  traits={"email": "shopper@example.org"}),
            event("alias", "2024-01-01T13:00:00", user="u6", previous="anonymous"),
        ],
    )  # fmt: skip
    build_identity(wh, Settings())
    ids = _customers(wh)
    users = [f"user:u{i}" for i in range(1, 7)]
    assert len({ids[u] for u in users}) == 6  # nobody merged through a placeholder
    for placeholder in ("user:null", "user:Undefined", "anon:0000-0000", "anon:-1"):
        assert placeholder not in ids
    assert f"email:{hash_email('test@example.com')}" not in ids
    refused = _refused(wh)
    assert refused.reason.str.startswith("blocked: ").all()
    assert len(refused) == 10
    assert wh.count("identity_links") == 0


def test_anonymous_id_limit_keeps_the_earliest(wh: Warehouse) -> None:
    add_events(
        wh,
        [
            event(
                "identify", f"2024-05-0{day}T08:00:00", user="carol", anon=f"dev{day}"
            )
            for day in range(1, 8)
        ],
    )
    build_identity(wh, Settings())
    ids = _customers(wh)
    kept = {
        f"anon:dev{d}" for d in range(1, 8) if ids[f"anon:dev{d}"] == ids["user:carol"]
    }
    assert kept == {f"anon:dev{d}" for d in range(1, 6)}
    assert set(_refused(wh).identifier_b) == {"anon:dev6", "anon:dev7"}
    # The limit is a setting.
    build_identity(wh, Settings(identity_max_anonymous_ids=2))
    ids = _customers(wh)
    assert sum(ids[f"anon:dev{d}"] == ids["user:carol"] for d in range(1, 8)) == 2


def test_priority_decides_across_a_component(wh: Warehouse) -> None:
    # Two logins on two devices, and one e-mail typed on both devices: the
    # e-mail would join Dave and Erin. Logins outrank e-mail traits, and the
    # earlier e-mail link wins; the later one is refused.
    email = {"email": "shared@family.net"}
    add_events(
        wh,
        [
            event("identify", "2024-06-01T08:00:00", user="dave", anon="p1"),
            event("page", "2024-06-02T08:00:00", anon="p1", context={"traits": email}),
            event("page", "2024-06-03T08:00:00", anon="q1", context={"traits": email}),
            event("identify", "2024-06-04T08:00:00", user="erin", anon="q1"),
        ],
    )
    build_identity(wh, Settings())
    ids = _customers(wh)
    mail = f"email:{hash_email('shared@family.net')}"
    assert ids["user:dave"] == ids["anon:p1"] == ids[mail]
    assert ids["user:erin"] == ids["anon:q1"] != ids["user:dave"]
    refused = _refused(wh)
    assert refused[["identifier_a", "identifier_b", "rule"]].values.tolist() == [
        ["anon:q1", mail, "email"]
    ]
    assert refused.reason.iloc[0] == (
        "limit: joining would give one customer 2 user: ids (max 1)"
    )


def test_external_ids_alias_and_loyalty_link(wh: Warehouse) -> None:
    context = {
        "externalIds": [
            {"id": "Frank@Mail.com", "type": "email", "collection": "users"},
            {"id": "L-42", "type": "loyalty_card"},
            {"id": 7788, "type": "crm_id"},
        ]
    }
    add_events(
        wh,
        [
            event("track", "2024-07-01T08:00:00", user="frank", context=context),
            event("alias", "2024-07-01T09:00:00", user="frank", previous="web-anon-9"),
            event("identify", "2024-07-01T10:00:00", user="frank",
                  traits={"loyaltyId": "L-43", "phone": "+1 (555) 010-9999"}),
        ],
    )  # fmt: skip
    build_identity(wh, Settings())
    ids = _customers(wh)
    same = [
        "user:frank",
        f"email:{hash_email('frank@mail.com')}",
        "loyalty:L-42",
        "loyalty:L-43",
        "crm_id:7788",
        "anon:web-anon-9",
    ]
    assert len({ids[i] for i in same}) == 1
    links = wh.execute(wh.table("identity_links"))
    assert set(links.rule) == {"external_id", "alias", "loyalty", "phone"}


def test_household_of_two_account_holders_stays_two_customers(wh: Warehouse) -> None:
    add_events(
        wh,
        [
            event("identify", "2024-08-01T08:00:00", user="gina",
                  traits={"email": "gina@mail.net", "loyaltyId": "G1"}),
            event("identify", "2024-08-02T08:00:00", user="hugo",
                  traits={"email": "hugo@mail.net", "loyaltyId": "H1"}),
        ],
    )  # fmt: skip
    add_customers(
        wh,
        [
            {"customer_ref": f"loyalty:{card}", "household_ref": "household:77",
             "signed_up_at": datetime(2023, 1, day), "source": "pos.csv"}
            for day, card in ((1, "G1"), (2, "H1"))
        ],
    )  # fmt: skip
    build_identity(wh, Settings())
    ids = _customers(wh)
    assert ids["user:gina"] == ids["loyalty:G1"] == ids["household:77"]
    assert (
        ids["user:hugo"]
        == ids["loyalty:H1"]
        == ids[f"email:{hash_email('hugo@mail.net')}"]
    )
    assert ids["user:hugo"] != ids["user:gina"]
    refused = _refused(wh)
    assert refused[["identifier_a", "identifier_b", "rule"]].values.tolist() == [
        ["loyalty:H1", "household:77", "household"]
    ]
    houses = wh.execute(wh.table("identity_map")).set_index("identifier").household_id
    assert houses["user:gina"] == "household:77"
    assert houses["user:hugo"] is None
