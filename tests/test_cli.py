"""``npae demo`` and ``npae detect`` end to end, and every bad input the issue lists.

Oracles: the library API run in-process with the same settings (the CLI must add nothing but
I/O), the documented summary.json shape, and the files left on disk.  Runtime: about 30 s
(mostly the 2-epoch demo on the tutorial's 1000 points).
"""

import csv
import json
import sys

import numpy as np
import pytest

from npae.cli import main
from npae.data import inject_anomalies, synthetic_series
from npae.baselines import PCADetector
from npae.detector import AnomalyDetector
from npae.errors import MissingDependencyError

M_KEYS = {"backend", "train_seconds", "final_loss", "tutorial_metric", "point_metric"}
POINT_KEYS = {"precision", "recall", "f1", "roc_auc", "pr_auc", "events_found", "events_total",
              "false_alarm_events"}


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _check_m(m, backend):
    assert set(m) >= M_KEYS
    assert m["backend"] == backend
    assert m["train_seconds"] > 0 and np.isfinite(m["final_loss"])
    assert set(m["tutorial_metric"]) == {"precision", "recall", "f1"}
    assert set(m["point_metric"]) == POINT_KEYS
    for part in (m["tutorial_metric"], m["point_metric"]):
        p, r, f = part["precision"], part["recall"], part["f1"]
        assert 0 <= p <= 1 and 0 <= r <= 1
        assert f == pytest.approx(0 if p + r == 0 else 2 * p * r / (p + r), abs=1e-9)
    assert m["point_metric"]["events_total"] == 5


def test_demo_writes_the_documented_summary(tmp_path, capsys):
    out = tmp_path / "demo"
    code, stdout, err = _run(capsys, "demo", "--epochs", 2, "--out", out, "--no-figures")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"settings", "models"}
    assert set(summary["models"]) == {"rnn", "lstm", "pca"}
    for name in ("rnn", "lstm"):
        _check_m(summary["models"][name], "numpy")
    pca = summary["models"]["pca"]
    assert pca["final_loss"] is None and pca["n_components"] >= 1
    assert set(pca["point_metric"]) == POINT_KEYS and pca["point_metric"]["events_total"] == 5
    s = summary["settings"]
    assert (s["n_points"], s["n_anomalies"], s["window_size"], s["hidden_size"], s["latent_size"],
            s["batch_size"], s["lr"], s["epochs"], s["seed"]) == (1000, 5, 50, 32, 16, 32, 1e-3, 2, 42)
    # the table shows both metrics, with the numbers of the summary
    assert "Tutorial's metric" in stdout and "Point metric" in stdout and "Train time" in stdout
    f1_line = [ln for ln in stdout.splitlines() if ln.strip().startswith("F1-Score")]
    assert len(f1_line) == 2
    tut = f1_line[0].split()[1:]
    assert tut == [f"{summary['models'][k]['tutorial_metric']['f1']:.4f}"
                   for k in ("rnn", "lstm", "pca")]
    assert not list(out.glob("*.png"))  # --no-figures
    # stderr is not a terminal here: progress comes as plain lines, one per model at least
    assert "rnn (numpy): epoch 2/2" in err and "lstm (numpy): epoch 2/2" in err and "\r" not in err
    code, _, err = _run(capsys, "demo", "--epochs", 2, "--out", out, "--no-figures", "--quiet")
    assert code == 0 and "epoch" not in err


def test_demo_both_backends_report_drift(tmp_path, capsys):
    out = tmp_path / "both"
    code, stdout, err = _run(capsys, "demo", "--epochs", 1, "--backend", "both", "--out", out,
                             "--no-figures", "--dtype", "float64")
    assert code == 0, err
    models = json.loads((out / "summary.json").read_text())["models"]
    assert set(models) == {"rnn", "lstm", "rnn_torch", "lstm_torch", "pca"}
    _check_m(models["lstm_torch"], "torch")
    for cell in ("rnn", "lstm"):
        # float64, identical initial weights and batches: the losses agree to rounding
        assert models[cell]["final_loss"] == pytest.approx(models[f"{cell}_torch"]["final_loss"],
                                                           rel=1e-9)
        assert models[f"{cell}_torch"]["loss_drift"]["max"] < 1e-9
    assert "numpy vs torch" in stdout


