"""Validate off-policy evaluation on the real Open Bandit Dataset, then use it.

Usage: python benchmarks/bandit.py [--n-boot N] [--seed S]

1. OPE table. For each campaign (all, men, women) and direction, estimate one
   logged policy's click rate from the other policy's log (BTS log -> random
   policy, random log -> BTS policy) with IPS, SNIPS, DM and DR, and compare
   with the click rate observed in the evaluated policy's own log. See
   shopkeeper.decide.ope for exactly what is estimated.
2. Policy comparison. Train Shopkeeper's bandits (Bernoulli Thompson sampling
   and LinUCB, 10 % exploration floor) on the first half (by time) of both logs,
   freeze them (LinUCB also without its confidence bonus: "greedy"), and
   estimate their click rates by SNIPS and DR on the second half of each log,
   next to both logged policies' observed rates there.

Writes benchmarks/results/bandit.json. Clicks are rare (about 40 per 10,000
rows), so read the intervals before the point estimates.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from shopkeeper.decide.bandits import LinUCB, ThompsonSampling
from shopkeeper.decide.ope import (
    LoggedBandit,
    dr,
    fit_reward_model,
    load_open_bandit,
    snips,
    validate_open_bandit,
)

RESULTS = Path(__file__).parent / "results" / "bandit.json"
CAMPAIGNS = ("all", "men", "women")
EXPLORATION = 0.10  # total probability mass spread evenly as the floor


def pct(x: float) -> str:
    return f"{100 * x:.3f}%"


def ope_table(n_boot: int, seed: int) -> list[dict[str, object]]:
    print("Open Bandit OPE: each policy's click rate estimated from the other's log")
    header = (
        f"{'campaign':<8} {'log -> policy':<16} {'estimator':<9} {'estimate':>9} "
        f"{'95% CI':>21} {'truth':>8} {'rel.err':>8}"
    )
    print(header)
    print("-" * len(header))
    out: list[dict[str, object]] = []
    for campaign in CAMPAIGNS:
        for row in validate_open_bandit(campaign, n_boot=n_boot, seed=seed):
            e = row.estimate
            print(
                f"{campaign:<8} {row.log + ' -> ' + row.policy:<16} "
                f"{row.estimator:<9} {pct(e.value):>9} "
                f"{'[' + pct(e.ci_low) + ', ' + pct(e.ci_high) + ']':>21} "
                f"{pct(row.truth):>8} {100 * row.relative_error:>+7.0f}%"
            )
            out.append(
                {
                    "campaign": campaign,
                    "log": row.log,
                    "policy": row.policy,
                    "estimator": row.estimator,
                    **row.estimate.as_dict(),
                    "truth": row.truth,
                    "relative_error": row.relative_error,
                    "truth_in_ci": e.ci_low <= row.truth <= e.ci_high,
                }
            )
    print()
    for name in ("ips", "snips", "dm", "dr"):
        errors = [abs(r["relative_error"]) for r in out if r["estimator"] == name]  # type: ignore[arg-type]
        covered = sum(bool(r["truth_in_ci"]) for r in out if r["estimator"] == name)
        print(
            f"{name:<6} mean |relative error| {100 * np.mean(errors):5.1f}%  "
            f"truth inside the 95% CI {covered}/{len(errors)}"
        )
    print(
        "(DM's interval holds the cross-fitted reward model fixed, so it shows"
        " sampling noise only, not the model's bias.)"
    )
    return out


def linucb_features(log: LoggedBandit) -> np.ndarray:
    """(rows, items, items + 2): a constant, item one-hot, user-item affinity."""
    n, k = len(log), log.n_actions
    ones = np.ones((n, k, 1))
    eye = np.broadcast_to(np.eye(k), (n, k, k))
    affinity = np.zeros((n, k)) if log.affinities is None else log.affinities
    return np.concatenate([ones, eye, affinity[:, :, None]], axis=2)


def train_policies(
    train: list[LoggedBandit], seed: int
) -> tuple[ThompsonSampling, LinUCB]:
    n_actions = train[0].n_actions
    epsilon = EXPLORATION / n_actions
    ctr = float(np.mean(np.concatenate([t.rewards for t in train])))
    # Prior centred on the overall click rate with the weight of one click.
    ts = ThompsonSampling(
        n_actions,
        epsilon=epsilon,
        n_draws=20_000,
        prior=(1.0, 1.0 / ctr - 1.0),
        seed=seed,
    )
    # Same prior strength for LinUCB: items shrink towards the shared constant
    # by about one click's worth of impressions.
    ucb = LinUCB(n_actions + 2, alpha=0.1, ridge=1.0 / ctr, epsilon=epsilon, seed=seed)
    for log in train:
        # Replay every logged outcome, in time order, one mini-batch per 500 rows.
        for start in range(0, len(log), 500):
            part = log.subset(slice(start, start + 500))
            ts.update(part.actions, part.rewards)
            shown = linucb_features(part)[np.arange(len(part)), part.actions]
            ucb.update(shown, part.rewards)
    return ts, ucb


def linucb_distribution(policy: LinUCB, log: LoggedBandit) -> np.ndarray:
    return np.vstack(
        [
            policy.action_distribution(
                linucb_features(log.subset(slice(start, start + 1000)))
            )
            for start in range(0, len(log), 1000)
        ]
    )


def policy_comparison(n_boot: int, seed: int) -> list[dict[str, object]]:
    print(
        "\nShopkeeper's policies, trained on the first half of both logs, "
        "evaluated on the second half"
    )
    header = (
        f"{'campaign':<8} {'policy':<16} {'eval log':<8} "
        f"{'SNIPS':>9} {'95% CI':>21} {'DR':>9} {'95% CI':>21}"
    )
    print(header)
    print("-" * len(header))
    out: list[dict[str, object]] = []
    for campaign in CAMPAIGNS:
        logs = load_open_bandit(campaign)
        halves = {
            name: (
                log.subset(slice(0, len(log) // 2)),
                log.subset(slice(len(log) // 2, None)),
            )
            for name, log in logs.items()
        }
        ts, ucb = train_policies([h[0] for h in halves.values()], seed)
        # The same regression without the confidence bonus: what LinUCB has
        # learned, as opposed to what it would still explore.
        greedy = copy.copy(ucb)
        greedy.alpha = 0.0
        for name, (_, test) in halves.items():
            q_hat = fit_reward_model(test, seed=seed)
            dists = {
                "thompson": np.broadcast_to(
                    ts.action_distribution(), (len(test), test.n_actions)
                ),
                "linucb": linucb_distribution(ucb, test),
                "linucb greedy": linucb_distribution(greedy, test),
            }
            for policy, dist in dists.items():
                s = snips(test, dist, n_boot=n_boot, seed=seed)
                d = dr(test, dist, q_hat, n_boot=n_boot, seed=seed)
                print(
                    f"{campaign:<8} {policy:<16} {name:<8} {pct(s.value):>9} "
                    f"{'[' + pct(s.ci_low) + ', ' + pct(s.ci_high) + ']':>21} "
                    f"{pct(d.value):>9} "
                    f"{'[' + pct(d.ci_low) + ', ' + pct(d.ci_high) + ']':>21}"
                )
                out.append(
                    {
                        "campaign": campaign,
                        "policy": policy,
                        "eval_log": name,
                        "snips": s.as_dict(),
                        "dr": d.as_dict(),
                    }
                )
        for name, (_, test) in halves.items():
            rate = float(test.rewards.mean())
            label = f"logged {name}"
            print(f"{campaign:<8} {label:<16} {name:<8} {pct(rate):>9} (observed)")
            out.append(
                {"campaign": campaign, "policy": f"logged {name}", "observed": rate}
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    ope = ope_table(args.n_boot, args.seed)
    comparison = policy_comparison(args.n_boot, args.seed)
    seconds = time.perf_counter() - started
    print(f"\n{seconds:.1f} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "bandit",
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "n_boot": args.n_boot,
                "seed": args.seed,
                "seconds": round(seconds, 1),
                "ope": ope,
                "policy_comparison": comparison,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
