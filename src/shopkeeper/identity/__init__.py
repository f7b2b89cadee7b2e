"""Unify: link every identifier seen to one stable customer, with guards."""

from __future__ import annotations

from shopkeeper.identity.build import STAGE, build_identity, limits
from shopkeeper.identity.components import NotConverged, connected_components
from shopkeeper.identity.guards import Guarded, guard
from shopkeeper.identity.links import RULES, candidate_links, parse_events
from shopkeeper.identity.normalize import hash_email, hash_phone
from shopkeeper.identity.sightings import identifier_sightings, identifiers
from shopkeeper.identity.stable import assign_customers

__all__ = [
    "RULES",
    "STAGE",
    "Guarded",
    "NotConverged",
    "assign_customers",
    "build_identity",
    "candidate_links",
    "connected_components",
    "guard",
    "hash_email",
    "hash_phone",
    "identifier_sightings",
    "identifiers",
    "limits",
    "parse_events",
]
