"""Unify: identifiers and the identity map from every collected table."""

from __future__ import annotations

from shopkeeper.identity.build import STAGE
from shopkeeper.identity.households import (
    identifier_sightings,
    identifiers,
    identity_map,
)

__all__ = ["STAGE", "identifier_sightings", "identifiers", "identity_map"]
