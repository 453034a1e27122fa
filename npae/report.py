"""The one-page report of a run: every applicable figure, saved as PNG or SVG, and ``report.html``.

``npae demo``, ``npae detect`` and ``npae score`` build a :class:`ReportRun` and call
:func:`write_report`.  The page is self-contained: images are embedded as ``data:`` URIs, the
style sheet is inline, there is no script and a Content-Security-Policy forbids any network
request, so it opens anywhere offline.  Everything that comes from data (titles, settings,
model and feature names) is HTML-escaped.

What the report takes is one typed record, :class:`ReportRun`: the run's facts (title, command,
settings, warnings, the series and its labels, window size, stride, training rows) and, per
model, a :class:`ModelResult` (scores, thresholds, flags, the windows and their
reconstructions, the training history) whose :class:`ModelMetrics` hold the numbers of the
metrics tables (the tutorial's window metric, point metrics, events).  Every field but
``series`` and ``models`` may be left out.  A plain dict with the same keys (the metrics as
``summary.json`` holds them: ``tutorial_metric``, ``point_metric``) is still accepted and
read with :meth:`ReportRun.from_dict`.

Three functions, from pure to effectful: :func:`plan_figures` (which figures apply, with their
headings and captions; nothing is drawn), :func:`render_html` (the page from the run and the
image bytes; a pure function), :func:`write_report` (draws, saves atomically, writes the page).
The plan keeps its two halves apart: the rules (:func:`_rules`: which figures apply to this run,
drawn from which data) and the text (``_SECTIONS``, ``_HEADINGS``, ``_CAPTIONS``: what the page
says about each figure, from the few facts the rules pass on).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import plots
from .errors import DataError
from .io import atomic_write, make_output_dir
from .metrics import window_hits

__all__ = ["ReportRun", "ModelResult", "ModelMetrics", "TutorialMetric", "PointMetric",
           "FigureSpec", "plan_figures", "figure_bytes", "render_html", "write_report"]

FORMATS = ("png", "svg")


# ---------------------------------------------------------------------------- the record
# Values are kept as the callers give them (a threshold stays the int or float it was): the
# page formats them, and what it prints must not depend on a conversion made here.

@dataclass(frozen=True)
class TutorialMetric:
    """The seed tutorial's window metric of one model: each flagged window marks all its points."""

    precision: float | None = None
    recall: float | None = None
    f1: float | None = None


@dataclass(frozen=True)
class PointMetric:
    """One model's point metrics against the labels, and its events (labelled segments found,
    of all labelled segments, and runs of flags that touch no label)."""

    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    roc_auc: float | None = None
    pr_auc: float | None = None
    events_found: int | None = None
    events_total: int | None = None
    false_alarm_events: int | None = None


@dataclass(frozen=True)
class ModelMetrics:
    """The numbers of one model that the metrics tables show.

    ``tutorial`` and ``point`` are None without labels: the model then has no row in the
    detection-quality table.
    """

    backend: str | None = None
    train_seconds: float | None = None
    final_loss: float | None = None
    tutorial: TutorialMetric | None = None
    point: PointMetric | None = None

    @classmethod
    def from_dict(cls, metrics: Mapping | None) -> ModelMetrics:
        """From the metrics dict of ``summary.json`` (``backend``, ``train_seconds``,
        ``final_loss``, ``tutorial_metric``, ``point_metric``); other keys are ignored."""
        m = metrics or {}
        tm, pm = m.get("tutorial_metric"), m.get("point_metric")
        return cls(backend=m.get("backend"), train_seconds=m.get("train_seconds"),
                   final_loss=m.get("final_loss"),
                   tutorial=_pick(TutorialMetric, tm) if tm else None,
                   point=_pick(PointMetric, pm) if pm else None)


