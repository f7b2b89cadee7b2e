"""Uplift learners and targeting policies on Hillstrom's randomized e-mail test.

Usage: python benchmarks/uplift.py [--n-boot N] [--seed S] [--folds F]
                                   [--outcomes visit,conversion,spend]
                                   [--splits R] [--workers W]

For each outcome: split the 64,000 customers 50/50 (hashed, stratified by
arm), pick Shopkeeper's learner by cross-validated Qini on the training half
only (the default T-learner unless another leads it by more than a standard
error over the folds), fit every learner on the training half, and print on
the test half the Qini coefficient and AUUC (mean over the two e-mails, each
against no e-mail) with 95 % bootstrap intervals, plus the chosen learner's
paired difference to each other learner. Then the policy values (IPS on the
randomized test half): "send each customer the e-mail with the highest
predicted uplift, or none" against sending everyone the same arm and
against the guarded policy (the uplift policy only where the training folds
show it clearly ahead of the best arm for everyone), and the
segments where another arm comes closest to the best one, on each half and
on all rows (a targeted policy can only gain there). Then the plan of the
budgeted allocator on the same predictions. Last, the whole protocol
repeated on R hashed splits (the headline one and R - 1 others; point figures
only): each learner's mean test Qini, how often the choice made on the
training half tops the test half, and each policy's mean value, because one
split of 578 buyers cannot tell these learners apart. Writes
benchmarks/results/uplift.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopkeeper.offers.allocate import allocate, greedy
from shopkeeper.offers.hillstrom import (
    EVERYONE,
    Comparison,
    compare_learners,
    hillstrom_experiment,
    split,
)
from shopkeeper.offers.hillstrom_headroom import segment_gaps
from shopkeeper.offers.hillstrom_splits import repeated_splits
from shopkeeper.offers.policy import policy_values
from shopkeeper.offers.uplift import DEFAULT_LEARNER, make_learner

RESULTS = Path(__file__).parent / "results" / "uplift.json"


def ci(low: float, high: float, digits: int = 4) -> str:
    return f"[{low:+.{digits}f}, {high:+.{digits}f}]"


def table_head(header: str) -> None:
    """A table's column names and the rule under them."""
    print(header)
    print("-" * len(header))


def learner_table(c: Comparison) -> list[dict[str, object]]:
    ev = c.evaluation
    print(
        f"\n{c.outcome}: test split {c.n_test:,} rows (trained on {c.n_train:,}); "
        f"Shopkeeper's choice by {len(c.validation)}-learner CV on train "
        f"(one-standard-error rule toward {DEFAULT_LEARNER}): {c.chosen}"
    )
    header = (
        f"{'learner':<22} {'cv qini':>8} {'Qini':>8} {'95% CI':>20} "
        f"{'AUUC':>8} {'95% CI':>20} {'Qini mens':>9} {'Qini womens':>11} "
        f"{'chosen - this (Qini)':>31}"
    )
    table_head(header)
    rows = []
    for name in ev.names:
        q, a = ev.score(name, "qini"), ev.score(name, "auuc")
        q_m, q_w = ev.score(name, "qini", 0), ev.score(name, "qini", 1)
        diff = ev.difference(c.chosen, name) if name != c.chosen else None
        mark = "*" if name == c.chosen else " "
        print(
            f"{mark}{name:<21} {c.validation[name]:>+8.4f} {q.value:>+8.4f} "
            f"{ci(q.ci_low, q.ci_high):>20} {a.value:>+8.4f} "
            f"{ci(a.ci_low, a.ci_high):>20} "
            f"{q_m.value:>+9.4f} {q_w.value:>+11.4f} "
            + (
                f"{diff.value:>+8.4f} {ci(diff.ci_low, diff.ci_high):>22}"
                if diff
                else f"{'(chosen)':>31}"
            )
        )
        rows.append(
            {
                "learner": name,
                "chosen": name == c.chosen,
                "cv_qini": c.validation[name],
                "qini": q.as_dict(),
                "auuc": a.as_dict(),
                "qini_by_offer": {
                    ev.offers[0]: q_m.as_dict(),
                    ev.offers[1]: q_w.as_dict(),
                },
                "auuc_by_offer": {
                    ev.offers[k]: ev.score(name, "auuc", k).as_dict() for k in (0, 1)
                },
                "chosen_minus_this_qini": diff.as_dict() if diff else None,
            }
        )
    best = max(ev.names, key=lambda n: ev.score(n).value)
    print(
        f"highest test Qini: {best}"
        + (" (the chosen learner)" if best == c.chosen else "")
    )
    return rows


