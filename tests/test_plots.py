"""Figures: each is checked for what it must show, read back from the matplotlib artists.

Oracles are the input arrays themselves and independent NumPy recomputations (np.histogram,
runs found by a plain loop, means and standard deviations), never the plotting code's helpers.
Nothing is trained: the run below is synthetic (a sine with three spikes, "reconstructions"
that are the clean windows plus noise).  Runtime: about 10 s on 2 cores.
"""

import ast
import pathlib
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from numpy.lib.stride_tricks import sliding_window_view

import npae.metrics
from npae import plots
from npae.errors import ShapeError
from npae.plots import STYLE

SPIKES = (60, 150, 240)


def make_run(N=300, T=20, D=1, stride=1, seed=0, models=("rnn", "lstm"), labels=True):
    """A ``run`` dict shaped like the one ``npae demo`` builds, with fake (untrained) results."""
    rng = np.random.default_rng(seed)
    t = np.arange(N)
    clean = np.stack([np.sin(2 * np.pi * t / 30 + k) + 0.01 * t for k in range(D)], axis=1)
    series = clean + 0.05 * rng.standard_normal((N, D))
    lab = np.zeros(N, bool)
    for a in SPIKES:
        if a + 4 <= N:
            series[a:a + 4, 0] += 3.0
            lab[a:a + 4] = True
    mu, sd = series.mean(0), series.std(0)

    def windows_of(x):
        return np.ascontiguousarray(np.moveaxis(sliding_window_view((x - mu) / sd, T, axis=0), -1, 1)[::stride])

    windows = windows_of(series)
    out = {}
    for m_i, name in enumerate(models):
        recon = windows_of(clean) + 0.02 * (m_i + 1) * rng.standard_normal(windows.shape)
        err = (windows - recon) ** 2
        ws = err.mean(axis=(1, 2))
        thr = float(np.percentile(ws, 95))
        acc, cnt = np.zeros(N), np.zeros(N)
        for i in range(ws.size):
            acc[i * stride:i * stride + T] += err[i].mean(1)
            cnt[i * stride:i * stride + T] += 1
        ps = acc / np.maximum(cnt, 1)
        pthr = float(np.percentile(ps, 97))
        out[name] = {
            "cell": "lstm" if "lstm" in name else "rnn", "backend": "numpy",
            "history": {"train_loss": list(np.geomspace(1.0, 0.02 * (m_i + 1), 12)),
                        "val_loss": list(np.geomspace(1.1, 0.03 * (m_i + 1), 12)),
                        "seconds": [0.5] * 12},
            "window_scores": ws, "threshold": thr, "window_flags": ws > thr,
            "point_scores": ps, "point_threshold": pthr, "point_flags": ps > pthr,
            "windows": windows, "reconstructions": recon, "step_errors": err,
            "metrics": {"backend": "numpy", "train_seconds": 6.0 + m_i, "final_loss": 0.02 * (m_i + 1),
                        "tutorial_metric": {"precision": 0.21, "recall": 1.0, "f1": 0.347},
                        "point_metric": {"precision": 0.8 + 0.05 * m_i, "recall": 0.9, "f1": 0.85,
                                         "roc_auc": 0.97, "pr_auc": 0.881, "events_found": 3,
                                         "events_total": 3, "false_alarm_events": m_i}},
        }
    return {"title": "npae demo <test> & co", "command": "demo",
            "settings": {"epochs": 12, "lr": 1e-3, "seed": seed, "scaler": {"kind": "standard"}},
            "series": series[:, 0] if D == 1 else series,
            "feature_names": ["value"] if D == 1 else [f"f{j}" for j in range(D)],
            "labels": lab if labels else None, "window_size": T, "stride": stride, "models": out}


@pytest.fixture(scope="module")
def run():
    return make_run()


@pytest.fixture(scope="module")
def run3():
    return make_run(D=3, stride=2)


# ------------------------------------------------------------------------------ helpers
def runs_by_loop(mask):
    """Contiguous True runs (start, stop) by a plain loop: the oracle for shading."""
    out, start = [], None
    for i, v in enumerate(list(mask) + [False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i))
            start = None
    return out


def title(ax):
    """The axes' title (the house style puts titles on the left)."""
    return ax.get_title(loc="left") or ax.get_title()


