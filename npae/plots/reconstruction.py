"""Inside the model: chosen windows beside their reconstruction, with the error per step, and as
features x steps heat maps of the input and of the error."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ._inputs import _as_vector, _as_windows
from ._style import (_SCALED_LABEL, STYLE, _feature_names, _figure, _fmt, _int_ticks, _legend,
                     _message_figure, _model_colour, _note, _styled, _window_span)


def _pick_indices(scores, n, indices, default):
    """Window indices to show: the given ones (checked), else ``default(order)``."""
    if indices is not None:
        idx = [int(i) for i in np.atleast_1d(indices)]
        for i in idx:
            if not -n <= i < n:
                raise ShapeError(f"window index {i} is out of range for {n} windows")
        return [i % n for i in idx]
    if scores is None:
        return [0]
    s = np.where(np.isfinite(scores), scores, -np.inf)
    return default(np.argsort(s, kind="stable"))


def _rank_words(scores, idx):
    """"lowest score: ", "median score: ", "highest score: " (or "") for the picked windows."""
    if scores is None:
        return [""] * len(idx)
    s = np.where(np.isfinite(scores), scores, -np.inf)
    out = []
    for i in idx:
        if s[i] == s.min():
            out.append("lowest score: ")
        elif s[i] == s.max():
            out.append("highest score: ")
        elif s[i] == np.sort(s)[len(s) // 2]:
            out.append("median score: ")
        else:
            out.append("")
    return out


def _low_median_high(order):
    """The lowest-, median- and highest-scoring window (duplicates removed, order kept)."""
    picks = [int(order[0]), int(order[len(order) // 2]), int(order[-1])]
    return list(dict.fromkeys(picks))


def _picks(w, e, scores, indices, stride, feature_names):
    """The windows both figures here show, or None when there is no window.

    Checks that the errors ``e`` match the windows ``w`` (n, T, D), picks at most 4 windows
    (``indices``, else the lowest-, median- and highest-scoring, else window 0) and returns
    ``(indices, column titles, feature names)``; a title names the window's rank, its span
    and, with ``scores``, its score.
    """
    if e.shape != w.shape:
        raise ShapeError(f"step_errors {e.shape} and windows {w.shape} differ in shape")
    n, T, D = w.shape
    if n == 0:
        return None
    sc = None if scores is None else _as_vector(scores, "scores")
    idx = _pick_indices(sc, n, indices, _low_median_high)[:4]
    titles = []
    for kind, i in zip(_rank_words(sc, idx), idx):
        title = f"{kind}window {i} ({_window_span(i, stride, T)})"
        if sc is not None:
            title += f"\nscore {_fmt(sc[i])}"
        titles.append(title)
    return idx, titles, _feature_names(feature_names, D)


@_styled
def plot_reconstruction(windows, reconstructions, step_errors=None, *, indices=None, scores=None,
                        stride=1, feature_names=None, title="Input versus reconstruction"):
    """Chosen windows: input (solid) and reconstruction (dashed) on top, the per-step squared
    error (mean over features) as bars below, so the reader sees *where* the model failed.

    ``windows``, ``reconstructions``, ``step_errors`` (n, T, D); ``step_errors`` defaults to
    ``(windows - reconstructions)**2``.  ``indices``: windows to show (default, with ``scores``:
    the lowest-, median- and highest-scoring; without: window 0).  At most 4 columns.
    """
    w = _as_windows(windows)
    r = _as_windows(reconstructions, "reconstructions")
    if r.shape != w.shape:
        raise ShapeError(f"reconstructions {r.shape} and windows {w.shape} differ in shape; pass "
                         "the model's output for exactly these windows")
    e = (w - r) ** 2 if step_errors is None else _as_windows(step_errors, "step_errors")
    picks = _picks(w, e, scores, indices, stride, feature_names)
    if picks is None:
        return _message_figure(title, "No windows to show.")
    idx, titles, names = picks
    _, T, D = w.shape
    fig, axes = _figure(2, len(idx), height=5.2, sharex=True, sharey="row", height_ratios=[2, 1])
    t = np.arange(T)
    for c, i in enumerate(idx):
        top, bottom = axes[0, c], axes[1, c]
        for j in range(D):
            col_in = STYLE["normal"] if D == 1 else _model_colour(j)
            top.plot(t, w[i, :, j], color=col_in, linewidth=1.6, label="input" if D == 1 else names[j])
            top.plot(t, r[i, :, j], STYLE["threshold_style"], color=STYLE["reconstruction"] if D == 1 else col_in,
                     linewidth=1.6, label="reconstruction" if D == 1 else None)
        err = e[i].mean(axis=1)
        bottom.bar(t, err, width=0.85, color=STYLE["anomalous"], alpha=0.85)
        top.set_title(titles[c], fontsize=STYLE["tick_size"] + 1)
        bottom.set_xlabel("step in window")
        _int_ticks(bottom)
        if c == 0:
            top.set_ylabel(_SCALED_LABEL)
            bottom.set_ylabel("squared error" + ("" if D == 1 else "\n(mean of features)"))
            if D == 1:
                _legend(top)
            elif D <= 12:  # features by colour, below the figure (solid/dashed is in the title)
                handles, labels = top.get_legend_handles_labels()
                fig.legend(handles, labels, loc="outside lower center", ncols=min(D, 6),
                           fontsize=STYLE["legend_size"])
        if not err.any():
            _note(bottom, "perfect reconstruction: zero error")
    fig.suptitle(f"{title}: solid = input, dashed = reconstruction; bars = error per step")
    return fig


@_styled
def plot_feature_heatmaps(windows, step_errors, *, indices=None, scores=None, stride=1,
                          feature_names=None, title="Windows and their reconstruction error, per feature"):
    """For chosen windows, a features x steps heat map of the input (top row) and of the squared
    reconstruction error (bottom row), one colour scale per row, so a reader sees which feature
    at which step is anomalous (guide section 6).

    ``windows``, ``step_errors`` (n, T, D).  ``indices`` default (with ``scores``): the lowest-,
    median- and highest-scoring windows.  At most 4 columns.
    """
    w = _as_windows(windows)
    e = _as_windows(step_errors, "step_errors")
    picks = _picks(w, e, scores, indices, stride, feature_names)
    if picks is None:
        return _message_figure(title, "No windows to show.")
    idx, titles, names = picks
    _, T, D = w.shape
    fig, axes = _figure(2, len(idx), height=1.6 + 2.0 * (1.0 + min(D, 12) / 6.0), sharex=True, sharey=True)
    vmin, vmax = float(np.min(w[idx])), float(np.max(w[idx]))
    emax = float(np.max(e[idx])) or 1.0
    for c, i in enumerate(idx):
        im_v = axes[0, c].imshow(w[i].T, aspect="auto", interpolation="nearest", cmap=STYLE["value_cmap"],
                                 vmin=vmin, vmax=vmax if vmax > vmin else vmin + 1.0)
        im_e = axes[1, c].imshow(e[i].T, aspect="auto", interpolation="nearest", cmap=STYLE["error_cmap"],
                                 vmin=0.0, vmax=emax)
        axes[0, c].set_title(titles[c], fontsize=STYLE["tick_size"] + 0.5)
        axes[1, c].set_xlabel("step in window")
        _int_ticks(axes[1, c])
        for ax in axes[:, c]:
            ax.grid(False)
    if D <= 20:
        axes[0, 0].set_yticks(np.arange(D), names)
    axes[0, 0].set_ylabel("input")
    axes[1, 0].set_ylabel("squared error")
    fig.colorbar(im_v, ax=list(axes[0, :]), label=_SCALED_LABEL, shrink=0.9)
    fig.colorbar(im_e, ax=list(axes[1, :]), label="squared error", shrink=0.9)
    if not e[idx].any():
        _note(axes[1, 0], "zero error everywhere")
    if D == 1:
        _note(axes[0, 0], "a single feature: the line plots show it better")
    fig.suptitle(title)
    return fig
