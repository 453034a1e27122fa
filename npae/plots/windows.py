"""Windows picked by their score, to see what the model calls normal and anomalous: the extremes
side by side, the windows of a score range overlaid, and the mean and spread of normal versus
flagged windows."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ._inputs import _as_mask, _as_vector, _as_windows
from ._style import (_SCALED_LABEL, STYLE, _feature_names, _figure, _fmt, _int_ticks, _legend,
                     _message_figure, _model_colour, _note, _styled, _window_span)


def _plot_window(ax, w, colour, names, *, style="-", label_features=False):
    """One window (T, D): one line per feature (the normal/anomalous colour when D = 1)."""
    T, D = w.shape
    for j in range(D):
        ax.plot(np.arange(T), w[:, j], style, color=colour if D == 1 else _model_colour(j),
                linewidth=STYLE["line_width"], label=names[j] if label_features else None)


def _distinct(order, k, stride, T):
    """The first ``k`` windows of ``order`` that overlap none picked before (so the picks show
    ``k`` different stretches of the series, not one event shifted by a step), topped up in
    ``order`` when there are fewer than ``k`` such windows."""
    picked = []
    for i in order:
        if all(abs(int(i) - j) * stride >= T for j in picked):
            picked.append(int(i))
            if len(picked) == k:
                return picked
    rest = [int(i) for i in order if int(i) not in picked]
    return picked + rest[:k - len(picked)]


@_styled
def plot_extreme_windows(windows, scores, *, k=3, stride=1, distinct=True, feature_names=None,
                         title="Lowest- and highest-scoring windows"):
    """The ``k`` lowest-scoring windows (left column) beside the ``k`` highest (right column),
    on one shared y scale so their shapes compare directly (guide 5.2.2).

    ``windows`` (n, T, D) (the scaled model inputs) and ``scores`` (n,).  ``distinct=True`` skips
    windows overlapping one already shown (window i covers steps ``i*stride … i*stride+T-1``).
    """
    w = _as_windows(windows)
    n, T, D = w.shape
    sc = _as_vector(scores, "scores")
    if sc.size != n:
        raise ShapeError(f"{sc.size} scores for {n} windows; pass one score per window")
    if n == 0:
        return _message_figure(title, "No windows to show.")
    k = max(1, min(int(k), n))
    order = np.argsort(np.where(np.isfinite(sc), sc, np.inf), kind="stable")
    if distinct:
        low, high = _distinct(order, k, stride, T), _distinct(order[::-1], k, stride, T)
    else:
        low, high = order[:k], order[::-1][:k]
    names = _feature_names(feature_names, D)
    fig, axes = _figure(k, 2, height=1.2 + 1.75 * k, sharex=True, sharey=True)
    for col, (idx, colour, what) in enumerate(((low, STYLE["normal"], "lowest"),
                                                (high, STYLE["anomalous"], "highest"))):
        for r, i in enumerate(idx):
            ax = axes[r, col]
            _plot_window(ax, w[i], colour, names, label_features=(D > 1 and r == 0 and col == 0))
            ax.set_title(f"{what} #{r + 1}: window {int(i)} ({_window_span(int(i), stride, T)}), "
                         f"score {_fmt(sc[i])}", fontsize=STYLE["tick_size"] + 0.5)
        axes[k - 1, col].set_xlabel("step in window")
        _int_ticks(axes[k - 1, col])
    for r in range(k):
        axes[r, 0].set_ylabel(_SCALED_LABEL)
    if D > 1:
        _legend(axes[0, 0], loc="best", ncols=min(D, 3))
    if n < 2 * k:
        _note(axes[0, 0], "a single window: it is both the lowest and the highest" if n == 1
              else f"only {n} windows: the two columns share some")
    fig.suptitle(f"{title}: left = most normal (lowest score), right = most anomalous (highest)")
    return fig


@_styled
def plot_windows_by_score_range(windows, scores, ranges, *, threshold=None, max_windows=30,
                                stride=1, feature=0, feature_names=None,
                                title="Windows by score range"):
    """For each ``(low, high)`` in ``ranges``, the windows whose score lies in it, overlaid
    (guide 5.2.2).  Up to ``max_windows`` per panel, evenly spaced in
    score order.  A range entirely above ``threshold`` is drawn in the anomalous colour.
    Multivariate windows show feature ``feature``.
    """
    w = _as_windows(windows)
    n, T, D = w.shape
    sc = _as_vector(scores, "scores")
    if sc.size != n:
        raise ShapeError(f"{sc.size} scores for {n} windows; pass one score per window")
    ranges = [(float(a), float(b)) for a, b in ranges]
    if n == 0 or not ranges:
        return _message_figure(title, "No windows or no score range to show.")
    if not 0 <= feature < D:
        raise ShapeError(f"feature {feature} is out of range for {D} features")
    names = _feature_names(feature_names, D)
    fig, axes = _figure(1, len(ranges), height=3.8, sharey=True)
    for c, (a, b) in enumerate(ranges):
        ax = axes[0, c]
        inside = np.flatnonzero((sc >= a) & (sc <= b))
        colour = STYLE["anomalous"] if threshold is not None and a >= float(threshold) else STYLE["normal"]
        if inside.size:
            chosen = inside[np.argsort(sc[inside], kind="stable")]
            if chosen.size > max_windows:
                chosen = chosen[np.linspace(0, chosen.size - 1, max_windows).round().astype(int)]
            for i in chosen:
                ax.plot(np.arange(T), w[i, :, feature], color=colour, linewidth=1.0, alpha=0.5)
            shown = f", {chosen.size} drawn" if chosen.size < inside.size else ""
        else:
            _note(ax, "no window has a score in this range")
            shown = ""
        ax.set_title(f"{inside.size} windows with score in [{_fmt(a)}, {_fmt(b)}]{shown}",
                     fontsize=STYLE["tick_size"] + 1)
        ax.set_xlabel("step in window")
        _int_ticks(ax)
    axes[0, 0].set_ylabel(_SCALED_LABEL + ("" if D == 1 else f" ({names[feature]})"))
    fig.suptitle(title)
    return fig


@_styled
def plot_mean_spread(windows, flags, *, feature_names=None, max_features=4,
                     title="Mean and spread of normal versus flagged windows"):
    """Per step in the window: the mean (line), ±1 standard deviation (dark band) and the 5–95 %
    range (light band) of the windows not flagged (left) and flagged (right) (guide 5.2.3).

    ``windows`` (n, T, D), ``flags`` bool (n,).  One row per feature, at most ``max_features``.
    """
    w = _as_windows(windows)
    n, T, D = w.shape
    if n == 0:
        return _message_figure(title, "No windows to summarise.")
    fl = _as_mask(flags, n, "flags")
    if fl is None:
        fl = np.zeros(n, dtype=bool)
    names = _feature_names(feature_names, D)
    rows = min(D, max_features)
    fig, axes = _figure(rows, 2, height=1.2 + 2.4 * rows, sharex=True, sharey=True)
    t = np.arange(T)
    groups = ((~fl, STYLE["normal"], "not flagged"), (fl, STYLE["anomalous"], "flagged as anomalous"))
    for c, (g, colour, what) in enumerate(groups):
        for j in range(rows):
            ax = axes[j, c]
            if g.any():
                x = w[g, :, j]
                mean, std = x.mean(axis=0), x.std(axis=0)
                p5, p95 = np.percentile(x, [5, 95], axis=0)
                ax.fill_between(t, p5, p95, color=colour, alpha=0.15, linewidth=0)
                ax.fill_between(t, mean - std, mean + std, color=colour, alpha=0.35, linewidth=0)
                ax.plot(t, mean, color=colour, linewidth=2.0)
                if int(g.sum()) == 1 and j == 0:
                    _note(ax, "a single window: no spread")
            elif j == 0:
                _note(ax, f"no window is {what}" + (": nothing detected" if c == 1 else ""))
            if c == 0:
                ax.set_ylabel(_SCALED_LABEL + ("" if D == 1 else f"\n{names[j]}"))
        axes[0, c].set_title(f"{what} ({int(g.sum())} windows)")
        axes[rows - 1, c].set_xlabel("step in window")
        _int_ticks(axes[rows - 1, c])
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    grey = "#555555"
    handles = [Line2D([], [], color=grey, linewidth=2.0), Patch(color=grey, alpha=0.35, linewidth=0),
               Patch(color=grey, alpha=0.15, linewidth=0)]
    fig.legend(handles, ["mean", "mean \u00b1 1 standard deviation", "5\u201395 % of windows"],
               loc="outside lower center", ncols=3, fontsize=STYLE["legend_size"])
    fig.suptitle(title + (f" ({rows} of {D} features shown)" if rows < D else ""))
    return fig
