"""The first end-to-end path: import the real data, build, and summarise it."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import ibis

from shopkeeper.collect import LoadReport, import_completejourney
from shopkeeper.errors import NotFound
from shopkeeper.pipeline import STAGES
from shopkeeper.profiles import with_department
from shopkeeper.profiles.customer360 import resolve
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Progress, StageResult, Warehouse, run_build

__all__ = ["QuickstartReport", "customer_card", "quickstart", "summary"]


@dataclass
class QuickstartReport:
    """What quickstart did and what the data says, ready to print or dump."""

    warehouse: str
    seconds: float = 0.0
    load: LoadReport | None = None
    stages: list[StageResult] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    departments: list[dict[str, Any]] = field(default_factory=list)
    customer: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "warehouse": self.warehouse,
            "seconds": round(self.seconds, 2),
            "load": self.load.as_dict() if self.load else None,
            "stages": [asdict(s) for s in self.stages],
            "tables": self.tables,
            "departments": self.departments,
            "customer": self.customer,
        }


def summary(wh: Warehouse, *, departments: int = 10) -> dict[str, Any]:
    """Table counts and the departments with the most spend."""
    tables = {name: wh.count(name) for name in wh.tables()}
    lines = wh.table("order_lines")
    joined = with_department(lines, wh.table("products"))
    total = lines.sales_value.sum()
    spend = (
        joined.group_by("department")
        .agg(spend=joined.sales_value.sum(), lines=joined.count())
        .mutate(share=ibis._.spend / total.as_scalar())
        .order_by([ibis.desc("spend"), "department"])
        .limit(departments)
    )
    rows = wh.execute(spend).to_dict("records")
    for row in rows:
        row["spend"] = round(float(row["spend"]), 2)
        row["share"] = round(float(row["share"]), 4)
        row["lines"] = int(row["lines"])
    return {"tables": tables, "departments": rows}


def customer_card(wh: Warehouse, customer_id: str | None = None) -> dict[str, Any]:
    """One customer's profile, top departments and recommendations.

    Without an id, shows the top-spending "Champions" customer: the kind of
    household a shopkeeper would most want to know well.
    """
    rfm = wh.table("profiles_rfm")
    if customer_id is None:
        pick = rfm.filter(rfm.rfm_segment == "Champions").order_by(
            [ibis.desc(rfm.monetary), rfm.customer_id]
        )
        found = wh.execute(pick.select("customer_id").limit(1)).customer_id
        if len(found) == 0:
            found = wh.execute(
                rfm.order_by(rfm.customer_id).select("customer_id").limit(1)
            ).customer_id
        if len(found) == 0:
            raise NotFound("no profiles yet", hint="run `shopkeeper build`")
        customer_id = str(found.iloc[0])
    else:
        # Any identifier the person is known by (household:1609, user:42, ...).
        customer_id = resolve(wh, customer_id).customer_id
    profile = wh.execute(rfm.filter(rfm.customer_id == customer_id))
    if profile.empty:
        raise NotFound(f"no profile for customer {customer_id!r}")
    deps = wh.table("profiles_departments")
    # The learned recommender when the build produced it, else the baseline.
    name = (
        "recommendations" if wh.count("recommendations") else "recommend_personal_top"
    )
    card = {k: _plain(v) for k, v in profile.iloc[0].to_dict().items()}
    return {
        "profile": card,
        "departments": [
            {k: _plain(v) for k, v in r.items()}
            for r in wh.execute(
                deps.filter(deps.customer_id == customer_id).order_by("rank")
            ).to_dict("records")
        ],
        "recommendations": _ranked_products(wh, name, customer_id),
        "discoveries": (
            _ranked_products(wh, "discoveries", customer_id, limit=5)
            if wh.exists("discoveries")
            else []
        ),
    }


def _ranked_products(
    wh: Warehouse, table: str, customer_id: str, limit: int | None = None
) -> list[dict[str, Any]]:
    """A customer's ranked products with their catalogue fields and reasons."""
    recs = wh.table(table)
    products = wh.table("products")
    recs = recs.filter(recs.customer_id == customer_id)
    if limit is not None:
        recs = recs.filter(recs["rank"] <= limit)
    recs = recs.left_join(products, recs.product_id == products.product_id)
    recs = recs.select(
        "rank",
        recs.product_id,
        "department",
        "category",
        "product_type",
        "score",
        "reason",
    ).order_by("rank")
    return [
        {k: _plain(v) for k, v in r.items()}
        for r in wh.execute(recs).to_dict("records")
    ]


def quickstart(
    wh: Warehouse,
    settings: Settings,
    *,
    sample: int | None = None,
    customer_id: str | None = None,
    progress: Progress | None = None,
) -> QuickstartReport:
    """Import The Complete Journey, build every stage, and report on the result."""
    started = time.perf_counter()
    report = QuickstartReport(warehouse=wh.url)
    report.load = import_completejourney(wh, sample=sample, progress=progress)
    report.stages = run_build(wh, STAGES, settings=settings, progress=progress)
    facts = summary(wh)
    report.tables = facts["tables"]
    report.departments = facts["departments"]
    report.customer = customer_card(wh, customer_id)
    report.seconds = time.perf_counter() - started
    return report


def _plain(value: Any) -> Any:
    """pandas/numpy scalars and timestamps as JSON-friendly Python values."""
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value
