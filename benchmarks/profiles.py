"""Profiles: CDNOW parameters vs the paper, churn AUC on a time split, and the
wall time to build all profile features and segments on the full Complete
Journey.

Usage: python benchmarks/profiles.py [--warehouse PATH] [--horizon-weeks 8]

Without ``--warehouse`` the full Complete Journey is imported into a temporary
DuckDB file and identity is built first (not timed). Prints the figures, the
time of each profiles step and the rows of each profiles table, and writes
benchmarks/results/profiles.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from clv import PUBLISHED, _sig, cdnow  # noqa: E402

from shopkeeper.collect import import_completejourney  # noqa: E402
from shopkeeper.pipeline import STAGES  # noqa: E402
from shopkeeper.profiles.churn import churn_time_split  # noqa: E402
from shopkeeper.segments import create_segment  # noqa: E402
from shopkeeper.settings import Settings  # noqa: E402
from shopkeeper.warehouse import connect, run_build  # noqa: E402

PROFILE_TABLES = (
    "profiles_rfm",
    "profiles_departments",
    "profiles_clv",
    "profiles_features",
    "profiles_affinities",
    "profiles_promotions",
    "profiles_life_stage",
    "profiles_demographics",
    "profiles_churn",
)


class StepClock:
    """A build progress callback that times each named step of the stages."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._current: tuple[str, float] | None = None

    def __call__(self, description: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if self._current is not None:
            name, since = self._current
            self.seconds[name] = round(self.seconds.get(name, 0.0) + now - since, 2)
        self._current = (description, now)


SEGMENTS = {
    "produce_lovers": 'clv_52w > 300 and affinity.department["PRODUCE"] > 1.3',
    "champions": 'rfm_segment = "Champions"',
    "at_risk": "p_alive < 0.5 and frequency >= 5",
    "baby_buyers": 'bought category = "BABY FOODS" at least 1 times in 30 days',
    "promo_hunters": "promo_share > 0.4",
    "private_label_fans": "private_label_share > 0.3",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", help="a DuckDB file with the full data imported")
    parser.add_argument("--horizon-weeks", type=int, default=8)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sk-profiles-"))
    try:
        cdnow_result = cdnow(folder)
        path = folder / "cj.duckdb"
        if args.warehouse:
            shutil.copy(args.warehouse, path)
        wh = connect(f"duckdb:///{path}")
        if not args.warehouse:
            import_completejourney(wh)
        run_build(wh, STAGES, ["identity"], settings=Settings())
        for name, definition in SEGMENTS.items():
            create_segment(wh, name, definition)
        steps = StepClock()
        started = time.perf_counter()
        results = run_build(
            wh, STAGES, ["profiles", "segments"], settings=Settings(), progress=steps
        )
        build_seconds = time.perf_counter() - started
        steps("done", 1, 1)
        rows = {t: wh.count(t) for t in PROFILE_TABLES}
        started = time.perf_counter()
        split, _ = churn_time_split(wh, horizon_weeks=args.horizon_weeks)
        churn_seconds = time.perf_counter() - started
        members = wh.count("segments_members")
        wh.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print("\nCDNOW parameters (ours, to 3 significant figures, vs the paper):")
    for name, published in PUBLISHED.items():
        ours = cdnow_result["parameters"]["ours"][name]  # type: ignore[index]
        shown = _sig(ours) if name != "log_likelihood" else f"{ours:.1f}"
        print(f"  {name:<15}{shown:>10}{published:>11}")
    print(
        f"\nChurn (no purchase in the next {split.horizon_weeks} weeks), trained as of "
        f"{split.train_as_of}, tested as of {split.test_as_of} on "
        f"{split.test_customers:,} customers ({split.test_churn_rate:.1%} churned):"
    )
    print(f"  AUC LightGBM on profile features  {split.auc_lightgbm:.3f}")
    print(f"  AUC 1 - P(alive) (BG/NBD)         {split.auc_p_alive:.3f}")
    print(f"  AUC weeks since last purchase      {split.auc_recency:.3f}")
    print(f"  ({churn_seconds:.1f} s)")
    stage_seconds = {r.stage: round(r.seconds, 2) for r in results}
    print(
        f"\nBuild of all profile features and {len(SEGMENTS)} segments on the full "
        f"Complete Journey: {build_seconds:.1f} s "
        f"({', '.join(f'{k} {v} s' for k, v in stage_seconds.items())}; goal < 30 s); "
        f"{members:,} membership rows"
    )
    print("\nProfile steps (s) and tables (rows):")
    for name, seconds in steps.seconds.items():
        if name.startswith("profiles:"):
            print(f"  {name:<34}{seconds:>7.2f}")
    for name, n in rows.items():
        print(f"  {name:<34}{n:>9,}")
    out = ROOT / "benchmarks" / "results" / "profiles.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                },
                "cdnow": cdnow_result,
                "churn": {**asdict(split), "seconds": round(churn_seconds, 2)},
                "build_seconds": round(build_seconds, 2),
                "stage_seconds": stage_seconds,
                "step_seconds": steps.seconds,
                "profile_rows": rows,
                "segments": SEGMENTS,
                "segment_members": members,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
