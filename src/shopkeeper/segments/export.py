"""Audiences out: a segment's members as CSV/Parquet, or a hashed audience file.

Consent is checked at export time against the ledger's current state, not at
build time: a customer who withdrew consent this morning is left out of this
afternoon's file even though the segment was built last night. Nobody without
the needed purpose granted is ever written.

Hashed audience files carry the SHA-256 hashes the identity graph already
holds (``email:`` and ``phone:`` identifiers: trimmed lower-case e-mail; phone
digits with the leading ``+`` kept, i.e. E.164 when the source gave the
country code). One hash per line under the platform's header:

- ``google`` (Customer Match): ``Email`` or ``Phone``;
- ``tiktok`` (Customer File): ``Email_SHA256`` or ``Phone_SHA256``;
- ``meta`` (Custom Audiences): ``email`` only; Meta hashes phone numbers
  without the ``+``, so our phone hashes cannot match there and are refused.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow.parquet as pq

from shopkeeper.collect.csvfile import PURPOSES
from shopkeeper.errors import BadRequest, NotFound
from shopkeeper.model.segments import SEGMENTS_MEMBERS
from shopkeeper.segments.definitions import get_segment
from shopkeeper.segments.fields import FIELDS
from shopkeeper.segments.sources import current_consents, profile_base
from shopkeeper.warehouse import Warehouse

__all__ = [
    "AUDIENCE_HEADERS",
    "AUDIENCE_PURPOSE",
    "DEFAULT_PURPOSE",
    "ExportResult",
    "export_audience",
    "export_members",
    "member_fields",
]

DEFAULT_PURPOSE = "personalization"
"""What a CSV/Parquet export needs unless told otherwise: using a person's
profile to target them is personalization; an e-mail list should ask for
``email``, an SMS list for ``sms``."""

AUDIENCE_PURPOSE = "ads"
"""What a hashed audience for an ad platform always needs."""

AUDIENCE_HEADERS: dict[str, dict[str, str]] = {
    "google": {"email": "Email", "phone": "Phone"},
    "tiktok": {"email": "Email_SHA256", "phone": "Phone_SHA256"},
    "meta": {"email": "email"},
}
"""Platform -> identifier kind -> the header line of the file."""

_MEMBER_COLUMNS = ("customer_id", "household_id", "entered_at")


@dataclass(frozen=True)
class ExportResult:
    """What was written: rows, members left out for lack of consent, where."""

    segment: str
    version: int
    path: str
    rows: int
    members: int
    without_consent: int

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def member_fields() -> list[str]:
    """Every field a CSV/Parquet export may carry."""
    return [*_MEMBER_COLUMNS, *FIELDS]


def _current_members(wh: Warehouse, name: str) -> tuple[int, ir.Table]:
    """(version, open memberships of the latest version) of segment ``name``."""
    definition = get_segment(wh, name)
    hint = f"run `shopkeeper build segments` to materialise {name!r}"
    if not wh.exists(SEGMENTS_MEMBERS.name):
        raise NotFound(f"segment {name!r} has not been built yet", hint=hint)
    t = wh.table(SEGMENTS_MEMBERS.name)
    mine = t.filter((t.segment == name) & (t.version == definition.version))
    if wh.count(mine) == 0:
        raise NotFound(
            f"segment {name!r} version {definition.version} has no membership "
            "rows (it is new or changed since the last build, or no customer "
            "has ever matched it)",
            hint=hint,
        )
    current = mine.filter(mine.exited_at.isnull())
    return definition.version, current.select("customer_id", "entered_at")


def _granted(wh: Warehouse, purpose: str) -> ir.Table | None:
    if purpose not in PURPOSES:
        raise BadRequest(
            f"unknown consent purpose {purpose!r}; purposes are {', '.join(PURPOSES)}"
        )
    consents = current_consents(wh)
    if consents is None:
        return None
    ok = consents.filter((consents.purpose == purpose) & (consents.status == "granted"))
    return ok.select(_ok=ok.customer_id)


def _consented(
    wh: Warehouse, members: ir.Table, purpose: str
) -> tuple[ir.Table, int, int]:
    """The members with ``purpose`` granted, and (all, consented) counts."""
    granted = _granted(wh, purpose)
    if granted is None:
        kept = members.filter(ibis.literal(False))
    else:
        kept = members.semi_join(granted, members.customer_id == granted._ok)
    return kept, wh.count(members), wh.count(kept)


def export_members(
    wh: Warehouse,
    name: str,
    path: str | Path,
    *,
    format: str = "csv",
    fields: list[str] | None = None,
    purpose: str = DEFAULT_PURPOSE,
) -> ExportResult:
    """Write the current members of ``name`` who granted ``purpose``.

    Args:
        wh: the warehouse (read-only is enough).
        name: the segment; its latest version must have been built.
        path: the file to write (replaced if it exists).
        format: ``csv`` or ``parquet``.
        fields: columns, from ``member_fields()``; default customer_id only.
        purpose: the consent purpose the use of this file needs.
    """
    if format not in ("csv", "parquet"):
        raise BadRequest(f"format must be csv or parquet, not {format!r}")
    fields = fields or ["customer_id"]
    known = member_fields()
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise BadRequest(
            f"unknown export field(s) {unknown}; fields are {', '.join(known)}"
        )
    version, current = _current_members(wh, name)
    kept, total, n = _consented(wh, current, purpose)
    profile = [f for f in fields if f in FIELDS]
    base = profile_base(wh, profile)
    rows = kept.join(base, kept.customer_id == base.customer_id).select(
        kept.customer_id, kept.entered_at, base.household_id, *profile
    )
    data = wh.to_arrow(rows.select(*fields).order_by("customer_id"))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if format == "parquet":
        pq.write_table(data, str(path), compression="zstd")
    else:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(fields)
            for record in data.to_pylist():
                writer.writerow(
                    ["" if record[f] is None else record[f] for f in fields]
                )
    return ExportResult(name, version, str(path), data.num_rows, total, total - n)


def export_audience(
    wh: Warehouse,
    name: str,
    path: str | Path,
    *,
    identifier: str = "email",
    platform: str = "google",
) -> ExportResult:
    """Write the hashed e-mails (or phones) of members who granted ``ads``.

    One hash per line, sorted and distinct, under the platform's header (see
    ``AUDIENCE_HEADERS``); a member with two addresses gives two lines, one
    with none gives none.
    """
    headers = AUDIENCE_HEADERS.get(platform)
    if headers is None:
        raise BadRequest(
            f"unknown platform {platform!r}; platforms are "
            + ", ".join(AUDIENCE_HEADERS)
        )
    if identifier not in headers:
        raise BadRequest(
            f"{platform} cannot take {identifier} hashes from Shopkeeper"
            + (
                " (it hashes phone numbers without the '+', ours keep it)"
                if identifier == "phone"
                else "; use email or phone"
            )
        )
    version, current = _current_members(wh, name)
    kept, total, n = _consented(wh, current, AUDIENCE_PURPOSE)
    idmap = wh.table("identity_map")
    prefix = f"{identifier}:"
    mine = idmap.filter(idmap.identifier.startswith(prefix))
    hashes = kept.join(mine, kept.customer_id == mine.customer_id).select(
        sha256=mine.identifier.substr(len(prefix))
    )
    values = wh.to_arrow(hashes.distinct().order_by("sha256")).column("sha256")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        fh.write(headers[identifier] + "\n")
        for value in values.to_pylist():
            fh.write(f"{value}\n")
    return ExportResult(name, version, str(path), len(values), total, total - n)
