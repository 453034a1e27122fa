"""The report: a valid, self-contained HTML page; figures written atomically inside out_dir.

The page is parsed with ``html.parser`` and a strict tag-nesting check (the oracle for "valid
HTML"); embedded images are decoded back and compared byte for byte with the files written.
Runtime: about 10 s on 2 cores (one run rendered in full as PNG, two figures as SVG).
"""

import base64
import html
import json
from html.parser import HTMLParser

import numpy as np
import pytest
from test_plots import make_run

from npae import report
from npae.errors import DataError

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