def all_text(fig):
    return "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


def legend_texts(ax_or_fig):
    leg = ax_or_fig.get_legend() if hasattr(ax_or_fig, "get_legend") else ax_or_fig.legends[0]
    assert leg is not None, "no legend"
    return [t.get_text() for t in leg.get_texts()]


def data_lines(ax):
    return [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 0]


def hlines(ax):
    """Horizontal reference lines (axhline): x in axes coords 0..1, constant y."""
    return [ln for ln in ax.get_lines() if list(ln.get_xdata()) == [0, 1] and len(set(ln.get_ydata())) == 1]


def vlines(ax):
    return [ln for ln in ax.get_lines() if list(ln.get_ydata()) == [0, 1] and len(set(ln.get_xdata())) == 1]


def spans(ax):
    """axvspan rectangles as (x0, x1, hex colour)."""
    return [(p.get_x(), p.get_x() + p.get_width(), to_hex(p.get_facecolor()))
            for p in ax.patches if p.get_transform().contains_branch_seperately(ax.transData)[0]
            and not p.get_transform().contains_branch_seperately(ax.transData)[1]]


def draw(fig):
    """Lay out and rasterise at low resolution: catches errors that only appear when drawing."""
    assert isinstance(fig, Figure)
    fig.set_dpi(30)
    FigureCanvasAgg(fig).draw()
    return fig


# --------------------------------------------------------------------------------- basics
def test_importing_npae_and_plots_does_not_import_matplotlib():
    code = "import sys, npae, npae.plots, npae.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_figure_is_importable_from_npae_plots_and_lives_in_its_family_module():
    families = {"series": ["plot_series"], "training": ["plot_training_curves"],
                "detection": ["plot_anomaly_map", "plot_model_comparison"],
                "scores": ["plot_window_errors", "plot_point_scores", "plot_score_distribution"],
                "windows": ["plot_extreme_windows", "plot_windows_by_score_range", "plot_mean_spread"],
                "reconstruction": ["plot_reconstruction", "plot_feature_heatmaps"]}
    listed = [name for names in families.values() for name in names]
    assert sorted(plots.__all__) == sorted(["STYLE"] + listed)
    for module, names in families.items():
        for name in names:
            assert getattr(plots, name).__module__ == f"npae.plots.{module}", name
    from npae.plots import _style

    assert plots.STYLE is _style.STYLE  # one dict: changing it changes every figure


def test_no_class_is_defined_inside_a_function_in_npae_plots():
    folder = pathlib.Path(plots.__file__).parent
    nested = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                nested += [f"{path.name}: {node.name}.{c.name}" for c in ast.walk(node)
                           if isinstance(c, ast.ClassDef)]
    assert nested == []


def test_runs_match_a_loop_and_are_the_ones_the_figures_shade():
    rng = np.random.default_rng(7)
    masks = [np.zeros(0, bool), np.ones(5, bool), np.zeros(6, bool)]
    masks += [rng.random(int(rng.integers(1, 60))) < p for p in (0.1, 0.5, 0.9) for _ in range(20)]
    for m in masks:
        starts, ends = npae.metrics.runs(m)
        assert list(zip(starts.tolist(), ends.tolist())) == runs_by_loop(m)
        starts01, _ = npae.metrics.runs(m.astype(int))  # 0/1 numbers read as the same mask
        np.testing.assert_array_equal(starts01, starts)
    from npae.plots import _style

    m = np.zeros(40, bool)
    m[[3, 4, 5, 20, 38, 39]] = True
    assert _style._spans(m) == runs_by_loop(m) == [(3, 6), (20, 21), (38, 40)]
    assert all(type(v) is int for span in _style._spans(m) for v in span)


def test_no_pyplot_figure_is_created(run):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    m = run["models"]["lstm"]
    figs = [plots.plot_series(run["series"], run["labels"]),
            plots.plot_window_errors(m["window_scores"], m["threshold"], m["window_flags"])]
    assert plt.get_fignums() == before
    assert all(type(f) is Figure for f in figs)