@dataclass(frozen=True, eq=False)
class ModelResult:
    """What the report reads of one model: every field may be None (that figure is left out).

    Shapes: ``window_scores``, ``window_flags`` (n,); ``point_scores``, ``point_flags`` (N,);
    ``windows``, ``reconstructions``, ``step_errors`` (n, T, D).  ``history`` is the training
    history as a dict (``train_loss``, ``val_loss``, ``seconds``), None for a model that was
    not trained here.  ``metrics`` may be given as the dict ``summary.json`` holds; it is
    kept as :class:`ModelMetrics`.
    """

    cell: str | None = None
    backend: str | None = None
    history: Mapping | None = None
    window_scores: np.ndarray | None = None
    threshold: float | None = None
    window_flags: np.ndarray | None = None
    point_scores: np.ndarray | None = None
    point_threshold: float | None = None
    point_flags: np.ndarray | None = None
    windows: np.ndarray | None = None
    reconstructions: np.ndarray | None = None
    step_errors: np.ndarray | None = None
    metrics: ModelMetrics | None = None

    def __post_init__(self):
        if isinstance(self.metrics, Mapping):
            object.__setattr__(self, "metrics", ModelMetrics.from_dict(self.metrics))

    @classmethod
    def from_dict(cls, model: Mapping | None) -> ModelResult:
        """From a ``{field: value}`` dict; keys that are not fields are ignored."""
        return _pick(cls, model or {})


@dataclass(frozen=True, eq=False)
class ReportRun:
    """Everything the report takes from a run.

    ``series`` (N,) or (N, D) is kept as a float (N, D) array and ``labels`` as bool (N,), or
    None when no labels were given; ``models`` maps each model's name to its
    :class:`ModelResult` (a dict per model is converted).  ``window_size`` (T) and ``stride``
    place the windows on the series; ``train_rows``: the first points, which the model
    trained on (shaded in the series figures); ``warnings`` are shown at the top of the page.
    """

    series: np.ndarray
    models: Mapping[str, ModelResult]
    title: str | None = None
    command: str | None = None
    settings: Mapping = field(default_factory=dict)
    warnings: Sequence[str] = ()
    feature_names: Sequence[str] | None = None
    labels: np.ndarray | None = None
    window_size: int | None = None
    stride: int | None = None
    train_rows: int | None = None

    def __post_init__(self):
        if not isinstance(self.models, Mapping):
            raise DataError(f"models must be a dict {{name: model results}}, "
                            f"got {type(self.models).__name__}")
        s = np.asarray(self.series, dtype=float)
        lab = self.labels
        lab = None if lab is None or np.size(lab) == 0 else np.asarray(lab, dtype=bool).reshape(-1)
        models = {str(k): v if isinstance(v, ModelResult) else ModelResult.from_dict(v)
                  for k, v in self.models.items()}
        object.__setattr__(self, "series", s[:, None] if s.ndim == 1 else s)
        object.__setattr__(self, "labels", lab)
        object.__setattr__(self, "models", models)
        object.__setattr__(self, "settings", self.settings or {})
        object.__setattr__(self, "warnings", tuple(self.warnings or ()))

    @classmethod
    def from_dict(cls, run: Mapping) -> ReportRun:
        """From the ``run`` dict earlier versions took (the same keys as the fields)."""
        if not isinstance(run, Mapping):
            raise DataError(f"run must be a ReportRun or a dict (as built by 'npae demo' or "
                            f"'npae detect'), got {type(run).__name__}")
        for key in ("series", "models"):
            if key not in run:
                raise DataError(f"run is missing {key!r}; build it with npae demo / npae detect "
                                "(see npae.report.ReportRun for its fields)")
        if not isinstance(run["models"], Mapping):
            raise DataError(f"run['models'] must be a dict {{name: model results}}, "
                            f"got {type(run['models']).__name__}")
        return _pick(cls, run)


def _pick(cls, d):
    """``cls`` built from the keys of ``d`` that are its fields."""
    names = cls.__dataclass_fields__
    return cls(**{k: v for k, v in d.items() if k in names})