def policy_table(c: Comparison) -> list[dict[str, object]]:
    pv = c.policies
    print(
        f"\npolicy value on the test split, {c.outcome} per customer "
        f"(IPS with the arms' shares; uplift policy from {c.chosen}; "
        f"cv value = mean over the training folds)"
    )
    header = (
        f"{'policy':<26} {'cv value':>8} {'value':>8} {'95% CI':>20} "
        f"{'uplift policy - this':>31}"
    )
    table_head(header)
    rows = []
    for name in pv.names:
        v = pv.value(name)
        d = pv.difference("uplift policy", name) if name != "uplift policy" else None
        cv = c.validation_policy[c.chosen if name == "uplift policy" else name]
        print(
            f"{name:<26} {cv:>8.4f} {v.value:>8.4f} {ci(v.ci_low, v.ci_high):>20} "
            + (f"{d.value:>+8.4f} {ci(d.ci_low, d.ci_high):>22}" if d else "")
        )
        rows.append(
            {
                "policy": name,
                "cv_value_train": cv,
                "value": v.as_dict(),
                "uplift_policy_minus_this": d.as_dict() if d else None,
            }
        )
    everyone = [n for n in pv.names if n.startswith(EVERYONE)]
    best = max(everyone, key=lambda n: pv.value(n).value)
    lead = pv.value("uplift policy").value - pv.value(best).value
    verdict = "beats" if lead > 1e-12 else "ties" if lead > -1e-12 else "trails"
    print(f"the uplift policy {verdict} the best send-everyone policy ({best})")
    return rows


def closest_segments(outcome: str, top: int = 3) -> list[dict[str, object]]:
    """The segments where another arm comes closest to the best one, per half."""
    gaps = segment_gaps(hillstrom_experiment(), outcome)
    print(
        f"\n{outcome}: where another arm comes closest to the best (rival - best "
        f"per customer in the segment, +- one standard error; gain = share x all)"
    )
    table_head(
        f"{'segment':<22} {'share':>5} {'rival':<14} {'train half':>18} "
        f"{'test half':>18} {'all rows':>18} {'gain':>8}"
    )
    for g in gaps[:top]:
        print(
            f"{g.segment:<22} {g.share:>5.2f} {g.rival:<14} "
            + " ".join(
                f"{x.value:>+9.4f} +-{x.stderr:>6.4f}" for x in (g.train, g.test, g.all)
            )
            + f" {g.gain:>+8.4f}"
        )
    return [g.as_dict() for g in gaps]


def budget_plan(chosen: str, n_boot: int, seed: int) -> dict[str, object]:
    """A budgeted plan on the same test split: 1 e-mail each, at most 10,000 sends."""
    data = hillstrom_experiment()
    train, test = split(data)
    uplift = make_learner(chosen).fit(train.X, train.treatment, train.y("spend"))
    predicted = uplift.predict(test.X)
    offers = np.array(data.arms[1:])
    candidates = pd.DataFrame(
        {
            "customer_id": np.repeat(test.row, 2),
            "offer_id": np.tile(offers, len(test)),
            "incremental_margin": predicted.ravel(),
            "cost": 1.0,
        }
    )
    caps = {"Womens E-Mail": 4000}
    budget = 10_000.0
    started = time.perf_counter()
    plan = allocate(candidates, budget=budget, max_per_customer=1, caps=caps)
    seconds = time.perf_counter() - started
    quick = greedy(candidates, budget=budget, max_per_customer=1, caps=caps)
    action = np.zeros(len(test), dtype=np.int64)
    index = {row: i for i, row in enumerate(test.row)}
    for customer, offer in zip(
        plan.assignments["customer_id"], plan.assignments["offer_id"], strict=True
    ):
        action[index[int(customer)]] = data.arms.index(offer)
    pv = policy_values(
        test.y("spend"),
        test.treatment,
        {"plan": action, "nobody": np.zeros(len(test), dtype=np.int64)},
        test.arm_shares(),
        n_boot=n_boot,
        seed=seed,
    )
    lift = pv.difference("plan", "nobody")
    print(
        f"\nbudgeted plan ({chosen}, spend uplift as margin, cost 1 per e-mail, "
        f"budget {budget:,.0f}, Womens cap {caps['Womens E-Mail']:,}, K=1): "
        f"{len(plan.assignments):,} e-mails, predicted incremental spend "
        f"{plan.expected_incremental_margin:,.0f} (bound {plan.bound:,.0f}, "
        f"optimal {plan.optimal}, {seconds:.1f} s); greedy "
        f"{quick.expected_incremental_margin:,.0f}"
    )
    print(
        f"IPS on the test split: plan minus nobody {lift.value * len(test):,.0f} "
        f"{ci(lift.ci_low * len(test), lift.ci_high * len(test), 0)} incremental spend"
    )
    return {
        "budget": budget,
        "caps": caps,
        "max_per_customer": 1,
        "summary": plan.summary(),
        "greedy_expected_incremental_margin": quick.expected_incremental_margin,
        "seconds": round(seconds, 2),
        "ips_incremental_spend": {
            k: v * len(test) for k, v in lift.as_dict().items() if k != "stderr"
        },
    }