def test_style_is_consistent_across_figures(run):
    m = run["models"]["lstm"]
    f1 = plots.plot_window_errors(m["window_scores"], m["threshold"], m["window_flags"])
    f2 = plots.plot_score_distribution(m["window_scores"], m["threshold"])
    f3 = plots.plot_point_scores(run["series"], m["point_scores"], m["point_threshold"], m["point_flags"])
    thr_lines = hlines(f1.axes[0]) + vlines(f2.axes[0]) + hlines(f3.axes[1])
    assert len(thr_lines) == 3
    for ln in thr_lines:
        assert to_hex(ln.get_color()) == STYLE["threshold"] and ln.get_linestyle() == "--"
    flagged = [c for c in f1.axes[0].collections if len(c.get_offsets())]
    assert to_hex(flagged[0].get_facecolor()[0]) == STYLE["anomalous"]
    assert to_hex(data_lines(f1.axes[0])[0].get_color()) == STYLE["normal"]


# ------------------------------------------------------------------------------ 1. series
def test_series_line_and_labelled_spans(run):
    fig = plots.plot_series(run["series"], run["labels"])
    (ax,) = fig.axes
    (line,) = [ln for ln in data_lines(ax) if ln.get_label() == "series"]
    np.testing.assert_array_equal(line.get_ydata(), run["series"])
    want = [(a - 0.5, b - 0.5, STYLE["labelled"]) for a, b in runs_by_loop(run["labels"])]
    assert sorted(spans(ax)) == sorted(want) and len(want) == 3
    assert legend_texts(ax) == ["series", "labelled anomaly"]
    assert "3 labelled segments, 12 points" in title(ax)
    assert ax.get_xlabel() == "time step" and ax.get_ylabel() == "value"


def test_a_short_labelled_run_in_a_long_series_stays_visible():
    N = 7501
    lab = np.zeros(N, bool)
    lab[4190:4202] = True                      # 12 rows: thinner than a pixel at true width
    fig = plots.plot_series(np.sin(np.arange(N) / 50.0), lab)
    ((lo, hi, colour),) = spans(fig.axes[0])
    assert colour == STYLE["labelled"]
    assert hi - lo >= 0.004 * N - 1e-9         # widened to a visible band ...
    assert lo <= 4190 - 0.5 and hi >= 4201.5   # ... that still covers the whole run
    assert abs((lo + hi) / 2 - (4190 + 4201) / 2) < 1e-9   # centred on it


def test_training_stretch_is_shaded_in_the_series_figures(run):
    train = STYLE["training"]
    fig = plots.plot_series(run["series"], run["labels"], train_end=45)
    assert (-0.5, 44.5, train) in spans(fig.axes[0])
    assert "training stretch (45 points)" in legend_texts(fig.axes[0])
    fig = plots.plot_point_scores(run["series"], run["models"]["lstm"]["point_scores"], 0.1,
                                  train_end=45)
    for ax in fig.axes:
        assert [sp for sp in spans(ax) if sp[2] == train] == [(-0.5, 44.5, train)]
    assert not [sp for sp in spans(plots.plot_series(run["series"]).axes[0]) if sp[2] == train]
    with pytest.raises(ShapeError, match="train_end"):
        plots.plot_series(run["series"], train_end=301)


def test_series_multivariate_has_one_row_per_feature(run3):
    s = run3["series"]
    fig = plots.plot_series(s, run3["labels"], feature_names=run3["feature_names"])
    assert len(fig.axes) == 3
    for j, ax in enumerate(fig.axes):
        np.testing.assert_array_equal(data_lines(ax)[0].get_ydata(), s[:, j])
        assert ax.get_ylabel() == f"f{j}"
        assert len(spans(ax)) == 3
    fig = plots.plot_series(s, None, max_features=2)
    assert len(fig.axes) == 2 and "2 of 3 features shown" in title(fig.axes[0])


def test_series_wrong_label_length_is_an_error(run):
    with pytest.raises(ShapeError, match="length 300"):
        plots.plot_series(run["series"], np.zeros(299, bool))


