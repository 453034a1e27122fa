"""The report: a valid, self-contained HTML page; figures written atomically inside out_dir.

The page is parsed with ``html.parser`` and a strict tag-nesting check (the oracle for "valid
HTML"); embedded images are decoded back and compared byte for byte with the files written.
Runtime: about 10 s on 2 cores (one run rendered in full as PNG, two figures as SVG).
"""

import base64
import dataclasses
import html
import json
from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import pytest
from test_plots import make_run

import npae.detector
import npae.metrics
import npae.scoring
from npae import report
from npae.commands._common import model_entry, pca_entry
from npae.errors import DataError
from npae.report import ModelMetrics, ModelResult, PointMetric, ReportRun, TutorialMetric

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Parse a page, checking that every element is closed in order; collect what tests need."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags = [], [], []
        self.imgs, self.links, self.figcaptions, self.cells, self.text = [], [], [], [], []
        self._in = {}
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(a)
        for key in ("href", "src", "action", "srcset"):
            if key in a:
                self.links.append(a[key])
        if tag not in VOID:
            self.stack.append(tag)
            if tag in ("figcaption", "td", "th", "title"):
                self._in[tag] = []

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag in self._in:
            txt = "".join(self._in.pop(tag)).strip()
            {"figcaption": self.figcaptions, "td": self.cells, "th": self.cells}.get(tag, []).append(txt)

    def handle_data(self, data):
        self.text.append(data)
        for buf in self._in.values():
            buf.append(data)


@pytest.fixture(scope="module")
def run():
    return make_run(models=("rnn", "lstm"))


@pytest.fixture(scope="module")
def png():
    """One real (small) PNG, used for every figure in the pure render_html tests."""
    from npae import plots

    fig = plots.plot_series(np.arange(10.0))
    return report.figure_bytes(fig, "png", dpi=20)


# ----------------------------------------------------------------------------- the plan
def test_plan_lists_figures_in_reading_order(run):
    keys = [sp.key for sp in report.plan_figures(run)]
    per_model = ["window_errors", "point_scores", "score_distribution", "extreme_windows",
                 "score_ranges", "mean_spread", "reconstruction"]
    assert keys == (["series", "training_curves", "model_comparison", "anomaly_map"]
                    + [f"{k}_rnn" for k in per_model] + [f"{k}_lstm" for k in per_model])
    for sp in report.plan_figures(run):
        assert sp.caption.endswith(".") and sp.caption.count(". ") == 0  # one sentence
    multi = [sp.key for sp in report.plan_figures(make_run(D=2, models=("lstm",)))]
    assert "heatmaps_lstm" in multi and "model_comparison" not in multi  # one model: nothing to compare


def test_plan_skips_what_does_not_apply():
    r = make_run(models=("m",), labels=False)
    m = r["models"]["m"]
    m["metrics"] = {"backend": "numpy", "train_seconds": 1.0, "final_loss": 0.1}
    m["history"] = {"train_loss": [], "val_loss": [], "seconds": []}
    for k in ("windows", "reconstructions", "step_errors"):
        m[k] = None
    keys = [sp.key for sp in report.plan_figures(r)]
    assert keys == ["series", "anomaly_map", "window_errors_m", "point_scores_m", "score_distribution_m"]


def test_window_labels_match_a_loop():
    rng = np.random.default_rng(3)
    lab = rng.random(103) < 0.05
    for T, stride in ((10, 1), (7, 3), (103, 1)):
        n = (103 - T) // stride + 1
        want = [lab[i * stride:i * stride + T].any() for i in range(n)]
        np.testing.assert_array_equal(report.window_labels(lab, n, T, stride), want)
    assert report.window_labels(None, 5, 3) is None
    assert report.window_labels(lab, 200, 10) is None  # windows that do not fit: no guess


