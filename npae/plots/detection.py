"""What each model detected, side by side: the anomaly map (flagged runs over the labelled ones)
and the model comparison (metric bars and the models' error curves with their thresholds)."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ._inputs import _as_mask, _as_vector
from ._style import (_SCORE_LABEL, _WINDOW_X_LABEL, STYLE, _auto_log, _figure, _fmt, _legend,
                     _log_floor, _log_scale, _message_figure, _model_colour, _note, _spans, _styled)


@_styled
def plot_anomaly_map(detected, labels=None, *, title="Anomaly map"):
    """Detected versus labelled anomalies on the time axis, one row per detector.

    ``detected`` is a bool array (N,) or ``{name: bool (N,)}`` for several models; ``labels``
    bool (N,) or None.  Each contiguous run of flagged points is drawn as one bar.
    """
    rows = dict(detected) if isinstance(detected, dict) else {"detected": detected}
    masks = {}
    N = None
    for name, m in rows.items():
        m = np.asarray(m, dtype=bool).reshape(-1)
        if N is None:
            N = m.size
        elif m.size != N:
            raise ShapeError(f"detections of {name!r} have {m.size} points, the others {N}; "
                             "pass point flags of one series")
        masks[str(name)] = m
    if N is None and labels is not None:
        N = np.asarray(labels).size
    if not N:
        return _message_figure(title, "No points: the series is empty.")
    lab = _as_mask(labels, N, "labels")
    entries = [(name, m, STYLE["anomalous"]) for name, m in masks.items()]
    if lab is not None:
        entries.append(("labelled", lab, STYLE["labelled"]))
    fig, axes = _figure(1, 1, height=1.5 + 0.55 * len(entries))
    ax = axes[0, 0]
    ticks, ticklabels = [], []
    for r, (name, m, col) in enumerate(reversed(entries)):
        spans = _spans(m)
        y = float(r)
        if spans:
            ax.broken_barh([(a - 0.5, b - a) for a, b in spans], (y - 0.35, 0.7), facecolors=col)
        else:
            ax.text(N / 2, y, "none", ha="center", va="center", color="#555555",
                    fontsize=STYLE["note_size"])
        ticks.append(y)
        ticklabels.append(f"{name}\n{len(spans)} segments, {int(m.sum())} pts")
    ax.set_yticks(ticks, ticklabels)
    ax.set_ylim(-0.6, len(entries) - 0.4)
    ax.set_xlim(-0.5, N - 0.5)
    ax.grid(False, axis="y")
    ax.set_xlabel("time step")
    notes = []
    if not any(m.any() for m in masks.values()):
        notes.append("no point was flagged as anomalous")
    if lab is None:
        notes.append("no labels given: nothing to compare with")
    elif not lab.any():
        notes.append("the labels mark no anomaly")
    if notes:
        _note(ax, "; ".join(notes))
    ax.set_title(f"{title}: points flagged by each model versus the labelled anomalies, {N} points")
    return fig


@_styled
def plot_model_comparison(metrics=None, window_scores=None, thresholds=None, *, stride=1,
                          metric_names=None, log=None, title="Model comparison"):
    """Metric bars of several models side by side, values printed, and their error curves.

    ``metrics`` ``{model: {metric label: value in [0, 1] or None}}`` (left panel);
    ``window_scores`` ``{model: (n,)}`` and ``thresholds`` ``{model: float}`` (right panel,
    threshold dashed in the model's colour).  Either panel may be left out.
    """
    metrics = {str(k): dict(v or {}) for k, v in (metrics or {}).items() if v}
    window_scores = {str(k): _as_vector(v, f"window_scores[{k!r}]") for k, v in (window_scores or {}).items()}
    thresholds = {str(k): v for k, v in (thresholds or {}).items()}
    if metric_names is None:
        metric_names = list(dict.fromkeys(m for v in metrics.values() for m in v))
    panels = (["bars"] if metrics and metric_names else []) + (["curves"] if window_scores else [])
    if not panels:
        return _message_figure(title, "Nothing to compare: no metrics (no labels?) and no scores.")
    models = list(dict.fromkeys(list(metrics) + list(window_scores)))
    colour = {m: _model_colour(i) for i, m in enumerate(models)}
    ratios = [1.0, 1.35] if len(panels) == 2 else [1.0]
    fig, axes = _figure(1, len(panels), height=4.4, width_ratios=ratios)
    if "bars" in panels:
        ax = axes[0, 0]
        names = [m for m in models if m in metrics]
        width = 0.8 / len(names)
        x = np.arange(len(metric_names))
        many = len(names) * len(metric_names) > 8  # then the printed values stand upright
        for i, m in enumerate(names):
            vals = [metrics[m].get(k) for k in metric_names]
            heights = [float(v) if v is not None and np.isfinite(float(v)) else 0.0 for v in vals]
            texts = [f"{float(v):.2f}" if v is not None and np.isfinite(float(v)) else "n/a" for v in vals]
            bars = ax.bar(x - 0.4 + width * (i + 0.5), heights, width * 0.92, color=colour[m], label=m)
            ax.bar_label(bars, labels=texts, padding=2, fontsize=STYLE["note_size"] - (1 if many else 0),
                         rotation=90 if many else 0)
        tilt = len(metric_names) > 4
        ax.set_xticks(x, metric_names, rotation=20 if tilt else 0, ha="right" if tilt else "center")
        ax.set_ylim(0, 1.3 if many else 1.2)  # room for the printed values and the legend
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_ylabel("metric value (0 to 1, higher is better)")
        ax.set_title(f"{title}: metrics")
        ax.grid(False, axis="x")
        _legend(ax, loc="upper left", ncols=min(len(names), 4))
    if "curves" in panels:
        ax = axes[0, len(panels) - 1]
        allv = []
        for m, sc in window_scores.items():
            x = np.arange(sc.size) * float(stride)
            ax.plot(x, sc, color=colour[m], linewidth=1.0, alpha=0.85, label=f"{m}")
            allv.append(sc)
            if m in thresholds and thresholds[m] is not None:
                t = float(thresholds[m])
                ax.axhline(t, color=colour[m], linestyle=STYLE["threshold_style"], linewidth=1.4,
                           label=f"{m} threshold = {_fmt(t)}")
                allv.append(np.array([t]))
        use_log, note = _auto_log(np.concatenate(allv), log)
        if use_log:
            finite_t = [float(t) for t in thresholds.values() if t is not None]
            _log_scale(ax, floor=_log_floor(np.concatenate(allv), min(finite_t)) if finite_t else None)
        if note:
            _note(ax, note)
        ax.set_xlabel(_WINDOW_X_LABEL)
        ax.set_ylabel(_SCORE_LABEL + (", log scale" if use_log else ""))
        ax.set_title(f"{title}: window errors, thresholds dashed")
        # below the axes: several curves leave no empty corner inside
        _legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, frameon=False)
    return fig
