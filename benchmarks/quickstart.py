"""Time the full quickstart (import all of The Complete Journey, build, report).

Usage: python benchmarks/quickstart.py [--runs N]

Prints the wall time of each run on a fresh DuckDB file and writes
benchmarks/results/quickstart.json. The target is under 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from shopkeeper.quickstart import quickstart
from shopkeeper.settings import Settings
from shopkeeper.warehouse import connect

RESULTS = Path(__file__).parent / "results" / "quickstart.json"


def run_once(folder: Path) -> dict[str, object]:
    settings = Settings(warehouse=f"duckdb:///{folder / 'bench.duckdb'}")
    started = time.perf_counter()
    wh = connect(settings=settings)
    report = quickstart(wh, settings)
    wh.close()
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "load_seconds": round(
            report.seconds - sum(s.seconds for s in report.stages), 2
        ),
        "stages": {s.stage: round(s.seconds, 2) for s in report.stages},
        "order_lines": report.tables["order_lines"],
        "rows_total": sum(report.tables.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    runs = []
    for index in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            result = run_once(Path(folder))
        runs.append(result)
        print(
            f"run {index + 1}: quickstart wall time {result['seconds']:.1f} s "
            f"(import+report {result['load_seconds']:.1f} s, "
            f"stages {result['stages']}), {result['order_lines']:,} order lines"
        )
    best = min(r["seconds"] for r in runs)
    print(f"best of {len(runs)}: {best:.1f} s (target: under 60 s)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "quickstart",
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "runs": runs,
                "best_seconds": best,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