def test_window_hits_is_one_function_for_the_detector_and_the_report():
    rng = np.random.default_rng(11)
    for N in (0, 1, 9, 57):
        mask = rng.random(N) < 0.15
        for T, stride in ((1, 1), (4, 1), (5, 3), (9, 2)):
            want = [mask[s:s + T].any() for s in range(0, N - T + 1, stride)]
            got = npae.metrics.window_hits(mask, T, stride)  # every window that fits
            assert got.dtype == bool and got.tolist() == want
            n = len(want)
            if n:
                np.testing.assert_array_equal(npae.metrics.window_hits(mask, T, stride, n_windows=n), want)
                np.testing.assert_array_equal(report.window_labels(mask, n, T, stride), want)  # old order
            assert npae.metrics.window_hits(mask, T, stride, n_windows=n + 1) is None  # do not fit
    assert npae.metrics.window_hits(None, 3) is None
    assert npae.metrics.window_hits(np.ones(5, bool), 2, n_windows=0) is None
    # the detector's repair passes (in npae.scoring) call the same function, not a copy of it
    assert npae.scoring.window_hits is npae.metrics.window_hits
    assert not hasattr(npae.detector, "_window_hits") and not hasattr(npae.scoring, "_window_hits")


# ------------------------------------------------------------------------------ the record
def _record(r):
    """``r`` (a make_run dict) built field by field as a ReportRun, the way the commands do."""
    models = {}
    for name, m in r["models"].items():
        mt = m["metrics"]
        models[name] = ModelResult(
            cell=m["cell"], backend=m["backend"], history=m["history"],
            window_scores=m["window_scores"], threshold=m["threshold"], window_flags=m["window_flags"],
            point_scores=m["point_scores"], point_threshold=m["point_threshold"],
            point_flags=m["point_flags"], windows=m["windows"], reconstructions=m["reconstructions"],
            step_errors=m["step_errors"],
            metrics=ModelMetrics(backend=mt["backend"], train_seconds=mt["train_seconds"],
                                 final_loss=mt["final_loss"],
                                 tutorial=TutorialMetric(**mt["tutorial_metric"]),
                                 point=PointMetric(**mt["point_metric"])))
    return ReportRun(series=r["series"], models=models, title=r["title"], command=r["command"],
                     settings=r["settings"], feature_names=r["feature_names"], labels=r["labels"],
                     window_size=r["window_size"], stride=r["stride"])


def test_a_record_and_its_dict_give_the_same_plan_and_page(png):
    r = make_run(D=2, models=("rnn", "lstm"))
    r["train_rows"], r["warnings"] = 90, ["an under-trained model"]
    rec = dataclasses.replace(_record(r), train_rows=90, warnings=["an under-trained model"])
    text = [(sp.key, sp.section, sp.heading, sp.caption) for sp in report.plan_figures(rec)]
    assert text == [(sp.key, sp.section, sp.heading, sp.caption) for sp in report.plan_figures(r)]
    assert len(text) == 4 + 2 * 8  # every figure applies, heat maps too (D = 2)
    images = {k: png for k, *_ in text}
    page = report.render_html(rec, images)
    assert page == report.render_html(r, images)
    assert "the first 90 points" in page and "an under-trained model" in page


def test_the_record_keeps_series_labels_and_models_in_one_form():
    rec = ReportRun(series=[1, 2, 3, 4], labels=[0, 1, 1, 0],
                    models={7: {"threshold": 2, "cell": "rnn", "unknown": "ignored",
                                "metrics": {"backend": "numpy", "point_metric": {"f1": 0.5}}}})
    assert rec.series.shape == (4, 1) and rec.series.dtype == float
    assert rec.labels.dtype == bool and rec.labels.tolist() == [False, True, True, False]
    m = rec.models["7"]  # names become strings, dicts become ModelResult
    assert isinstance(m, ModelResult) and m.threshold == 2 and type(m.threshold) is int  # kept as given
    assert m.metrics == ModelMetrics(backend="numpy", point=PointMetric(f1=0.5))
    assert m.metrics.tutorial is None
    assert ReportRun(series=[1.0, 2.0], models={}, labels=[]).labels is None  # empty: no labels
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.title = "changed"
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.threshold = 3.0
    with pytest.raises(DataError, match="models must be a dict"):
        ReportRun(series=[1.0], models=[("a", {})])
    with pytest.raises(DataError, match="ReportRun or a dict"):
        report.plan_figures([("series", [1.0])])


