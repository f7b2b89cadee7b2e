"""One real-time decision: who is asking, what may be shown, in what order.

The steps, in the order that keeps the constraints unbreakable:

1. **Who**: any identifier resolves through the online store's alias view;
   an unknown visitor is anonymous and gets popular items.
2. **May we at all**: a message channel (e-mail, push, SMS) and store staff
   need an explicit grant of their purpose; quiet hours hold for push and
   SMS; the daily cap per customer and channel is an atomic counter, so
   concurrent requests cannot both take the last slot. A refusal is an
   answer with no items and the reason, not an error.
3. **Candidates**: for items, the customer's recommendations (with their
   reasons), then the complements of the cart's items ("often bought with
   X"), then popular items to fill; items already in the cart are left out.
   Personalisation denied or revoked means popular items only. For new
   products (``kind="new"``), the customer's discoveries (popular items not
   among their recommendations only when those run short). For offers
   (``kind="offers"``), the customer's exported coupons that are eligible on
   the decision day, in the store, and outside the campaign's holdout
   (:mod:`shopkeeper.decide.eligibility`); offers are personal, so an
   unknown visitor or a customer who withdrew personalisation gets none.
4. **Policy**: Thompson sampling re-ranks the candidates per placement from
   the clicks and shows learned online (:mod:`shopkeeper.decide.feedback`),
   with the recommender's score as the prior; with probability
   ``exploration`` the order is uniformly random. The logged propensity of
   each shown item is the probability that this mixture puts that item at
   that position, estimated from the other posterior samples of the same
   decision (:mod:`shopkeeper.decide.thompson`).
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from shopkeeper.decide.eligibility import eligible_offers, offer_reason
from shopkeeper.decide.feedback import ArmStats
from shopkeeper.decide.offer_rows import COMPLEMENTS, HOLDOUTS
from shopkeeper.decide.online_rows import ALIAS, CUSTOMERS, POPULAR
from shopkeeper.decide.online_store import OnlineStore
from shopkeeper.decide.thompson import top_n

__all__ = [
    "CHANNELS",
    "KINDS",
    "REFUSAL_KINDS",
    "Decider",
    "Decision",
    "DecisionRequest",
]

CHANNELS = ("web", "app", "email", "push", "sms", "store_staff", "pos", "kiosk")
MESSAGE_PURPOSE = {
    "email": "email",
    "push": "push",
    "sms": "sms",
    "store_staff": "personalization",
}
QUIET_CHANNELS = ("push", "sms")
REFUSAL_KINDS = ("consent", "quiet_hours", "cap", "no_candidates", "other")
"""Machine-readable refusal kinds; ``other`` for a refusal none of them names."""
KINDS = ("items", "offers", "new")
"""What a placement shows: products for the next trip, coupons, or products
new to the customer ("new for you", from the recommend stage's discoveries)."""
_CART_COMPLEMENTS = 10
"""Cart items whose complements are read (one store read for all of them)."""
POLICY = "thompson-rerank"
_DRAWS = 64
PRIOR_STRENGTH = 100.0
_NOISE = 1 << 16
"""Normal draws in a decider's noise pool, redrawn every second: about seventy
decisions' worth at fifteen candidates. Decisions read windows of it at random
offsets, so neighbouring decisions may share values, never the samples of one
decision."""
_NOT_EXPLORING = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class DecisionRequest:
    channel: str
    placement: str
    identifier: str | None = None
    anonymous_id: str | None = None
    limit: int = 5
    cart: tuple[str, ...] = ()
    store_id: str | None = None
    local_hour: int | None = None
    kind: str = "items"
    today: date | None = None
    """The day offers must be valid on (default: today, UTC); a past day
    replays a historical data set's campaigns."""


@dataclass
class Decision:
    decision_id: str
    customer_id: str | None
    channel: str
    placement: str
    policy: str
    personalized: bool
    items: list[dict[str, Any]] = field(default_factory=list)
    refused: str | None = None
    refused_kind: str | None = None
    """The refusal as one of :data:`REFUSAL_KINDS`, so the refusal log can be
    counted by limit without parsing the human reason."""
    kind: str = "items"
    candidates: int = 0
    """How many candidates the policy ranked: the uniform policy's support,
    logged with each exposure for off-policy evaluation."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "customer_id": self.customer_id,
            "channel": self.channel,
            "placement": self.placement,
            "kind": self.kind,
            "policy": self.policy,
            "personalized": self.personalized,
            "items": self.items,
            "refused": self.refused,
        }


def _granted(doc: dict[str, Any] | None, purpose: str) -> bool:
    return bool(doc) and doc.get("consents", {}).get(purpose) == "granted"


def _withdrawn(doc: dict[str, Any] | None, purpose: str) -> bool:
    return bool(doc) and doc.get("consents", {}).get(purpose) in ("denied", "revoked")


class DecisionIds:
    """Decision ids that sort by time: ``dec_``, the millisecond in 11 hex
    digits, then 80 unguessable bits from the system's random source.

    Every decision is kept in the online store for its feedback, and its id
    is the key. Random keys land all over the store's B-tree, so each
    second's batch dirtied pages across the whole range: on SQLite, writing
    500 decisions cost 6 ms on an empty store and 19 ms once 60,000 were
    kept; keys in time order append at the end (2-3 ms at any size). The
    random part is read in bulk: ``secrets.token_hex`` is a system call per
    id, which costs more than the arithmetic of a decision in a sandboxed
    kernel, and one read of 10 KB serves 1,024 ids with the same randomness.
    """

    _BYTES = 10

    def __init__(self, batch: int = 1024) -> None:
        self._batch = batch
        self._pool = b""
        self._at = 0
        self._lock = threading.Lock()

    def next_id(self) -> str:
        millis = time.time_ns() // 1_000_000
        with self._lock:
            if self._at >= len(self._pool):
                self._pool, self._at = os.urandom(self._BYTES * self._batch), 0
            start = self._at
            self._at += self._BYTES
            return f"dec_{millis:011x}{self._pool[start : self._at].hex()}"


class Decider:
    """Answers decisions from the online store; one per server worker."""

    def __init__(
        self,
        store: OnlineStore,
        arms: ArmStats,
        *,
        daily_caps: dict[str, int],
        quiet_hours: tuple[int, int],
        exploration: float,
        require_opt_in: bool = False,
        seed: int | None = None,
    ) -> None:
        self.store = store
        self.arms = arms
        self.daily_caps = daily_caps
        self.quiet_hours = quiet_hours
        self.exploration = exploration
        self.require_opt_in = require_opt_in
        self._rng = np.random.default_rng(seed)
        self._random = random.Random(seed)
        self._noise = self._rng.standard_normal(_NOISE)
        # Compile (or load the compiled kernel) now, not in the first
        # decision: a store-zone push has one second, and compiling takes two.
        top_n(np.zeros((3, 1)), 1.0, self._noise, 0, _DRAWS, 1, 0, _NOT_EXPLORING, 0.0)
        self._ids = DecisionIds()
        self._popular_items: list[dict[str, Any]] = []
        self._popular_at = float("-inf")

    # -- who -------------------------------------------------------------
    def customer(self, req: DecisionRequest) -> dict[str, Any] | None:
        keys = []
        if req.identifier:
            keys.append(req.identifier)
        if req.anonymous_id:
            keys.append(f"anon:{req.anonymous_id}")
        if not keys:
            return None
        return self.store.read_through(ALIAS, "customer_id", CUSTOMERS, keys)

    # -- may we ----------------------------------------------------------
    def _refusal(
        self, req: DecisionRequest, doc: dict[str, Any] | None, now: datetime
    ) -> tuple[str, str] | None:
        """(kind, reason) of the limit that refuses this request, if any."""
        purpose = MESSAGE_PURPOSE.get(req.channel)
        if purpose is not None:
            # An unknown person cannot have granted anything: a consent refusal.
            if doc is None:
                return "consent", f"{req.channel} needs a known customer"
            if not _granted(doc, purpose):
                return "consent", f"no {purpose} consent granted"
        if req.channel in QUIET_CHANNELS:
            hour = req.local_hour if req.local_hour is not None else now.hour
            start, end = self.quiet_hours
            quiet = start <= hour or hour < end if start > end else start <= hour < end
            if quiet:
                return "quiet_hours", f"quiet hours ({start:02d}:00-{end:02d}:00)"
        cap = self.daily_caps.get(req.channel)
        if cap is not None and doc is not None:
            counter = f"cap:{doc['customer_id']}:{req.channel}:{now:%Y%m%d}"
            if self.store.incr(counter, ttl_seconds=2 * 86_400) > cap:
                return "cap", f"daily cap of {cap} {req.channel} decision(s) reached"
        return None

    def _personalize(self, doc: dict[str, Any] | None) -> bool:
        if doc is None or _withdrawn(doc, "personalization"):
            return False
        return not self.require_opt_in or _granted(doc, "personalization")

    # -- candidates and policy ------------------------------------------
    def _popular(self) -> list[dict[str, Any]]:
        """The popular list, re-read at most every 30 s (it changes per build)."""
        now = time.monotonic()
        if now - self._popular_at > 30:
            (doc,) = self.store.read_many(POPULAR, ["all"])
            self._popular_items = (doc or {}).get("items", [])
            self._popular_at = now
        return self._popular_items

    def _complements(self, cart: tuple[str, ...]) -> list[dict[str, Any]]:
        """Complements of the cart's first items, best lift first."""
        if not cart:
            return []
        docs = self.store.read_many(COMPLEMENTS, list(cart[:_CART_COMPLEMENTS]))
        found = [c for d in docs if d for c in d.get("items", [])]
        return sorted(found, key=lambda c: -float(c.get("lift") or 0.0))

    def _candidates(
        self, req: DecisionRequest, doc: dict[str, Any] | None, personal: bool
    ) -> list[dict[str, Any]]:
        seen = set(req.cart)
        out = []
        recommended = doc.get("recommendations", []) if personal and doc else []
        if req.kind == "new":
            found = doc.get("discoveries", []) if personal and doc else []
            # Popular products fill in only when discoveries run short (or the
            # visitor is unknown): the document does not hold every past
            # purchase, so a best seller might not be new to this customer.
            # Those in their recommendations are surely not, so skip them.
            seen.update(r["product_id"] for r in recommended)
            pools = [found] if len(found) >= req.limit else [found, self._popular()]
        else:
            # The cart's complements get places right after the customer's
            # best recommendations, so a long list cannot crowd them out.
            head = 2 * req.limit
            pools = [
                recommended[:head],
                self._complements(req.cart)[: req.limit],
                recommended[head:],
                self._popular(),
            ]
        wanted = max(req.limit * 3, 10)
        for pool in pools:
            for item in pool:
                if item["product_id"] not in seen:
                    seen.add(item["product_id"])
                    out.append(item)
                    if len(out) == wanted:
                        return out
        return out

    def _offers(
        self, req: DecisionRequest, doc: dict[str, Any], now: datetime
    ) -> list[dict[str, Any]]:
        """The customer's offers that pass eligibility and the current holdouts.

        The holdout shares are read on every offer decision (one small
        document): a holdout assigned after the export must hold at once.
        """
        offers = doc.get("offers") or []
        if not offers:
            return []
        (held,) = self.store.read_many(HOLDOUTS, ["all"])
        return eligible_offers(
            offers,
            doc["customer_id"],
            today=req.today or now.date(),
            store_id=req.store_id,
            shares=(held or {}).get("shares", {}),
        )[: max(req.limit * 3, 10)]

    def _rank(
        self, placement: str, candidates: list[dict[str, Any]], limit: int
    ) -> tuple[list[int], list[float]]:
        """Positions of the shown candidates and the propensity of each.

        The samples are compiled (:mod:`shopkeeper.decide.thompson`): as a
        dozen numpy calls they were the largest part of a decision's CPU.
        """
        k = len(candidates)
        n = min(limit, k)
        shows, clicks = self.arms.get(placement, [_arm(c) for c in candidates])
        # The recommender's score (a share of baskets) is the prior click
        # rate, worth PRIOR_STRENGTH shows: learning moves an item after about
        # as many shows of evidence (see thompson.top_n).
        stats = np.array(
            [[c.get("score") or 0.0 for c in candidates], shows, clicks], np.float64
        )
        noise = self._noise
        need = _DRAWS * k
        if need > len(noise):
            noise = self._noise = self._rng.standard_normal(max(need, _NOISE))
        offset = self._random.randrange(len(noise) - need + 1)
        if self._random.random() < self.exploration:
            pick, chosen = -1, self._rng.permutation(k)[:n]
        else:
            pick, chosen = self._random.randrange(_DRAWS), _NOT_EXPLORING
        out = top_n(
            stats,
            PRIOR_STRENGTH,
            noise,
            offset,
            _DRAWS,
            n,
            pick,
            chosen,
            self.exploration,
        ).tolist()
        return [int(i) for i in out[:n]], out[n:]

    def refresh_noise(self) -> None:
        """Draw a fresh pool of normal noise for the posterior samples.

        Each decision reads its samples' noise from a random place in the
        pool (drawing it per decision cost more than the ranking); the arm
        sync calls this every second so that decisions do not keep meeting
        the same noise.
        """
        self._noise = self._rng.standard_normal(max(len(self._noise), _NOISE))

    def decide(self, req: DecisionRequest, *, now: datetime | None = None) -> Decision:
        now = now or datetime.now(UTC)
        doc = self.customer(req)
        decision = Decision(
            decision_id=self._ids.next_id(),
            customer_id=doc["customer_id"] if doc else None,
            channel=req.channel,
            placement=req.placement,
            policy=POLICY,
            personalized=False,
            kind=req.kind,
        )
        refusal = self._refusal(req, doc, now)
        if refusal is not None:
            decision.refused_kind, decision.refused = refusal
            return decision
        decision.personalized = self._personalize(doc)
        if req.kind == "offers":
            if doc is None or not decision.personalized:
                decision.refused = (
                    "offers need a known customer who allows personalization"
                )
                decision.refused_kind = "consent"
                return decision
            candidates = self._offers(req, doc, now)
            if not candidates:
                decision.refused = "no eligible offers"
                decision.refused_kind = "no_candidates"
                return decision
        else:
            candidates = self._candidates(req, doc, decision.personalized)
            if not candidates:
                decision.refused = "no candidates (run `shopkeeper online export`)"
                decision.refused_kind = "no_candidates"
                return decision
        shown, propensities = self._rank(req.placement, candidates, req.limit)
        self.arms.shown(req.placement, [_arm(candidates[i]) for i in shown])
        decision.candidates = len(candidates)
        pairs = zip(shown, propensities, strict=True)
        for rank, (index, propensity) in enumerate(pairs, 1):
            answer = _answer(candidates[index], rank, propensity)
            # The item's place in the candidates' own order (recommender,
            # complements, popular; or offer relevance) before the policy
            # re-ranked them: what "recommender order only" would have shown.
            answer["base_rank"] = index + 1
            decision.items.append(answer)
        return decision


def _arm(candidate: dict[str, Any]) -> str:
    """The id the policy learns under: an offer's id or a product's."""
    return str(candidate.get("offer_id") or candidate["product_id"])


def _answer(item: dict[str, Any], rank: int, propensity: float) -> dict[str, Any]:
    if "offer_id" in item:
        return {
            "item_type": "offer",
            "item_id": item["offer_id"],
            "rank": rank,
            "score": item.get("score"),
            "reason": offer_reason(item),
            "propensity": round(propensity, 6),
            "campaign_id": item["campaign_id"],
            "coupon_upc": item["coupon_upc"],
            "product_ids": item.get("product_ids", []),
            "valid_from": item["start"],
            "valid_until": item["end"],
        }
    return {
        "item_type": "product",
        "item_id": item["product_id"],
        "rank": rank,
        "score": item.get("score"),
        "reason": item.get("reason") or "popular with shoppers",
        "propensity": round(propensity, 6),
    }


def exposure_id(decision_id: str, rank: int) -> str:
    """Unique without a hash: a decision's id is random and it shows one item
    per rank (a hash per item cost more than the rest of the log record)."""
    return f"{decision_id}.{rank}"