def _as_run(run) -> ReportRun:
    """``run`` as a :class:`ReportRun` (a dict is read with :meth:`ReportRun.from_dict`)."""
    return run if isinstance(run, ReportRun) else ReportRun.from_dict(run)


def window_labels(labels, n_windows, window_size, stride=1):
    """Whether each window covers at least one labelled point: bool (n,) or None.

    The old name and argument order of :func:`npae.metrics.window_hits` (the one
    implementation), kept so existing calls still work.
    """
    return window_hits(labels, window_size, stride, n_windows=n_windows)


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the report: file stem, section, heading, caption, and how to draw it."""

    key: str
    section: str
    heading: str
    caption: str
    make: Callable  # () -> matplotlib Figure


def _has(m, *names):
    return all(getattr(m, k) is not None and np.size(getattr(m, k)) > 0 for k in names)


def _safe_stem(name, taken):
    """A file-name-safe, unique stem built from a model name (which comes from data)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", str(name)).strip("_")[:40] or "model"
    base, k = stem, 2
    while stem in taken:
        stem, k = f"{base}_{k}", k + 1
    taken.add(stem)
    return stem


def _num(v):
    """``v`` as a finite float, or None."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# ----------------------------------------------------------------------------- the plan
def plan_figures(run) -> list[FigureSpec]:
    """Every figure that applies to ``run`` (a :class:`ReportRun` or its dict), in reading
    order, with its heading and caption.  Draws nothing.

    Overview first (series, training, comparison, anomaly map), then one section per model:
    where it detects (window errors, point scores), and why (score distribution, extreme windows,
    windows by score range, mean and spread, reconstructions, and for D > 1 heat maps).
    """
    return [_spec(p) for p in _rules(_as_run(run))]


@dataclass(frozen=True)
class _Planned:
    """One figure the rules chose: its kind (a key of ``_HEADINGS``), how to draw it, the model
    it belongs to (None: an overview figure) with that model's file-name stem, and the facts
    its caption depends on."""

    kind: str
    make: Callable
    model: str | None = None
    stem: str | None = None
    facts: Mapping = field(default_factory=dict)


def _spec(p: _Planned) -> FigureSpec:
    """The planned figure with its file key and its text."""
    key = p.kind if p.model is None else f"{p.kind}_{p.stem}"
    section = _SECTIONS[p.kind] if p.model is None else f"Model {p.model}"
    heading = _HEADINGS[p.kind].format(m=p.model)
    return FigureSpec(key, section, heading, _CAPTIONS[p.kind](**p.facts), p.make)


# ---------------------------------------------------------------------------- the rules
def _rules(run: ReportRun) -> list[_Planned]:
    """Which figures apply to ``run`` and from which data, in reading order: no text here."""
    s = run.series
    N, D = s.shape
    lab = run.labels
    names = run.feature_names
    stride = int(run.stride or 1)
    T = run.window_size
    train_end = run.train_rows
    models = run.models
    out = []

    # --- overview
    out.append(_Planned("series", _bind(plots.plot_series, s, lab, feature_names=names, train_end=train_end),
                        facts=dict(labelled=lab is not None, train_rows=train_end)))

    hist = {m: v.history for m, v in models.items() if v.history}
    if any(_seq_len(h, "train_loss") or _seq_len(h, "val_loss") for h in hist.values()):
        out.append(_Planned("training_curves", _bind(plots.plot_training_curves, hist)))

    bars = {m: _metric_bars(v.metrics) for m, v in models.items()}
    bars = {m: b for m, b in bars.items() if b}
    curves = {m: v.window_scores for m, v in models.items() if _has(v, "window_scores")}
    thrs = {m: _num(models[m].threshold) for m in curves}
    if len(models) > 1 and (bars or len(curves) > 1):  # a comparison needs two models
        out.append(_Planned("model_comparison",
                            _bind(plots.plot_model_comparison, bars, curves, thrs, stride=stride,
                                  metric_names=list(_BAR_NAMES) if bars else None),
                            facts=dict(bars=bool(bars), curves=bool(curves))))

    flags = {m: v.point_flags for m, v in models.items() if _has(v, "point_flags")}
    if flags:
        out.append(_Planned("anomaly_map", _bind(plots.plot_anomaly_map, flags, lab),
                            facts=dict(labelled=lab is not None)))

    # --- one section per model
    taken = {p.kind for p in out}
    for m, v in models.items():
        stem = _safe_stem(m, taken)

        def add(kind, make, **facts):
            out.append(_Planned(kind, make, m, stem, facts))

        sc = np.asarray(v.window_scores, dtype=float).reshape(-1) if _has(v, "window_scores") else None
        thr = _num(v.threshold)
        wflags = v.window_flags
        if sc is not None and thr is not None:
            add("window_errors", _bind(plots.plot_window_errors, sc, thr, wflags, stride=stride),
                model=m, cell=v.cell)
        if _has(v, "point_scores") and _num(v.point_threshold) is not None and np.size(v.point_scores) == N:
            add("point_scores", _bind(plots.plot_point_scores, s, v.point_scores, float(v.point_threshold),
                                      v.point_flags, lab, feature_names=names, train_end=train_end),
                labelled=lab is not None)
        if sc is not None and thr is not None:
            wl = window_hits(lab, int(T), stride, n_windows=sc.size) if T else None
            add("score_distribution", _bind(plots.plot_score_distribution, sc, thr, wl),
                outline=wl is not None)
        if sc is not None and _has(v, "windows") and len(v.windows) == sc.size:
            w = v.windows
            add("extreme_windows", _bind(plots.plot_extreme_windows, w, sc, k=3, stride=stride,
                                         feature_names=names))
            if sc.size > 1:
                add("score_ranges", _bind(plots.plot_windows_by_score_range, w, sc, _score_ranges(sc, thr),
                                          threshold=thr, stride=stride, feature_names=names))
            fl = wflags if wflags is not None else (sc > thr if thr is not None else None)
            if fl is not None:
                add("mean_spread", _bind(plots.plot_mean_spread, w, fl, feature_names=names))
            if _has(v, "reconstructions") and np.shape(v.reconstructions) == np.shape(w):
                err = v.step_errors if _has(v, "step_errors") else None
                add("reconstruction", _bind(plots.plot_reconstruction, w, v.reconstructions, err,
                                            scores=sc, stride=stride, feature_names=names))
                if D > 1:
                    e = err if err is not None else (np.asarray(w) - np.asarray(v.reconstructions)) ** 2
                    add("heatmaps", _bind(plots.plot_feature_heatmaps, w, e, scores=sc, stride=stride,
                                          feature_names=names))
    return out


def _bind(func, *args, **kwargs):
    return lambda: func(*args, **kwargs)


def _seq_len(h, key):
    v = h.get(key) if h else None
    return 0 if v is None else int(np.size(v))


#: The metric bars of the model comparison: ``{bar label: (ModelMetrics field, its field)}``.
_BAR_NAMES = {
    "precision": ("point", "precision"),
    "recall": ("point", "recall"),
    "F1": ("point", "f1"),
    "ROC-AUC": ("point", "roc_auc"),
    "PR-AUC": ("point", "pr_auc"),
    "tutorial F1": ("tutorial", "f1"),
}


def _metric_bars(metrics):
    """``{bar label: value}`` from a model's :class:`ModelMetrics`, or {} when it holds no
    quality metric."""
    if not metrics:
        return {}
    out = {label: _num(getattr(getattr(metrics, group), key, None))
           for label, (group, key) in _BAR_NAMES.items()}
    return out if any(v is not None for v in out.values()) else {}


def _score_ranges(sc, thr):
    """The middle half of the finite scores, and from the threshold to the top score."""
    f = sc[np.isfinite(sc)]
    if f.size == 0:
        return [(0.0, 0.0)]
    q25, q75 = np.percentile(f, [25, 75])
    top = float(f.max())
    lo = thr if thr is not None else float(np.percentile(f, 95))
    return [(float(q25), float(q75)), (float(lo), max(top, float(lo)))]


# ---------------------------------------------------------------------------- the text
# What the page says about each figure: its section, heading and caption.  A caption reads
# only the facts the rules pass on (whether there are labels, which panels were drawn, ...).

_SECTIONS = {"series": "Data", "training_curves": "Training", "model_comparison": "Detection",
             "anomaly_map": "Detection"}  # a model's figures: "Model <name>"

_HEADINGS = {
    "series": "The series",
    "training_curves": "Training curves",
    "model_comparison": "Models side by side",
    "anomaly_map": "Anomaly map",
    "window_errors": "{m}: window reconstruction error",
    "point_scores": "{m}: point scores",
    "score_distribution": "{m}: score distribution",
    "extreme_windows": "{m}: most normal and most anomalous windows",
    "score_ranges": "{m}: windows by score range",
    "mean_spread": "{m}: mean and spread",
    "reconstruction": "{m}: input versus reconstruction",
    "heatmaps": "{m}: per-feature heat maps",
}


def _series_caption(labelled, train_rows):
    if not labelled:
        cap = "The input series; no labels were given, so look for stretches that differ from the rest by eye."
    else:
        cap = ("The input series with the labelled anomalies shaded green: these are the segments "
               "a good detector should find and nothing else.")
    if train_rows is not None:
        cap = cap[:-1] + f"; the grey stretch (the first {int(train_rows)} points) is what the model trained on."
    return cap


def _comparison_caption(bars, curves):
    left = ("each model's point-wise precision, recall, F1, ROC-AUC and PR-AUC and the tutorial's "
            "window-based F1 (taller is better)") if bars else None
    right = "the models' window errors with their thresholds dashed (peaks above a dashed line are detections)"
    return (f"Left: {left}; right: {right}." if left and curves else
            f"{(left or right)[0].upper()}{(left or right)[1:]}.")


def _anomaly_map_caption(labelled):
    if labelled:
        return ("Each row marks the points a model flagged, in time, above the labelled anomalies "
                "(green): look for flagged bars that line up with green ones; bars elsewhere are false alarms.")
    return ("Each row marks the points a model flagged, in time; without labels, check these "
            "stretches in the series above.")


def _window_errors_caption(model, cell):
    who = f"{model}" + (f" ({str(cell).upper()} autoencoder)" if cell and str(cell) not in model else "")
    return (f"The reconstruction error of every window of {who} against the threshold (dashed): "
            "windows above it are flagged (shaded); look for isolated peaks rather than a raised floor.")


def _point_scores_caption(labelled):
    return ("Top: the series with the points the model flags; bottom: each point's score with the "
            "point threshold (dashed): " + ("flagged points should sit on the green labelled segments."
                                            if labelled else
                                            "flagged points should sit on stretches that look unusual."))


def _score_distribution_caption(outline):
    return ("Histogram of window scores: anomalies stand out when they form a separate tail right "
            "of the threshold; a threshold cutting through the bulk flags windows almost at random"
            + ("; the green outline shows the windows that cover a labelled anomaly." if outline else "."))


def _fixed(text):
    return lambda: text


_CAPTIONS = {
    "series": _series_caption,
    "training_curves": _fixed(
        "Loss per epoch on a log scale (dashed: validation): curves should fall and flatten; "
        "a validation curve that turns up while training keeps falling means over-fitting."),
    "model_comparison": _comparison_caption,
    "anomaly_map": _anomaly_map_caption,
    "window_errors": _window_errors_caption,
    "point_scores": _point_scores_caption,
    "score_distribution": _score_distribution_caption,
    "extreme_windows": _fixed(
        "The windows the model reconstructs best (left) and worst (right), on one scale: the "
        "right column should show the spikes, dips or flat stretches that make a window anomalous."),
    "score_ranges": _fixed(
        "Windows picked by score and drawn on top of each other: the middle half of the "
        "scores (left) shows the repeated normal shape, the windows above the threshold "
        "(right) show what breaks it."),
    "mean_spread": _fixed(
        "Mean and spread (dark band: \u00b11 standard deviation, light band: 5\u201395 %) of "
        "the windows not flagged (left) and flagged (right), step by step: wider or shifted "
        "bands on the right show how the anomalous windows differ on average."),
    "reconstruction": _fixed(
        "The lowest-, median- and highest-scoring windows with the model's reconstruction "
        "(dashed) and each step's squared error below: the error bars point at the steps "
        "the model could not reproduce."),
    "heatmaps": _fixed(
        "Each window as a features \u00d7 steps image (top) and its squared "
        "reconstruction error (bottom): the darkest cells in the lower row show "
        "which feature, at which step, the model finds anomalous."),
}


# -------------------------------------------------------------------------- rendering
def figure_bytes(fig, fmt="png", *, dpi=None) -> bytes:
    """``fig`` encoded as PNG or SVG bytes, reproducibly (no date or version stamped in)."""
    import matplotlib

    fmt = _check_format(fmt)
    buf = io.BytesIO()
    meta = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    with matplotlib.rc_context({"svg.hashsalt": "npae", "svg.fonttype": "path"}):
        fig.savefig(buf, format=fmt, dpi=dpi or plots.STYLE["dpi"], facecolor="white", metadata=meta)
    return buf.getvalue()


def _check_format(fmt):
    f = str(fmt).lower().lstrip(".")
    if f not in FORMATS:
        raise DataError(f"figure format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return f


def _mime(data: bytes):
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    head = data[:512].lstrip()
    if head.startswith(b"<?xml") or head.startswith(b"<svg") or b"<svg" in head:
        return "image/svg+xml"
    raise DataError("an image is neither PNG nor SVG; pass the bytes figure_bytes() returns")


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _or_dash(v):
    """``v``, or an en dash for a value that was not given."""
    return "\u2013" if v is None else v


def _fmt_value(v, kind="num"):
    if v is None:
        return "\u2013"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    f = _num(v)
    if f is None:
        return _e(v) if not isinstance(v, (float, np.floating)) else "\u2013"
    if kind == "s":
        return f"{f:.2f} s"
    if kind == "g":
        return f"{f:.4g}"
    return f"{f:.3f}"


def _flatten(d, prefix=""):
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            yield from _flatten(v, key + ".")
        else:
            yield key, v


def _setting_text(v):
    if isinstance(v, str):
        return v
    try:
        return json.dumps(v, default=str)
    except (TypeError, ValueError):
        return str(v)


def _table(header, rows, cls=""):
    out = [f'<table class="{cls}"><thead><tr>' + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead><tbody>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>")  # cells already escaped
    out.append("</tbody></table>")
    return "\n".join(out)


# settings that repeat a row the table already has (by another name), never shown twice
_SHOWN_AS = {"window": "window size", "window_size": "window size", "score_stride": "score stride",
             "labels": "labels column", "columns": "features"}


def _settings_rows(run: ReportRun):
    """The settings table: the run's own facts, then its settings, each once; unset ones left out."""
    N, D = run.series.shape
    lab = run.labels
    rows = [("command", _e(f"npae {run.command or ''}".strip())),
            ("series", _e(f"{N} points \u00d7 {D} feature{'s' * (D != 1)}")),
            ("features", _e(", ".join(map(str, run.feature_names or [])) or "\u2013")),
            ("labels", _e("none given" if lab is None else f"{int(lab.sum())} labelled points")),
            ("window size", _e(_or_dash(run.window_size))),
            ("score stride", _e(_or_dash(run.stride)))]
    shown = {k for k, _ in rows}
    for k, v in _flatten(run.settings):
        name = _SHOWN_AS.get(k, k)
        if v is None or name in shown:
            continue
        shown.add(name)
        rows.append((_e(name), _e(_setting_text(v))))
    return [(f"<th scope=\"row\">{k}</th>", v) for k, v in rows]