def test_model_metrics_read_the_summary_dict_and_drive_the_tables():
    summary = {"backend": "torch", "train_seconds": 2.5, "final_loss": 0.125, "n_components": 3,
               "tutorial_metric": {"precision": 0.25, "recall": 0.5, "f1": 1 / 3, "tp": 9},
               "point_metric": {"precision": 0.75, "events_found": 2, "events_total": 4,
                                "false_alarm_events": 1, "point_adjusted_f1": 0.9}}
    mm = ModelMetrics.from_dict(summary)
    assert mm.tutorial == TutorialMetric(0.25, 0.5, 1 / 3)
    assert mm.point == PointMetric(precision=0.75, events_found=2, events_total=4, false_alarm_events=1)
    assert ModelMetrics.from_dict(None) == ModelMetrics() == ModelMetrics.from_dict({})
    rec = ReportRun(series=np.zeros(3), models={"a": ModelResult(metrics=mm),
                                                "b": ModelResult(cell="pca", metrics=ModelMetrics())})
    cells = Page(report.render_html(rec, {})).cells
    i = cells.index("a", cells.index("tutorial F1"))  # the quality table: only model a has a row
    assert cells[i + 1:i + 12] == ["0.250", "0.500", "0.333", "0.750", "\u2013", "\u2013", "\u2013",
                                   "\u2013", "2 of 4", "1"]
    assert "b" not in cells[cells.index("tutorial F1"):]
    j = cells.index("a", cells.index("training time"))
    assert cells[j + 1:j + 5] == ["\u2013", "torch", "2.50 s", "0.125"]
    assert cells[cells.index("b", j) + 1] == "pca"


def test_the_commands_build_model_results():
    d = SimpleNamespace(window_scores=np.array([0.1, 0.9]), threshold=0.5, window_flags=[False, True],
                        point_scores=np.arange(3.0), point_threshold=1.5, point_flags=np.array([0, 0, 1], bool),
                        windows=np.zeros((2, 2, 1)), reconstructions=np.zeros((2, 2, 1)),
                        step_errors=np.zeros((2, 2, 1)))
    metrics = {"backend": "numpy", "train_seconds": 1.0, "final_loss": None,
               "tutorial_metric": {"precision": 1.0, "recall": 0.5, "f1": 2 / 3}}
    pca = pca_entry(None, d, metrics, window_threshold=0.05, window_flags=[True, True])
    assert isinstance(pca, ModelResult) and pca.cell == "pca" and pca.windows is None
    assert pca.threshold == 0.05 and pca.window_flags.tolist() == [True, True]  # the overrides
    assert pca.metrics == ModelMetrics(backend="numpy", train_seconds=1.0,
                                       tutorial=TutorialMetric(1.0, 0.5, 2 / 3))
    det = SimpleNamespace(cell="gru", backend="numpy",
                          history_=SimpleNamespace(to_dict=lambda: {"train_loss": [1.0, 0.5]}))
    m = model_entry(det, d, metrics)
    assert m.threshold == 0.5 and m.window_flags.dtype == bool and m.windows is d.windows
    assert m.history == {"train_loss": [1.0, 0.5]} and m.metrics.point is None


def test_the_rules_choose_the_figures_and_the_text_follows_the_facts():
    with_labels = report.plan_figures(make_run(D=2, models=("lstm",)))
    without = report.plan_figures(make_run(D=2, models=("lstm",), labels=False))
    assert [sp.key for sp in with_labels] == [sp.key for sp in without]  # labels change no rule
    changed = {a.key for a, b in zip(with_labels, without) if a.caption != b.caption}
    assert changed == {"series", "anomaly_map", "point_scores_lstm", "score_distribution_lstm"}
    assert all(a.heading == b.heading and a.section == b.section for a, b in zip(with_labels, without))
    # every kind of figure the rules can plan has its heading and caption, and nothing else does
    kinds = {p.kind for p in report._rules(ReportRun.from_dict(make_run(D=2)))}
    assert kinds == set(report._HEADINGS) == set(report._CAPTIONS)
    assert set(report._SECTIONS) < kinds


