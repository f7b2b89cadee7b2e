"""The Hillstrom protocol repeated on several hashed splits.

A single 50/50 split of Hillstrom holds fewer than 300 test buyers, so which
learner tops the test Qini on it, and whether an uplift policy beats sending
everyone the same e-mail, is close to a lottery. Repeating the whole protocol
(the choice on the training half, the scores on the test half) on several
splits shows how often the choice wins and what each learner and policy earns
on average, which one split cannot. Split 0 is the benchmark's headline split.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from shopkeeper.errors import InvalidInput
from shopkeeper.offers.hillstrom import EVERYONE, Experiment, compare_learners
from shopkeeper.offers.policy import best_offer_policy, policy_values
from shopkeeper.offers.uplift import LEARNERS, BaseModel

__all__ = ["RepeatedSplits", "Replicate", "repeated_splits", "replicate"]


@dataclass(frozen=True)
class Replicate:
    """One repetition of the whole protocol on another hashed split, as point figures.

    Attributes:
        salt: the split's salt (0 is the headline split).
        outcome: visit, conversion or spend.
        chosen: the learner :func:`select_learner` picked on this training half.
        validation_folds: learner -> Qini on each of this training half's folds.
        qini: learner -> test Qini coefficient (mean over offers).
        policy: policy -> test IPS value per customer: "uplift policy" (the
            chosen learner's), each learner's own as "uplift policy: NAME",
            and every "everyone: arm".
    """

    salt: int
    outcome: str
    chosen: str
    validation_folds: dict[str, list[float]]
    qini: dict[str, float]
    policy: dict[str, float]


def replicate(
    outcome: str,
    salt: int,
    learners: Sequence[str] = tuple(LEARNERS),
    *,
    experiment: Experiment | None = None,
    folds: int = 3,
    base: BaseModel | None = None,
) -> Replicate:
    """The protocol of :func:`compare_learners` on the split hashed with ``salt``."""
    c = compare_learners(
        outcome,
        learners,
        experiment=experiment,
        folds=folds,
        n_boot=0,
        base=base,
        split_salt=salt,
    )
    assert c.test is not None
    policies = {
        f"uplift policy: {n}": best_offer_policy(p) for n, p in c.predictions.items()
    }
    values = policy_values(
        c.test.y(outcome),
        c.test.treatment,
        policies,
        c.test.arm_shares(),
        n_boot=0,
    )
    policy = {n: float(c.policies.point[i]) for i, n in enumerate(c.policies.names)}
    policy.update({n: float(values.point[i]) for i, n in enumerate(values.names)})
    return Replicate(
        salt,
        outcome,
        c.chosen,
        c.validation_folds,
        {n: c.evaluation.score(n).value for n in c.evaluation.names},
        policy,
    )


@dataclass(frozen=True)
class RepeatedSplits:
    """The protocol's point figures on several splits, and their summaries."""

    outcome: str
    replicates: tuple[Replicate, ...]

    def __post_init__(self) -> None:
        if not self.replicates:
            raise InvalidInput("RepeatedSplits needs at least one replicate")

    @property
    def learners(self) -> list[str]:
        return list(self.replicates[0].qini)

    def _qini(self) -> np.ndarray:
        return np.array([[r.qini[n] for n in self.learners] for r in self.replicates])

    def top(self) -> list[str]:
        """The learner with the highest test Qini on each split (first on ties)."""
        return [self.learners[int(i)] for i in self._qini().argmax(axis=1)]

    def learner_rows(self) -> list[dict[str, Any]]:
        """Per learner: test Qini mean, sd, min and max; splits chosen and topped."""
        qini, top = self._qini(), self.top()
        return [
            {
                "learner": name,
                "qini_mean": float(qini[:, j].mean()),
                "qini_sd": _sd(qini[:, j]),
                "qini_min": float(qini[:, j].min()),
                "qini_max": float(qini[:, j].max()),
                "chosen_in": sum(r.chosen == name for r in self.replicates),
                "top_in": sum(t == name for t in top),
            }
            for j, name in enumerate(self.learners)
        ]

    def choice(self) -> dict[str, Any]:
        """The test Qini of whichever learner each training half chose."""
        chosen = np.array([r.qini[r.chosen] for r in self.replicates])
        top = self.top()
        return {
            "qini_mean": float(chosen.mean()),
            "qini_sd": _sd(chosen),
            "top_in": sum(
                r.chosen == t for r, t in zip(self.replicates, top, strict=True)
            ),
        }

    def policy_rows(self) -> list[dict[str, Any]]:
        """Per policy: mean and sd of its test value, and (for the uplift
        policies) in how many splits it beat every send-everyone policy."""
        names = list(self.replicates[0].policy)
        value = np.array([[r.policy[n] for n in names] for r in self.replicates])
        everyone = [j for j, n in enumerate(names) if n.startswith(EVERYONE)]
        best = value[:, everyone].max(axis=1) if everyone else None
        return [
            {
                "policy": name,
                "value_mean": float(value[:, j].mean()),
                "value_sd": _sd(value[:, j]),
                "beats_every_everyone_in": (
                    None
                    if j in everyone or best is None
                    else int(np.sum(value[:, j] > best))
                ),
            }
            for j, name in enumerate(names)
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "splits": len(self.replicates),
            "choice": self.choice(),
            "learners": self.learner_rows(),
            "policies": self.policy_rows(),
            "per_split": [
                {"salt": r.salt, "chosen": r.chosen, "qini": r.qini, "policy": r.policy}
                for r in self.replicates
            ],
        }


def _sd(x: np.ndarray) -> float:
    return float(x.std(ddof=1)) if len(x) > 1 else 0.0


def repeated_splits(
    outcome: str,
    splits: int,
    learners: Sequence[str] = tuple(LEARNERS),
    *,
    experiment: Experiment | None = None,
    folds: int = 3,
    workers: int = 1,
) -> RepeatedSplits:
    """:func:`replicate` on splits ``0 .. splits - 1``, on ``workers`` processes.

    Worker processes are spawned, not forked: a fork after LightGBM has
    started its OpenMP threads can leave the child waiting on a lock nobody
    holds.
    """
    if splits < 1:
        raise InvalidInput(f"splits must be at least 1, not {splits}")
    run = partial(
        replicate, outcome, learners=tuple(learners), experiment=experiment, folds=folds
    )
    if workers <= 1:
        reps = [run(salt) for salt in range(splits)]
    else:
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
            reps = list(pool.map(run, range(splits)))
    return RepeatedSplits(outcome, tuple(reps))
