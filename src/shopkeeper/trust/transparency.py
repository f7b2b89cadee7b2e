"""What is held about a customer, said in plain language for the customer.

The export answers "give me everything" for a machine or a lawyer; the
preference center needs the same facts as a few sentences a shopper reads in
ten seconds: how we recognise you, what we saw you buy, what we concluded,
what we recommend and why, and what you allowed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from shopkeeper.collect.csvfile import PURPOSES
from shopkeeper.profiles.customer360 import Customer, current_consents, customer_view
from shopkeeper.warehouse import Warehouse

__all__ = ["PURPOSE_TEXT", "plain_summary"]

PURPOSE_TEXT = {
    "personalization": "Use what I buy to tailor offers and recommendations",
    "email": "Send me e-mails",
    "sms": "Send me text messages",
    "push": "Send me app notifications",
    "ads": "Use a scrambled (hashed) e-mail or phone to show me ads elsewhere",
    "partner_sharing": "Include me in anonymous totals shared with brands",
    "analytics": "Use my visits to measure and improve the shop",
}
assert set(PURPOSE_TEXT) == set(PURPOSES), "every purpose needs plain words"

_KINDS = {
    "email": "e-mail address",
    "phone": "phone number",
    "loyalty": "loyalty card",
    "user": "online account",
    "anon": "browser or app install",
    "household": "household record",
    "device": "device",
}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _recognised_by(who: Customer) -> str:
    kinds = Counter(i.split(":", 1)[0] for i in who.identifiers)
    parts = [_plural(n, _KINDS.get(k, k + " id")) for k, n in sorted(kinds.items())]
    return "We recognise you by " + ", ".join(parts) + "."


def _shopping(wh: Warehouse, who: Customer) -> str | None:
    if not wh.exists("orders"):
        return None
    orders = wh.table("orders")
    mine = orders.filter(orders.identifier.isin(who.identifiers))
    summary = wh.execute(
        mine.aggregate(
            n=mine.count(),
            first=mine.ordered_at.min(),
            last=mine.ordered_at.max(),
            stores=mine.store_id.nunique(),
        )
    ).iloc[0]
    if not summary.n:
        return None
    spend = 0.0
    if wh.exists("order_lines"):
        lines = wh.table("order_lines").semi_join(mine.select("order_id"), "order_id")
        spend = float(wh.execute(lines.sales_value.sum()) or 0.0)
    return (
        f"We hold {_plural(int(summary.n), 'shopping trip')} in "
        f"{_plural(int(summary.stores), 'store')} from {summary['first']:%d %B %Y} "
        f"to {summary['last']:%d %B %Y}, ${spend:,.2f} in all, with what was in "
        "each basket."
    )


def _events(wh: Warehouse, who: Customer) -> str | None:
    if not wh.exists("events"):
        return None
    e = wh.table("events")
    users, anons = who.of_type("user"), who.of_type("anon")
    if not users and not anons:
        return None
    n = wh.count(
        e.filter(e.user_id.isin(users or [""]) | e.anonymous_id.isin(anons or [""]))
    )
    if not n:
        return None
    return f"We recorded {_plural(n, 'visit or action')} on our website and app."


def plain_summary(wh: Warehouse, identifier: str) -> dict[str, Any]:
    """Sentences about what is held, plus consents with their plain wording."""
    view = customer_view(wh, identifier)
    who = Customer(view["customer_id"], view["household_id"], view["identifiers"])
    sentences = [_recognised_by(who)]
    for sentence in (_shopping(wh, who), _events(wh, who)):
        if sentence:
            sentences.append(sentence)
    profile = view["profile"]
    if profile:
        sentences.append(
            f'From this we group you as "{profile["rfm_segment"]}" '
            f"(how recently, how often and how much you shop)."
        )
    value = view["lifetime_value"]
    if value and value.get("expected_purchases_52w") is not None:
        sentences.append(
            f"We expect about {value['expected_purchases_52w']:.0f} trips from you "
            "in the next year; this helps us decide which offers to make."
        )
    recs = view["recommendations"]
    if recs:
        sentences.append(
            f"We keep {_plural(len(recs), 'product suggestion')} for you, each "
            f'with its reason, e.g. "{recs[0]["reason"]}".'
        )
    status = {c["purpose"]: c for c in current_consents(wh, who)}
    consents = [
        {
            "purpose": purpose,
            "text": PURPOSE_TEXT[purpose],
            "status": status[purpose]["status"] if purpose in status else None,
            "since": status[purpose]["recorded_at"] if purpose in status else None,
        }
        for purpose in PURPOSES
    ]
    return {
        "customer_id": who.customer_id,
        "subject": who.identifiers[0] if who.identifiers else who.customer_id,
        "held": sentences,
        "consents": consents,
    }