# ------------------------------------------------------------------------- 2. training curves
def test_training_curves_log_scale_train_and_validation(run):
    hist = {m: v["history"] for m, v in run["models"].items()}
    fig = plots.plot_training_curves(hist)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    lines = data_lines(ax)
    assert len(lines) == 4
    by_label = {ln.get_label(): ln for ln in lines}
    np.testing.assert_allclose(by_label["rnn train (6.0 s)"].get_ydata(), hist["rnn"]["train_loss"])
    np.testing.assert_allclose(by_label["lstm validation"].get_ydata(), hist["lstm"]["val_loss"])
    np.testing.assert_array_equal(by_label["lstm validation"].get_xdata(), np.arange(1, 13))
    assert by_label["lstm validation"].get_linestyle() == "--"
    assert by_label["rnn train (6.0 s)"].get_color() == by_label["rnn validation"].get_color()
    assert by_label["rnn train (6.0 s)"].get_color() != by_label["lstm train (6.0 s)"].get_color()
    assert legend_texts(ax) == ["rnn train (6.0 s)", "rnn validation", "lstm train (6.0 s)", "lstm validation"]
    assert "dashed = validation" in title(ax)
    assert ax.get_xlabel() == "epoch" and "loss" in ax.get_ylabel()


def test_training_curves_single_history_without_validation_and_nonpositive_loss():
    fig = plots.plot_training_curves({"train_loss": [0.5, 0.0, -0.1], "val_loss": []})
    (ax,) = fig.axes
    assert len(data_lines(ax)) == 1 and data_lines(ax)[0].get_label() == "model train"
    assert ax.get_yscale() == "linear" and "cannot show them" in all_text(fig)
    assert "dashed" not in title(ax)           # no validation curve drawn: none promised


# --------------------------------------------------------------------------- 3. window errors
def test_window_errors_threshold_flags_and_spans(run):
    m = run["models"]["lstm"]
    sc, thr, fl = m["window_scores"], m["threshold"], m["window_flags"]
    fig = plots.plot_window_errors(sc, thr, fl)
    (ax,) = fig.axes
    (tl,) = hlines(ax)
    np.testing.assert_array_equal(tl.get_ydata(), [thr, thr])
    np.testing.assert_array_equal(data_lines(ax)[0].get_ydata(), sc)
    (pts,) = [c for c in ax.collections if len(c.get_offsets())]
    np.testing.assert_array_equal(pts.get_offsets(), np.column_stack([np.flatnonzero(fl), sc[fl]]))
    want = [(a - 0.5, b - 0.5, STYLE["anomalous"]) for a, b in runs_by_loop(fl)]
    assert sorted(spans(ax)) == sorted(want)
    k = int(fl.sum())
    assert legend_texts(ax) == ["window score", f"threshold = {thr:.4g}", f"flagged: {k} of {sc.size} windows"]
    assert ax.get_yscale() == "log"  # the spikes make the scores span > 2 decades
    assert f"{k} of {sc.size} windows above" in title(ax)


def test_window_errors_stride_places_windows_at_their_start(run3):
    m = run3["models"]["rnn"]
    fig = plots.plot_window_errors(m["window_scores"], m["threshold"], stride=2, log=False)
    ax = fig.axes[0]
    np.testing.assert_array_equal(data_lines(ax)[0].get_xdata(), 2 * np.arange(m["window_scores"].size))
    assert ax.get_yscale() == "linear"
    (pts,) = [c for c in ax.collections if len(c.get_offsets())]  # default flags: score > threshold
    assert len(pts.get_offsets()) == int((m["window_scores"] > m["threshold"]).sum())


def test_point_scores_two_panels(run):
    m = run["models"]["rnn"]
    fig = plots.plot_point_scores(run["series"], m["point_scores"], m["point_threshold"],
                                  m["point_flags"], run["labels"])
    top, bottom = fig.axes
    np.testing.assert_array_equal(hlines(bottom)[0].get_ydata(), [m["point_threshold"]] * 2)
    (pts,) = [c for c in top.collections if len(c.get_offsets())]
    fl = m["point_flags"]
    np.testing.assert_array_equal(pts.get_offsets(), np.column_stack([np.flatnonzero(fl), run["series"][fl]]))
    assert {c for _, _, c in spans(top)} == {STYLE["labelled"]} and len(spans(top)) == 3
    assert legend_texts(top) == ["series", "labelled anomaly", f"flagged: {int(fl.sum())} points"]


