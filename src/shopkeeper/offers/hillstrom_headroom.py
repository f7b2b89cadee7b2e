"""Where on Hillstrom a targeted policy could beat sending everyone the best e-mail.

A targeted policy earns more than "everyone gets the best arm" only by giving
some customers another arm, and only where that other arm truly does better.
For every segment that one binary feature defines, this module sets the arm
closest to the best one in that segment (its *rival*) against the best arm,
on the training half, the test half and all rows. When the rival's lead over
all rows is within noise everywhere, no learner can be expected to win on a
given test half, and which one does is decided by how that split happened to
fall: the training half can point one way in a segment and the test half the
other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopkeeper.errors import InvalidInput
from shopkeeper.offers.hillstrom import Experiment, split

__all__ = ["Gap", "SegmentGap", "segment_gaps"]


@dataclass(frozen=True)
class Gap:
    """A difference of two arms' mean outcomes with its standard error (Welch)."""

    value: float
    stderr: float

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "stderr": self.stderr}


@dataclass(frozen=True)
class SegmentGap:
    """The rival arm against the best arm in one segment.

    Attributes:
        segment: e.g. ``mens = 0`` for a flag, ``channel=Web`` or
            ``channel!=Web`` for one level of a one-hot feature.
        share: the segment's share of all rows.
        best: the arm with the highest mean on the training half, the one a
            send-everyone policy picked there would send.
        rival: the other arm (control included) with the highest mean in the
            segment over all rows.
        train, test, all: rival minus best, in the segment, on each part.
    """

    segment: str
    share: float
    best: str
    rival: str
    train: Gap
    test: Gap
    all: Gap

    @property
    def gain(self) -> float:
        """Per customer (of all), what sending the rival to this segment adds."""
        return self.share * self.all.value

    def as_dict(self) -> dict[str, object]:
        return {
            "segment": self.segment,
            "share": self.share,
            "best": self.best,
            "rival": self.rival,
            "train": self.train.as_dict(),
            "test": self.test.as_dict(),
            "all": self.all.as_dict(),
            "gain_per_customer": self.gain,
        }


def _gap(y: np.ndarray, treatment: np.ndarray, rival: int, best: int) -> Gap:
    a, b = y[treatment == rival], y[treatment == best]
    if len(a) < 2 or len(b) < 2:
        return Gap(float("nan"), float("nan"))
    stderr = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return Gap(float(a.mean() - b.mean()), float(stderr))


def _segments(experiment: Experiment) -> list[tuple[str, np.ndarray]]:
    """One mask per level of every 0/1 column of ``X``."""
    out = []
    for j, name in enumerate(experiment.feature_names):
        column = experiment.X[:, j]
        if not np.isin(column, (0.0, 1.0)).all():
            continue
        if "=" in name:
            out.append((name, column == 1.0))
            out.append((name.replace("=", "!=", 1), column == 0.0))
        else:
            out.append((f"{name} = 1", column == 1.0))
            out.append((f"{name} = 0", column == 0.0))
    return out


def segment_gaps(
    experiment: Experiment,
    outcome: str,
    *,
    split_salt: int = 0,
    test_share: float = 0.5,
    min_share: float = 0.1,
) -> list[SegmentGap]:
    """Every binary-feature segment's rival arm against the best arm, closest first.

    Segments smaller than ``min_share`` of the rows are left out: on a few
    thousand customers a rival's lead is noise at any size. The split is the
    one :func:`~shopkeeper.offers.hillstrom.split` makes with ``split_salt``,
    so salt 0 explains the benchmark's headline split.
    """
    if not 0 < min_share < 1:
        raise InvalidInput(f"min_share must lie in (0, 1), not {min_share}")
    y = experiment.y(outcome)
    train, _ = split(experiment, test_share, salt=split_salt)
    means = [
        train.y(outcome)[train.treatment == a].mean() for a in range(len(train.arms))
    ]
    best = int(np.argmax(means))
    in_train = np.isin(experiment.row, train.row)
    rows = []
    for name, mask in _segments(experiment):
        share = float(mask.mean())
        if share < min_share:
            continue
        t = experiment.treatment[mask]
        others = [a for a in range(len(experiment.arms)) if a != best]
        rival = max(others, key=lambda a: float(y[mask][t == a].mean()))
        parts = {
            "train": mask & in_train,
            "test": mask & ~in_train,
            "all": mask,
        }
        gaps = {
            part: _gap(y[m], experiment.treatment[m], rival, best)
            for part, m in parts.items()
        }
        rows.append(
            SegmentGap(
                name,
                share,
                experiment.arms[best],
                experiment.arms[rival],
                gaps["train"],
                gaps["test"],
                gaps["all"],
            )
        )
    return sorted(rows, key=lambda r: r.all.value, reverse=True)