def replicates(outcome: str, splits: int, folds: int, workers: int) -> dict[str, Any]:
    """The protocol on ``splits`` hashed splits, summarized per learner and policy."""
    rs = repeated_splits(outcome, splits, folds=folds, workers=workers)
    print(
        f"\n{outcome}: the protocol on {splits} hashed 50/50 splits "
        f"(split 0 is the one above); test Qini per learner"
    )
    table_head(
        f"{'learner':<22} {'mean':>8} {'sd':>7} {'min':>8} {'max':>8} "
        f"{'chosen':>7} {'top':>5}"
    )
    for r in rs.learner_rows():
        print(
            f"{r['learner']:<22} {r['qini_mean']:>+8.4f} {r['qini_sd']:>7.4f} "
            f"{r['qini_min']:>+8.4f} {r['qini_max']:>+8.4f} {r['chosen_in']:>7} "
            f"{r['top_in']:>5}"
        )
    choice = rs.choice()
    print(
        f"{'choice (each split)':<22} {choice['qini_mean']:>+8.4f} "
        f"{choice['qini_sd']:>7.4f}   the choice tops the test half in "
        f"{choice['top_in']} of {splits} splits"
    )
    print(f"\n{outcome}: mean test value per customer of each policy ({splits} splits)")
    table_head(f"{'policy':<36} {'mean':>8} {'sd':>7} {'beats all send-everyone':>22}")
    for p in rs.policy_rows():
        beats = p["beats_every_everyone_in"]
        print(
            f"{p['policy']:<36} {p['value_mean']:>8.4f} {p['value_sd']:>7.4f} "
            + (f"{beats:>16} of {splits}" if beats is not None else "")
        )
    return rs.as_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--outcomes", default="visit,conversion,spend")
    parser.add_argument(
        "--splits", type=int, default=10, help="repeat on R splits (below 2: skip)"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    started = time.perf_counter()
    results: dict[str, object] = {}
    spend_choice = None
    for outcome in args.outcomes.split(","):
        c = compare_learners(
            outcome, folds=args.folds, n_boot=args.n_boot, seed=args.seed
        )
        results[outcome] = {
            "chosen": c.chosen,
            "learners": learner_table(c),
            "policies": policy_table(c),
            "closest_segments": closest_segments(outcome),
        }
        if outcome == "spend":
            spend_choice = c.chosen
    plan = budget_plan(spend_choice, args.n_boot, args.seed) if spend_choice else None
    repeated = {
        outcome: replicates(outcome, args.splits, args.folds, args.workers)
        for outcome in args.outcomes.split(",")
        if args.splits > 1
    }
    seconds = time.perf_counter() - started
    print(f"\n{seconds:.1f} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "uplift",
                "data": "hillstrom, 50/50 hashed split stratified by arm",
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "n_boot": args.n_boot,
                "seed": args.seed,
                "folds": args.folds,
                "seconds": round(seconds, 1),
                "outcomes": results,
                "budget_plan": plan,
                "repeated_splits": repeated,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