# ---------------------------------------------------------------------------- 4. anomaly map
def test_anomaly_map_rows_and_bars(run):
    flags = {m: v["point_flags"] for m, v in run["models"].items()}
    fig = plots.plot_anomaly_map(flags, run["labels"])
    (ax,) = fig.axes
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    rows = ["labelled", "lstm", "rnn"]  # bottom to top
    assert [t.split("\n")[0] for t in ticks] == rows
    colls = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(colls) == 3
    for name, coll in zip(rows, colls):
        mask = run["labels"] if name == "labelled" else flags[name]
        want = runs_by_loop(mask)
        got = sorted((p.vertices[:, 0].min(), p.vertices[:, 0].max()) for p in coll.get_paths())
        assert got == [(a - 0.5, b - 0.5) for a, b in want]
        assert to_hex(coll.get_facecolor()[0]) == (STYLE["labelled"] if name == "labelled" else STYLE["anomalous"])
    assert ticks[0].endswith(f"{len(runs_by_loop(run['labels']))} segments, 12 pts")


# ------------------------------------------------------------------------ 5. model comparison
def test_model_comparison_bars_values_and_curves(run):
    metrics = {"rnn": {"precision": 0.8, "recall": 0.9, "F1": None},
               "lstm": {"precision": 0.854, "recall": 0.5, "F1": 0.62}}
    scores = {m: v["window_scores"] for m, v in run["models"].items()}
    thrs = {m: v["threshold"] for m, v in run["models"].items()}
    fig = plots.plot_model_comparison(metrics, scores, thrs)
    bars_ax, curves_ax = fig.axes
    heights = [[p.get_height() for p in c] for c in bars_ax.containers]
    assert heights == [[0.8, 0.9, 0.0], [0.854, 0.5, 0.62]]
    printed = sorted(t.get_text() for t in bars_ax.texts)
    assert printed == sorted(["0.80", "0.90", "n/a", "0.85", "0.50", "0.62"])
    assert [t.get_text() for t in bars_ax.get_xticklabels()] == ["precision", "recall", "F1"]
    assert legend_texts(bars_ax) == ["rnn", "lstm"]
    ys = sorted(ln.get_ydata()[0] for ln in hlines(curves_ax))
    assert ys == sorted(thrs.values())
    for ln in hlines(curves_ax):
        assert ln.get_linestyle() == "--"
    curves = {ln.get_label(): ln for ln in data_lines(curves_ax) if ln not in hlines(curves_ax)}
    np.testing.assert_array_equal(curves["lstm"].get_ydata(), scores["lstm"])
    # each model keeps one colour in both panels
    assert to_hex(bars_ax.containers[1][0].get_facecolor()) == to_hex(curves["lstm"].get_color())


def test_model_comparison_with_only_one_panel(run):
    fig = plots.plot_model_comparison({"a": {"F1": 0.5}})
    assert len(fig.axes) == 1 and [t.get_text() for t in fig.axes[0].texts] == ["0.50"]
    fig = plots.plot_model_comparison(None, {"a": [1.0, 2.0]}, {"a": 1.5})
    assert len(fig.axes) == 1 and hlines(fig.axes[0])[0].get_ydata()[0] == 1.5


# --------------------------------------------------------------------- 6. score distribution
def test_score_distribution_counts_threshold_and_labels(run):
    m = run["models"]["lstm"]
    sc, thr = m["window_scores"], m["threshold"]
    wl = np.array([run["labels"][i:i + 20].any() for i in range(sc.size)])
    fig = plots.plot_score_distribution(sc, thr, wl, bins=30)
    (ax,) = fig.axes
    (tl,) = vlines(ax)
    np.testing.assert_array_equal(tl.get_xdata(), [thr, thr])
    below, above = ax.containers[:2]
    edges = np.geomspace(sc.min(), sc.max(), 31)  # log bins: the scores span > 2 decades
    np.testing.assert_array_equal([p.get_height() for p in below], np.histogram(sc[sc <= thr], edges)[0])
    np.testing.assert_array_equal([p.get_height() for p in above], np.histogram(sc[sc > thr], edges)[0])
    n_hi = int((sc > thr).sum())
    assert legend_texts(ax)[:3] == [f"at or below threshold: {sc.size - n_hi} windows",
                                    f"above threshold: {n_hi} windows",
                                    f"labelled anomalous: {int(wl.sum())} windows"]
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "number of windows"
    assert to_hex(below[0].get_facecolor()) == STYLE["normal"]
    assert to_hex(above[0].get_facecolor()) == STYLE["anomalous"]


