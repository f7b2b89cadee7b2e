"""Probabilistic links between customers records, when the deployment asks.

Records from different systems (a paper loyalty form, an online account) can
describe one person without sharing a card, e-mail or phone. When
``SHOPKEEPER_IDENTITY_MATCH_THRESHOLD`` is set, the identity build asks Splink
(``probabilistic.match_records``) which ``customers`` records are the same
person, from name, last name, street, postal code and date of birth, and adds
pairs at or above the threshold as ``probabilistic`` links carrying their
probability. They go through the same guards as every other link and rank
last among the rules, so a model's guess never outweighs a login.

Off by default: a wrong merge is worse than a missed one, and the threshold is
a business decision. Matching needs enough records to estimate how often
strangers agree by chance; with fewer it is skipped and the build says why.
"""

from __future__ import annotations

import logging

import ibis.expr.types as ir
import pyarrow as pa

from shopkeeper.errors import InvalidInput
from shopkeeper.identity.probabilistic import match_records, matches_to_links
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse

__all__ = ["MIN_RECORDS", "probabilistic_links"]

log = logging.getLogger(__name__)

MIN_RECORDS = 100
"""Fewer customers records than this give Splink too few random pairs to learn
from; matching is skipped (and logged) rather than guessed."""


def probabilistic_links(wh: Warehouse, settings: Settings) -> ir.Table | None:
    """Link rows (a, b, rule, evidence_table, evidence_id, seen_at, probability)."""
    threshold = settings.identity_match_threshold
    if threshold is None or not wh.exists("customers"):
        return None
    c = wh.table("customers")
    records = wh.to_arrow(
        c.select(
            record_id=c.customer_ref,
            given_name=c.first_name,
            surname=c.last_name,
            address_1=c.street,
            postcode=c.postal_code,
            date_of_birth=c.date_of_birth.cast("string"),
        )
    )
    if records.num_rows < MIN_RECORDS:
        log.info(
            "identity: probabilistic matching skipped: %d customers records, "
            "at least %d needed",
            records.num_rows,
            MIN_RECORDS,
        )
        return None
    spark = getattr(wh.engine, "session", None)
    try:
        matches = match_records(
            records,
            threshold=threshold,
            engine="spark" if wh.engine_name == "spark" else "duckdb",
            spark=spark,
        )
    except InvalidInput as exc:
        log.warning("identity: probabilistic matching skipped: %s", exc.message)
        return None
    if matches.num_rows == 0:
        return None
    links = matches_to_links(matches, evidence_table="customers")
    # Warehouse times are naive UTC; a model's link has no sighting time.
    i = links.schema.get_field_index("seen_at")
    links = links.set_column(i, "seen_at", pa.nulls(links.num_rows, pa.timestamp("us")))
    staged = wh.stage_arrow("_tmp_identity_probabilistic", links)
    return staged.select(
        a=staged.identifier_a,
        b=staged.identifier_b,
        rule=staged.rule,
        evidence_table=staged.evidence_table,
        evidence_id=staged.evidence_id,
        seen_at=staged.seen_at.cast("timestamp"),
        probability=staged.probability.cast("float64"),
    )
