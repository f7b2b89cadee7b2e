"""A copy of the real slice with a few customers who have e-mails, consents and
web events, for the conditions The Complete Journey cannot exercise alone."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from shopkeeper import model
from shopkeeper.collect.csvfile import import_csv
from shopkeeper.pipeline import STAGES
from shopkeeper.segments.sources import profile_as_of
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect, run_build

# The Complete Journey has households and baskets but no e-mail addresses,
# consent records or web events, so four of its real households get generated
# ones here: a customers file and a consents file through the real CSV
# importer, and tracked events as the event loader would store them.
PEOPLE = {
    "ann": {"email": "Ann.Shopper@Example.com ", "phone": "+1 555 0100 001"},
    "bob": {"email": "bob@example.com", "phone": "+1 555 0100 002"},
    "cat": {"email": "cat@example.com", "phone": ""},
    "dan": {"email": "dan@example.com", "phone": "+1 555 0100 004"},
}
CONSENTS = [  # (person, purpose, status, recorded_at)
    ("ann", "ads", "granted", "2017-06-01"),
    ("ann", "email", "granted", "2017-06-01"),
    ("ann", "personalization", "granted", "2017-06-01"),
    ("bob", "ads", "denied", "2017-06-01"),
    ("bob", "personalization", "granted", "2017-06-01"),
    ("cat", "ads", "granted", "2017-06-01"),
    ("cat", "ads", "revoked", "2017-09-01"),  # the latest decision wins
    ("dan", "ads", "granted", "2017-06-01"),
]


def _households(wh: Warehouse, n: int) -> list[str]:
    """The ``n`` sampled households with the most orders (real shoppers)."""
    t = wh.table("orders")
    top = (
        t.group_by("identifier")
        .agg(n=t.count())
        .order_by([t.count().desc(), "identifier"])
    )
    return [str(v) for v in wh.to_arrow(top.limit(n)).column("identifier").to_pylist()]


def _events(as_of: dt.date) -> pa.Table:
    """Tracked product views: ann three Baby views in the last 14 days, bob one
    Baby view and one old one, dan a view with a numeric price property."""
    end = dt.datetime.combine(as_of, dt.time())
    views = [
        ("ann", 2, {"category": "Baby", "price": 12.5}),
        ("ann", 5, {"category": "Baby", "price": 3}),
        ("ann", 13, {"category": "Baby"}),
        ("ann", 20, {"category": "Garden"}),
        ("bob", 1, {"category": "Baby", "price": 40}),
        ("bob", 40, {"category": "Baby"}),
        ("dan", 3, {"category": "Garden", "price": 99.99}),
        ("dan", -1, {"category": "Baby"}),  # after as_of: never seen
    ]
    rows = []
    for i, (who, days_ago, props) in enumerate(views):
        at = end - dt.timedelta(days=days_ago, hours=1)
        rows.append(
            {
                "message_id": f"seg-{i}",
                "type": "track",
                "event": "Product Viewed",
                "user_id": who,
                "timestamp": at,
                "received_at": at,
                "source_id": "web",
                "channel": "web",
                "properties": json.dumps(props),
            }
        )
    schema = model.EVENTS.schema.to_pyarrow()
    return pa.Table.from_pylist(
        [{c: r.get(c) for c in schema.names} for r in rows], schema=schema
    )


@pytest.fixture(scope="session")
def segmented_path(built_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built slice plus four generated contacts, identity rebuilt."""
    root = tmp_path_factory.mktemp("segmented")
    path = root / "seg.duckdb"
    shutil.copy(built_path, path)
    with connect(f"duckdb:///{path}", settings=Settings()) as wh:
        households = _households(wh, len(PEOPLE))
        customers = root / "customers.csv"
        lines = ["customer_ref,household_ref,email,phone"]
        for (who, contact), household in zip(PEOPLE.items(), households, strict=True):
            lines.append(
                f"user:{who},{household},{contact['email']},{contact['phone']}"
            )
        customers.write_text("\n".join(lines) + "\n")
        import_csv(wh, "customers", customers)
        consents = root / "consents.csv"
        rows = ["subject,purpose,status,recorded_at"]
        rows += [f"user:{w},{p},{s},{at}" for w, p, s, at in CONSENTS]
        consents.write_text("\n".join(rows) + "\n")
        import_csv(wh, "consents", consents)
        wh.append(
            model.EVENTS, wh.stage_arrow("_tmp_events", _events(profile_as_of(wh)))
        )
        wh.drop_temp("_tmp_events")
        run_build(wh, STAGES, ["identity"], settings=Settings())
    return path


@pytest.fixture
def segmented(segmented_path: Path) -> Iterator[Warehouse]:
    with connect(f"duckdb:///{segmented_path}", read_only=True) as wh:
        yield wh


@pytest.fixture
def writable(segmented_path: Path, tmp_path: Path) -> Iterator[Warehouse]:
    """A private copy of the segmented slice that a test may write to."""
    path = tmp_path / "seg.duckdb"
    shutil.copy(segmented_path, path)
    with connect(f"duckdb:///{path}", settings=Settings()) as wh:
        yield wh


def customer_of(wh: Warehouse, identifier: str) -> str:
    t = wh.table("identity_map")
    found = wh.to_arrow(t.filter(t.identifier == identifier)).column("customer_id")
    return str(found[0])