def _metric_tables(models):
    train_rows, quality_rows = [], []
    for name, v in models.items():
        mt = v.metrics or ModelMetrics()
        tm, pm = mt.tutorial, mt.point
        wf, pf = v.window_flags, v.point_flags
        nw = np.size(v.window_scores) if v.window_scores is not None else None
        np_ = np.size(v.point_scores) if v.point_scores is not None else None
        train_rows.append([
            _e(name), _e(_or_dash(v.cell)), _e(_or_dash(mt.backend if mt.backend is not None else v.backend)),
            _fmt_value(mt.train_seconds, "s"), _fmt_value(mt.final_loss, "g"),
            _fmt_value(v.threshold, "g"),
            _e(f"{int(np.sum(wf))} of {nw}") if wf is not None and nw else "\u2013",
            _fmt_value(v.point_threshold, "g"),
            _e(f"{int(np.sum(pf))} of {np_}") if pf is not None and np_ else "\u2013",
        ])
        if tm or pm:
            tm, pm = tm or TutorialMetric(), pm or PointMetric()
            ev = (f"{pm.events_found} of {pm.events_total}"
                  if pm.events_found is not None else None)
            quality_rows.append([
                _e(name), _fmt_value(tm.precision), _fmt_value(tm.recall), _fmt_value(tm.f1),
                _fmt_value(pm.precision), _fmt_value(pm.recall), _fmt_value(pm.f1),
                _fmt_value(pm.roc_auc), _fmt_value(pm.pr_auc),
                _e(ev) if ev else "\u2013", _fmt_value(pm.false_alarm_events),
            ])
    train = _table(["model", "cell", "backend", "training time", "final loss", "window threshold",
                    "flagged windows", "point threshold", "flagged points"], train_rows, "num")
    if quality_rows:
        quality = _table(["model", "tutorial precision", "tutorial recall", "tutorial F1",
                          "point precision", "point recall", "point F1", "ROC-AUC", "PR-AUC",
                          "events found", "false-alarm events"], quality_rows, "num")
    else:
        quality = "<p>No labels were given, so there is no detection-quality metric.</p>"
    return train, quality


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;background:#fafafa;line-height:1.45}
main{max-width:1160px;margin:0 auto;padding:1.2em 1.5em 3em;background:#fff}
h1{font-size:1.6em;margin:.3em 0}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.92em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
thead th{background:#f0f0f0}table.num td{text-align:right}table.num td:first-child{text-align:left}
figure{margin:1.2em 0 2em}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{margin-top:.3em;max-width:60em}nav ol{columns:2;font-size:.92em}
.note{color:#555}.warn{background:#fff4d6;border:1px solid #e0b84d;padding:.5em .8em}code{background:#f3f3f3;padding:0 .25em}
"""


def render_html(run, images, *, figures=True) -> str:
    """The report page as a string.  Pure: reads ``run`` (a :class:`ReportRun` or its dict) and
    ``images``, touches nothing else.

    ``images`` maps figure keys (those of :func:`plan_figures`) to PNG or SVG bytes, embedded as
    ``data:`` URIs in the plan's reading order (keys not in the plan follow, in given order).
    ``figures=False`` says in the page that figures were switched off.
    """
    run = _as_run(run)
    command = run.command or ""
    title = str(run.title or f"npae {command} report".strip())
    plan = {sp.key: sp for sp in plan_figures(run)} if images else {}
    keys = [k for k in plan if k in images] + [k for k in images if k not in plan]

    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
             'img-src data:; style-src \'unsafe-inline\'">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_e(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>", "<main>",
             f"<h1>{_e(title)}</h1>",
             f'<p class="note">Written by <code>{_e(("npae " + str(command)).strip())}</code>: '
             "the run's settings, its metrics, then the figures in reading order, each with what to look for.</p>"]
    for w in run.warnings:
        parts.append(f'<p class="warn"><b>Warning:</b> {_e(w)}</p>')

    # table of contents
    toc = ['<li><a href="#settings">Settings</a></li>', '<li><a href="#metrics">Metrics</a></li>']
    for i, k in enumerate(keys, 1):
        head = plan[k].heading if k in plan else k
        toc.append(f'<li><a href="#fig-{i}">Figure {i}: {_e(head)}</a></li>')
    parts += ["<nav><ol>", *toc, "</ol></nav>"]

    parts += ['<h2 id="settings">Settings</h2>',
              "<table><tbody>" + "".join(f"<tr>{k}<td>{v}</td></tr>" for k, v in _settings_rows(run))
              + "</tbody></table>"]
    train, quality = _metric_tables(run.models)
    parts += ['<h2 id="metrics">Metrics</h2>', "<h3>Training and thresholds</h3>", train,
              "<h3>Detection quality against the labels</h3>", quality,
              '<p class="note">Tutorial metric: each flagged window marks all its points (as the seed '
              "tutorial computes it). Point metrics: each point flagged on its own score. Events: a "
              "labelled segment counts as found when any of its points is flagged.</p>"]

    section = None
    if not keys:
        parts.append('<p class="note">' + ("Figures were switched off for this run (--no-figures)."
                                           if not figures else "No figure applies to this run.") + "</p>")
    for i, k in enumerate(keys, 1):
        sp = plan.get(k)
        sec = sp.section if sp else "Other figures"
        if sec != section:
            section = sec
            parts.append(f"<h2>{_e(sec)}</h2>")
        data = images[k]
        mime = _mime(data)
        uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        heading = sp.heading if sp else k
        caption = sp.caption if sp else ""
        parts += [f'<figure id="fig-{i}">', f'<img src="{uri}" alt="{_e(heading)}">',
                  f"<figcaption><b>Figure {i}. {_e(heading)}.</b> {_e(caption)}</figcaption>", "</figure>"]
    parts += ["</main>", "</body>", "</html>", ""]
    return "\n".join(parts)


# ---------------------------------------------------------------------------- writing
def write_report(out_dir, run, fmt="png", figures=True, *, dpi=None, protect=()) -> dict:
    """Draw every applicable figure of ``run`` (a :class:`ReportRun` or its dict) into ``out_dir``
    and write ``report.html`` there.

    Files: ``NN_<key>.<fmt>`` per figure (NN = position in the report) and ``report.html``; each
    is written to a temporary file and renamed, and nothing is written outside ``out_dir``
    (created if missing), nor over a file in ``protect`` (the inputs).  ``figures=False``
    writes only the page (settings and metrics).
    Returns ``{key: Path}`` of everything written, the page under ``"report"``.
    """
    fmt = _check_format(fmt)
    run = _as_run(run)
    out = make_output_dir(out_dir, what="output folder").resolve()
    written, images = {}, {}
    if figures:
        for i, spec in enumerate(plan_figures(run), 1):
            fig = spec.make()
            data = figure_bytes(fig, fmt, dpi=dpi)
            fig.clear()
            path = out / f"{i:02d}_{spec.key}.{fmt}"
            if path.parent != out:  # keys are sanitised; this is a last guard
                raise DataError(f"refusing to write {path} outside {out}")
            atomic_write(path, data, protect=protect)
            written[spec.key] = path
            images[spec.key] = data
    page = out / "report.html"
    atomic_write(page, render_html(run, images, figures=figures), protect=protect)
    written["report"] = page
    return written
