"""Charts drawn on the server as inline SVG (matplotlib, no pyplot).

Server-side drawing keeps the pages free of scripts fetched from elsewhere,
makes a chart exactly as reproducible as the numbers under it (the JSON
twin), and works in e-mailed or printed pages too. Each function takes plain
lists, so a template draws straight from the data its JSON twin returns.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from markupsafe import Markup
from matplotlib import rcParams
from matplotlib.figure import Figure

__all__ = ["bars", "curves", "intervals", "lines"]

rcParams["svg.fonttype"] = "none"  # text stays text: smaller, selectable
rcParams["svg.hashsalt"] = "shopkeeper"  # the same data draws the same SVG
rcParams["font.size"] = 9
PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#718096")


def _figure(width: float, height: float) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height), dpi=96)
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e2e8f0", linewidth=0.8)
    ax.set_axisbelow(True)
    return fig, ax


def _svg(fig: Figure, label: str) -> Markup:
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and doctype
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{_attr(label)}" ', 1)
    return Markup(f'<figure class="chart">{svg}</figure>')


def _attr(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def _empty(label: str) -> Markup:
    return Markup('<p class="empty">No data for “{}” yet.</p>').format(label)


def lines(
    x: Sequence[object],
    series: dict[str, Sequence[float | None]],
    *,
    title: str,
    ylabel: str = "",
    width: float = 7.0,
    height: float = 2.8,
    markers: bool = False,
) -> Markup:
    """One line per series over a shared x axis (weeks, days). ``markers``
    puts a dot at every point and starts the y axis at 0, so a series of
    one or a few days (a new placement's first decisions) still shows."""
    if not x or not series:
        return _empty(title)
    fig, ax = _figure(width, height)
    labels = [str(v) for v in x]
    for i, (name, ys) in enumerate(series.items()):
        ax.plot(
            labels,
            [float("nan") if y is None else y for y in ys],
            label=name,
            color=PALETTE[i % len(PALETTE)],
            linewidth=1.6,
            **({"marker": "o", "markersize": 4} if markers else {}),
        )
    step = max(1, len(labels) // 8)
    ax.set_xticks(range(0, len(labels), step), labels[::step], rotation=0)
    if markers:
        ax.set_ylim(bottom=0)
    ax.set_title(title, loc="left")
    ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(frameon=False, ncols=min(len(series), 4))
    return _svg(fig, title)


def bars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    xlabel: str = "",
    reference: float | None = None,
    width: float = 6.0,
) -> Markup:
    """Horizontal bars, largest first as given; ``reference`` draws a line
    (1.0 for an index, where bars right of it over-index)."""
    if not labels:
        return _empty(title)
    fig, ax = _figure(width, 0.8 + 0.28 * len(labels))
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color="#e2e8f0", linewidth=0.8)
    ax.barh(range(len(labels)), values, color=PALETTE[0])
    ax.set_yticks(range(len(labels)), [str(v)[:32] for v in labels])
    ax.invert_yaxis()
    if reference is not None:
        ax.axvline(reference, color="#4a5568", linewidth=1, linestyle="--")
    ax.set_title(title, loc="left")
    ax.set_xlabel(xlabel)
    return _svg(fig, title)


def intervals(
    labels: Sequence[str],
    estimates: Sequence[float | None],
    lows: Sequence[float | None],
    highs: Sequence[float | None],
    *,
    title: str,
    xlabel: str = "",
    width: float = 6.0,
) -> Markup:
    """Point estimates with their 95% intervals against zero (a forest plot):
    an interval that crosses the dashed line is not distinguishable from no
    effect."""
    rows = [
        (label, est, lo, hi)
        for label, est, lo, hi in zip(labels, estimates, lows, highs, strict=True)
        if est is not None
    ]
    if not rows:
        return _empty(title)
    fig, ax = _figure(width, 0.9 + 0.32 * len(rows))
    ax.grid(axis="y", visible=False)
    for i, (_, est, lo, hi) in enumerate(rows):
        if lo is not None and hi is not None:
            color = PALETTE[2] if lo > 0 else PALETTE[1] if hi < 0 else PALETTE[5]
            ax.plot([lo, hi], [i, i], color=color, linewidth=2.2)
        else:
            color = PALETTE[5]
        ax.plot([est], [i], "o", color=color)
    ax.axvline(0, color="#4a5568", linewidth=1, linestyle="--")
    ax.set_yticks(range(len(rows)), [str(r[0])[:32] for r in rows])
    ax.invert_yaxis()
    ax.set_title(title, loc="left")
    ax.set_xlabel(xlabel)
    return _svg(fig, title)


def curves(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str,
    xlabel: str = "",
    ylabel: str = "",
    diagonal: bool = True,
    width: float = 5.5,
    height: float = 3.6,
) -> Markup:
    """x/y curves on shared axes, e.g. Qini or uplift curves, with the
    random-targeting diagonal from the first point to the last."""
    if not series:
        return _empty(title)
    fig, ax = _figure(width, height)
    ends: list[tuple[float, float, float, float]] = []
    for i, (name, (xs, ys)) in enumerate(series.items()):
        ax.plot(xs, ys, label=name, color=PALETTE[i % len(PALETTE)], linewidth=1.6)
        if xs:
            ends.append((xs[0], ys[0], xs[-1], ys[-1]))
    if diagonal and ends:
        x0, y0, x1, y1 = ends[0]
        ax.plot([x0, x1], [y0, y1], color="#a0aec0", linestyle="--", label="random")
    ax.set_title(title, loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False)
    return _svg(fig, title)