def test_score_distribution_linear_bins():
    sc = np.linspace(1.0, 2.0, 50)
    fig = plots.plot_score_distribution(sc, 1.9, bins=10)
    ax = fig.axes[0]
    counts = np.add([p.get_height() for p in ax.containers[0]], [p.get_height() for p in ax.containers[1]])
    np.testing.assert_array_equal(counts, np.histogram(sc, np.linspace(1, 2, 11))[0])
    assert ax.get_xscale() == "linear"


# -------------------------------------------------------------------- 7. windows by score
def test_extreme_windows_lowest_left_highest_right(run):
    m = run["models"]["lstm"]
    w, sc = m["windows"], m["window_scores"]
    fig = plots.plot_extreme_windows(w, sc, k=3)
    assert len(fig.axes) == 6
    left, right = fig.axes[0::2], fig.axes[1::2]
    shown = {}
    for side, axes in (("low", left), ("high", right)):
        shown[side] = []
        for ax in axes:
            y = data_lines(ax)[0].get_ydata()
            (i,) = [i for i in range(len(w)) if np.array_equal(w[i, :, 0], y)]
            shown[side].append(i)
            assert f"score {sc[i]:.4g}" in title(ax)
    assert shown["low"][0] == int(np.argmin(sc)) and shown["high"][0] == int(np.argmax(sc))
    assert max(sc[shown["low"]]) < min(sc[shown["high"]])
    for picks in shown.values():  # distinct stretches: no two picked windows overlap
        assert all(abs(a - b) >= 20 for a in picks for b in picks if a != b)
    # the three highest distinct windows are the three spikes
    assert all(any(i <= s < i + 20 for s in SPIKES) for i in shown["high"])


def test_windows_by_score_range_selects_by_score(run):
    m = run["models"]["rnn"]
    w, sc, thr = m["windows"], m["window_scores"], m["threshold"]
    lo, hi = np.percentile(sc, [25, 75])
    fig = plots.plot_windows_by_score_range(w, sc, [(lo, hi), (thr, sc.max())], threshold=thr,
                                            max_windows=25)
    a0, a1 = fig.axes
    inside0 = np.flatnonzero((sc >= lo) & (sc <= hi))
    inside1 = np.flatnonzero(sc >= thr)
    assert len(data_lines(a0)) == min(inside0.size, 25) and len(data_lines(a1)) == inside1.size
    for ax, inside, col in ((a0, inside0, STYLE["normal"]), (a1, inside1, STYLE["anomalous"])):
        for ln in data_lines(ax):
            assert any(np.array_equal(w[i, :, 0], ln.get_ydata()) for i in inside)
            assert to_hex(ln.get_color()) == col
    assert title(a0).startswith(f"{inside0.size} windows with score in")
    fig = plots.plot_windows_by_score_range(w, sc, [(sc.max() + 1, sc.max() + 2)])
    assert len(data_lines(fig.axes[0])) == 0 and "no window has a score in this range" in all_text(fig)


# -------------------------------------------------------------------------- 8. mean/spread
def test_mean_spread_lines_and_bands(run):
    m = run["models"]["lstm"]
    w, fl = m["windows"][:, :, 0], m["window_flags"]
    fig = plots.plot_mean_spread(m["windows"], fl)
    left, right = fig.axes
    for ax, group in ((left, w[~fl]), (right, w[fl])):
        mean, std = group.mean(0), group.std(0)
        np.testing.assert_allclose(data_lines(ax)[0].get_ydata(), mean)
        p5, p95 = np.percentile(group, [5, 95], axis=0)
        outer, inner = [c for c in ax.collections if isinstance(c, PolyCollection)]
        for coll, lo, hi in ((inner, mean - std, mean + std), (outer, p5, p95)):
            v = coll.get_paths()[0].vertices
            for t in range(w.shape[1]):
                ys = v[v[:, 0] == t, 1]
                np.testing.assert_allclose([ys.min(), ys.max()], [lo[t], hi[t]])
    assert title(left) == f"not flagged ({int((~fl).sum())} windows)"
    assert title(right) == f"flagged as anomalous ({int(fl.sum())} windows)"
    assert legend_texts(fig) == ["mean", "mean \u00b1 1 standard deviation", "5\u201395 % of windows"]