def _write_csv(path, n=300, seed=1, nan_at=None, columns=("value",)):
    rng = np.random.default_rng(seed)
    cols = []
    labels = np.zeros(n, dtype=bool)
    for k in range(len(columns)):
        clean = synthetic_series(n, period=20, trend=0.0, rng=rng)
        s, _, lab = inject_anomalies(clean, 2, "spike", margin=n * 2 // 5, magnitude=6, rng=rng)
        cols.append(s)
        labels |= lab
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", *columns, "label"])
        for i in range(n):
            vals = [f"{c[i]:.6f}" for c in cols]
            if nan_at is not None and i == nan_at:
                vals[0] = ""
            w.writerow([f"2024-01-01 00:{i:04d}", *vals, int(labels[i])])
    return np.stack(cols, axis=1), labels


# the plain loop (3 epochs, no validation split): fast; the defaults are tested below
DETECT = ["--window", 20, "--cell", "rnn", "--epochs", 3, "--train-rows", 100, "--seed", 3,
          "--min-steps", 1, "--patience", 0, "--val-fraction", 0, "--no-figures"]
HEADER = ["row", "score", "flag", "threshold", "pca_score", "pca_flag"]


def test_detect_end_to_end_equals_the_library(tmp_path, capsys):
    src = tmp_path / "series.csv"
    _, labels = _write_csv(src)
    out = tmp_path / "out"
    code, stdout, err = _run(capsys, "detect", src, "--labels", "label", "--out", out, *DETECT)
    assert code == 0, err
    rows = list(csv.DictReader(open(out / "scores.csv")))
    assert list(rows[0]) == ["row", "timestamp"] + HEADER[1:] + ["error_value"]
    assert [int(r["row"]) for r in rows] == list(range(300))
    # the same detector through the library, on the values as the file holds them
    values = np.array([float(r["value"]) for r in csv.DictReader(open(src))])
    det = AnomalyDetector(cell="rnn", window_size=20, epochs=3, seed=3, min_steps=1,
                          patience=None, val_fraction=0.0).fit(values[:100])
    d = det.detect(values)
    pca = PCADetector(window_size=20, val_fraction=0.0).fit(values[:100]).detect(values)
    np.testing.assert_allclose([float(r["threshold"]) for r in rows], d.point_thresholds, rtol=1e-5)
    np.testing.assert_allclose([float(r["pca_score"]) for r in rows], pca.point_scores, rtol=1e-5)
    np.testing.assert_array_equal([r["pca_flag"] == "1" for r in rows], pca.point_flags)
    np.testing.assert_allclose([float(r["score"]) for r in rows], d.point_scores, rtol=1e-5)
    np.testing.assert_array_equal([r["flag"] == "1" for r in rows], d.point_flags)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["train_rows"] == 100 and summary["settings"]["columns"] == ["value"]
    # the command's defaults are the detector's "auto" rules, recorded as the values used
    assert (summary["settings"]["hidden_size"], summary["settings"]["latent_size"]) == (32, 16)
    assert summary["settings"]["lr"] == det.learning_rate() == 1e-3          # the rnn's rule
    assert det.history_.lr[0] == 1e-3
    assert summary["point_threshold"] == pytest.approx(det.point_threshold_)
    m = summary["models"]["rnn"]
    assert set(m["point_metric"]) >= POINT_KEYS
    test = slice(100, None)
    tp = int((d.point_flags[test] & labels[test]).sum())
    assert m["point_metric"]["recall"] == pytest.approx(tp / labels[test].sum())
    assert "against --labels label" in stdout


def test_detect_multivariate_and_fill(tmp_path, capsys):
    src = tmp_path / "multi.csv"
    _write_csv(src, columns=("a", "b"), nan_at=150)
    out = tmp_path / "o"
    code, _, err = _run(capsys, "detect", src, "--out", out, *DETECT)
    assert code == 2 and "row 150 (line 152)" in err and "--fill" in err
    code, _, err = _run(capsys, "detect", src, "--out", out, "--fill", "interpolate", *DETECT)
    assert code == 0, err
    rows = list(csv.DictReader(open(out / "scores.csv")))
    assert list(rows[0]) == ["row", "timestamp"] + HEADER[1:] + ["error_a", "error_b", "error_label"]
    code, _, err = _run(capsys, "detect", src, "--out", out, "--fill", "drop", "--column", "a,b",
                        *DETECT)
    assert code == 0, err
    rows = list(csv.DictReader(open(out / "scores.csv")))
    assert list(rows[0]) == ["row", "timestamp"] + HEADER[1:] + ["error_a", "error_b"]
    assert len(rows) == 299 and "150" not in [r["row"] for r in rows]
    stamps = [r["timestamp"] for r in csv.DictReader(open(src))]
    assert [r["timestamp"] for r in rows] == [stamps[int(r["row"])] for r in rows]  # row 150 skipped


def test_detect_writes_figures_and_report(tmp_path, capsys):
    pytest.importorskip("npae.report")
    src = tmp_path / "s.csv"
    _write_csv(src, n=200)
    out = tmp_path / "fig"
    argv = [a for a in DETECT if a != "--no-figures"]
    code, stdout, err = _run(capsys, "detect", src, "--out", out, "--format", "svg", *argv)
    assert code == 0, err
    assert (out / "report.html").exists() and list(out.glob("*.svg"))
    last = stdout.strip().splitlines()[-1]         # the closing line names every file written
    on_disk = sorted(p.name for p in out.iterdir())
    assert last.startswith(f"wrote {len(on_disk)} file(s)")
    assert sorted(last.split(": ", 1)[1].split(", ")) == on_disk


def _bad_files(tmp_path):
    f = {}
    f["empty"] = tmp_path / "empty.csv"
    f["empty"].write_text("")
    f["text"] = tmp_path / "text.csv"
    f["text"].write_text("name,city\nx,y\nz,w\n")
    f["short"] = tmp_path / "short.csv"
    f["short"].write_text("t,v\n" + "".join(f"{i},{i % 5}\n" for i in range(10)))
    f["nohead"] = tmp_path / "nohead.csv"
    f["nohead"].write_text("".join(f"{i},{i % 5}\n" for i in range(100)))
    f["ragged"] = tmp_path / "ragged.csv"
    f["ragged"].write_text("t,v\n1,2\n2,3,4\n")
    f["typo"] = tmp_path / "typo.csv"
    f["typo"].write_text("t,v\n" + "".join(f"{i},{'x1' if i == 7 else i % 5}\n" for i in range(100)))
    f["good"] = tmp_path / "good.csv"
    _write_csv(f["good"])
    return f


@pytest.mark.parametrize("case, argv, words", [
    ("missing", ["detect", "{tmp}/nope.csv"], "no such file"),
    ("empty", ["detect", "{empty}"], "is empty"),
    ("no numeric column", ["detect", "{text}"], "no numeric column"),
    ("no header", ["detect", "{nohead}"], "no header row"),
    ("ragged row", ["detect", "{ragged}"], "row 1 (line 3) has 3 fields"),
    ("text in a value column", ["detect", "{typo}"], "'x1' at row 7 (line 9)"),
    ("shorter than a window", ["detect", "{short}", "--window", "20"], "fewer than one window"),
    ("window < 2", ["detect", "{good}", "--window", "1"], "--window must be at least 2"),
    ("score stride > window", ["detect", "{good}", "--window", "5", "--score-stride", "6"],
     "--score-stride (6) must be at most --window (5)"),
    ("training part < window", ["detect", "{good}", "--train-rows", "10", "--window", "20"],
     "training part has 10 rows"),
    ("train rows > rows", ["detect", "{good}", "--train-rows", "1000"], "more than the 300 rows"),
    ("bad fraction", ["detect", "{good}", "--train-fraction", "1.5"], "--train-fraction"),
    ("both train options", ["detect", "{good}", "--train-rows", "50", "--train-fraction", "0.5"],
     "not allowed with"),
    ("unknown option", ["detect", "{good}", "--bogus"], "unrecognized arguments: --bogus"),
    ("unknown column", ["detect", "{good}", "--column", "zzz"], "no column 'zzz'"),
    ("unknown labels", ["detect", "{good}", "--labels", "zzz"], "no column 'zzz' for --labels"),
    ("labels not 0/1", ["detect", "{good}", "--labels", "value"], "must hold 0 or 1"),
    ("bad threshold", ["detect", "{good}", "--threshold", "best"], "unknown threshold"),
    ("bad cell", ["detect", "{good}", "--cell", "transformer"], "invalid choice"),
    ("a folder", ["detect", "{tmp}"], "is a folder"),
    ("demo epochs", ["demo", "--epochs", "0"], "--epochs must be at least 1"),
    ("demo backend", ["demo", "--backend", "jax"], "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, case, argv, words):
    files = _bad_files(tmp_path)
    names = {k: str(v) for k, v in files.items()}
    argv = [a.format(tmp=tmp_path, **names) for a in argv] + ["--out", str(tmp_path / "out")]
    code, out, err = _run(capsys, *argv)
    assert code == 2, case
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("npae: error: "), err
    assert words in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "scores.csv").exists()


def test_detect_never_overwrites_its_input(tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    src = folder / "scores.csv"
    _write_csv(src)
    before = src.read_bytes()
    code, _, err = _run(capsys, "detect", src, "--out", folder, *DETECT)
    assert code == 2 and "overwrite the input" in err
    code, _, err = _run(capsys, "detect", src, "--out", src, *DETECT)
    assert code == 2 and "existing file" in err
    assert src.read_bytes() == before


@pytest.mark.parametrize("argv", [["demo", "--backend", "both"], ["demo", "--backend", "torch"],
                                  ["detect", "{csv}", "--backend", "torch"]])
def test_torch_backend_without_torch_is_one_line_before_any_work(tmp_path, capsys, monkeypatch, argv):
    """Without PyTorch installed (simulated: ``import reference`` fails) the torch backends stop
    with the install command, before training the numpy models or reading the CSV's rows."""
    csv_path = tmp_path / "s.csv"
    csv_path.write_text("v\n" + "\n".join(str(v) for v in synthetic_series(200, seed=0)) + "\n")
    monkeypatch.setitem(sys.modules, "reference", None)
    out_dir = tmp_path / "out"
    code, out, err = _run(capsys, *[a.format(csv=csv_path) for a in argv], "--out", out_dir, "--quiet")
    assert code == 2
    assert err.count("\n") == 1 and "pip install torch==2.13.0" in err and "Traceback" not in err
    assert "trained" not in out and not out_dir.exists()


def test_detector_torch_backend_without_torch_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "reference", None)
    with pytest.raises(MissingDependencyError, match=r"pip install torch==2\.13\.0") as info:
        AnomalyDetector(backend="torch", window_size=5, epochs=1).fit(synthetic_series(60, seed=0))
    assert isinstance(info.value, ImportError)


def test_detect_defaults_pick_the_window_and_show_pca(tmp_path, capsys):
    """No --window: the dominant period of the training rows (20 here) is used, printed and
    recorded; the PCA baseline sits beside the autoencoder in the table and summary.json."""
    src = tmp_path / "s.csv"
    _write_csv(src, n=400)
    out = tmp_path / "auto"
    code, stdout, err = _run(capsys, "detect", src, "--labels", "label", "--cell", "rnn",
                             "--train-rows", 200, "--min-steps", 40, "--max-steps", 60,
                             "--out", out, "--no-figures")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    s = summary["settings"]
    assert s["window"] == 20 and s["window_rule"].startswith("auto")
    assert "window 20 (auto" in stdout
    assert set(summary["models"]) == {"rnn", "pca"}
    training = summary["models"]["rnn"]["training"]
    assert 40 <= training["steps"] <= 60 and training["stop_reason"] in ("epochs", "max_steps",
                                                                         "early_stopping")
    assert s["calibration"] == training["calibration"]
    table = stdout[stdout.index("after the training part"):]
    assert "PCA" in table and "ROC-AUC" in table and "false-alarm events" in table
    pca_auc = summary["models"]["pca"]["point_metric"]["roc_auc"]
    assert f"{pca_auc:.3f}" in table


def test_detect_warns_when_under_trained(tmp_path, capsys):
    pytest.importorskip("npae.report")
    src = tmp_path / "s.csv"
    _write_csv(src, n=200)
    out = tmp_path / "under"
    code, _, err = _run(capsys, "detect", src, "--window", 20, "--cell", "rnn", "--train-rows", 120,
                        "--min-steps", 1, "--max-steps", 1, "--lr", 1e-6, "--out", out)
    assert code == 0, err
    assert "warning" in err and "under-trained" in err and "--min-steps" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"]["rnn"]["training"]["undertrained"] is True
    assert summary["warnings"] and "under-trained" in summary["warnings"][0]
    page = (out / "report.html").read_text()
    assert "under-trained" in page and "Model pca" in page    # the baseline has its section


def test_detect_reports_adam_divergence(tmp_path, capsys):
    src = tmp_path / "s.csv"
    _write_csv(src, n=200)
    argv = [a if a != 0 else 0 for a in DETECT]
    code, _, err = _run(capsys, "detect", src, "--out", tmp_path / "div", "--lr", 1e6, *argv)
    assert code == 2 and "diverged" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ issue 13: day-to-day use
def _timestamped_csv(path, n=300):
    """A series with real timestamps (5-minute steps) and a 0/1 label column."""
    _, labels = _write_csv(path, n=n)
    rows = list(csv.reader(open(path)))
    start = np.datetime64("2024-01-01T00:00")
    for i, r in enumerate(rows[1:]):
        r[0] = str(start + np.timedelta64(5 * i, "m")).replace("T", " ")
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return labels


def test_save_model_then_score_gives_detects_scores_exactly(tmp_path, capsys):
    src = tmp_path / "series.csv"
    _timestamped_csv(src)
    model = tmp_path / "det.npz"
    code, _, err = _run(capsys, "detect", src, "--out", tmp_path / "d", "--save-model", model,
                        "--labels", "label", "--no-figures", *DETECT)
    assert code == 0, err
    assert model.exists() and (tmp_path / "det.pca.npz").exists()
    code, stdout, err = _run(capsys, "score", "--model", model, src, "--out", tmp_path / "s",
                             "--no-figures", "--labels", "label")
    assert code == 0, err
    a = list(csv.DictReader(open(tmp_path / "d" / "scores.csv")))
    b = list(csv.DictReader(open(tmp_path / "s" / "scores.csv")))
    assert a == b                                   # every column, every row, to the digit
    assert "npae score" in stdout
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert set(summary["models"]) == {"rnn", "pca"} and summary["settings"]["model"] == str(model)
    # a file with other columns is refused with advice, in one line
    other = tmp_path / "other.csv"
    other.write_text("timestamp,a,b\n" + "".join(f"{i},{i % 7},{i % 5}\n" for i in range(400)))
    code, _, err = _run(capsys, "score", "--model", model, other, "--out", tmp_path / "o")
    assert code == 2 and "no column 'value'" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, "score", "--model", tmp_path / "missing.npz", src)
    assert code == 2 and "no such detector file" in err


def test_timestamps_are_carried_into_scores_and_events(tmp_path, capsys):
    src = tmp_path / "series.csv"
    _timestamped_csv(src)
    out = tmp_path / "out"
    code, stdout, err = _run(capsys, "detect", src, "--out", out, "--labels", "label",
                             "--no-figures", *DETECT)
    assert code == 0, err
    stamps = [r["timestamp"] for r in csv.DictReader(open(src))]
    rows = list(csv.DictReader(open(out / "scores.csv")))
    assert [r["timestamp"] for r in rows] == stamps   # the input's own text, row by row
    summary = json.loads((out / "summary.json").read_text())
    flags = np.array([r["flag"] == "1" for r in rows])
    assert summary["events"], "the spikes should be flagged"
    for ev in summary["events"]:
        assert ev["start"] == stamps[ev["first_row"]] and ev["end"] == stamps[ev["last_row"]]
        assert ev["peak_time"] == stamps[ev["peak_row"]]
        assert flags[ev["first_row"]] and flags[ev["last_row"]]
        scores = [float(r["score"]) for r in rows[ev["first_row"]:ev["last_row"] + 1]]
        assert ev["peak_score"] == pytest.approx(max(scores), rel=1e-5)
    for ev in [e for e in summary["events"] if e["first_row"] >= 100][:20]:  # printed: after training
        assert f"{ev['start']} – {ev['end']}" in stdout


def test_merge_gap_joins_flagged_runs_into_events(tmp_path, capsys):
    from npae.metrics import events as runs

    src = tmp_path / "series.csv"
    _timestamped_csv(src)
    by_gap = {}
    for gap in ("0", "50"):
        out = tmp_path / f"g{gap}"
        code, stdout, err = _run(capsys, "detect", src, "--out", out, "--no-figures",
                                 "--labels", "label", "--merge-gap", gap, *DETECT)
        assert code == 0, err
        summary = json.loads((out / "summary.json").read_text())
        flags = np.array([r["flag"] == "1" for r in csv.DictReader(open(out / "scores.csv"))])
        assert [[e["first_row"], e["last_row"] + 1] for e in summary["events"]] == \
            [list(r) for r in runs(flags, gap=int(gap))]
        assert summary["settings"]["merge_gap"] == int(gap)
        by_gap[gap] = len(summary["events"])
    assert by_gap["50"] <= by_gap["0"]
    code, _, err = _run(capsys, "detect", src, "--merge-gap", "-1", "--out", tmp_path / "x")
    assert code == 2 and "--merge-gap" in err


def test_one_vocabulary_of_options_and_one_default_seed():
    from npae.cli import build_parser

    parser = build_parser()
    detect = parser.parse_args(["detect", "x.csv"])
    demo = parser.parse_args(["demo"])
    explain = parser.parse_args(["explain"])
    assert detect.seed == demo.seed == explain.seed == 42
    for name in ("dtype", "val_fraction", "patience", "scaler", "num_layers", "dropout", "hidden",
                 "latent"):
        assert hasattr(detect, name), name
    assert (explain.hidden, explain.latent) == (32, 16)
    assert (detect.hidden, detect.latent) == (None, None)       # detect: the detector's "auto"
    assert explain.window == 50 and detect.window == "auto"   # --window is a length everywhere
    old = parser.parse_args(["explain", "--window-size", "30", "--hidden-size", "8",
                             "--latent-size", "4"])          # the old spellings, hidden aliases
    assert (old.window, old.hidden, old.latent) == (30, 8, 4)
    assert parser.parse_args(["explain", "--index", "7"]).index == 7
    with pytest.raises(Exception):
        parser.parse_args(["detect", "x.csv", "--dtype", "float16"])


def test_thresholds_are_named_for_what_they_flag(tmp_path, capsys):
    src = tmp_path / "series.csv"
    _write_csv(src)
    out = tmp_path / "out"
    code, stdout, err = _run(capsys, "detect", src, "--labels", "label", "--out", out,
                             "--no-figures", *DETECT)
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert "threshold" not in summary and {"point_threshold", "window_threshold"} <= set(summary)
    assert set(summary["thresholds"]) == {"point_threshold", "window_threshold"}
    m = summary["models"]["rnn"]
    assert "window_metric" in m and "tutorial_metric" not in m     # a user's CSV is no tutorial
    assert "point flags (scores.csv's flag column)" in stdout and "window threshold" in stdout
    flags = np.array([r["flag"] == "1" for r in csv.DictReader(open(out / "scores.csv"))])
    assert int(flags.sum()) == summary["flagged_rows"]
