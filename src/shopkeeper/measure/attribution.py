"""Credit for conversions that followed touches in several channels.

Position rules (last touch, first touch, linear, time decay) split each
converting path on its own. The data-driven rules look at every path,
converting or not, so a channel that appears as often in paths that fail gets
less credit than its positions suggest:

- Markov removal effect: fit a first-order chain ``start -> channels ->
  conversion | null`` from the paths; a channel's removal effect is the share
  of the conversion probability lost when its visits go to ``null``; credit is
  proportional to the removal effects.
- Shapley value: the worth of a set of channels ``S`` is the sum of the
  conversion rates of paths whose channel set ``T`` lies inside ``S``
  (``v(S) = sum_{T subset S} conversions(T) / paths(T)``); each channel gets its
  exact Shapley value over all subsets (channels are few), scaled so credit
  sums to the conversions. Using rates, not counts, is what lets
  non-converting paths lower a channel's worth.

Each rule returns credited conversions and revenue per channel; both sum to
the totals of the converting paths.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from shopkeeper.errors import InvalidInput

__all__ = [
    "MAX_SHAPLEY_CHANNELS",
    "MODELS",
    "Attribution",
    "Path",
    "attribute",
    "markov_removal_effects",
    "shapley_values",
]

MAX_SHAPLEY_CHANNELS = 12
"""Exact Shapley enumerates 2**n subsets; beyond this it is too slow to be exact."""
MODELS = ("last_touch", "first_touch", "linear", "time_decay", "markov", "shapley")


@dataclass(frozen=True)
class Path:
    """One customer's touches up to a conversion (or to the end, unconverted).

    ``hours_before`` is each touch's age at the conversion (or at the path's
    end when it did not convert), in touch order.
    """

    channels: tuple[str, ...]
    converted: bool
    value: float = 0.0
    hours_before: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not self.channels:
            raise InvalidInput("a path needs at least one touch")
        if self.hours_before and len(self.hours_before) != len(self.channels):
            raise InvalidInput("hours_before must give one age per touch")


@dataclass(frozen=True)
class Attribution:
    """Conversions and revenue credited to each channel by one model."""

    model: str
    conversions: dict[str, float]
    revenue: dict[str, float]


Weights = Callable[[Path], dict[str, float]]


def _last(path: Path) -> dict[str, float]:
    return {path.channels[-1]: 1.0}


def _first(path: Path) -> dict[str, float]:
    return {path.channels[0]: 1.0}


def _linear(path: Path) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for c in path.channels:
        out[c] += 1 / len(path.channels)
    return out


def _time_decay(half_life_hours: float) -> Weights:
    if half_life_hours <= 0:
        raise InvalidInput(f"half-life must be positive, got {half_life_hours}")

    def weights(path: Path) -> dict[str, float]:
        if not path.hours_before:
            raise InvalidInput("time decay needs the age of every touch")
        raw = [0.5 ** (age / half_life_hours) for age in path.hours_before]
        total = sum(raw)
        out: dict[str, float] = defaultdict(float)
        for c, w in zip(path.channels, raw, strict=True):
            out[c] += w / total
        return out

    return weights


def _by_position(model: str, paths: Sequence[Path], weights: Weights) -> Attribution:
    conv: dict[str, float] = defaultdict(float)
    rev: dict[str, float] = defaultdict(float)
    for path in paths:
        if not path.converted:
            continue
        for channel, share in weights(path).items():
            conv[channel] += share
            rev[channel] += share * path.value
    return Attribution(model, dict(conv), dict(rev))


def _by_share(
    model: str, paths: Sequence[Path], share: dict[str, float]
) -> Attribution:
    converted = [p for p in paths if p.converted]
    n, value = len(converted), sum(p.value for p in converted)
    total = sum(share.values())
    if total <= 0:
        return Attribution(model, {c: 0.0 for c in share}, {c: 0.0 for c in share})
    return Attribution(
        model,
        {c: n * s / total for c, s in share.items()},
        {c: value * s / total for c, s in share.items()},
    )


_START, _CONV, _NULL = "(start)", "(conversion)", "(null)"


def _conversion_probability(
    counts: dict[str, Counter[str]], channels: list[str], removed: str | None
) -> float:
    """P(reach conversion from start) of the absorbing chain, one channel removed."""
    states = [_START, *channels]
    index = {s: i for i, s in enumerate(states)}
    q = np.zeros((len(states), len(states)))
    r = np.zeros(len(states))
    for source, targets in counts.items():
        if source == removed:
            continue  # a removed channel leads nowhere: all its mass goes to null
        total = sum(targets.values())
        for target, k in targets.items():
            if target == _CONV:
                r[index[source]] += k / total
            elif target != _NULL:
                q[index[source], index[target]] += k / total
    solved = np.linalg.solve(np.eye(len(states)) - q, r)
    return float(solved[index[_START]])


def markov_removal_effects(paths: Sequence[Path]) -> dict[str, float]:
    """Each channel's removal effect: 1 - P(conversion without it) / P(conversion)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for path in paths:
        walk = [_START, *path.channels, _CONV if path.converted else _NULL]
        for a, b in itertools.pairwise(walk):
            counts[a][b] += 1
    channels = sorted({c for p in paths for c in p.channels})
    base = _conversion_probability(counts, channels, None) if paths else 0.0
    if base <= 0:
        return {c: 0.0 for c in channels}
    return {
        c: 1 - _conversion_probability(counts, channels, c) / base for c in channels
    }


def shapley_values(paths: Sequence[Path]) -> dict[str, float]:
    """Exact Shapley values of the channel game described in the module doc."""
    channels = sorted({c for p in paths for c in p.channels})
    if len(channels) > MAX_SHAPLEY_CHANNELS:
        raise InvalidInput(
            f"exact Shapley over {len(channels)} channels is too costly "
            f"(limit {MAX_SHAPLEY_CHANNELS}); group channels first"
        )
    bit = {c: 1 << i for i, c in enumerate(channels)}
    seen: Counter[int] = Counter()
    won: Counter[int] = Counter()
    for path in paths:
        mask = sum(bit[c] for c in set(path.channels))
        seen[mask] += 1
        won[mask] += path.converted
    rate = {m: won[m] / seen[m] for m in seen}
    n = len(channels)
    worth = [sum(r for m, r in rate.items() if m & s == m) for s in range(1 << n)]
    out = {}
    for c in channels:
        b, value = bit[c], 0.0
        for s in range(1 << n):
            if s & b:
                continue
            k = bin(s).count("1")
            weight = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            value += weight * (worth[s | b] - worth[s])
        out[c] = value
    return out


def attribute(
    paths: Sequence[Path], model: str, *, half_life_hours: float = 168.0
) -> Attribution:
    """Credit conversions and revenue to channels with one of :data:`MODELS`.

    ``half_life_hours`` is for ``time_decay``: a touch that many hours before
    the conversion counts half as much as one at the moment of conversion
    (one week by default, a common retail purchase cycle).
    """
    if model == "last_touch":
        return _by_position(model, paths, _last)
    if model == "first_touch":
        return _by_position(model, paths, _first)
    if model == "linear":
        return _by_position(model, paths, _linear)
    if model == "time_decay":
        return _by_position(model, paths, _time_decay(half_life_hours))
    if model == "markov":
        return _by_share(model, paths, markov_removal_effects(paths))
    if model == "shapley":
        return _by_share(model, paths, shapley_values(paths))
    raise InvalidInput(f"unknown attribution model {model!r}; use one of {MODELS}")