# ------------------------------------------------------------------------ 9. reconstruction
def test_reconstruction_lines_and_error_bars(run):
    m = run["models"]["lstm"]
    w, r, e, sc = m["windows"], m["reconstructions"], m["step_errors"], m["window_scores"]
    fig = plots.plot_reconstruction(w, r, e, scores=sc)
    assert len(fig.axes) == 6
    tops, bottoms = fig.axes[:3], fig.axes[3:]
    order = np.argsort(sc, kind="stable")
    want = [order[0], order[len(sc) // 2], order[-1]]
    for top, bottom, i in zip(tops, bottoms, want):
        inp, rec = data_lines(top)
        np.testing.assert_array_equal(inp.get_ydata(), w[i, :, 0])
        np.testing.assert_array_equal(rec.get_ydata(), r[i, :, 0])
        assert rec.get_linestyle() == "--"
        np.testing.assert_allclose([p.get_height() for p in bottom.patches], e[i].mean(axis=1))
        assert f"window {i} " in title(top)
    assert title(tops[0]).startswith("lowest score") and title(tops[2]).startswith("highest score")
    assert legend_texts(tops[0]) == ["input", "reconstruction"]
    # one error scale for all columns, so errors compare across windows
    assert len({b.get_ylim() for b in bottoms}) == 1


def test_reconstruction_computes_errors_when_not_given(run3):
    m = run3["models"]["rnn"]
    w, r = m["windows"], m["reconstructions"]
    fig = plots.plot_reconstruction(w, r, indices=[5], feature_names=run3["feature_names"])
    np.testing.assert_allclose([p.get_height() for p in fig.axes[1].patches], ((w[5] - r[5]) ** 2).mean(axis=1))
    assert len(data_lines(fig.axes[0])) == 6  # 3 features x (input, reconstruction)
    assert legend_texts(fig) == ["f0", "f1", "f2"]
    with pytest.raises(ShapeError, match="out of range"):
        plots.plot_reconstruction(w, r, indices=[len(w)])
    with pytest.raises(ShapeError, match="differ in shape"):
        plots.plot_reconstruction(w, r[:, :-1])


# ---------------------------------------------------------------------------- 10. heat maps
def test_feature_heatmaps_images_equal_data(run3):
    m = run3["models"]["lstm"]
    w, e, sc = m["windows"], m["step_errors"], m["window_scores"]
    fig = plots.plot_feature_heatmaps(w, e, indices=[3, int(np.argmax(sc))], scores=sc,
                                      feature_names=run3["feature_names"], stride=2)
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 4 and all(isinstance(im, AxesImage) for im in images)
    main_axes = [ax for ax in fig.axes if ax.get_images()]
    (v0,), (v1,), (e0,), (e1,) = [ax.get_images() for ax in main_axes]
    np.testing.assert_array_equal(v0.get_array(), w[3].T)
    np.testing.assert_array_equal(e1.get_array(), e[int(np.argmax(sc))].T)
    np.testing.assert_array_equal(v1.get_array(), w[int(np.argmax(sc))].T)
    np.testing.assert_array_equal(e0.get_array(), e[3].T)
    assert v0.get_clim() == v1.get_clim()  # one colour scale per row
    assert e0.get_clim() == (0.0, float(e[[3, int(np.argmax(sc))]].max()))
    assert [t.get_text() for t in main_axes[0].get_yticklabels()] == ["f0", "f1", "f2"]
    assert "t = 6\u202625" in title(main_axes[0])  # window 3 with stride 2 starts at step 6
    assert len(fig.axes) == 6  # four heat maps and two colour bars
    # the anomalous feature is feature 0 (the spikes): its error row is the brightest
    assert e1.get_array()[0].max() == e1.get_array().max()


def test_reconstruction_and_heat_maps_title_the_same_windows_alike(run3):
    m = run3["models"]["lstm"]
    w, r, e, sc = m["windows"], m["reconstructions"], m["step_errors"], m["window_scores"]
    for kw in ({"scores": sc}, {"indices": [7, 0]}, {"indices": [-1], "scores": sc}):
        rec = plots.plot_reconstruction(w, r, e, stride=2, **kw)
        heat = plots.plot_feature_heatmaps(w, e, stride=2, **kw)
        n_cols = 3 if "indices" not in kw else len(kw["indices"])
        rec_titles = [title(ax) for ax in rec.axes[:n_cols]]
        heat_titles = [title(ax) for ax in heat.axes[:n_cols]]
        assert rec_titles == heat_titles and all(t.count("window ") == 1 for t in rec_titles)
    last, T = len(sc) - 1, w.shape[1]  # the last kw: window -1, its rank word from the scores
    kind = ("lowest score: " if sc[last] == sc.min() else "highest score: " if sc[last] == sc.max()
            else "median score: " if sc[last] == np.sort(sc)[len(sc) // 2] else "")
    assert rec_titles == [f"{kind}window {last} (t = {2 * last}\u2026{2 * last + T - 1})\nscore {sc[last]:.4g}"]
    for figure in (plots.plot_reconstruction, plots.plot_feature_heatmaps):
        with pytest.raises(ShapeError, match="step_errors .* differ in shape"):
            figure(w, *((r,) if figure is plots.plot_reconstruction else ()), e[:, :-1])
        assert "No windows to show" in all_text(figure(w[:0], *((r[:0],) if figure is plots.plot_reconstruction
                                                                 else ()), e[:0]))


# -------------------------------------------------------------------- degenerate input
def _scores(n, value=None):
    return np.full(n, value) if value is not None else np.linspace(0.1, 1.0, n)


DEGENERATE = {
    "empty series": (lambda: plots.plot_series(np.zeros(0)), "empty"),
    "constant series": (lambda: plots.plot_series(np.full(50, 3.0), np.zeros(50, bool)), "constant series"),
    "empty labels": (lambda: plots.plot_series(np.arange(10.0), []), "no labels given"),
    "labels without anomaly": (lambda: plots.plot_series(np.arange(10.0), np.zeros(10)), "mark no anomaly"),
    "no history": (lambda: plots.plot_training_curves({"a": {"train_loss": [], "val_loss": []}}),
                   "No training history"),
    "single epoch": (lambda: plots.plot_training_curves({"train_loss": [0.3]}), "single epoch"),
    "nothing detected": (lambda: plots.plot_window_errors(_scores(30), 5.0), "nothing detected"),
    "single window": (lambda: plots.plot_window_errors(_scores(1), 0.5), "single window"),
    "zero scores on log": (lambda: plots.plot_window_errors(_scores(20, 0.0), 0.0, log=True),
                           "same score"),
    "no windows": (lambda: plots.plot_window_errors([], 1.0), "shorter than one window"),
    "points nothing detected": (lambda: plots.plot_point_scores(np.ones(40), np.zeros(40), 1.0),
                                "nothing detected"),
    "map nothing detected": (lambda: plots.plot_anomaly_map(np.zeros(40, bool), None), "no point was flagged"),
    "map empty": (lambda: plots.plot_anomaly_map(np.zeros(0, bool)), "empty"),
    "no metrics no scores": (lambda: plots.plot_model_comparison({}, {}), "Nothing to compare"),
    "constant scores": (lambda: plots.plot_score_distribution(_scores(10, 0.2), 0.2), "same"),
    "single score": (lambda: plots.plot_score_distribution([0.3], 0.5), "single score"),
    "non-finite scores": (lambda: plots.plot_score_distribution([np.nan, np.inf], 0.5), "No finite"),
    "one window extremes": (lambda: plots.plot_extreme_windows(np.ones((1, 5, 1)), [0.1]),
                            "both the lowest and the highest"),
    "nothing flagged spread": (lambda: plots.plot_mean_spread(np.ones((4, 5)), np.zeros(4, bool)),
                               "nothing detected"),
    "one flagged spread": (lambda: plots.plot_mean_spread(np.ones((4, 5)), [1, 0, 0, 0]), "no spread"),
    "perfect reconstruction": (lambda: plots.plot_reconstruction(np.ones((2, 5)), np.ones((2, 5))),
                               "perfect reconstruction"),
    "zero error heat map": (lambda: plots.plot_feature_heatmaps(np.ones((2, 5, 2)), np.zeros((2, 5, 2))),
                            "zero error"),
}


@pytest.mark.parametrize("case", sorted(DEGENERATE))
def test_degenerate_input_gives_a_figure_that_says_so(case):
    make, phrase = DEGENERATE[case]
    fig = draw(make())
    assert phrase in all_text(fig), all_text(fig)