# -------------------------------------------------------------------------- render_html
def test_render_html_is_valid_and_self_contained(run, png):
    plan = report.plan_figures(run)
    images = {sp.key: png for sp in plan}
    text = report.render_html(run, images)
    page = Page(text)
    assert text.startswith("<!DOCTYPE html>")
    assert page.errors == []
    assert "http://" not in text and "https://" not in text
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    assert all(link.startswith("#") or link.startswith("data:") for link in page.links)
    assert len(page.imgs) == len(plan)
    for im in page.imgs:
        assert im["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(im["src"].split(",", 1)[1]) == png
    # captions in reading order, each the plan's sentence
    assert len(page.figcaptions) == len(plan)
    for i, (cap, sp) in enumerate(zip(page.figcaptions, plan), 1):
        assert cap == f"Figure {i}. {sp.heading}. {sp.caption}"
    assert "Content-Security-Policy" in text and "default-src 'none'" in text


def test_render_html_metrics_and_settings_tables(run, png):
    page = Page(report.render_html(run, {}))
    cells = page.cells
    rnn = run["models"]["rnn"]
    i = cells.index("lstm", cells.index("tutorial F1"))  # the quality table's lstm row
    pm = run["models"]["lstm"]["metrics"]["point_metric"]
    assert cells[i + 1:i + 12] == ["0.210", "1.000", "0.347", f"{pm['precision']:.3f}", "0.900", "0.850",
                                   "0.970", "0.881", "3 of 3", "1"]
    j = cells.index("rnn", cells.index("training time"))
    assert cells[j + 1:j + 9] == ["rnn", "numpy", "6.00 s", "0.02", f"{rnn['threshold']:.4g}",
                                   f"{int(rnn['window_flags'].sum())} of 281",
                                   f"{rnn['point_threshold']:.4g}", f"{int(rnn['point_flags'].sum())} of 300"]
    # settings, nested keys dotted, values as JSON
    k = cells.index("scaler.kind")
    assert cells[k + 1] == "standard"
    assert cells[cells.index("lr") + 1] == json.dumps(1e-3)
    assert cells[cells.index("window size") + 1] == "20"
    assert "Figures were switched off" not in "".join(page.text)


def test_settings_table_shows_each_setting_once_and_no_unset_ones():
    r = make_run()
    r["settings"] = {"window": 20, "window_size": 20, "stride": 1, "score_stride": 1,
                     "labels": "is_anomaly", "fill": None, "columns": ["value"], "lr": 1e-3}
    r["train_rows"] = 45
    cells = Page(report.render_html(r, {})).cells
    table = cells[cells.index("command"):]
    names = table[::2][:12]
    assert names.count("window size") == 1 and names.count("score stride") == 1
    assert "window" not in names and "score_stride" not in names and "fill" not in names
    assert names.count("labels") == 1 and table[table.index("labels column") + 1] == "is_anomaly"
    assert names.count("features") == 1 and table[table.index("stride") + 1] == "1"
    cap = report.plan_figures(r)[0].caption
    assert "the first 45 points" in cap and cap.count(". ") == 0 and cap.endswith(".")


def test_everything_from_data_is_escaped(png):
    r = make_run(models=("<i>evil</i>",))
    r["title"] = 'My "run" <script>alert(1)</script>'
    r["settings"] = {"<b>k</b>": "<img src=x onerror=alert(1)>", "path": "https://example.com/x"}
    r["feature_names"] = ["<u>f</u>"]
    text = report.render_html(r, {sp.key: png for sp in report.plan_figures(r)})
    page = Page(text)
    assert page.errors == []
    assert set(page.tags) <= {"html", "head", "meta", "title", "style", "body", "main", "h1", "p", "code",
                              "nav", "ol", "li", "a", "h2", "h3", "table", "thead", "tbody", "tr", "th",
                              "td", "figure", "img", "figcaption", "b"}
    assert len(page.imgs) == len(report.plan_figures(r))  # the setting's <img> is text, not a tag
    assert html.escape(r["title"]) in text
    assert "<img src=x onerror=alert(1)>" in "".join(page.text)
    assert "https://example.com/x" in page.cells  # shown as text, never as a link
    assert all(link.startswith("#") or link.startswith("data:") for link in page.links)
    assert any("<i>evil</i>" in c for c in page.figcaptions)


def test_render_html_without_figures(run):
    page = Page(report.render_html(run, {}, figures=False))
    assert page.imgs == [] and page.errors == []
    assert "Figures were switched off" in "".join(page.text)


# ---------------------------------------------------------------------------- write_report
def test_write_report_png(tmp_path):
    r = make_run(models=("lstm",))
    out = tmp_path / "out"
    (tmp_path / "input.csv").write_text("a\n1\n")
    written = report.write_report(out, r, dpi=50)  # every figure drawn, at a low resolution
    plan = report.plan_figures(r)
    assert list(written) == [sp.key for sp in plan] + ["report"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{i:02d}_{sp.key}.png" for i, sp in enumerate(plan, 1)] + ["report.html"])  # no temp files left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.csv", "out"]
    assert (tmp_path / "input.csv").read_text() == "a\n1\n"
    images = {}
    for key, path in written.items():
        assert path.parent == out.resolve()
        if key != "report":
            data = path.read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            images[key] = data
    page_text = written["report"].read_text(encoding="utf-8")
    assert page_text == report.render_html(r, images)  # the page embeds exactly the files written
    assert Page(page_text).errors == []
    # a second run replaces our outputs in place
    again = report.write_report(out, r, figures=False)
    assert list(again) == ["report"] and "switched off" in again["report"].read_text()


def test_write_report_svg_multivariate_and_hostile_names(tmp_path, monkeypatch):
    r = make_run(N=120, T=10, D=2, models=("../../evil name",))
    full = report.plan_figures(r)
    keep = [sp for sp in full if sp.key in ("series", "heatmaps_evil_name")]  # two, to save time
    assert len(keep) == 2
    monkeypatch.setattr(report, "plan_figures", lambda run: keep)
    written = report.write_report(tmp_path / "o", r, fmt="svg")
    assert "heatmaps_evil_name" in written
    for key, path in written.items():
        assert path.parent == (tmp_path / "o").resolve()
    text = written["report"].read_text()
    page = Page(text)
    assert page.errors == [] and len(page.imgs) == len(written) - 1
    for im in page.imgs:
        assert im["src"].startswith("data:image/svg+xml;base64,")
        svg = base64.b64decode(im["src"].split(",", 1)[1])
        assert b"<svg" in svg and b"<script" not in svg
    assert "http://" not in text and "https://" not in text  # SVG namespaces are inside the base64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_write_report_rejects_bad_arguments(tmp_path, run):
    with pytest.raises(DataError, match="png, svg"):
        report.write_report(tmp_path, run, fmt="jpg")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(DataError, match="is a file"):
        report.write_report(f, run, figures=False)
    with pytest.raises(DataError, match="missing 'models'"):
        report.write_report(tmp_path, {"series": [1.0]}, figures=False)
    (tmp_path / "d" / "report.html").mkdir(parents=True)
    with pytest.raises(DataError, match="folder of that name"):
        report.write_report(tmp_path / "d", run, figures=False)
    assert f.read_text() == "x"


def test_figure_bytes_are_reproducible():
    from npae import plots

    a = report.figure_bytes(plots.plot_series(np.arange(5.0)), "png", dpi=20)
    b = report.figure_bytes(plots.plot_series(np.arange(5.0)), "png", dpi=20)
    assert a == b
