"""Next-basket recommenders side by side on the full Complete Journey.

Usage: python benchmarks/recommend.py [--warehouse duckdb:///built.duckdb]

Without --warehouse, all 2,469 households are imported into a temporary DuckDB
file and the identity stage is built (customers = households). Then the
protocol of docs/recommend.md runs every method (G-, P-, GP-TopFreq, TIFU-KNN,
ALS, Shopkeeper's next-basket ranker and its discover list of never-bought
items), the trade-off of mixing the two into one top 10, and the complements
model on hidden test items.

Prints one table and writes benchmarks/results/recommend.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from shopkeeper import identity
from shopkeeper.collect import import_completejourney
from shopkeeper.recommend.evaluate import evaluate
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect, run_build

RESULTS = Path(__file__).parent / "results" / "recommend.json"
COLUMNS = (
    "recall@10",
    "recall@20",
    "ndcg@10",
    "ndcg@20",
    "phr@10",
    "repeat_recall@10",
    "explore_recall@10",
)


def open_warehouse(url: str | None, folder: str) -> Warehouse:
    if url:
        return connect(url, read_only=True)
    wh = connect(f"duckdb:///{folder}/cj.duckdb", settings=Settings())
    import_completejourney(wh)
    run_build(wh, (identity.STAGE,), settings=Settings())
    return wh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", help="a built warehouse URL (read only)")
    parser.add_argument("--tifu-trials", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        wh = open_warehouse(args.warehouse, folder)
        started = time.perf_counter()
        run = evaluate(wh, tifu_trials=args.tifu_trials)
        total = time.perf_counter() - started
        wh.close()
    header = ["method", *COLUMNS, "tune s", "train+score s"]
    print(
        f"Complete Journey: {run.households:,} households, {run.items:,} items, "
        f"{run.baskets:,} baskets after filters {run.filters}"
    )
    print(
        " | ".join(f"{h:>19}" if n == 0 else f"{h:>17}" for n, h in enumerate(header))
    )
    best = {c: max(r.metrics[c] for r in run.results) for c in COLUMNS}
    for r in run.results:
        cells = [f"{r.method:>19}"]
        for c in COLUMNS:
            mark = "*" if r.metrics[c] == best[c] else " "
            cells.append(f"{r.metrics[c]:>16.4f}{mark}")
        cells += [f"{r.tune_seconds:>17.1f}", f"{r.train_score_seconds:>17.1f}"]
        print(" | ".join(cells))
    for lead in run.leads:
        if lead["lead"] is None:
            print(f"{lead['method']} {lead['metric']}: {lead['baseline']} scores 0")
            continue
        print(
            f"{lead['method']} {lead['metric']}: {lead['lead']:+.1%} over "
            f"{lead['baseline']} (95% paired bootstrap interval "
            f"{lead['low']:+.1%} to {lead['high']:+.1%})"
        )
    if run.mixes:
        print("One mixed top 10 (Shopkeeper's last slots given to discover items):")
        for row in run.mixes:
            print(
                f"  {row['discover_slots']} slot(s): "
                + ", ".join(
                    f"{c} {row[c]:.4f}"
                    for c in ("recall@10", "ndcg@10", "explore_recall@10")
                )
            )
    print(
        "Complements (hidden test item, hit@10): "
        + ", ".join(f"{k} {v:.4f}" for k, v in run.complements.items())
    )
    print(f"total {total:.1f}s")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                **run.as_dict(),
                "seconds_total": total,
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                },
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
