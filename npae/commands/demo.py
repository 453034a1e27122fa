"""``npae demo``: the seed tutorial's whole experiment, end to end, on its built-in data.

1000 points of trend + seasonality + noise; the RNN and the LSTM autoencoder (hidden 32, latent
16) trained on the clean series with Adam (lr 1e-3, batch 32, 50 epochs); then the series with 5
injected spikes is scored.  Two sets of numbers side by side:

* the tutorial's metric, computed as it does: windows above the 95th percentile of the scored
  windows' errors are flagged, and each flagged window marks all its 50 points (about 0.33);
* point metrics: the detector's point scores (min over covering windows, repair passes) and its
  point threshold (the largest score of a fully covered training point) — precision / recall /
  F1, ROC-AUC, PR-AUC, events found;
* the same numbers for :class:`npae.PCADetector` (window PCA, 95 % of the variance) fitted on the
  same clean series, so the table shows whether the autoencoders earn their training time.

The models train with the tutorial's schedule (``epochs`` epochs, no validation split, no
early stopping or learning-rate schedule), not the detector's train-to-convergence defaults.

Writes ``summary.json`` (and, unless ``--no-figures``, the figures and ``report.html``) to --out.
"""

from __future__ import annotations

import time

import numpy as np

from ..baselines import PCADetector
from ..data import tutorial_data
from ..detector import AnomalyDetector
from ..metrics import evaluate, tutorial_metric
from ..report import ReportRun
from ..scoring import Threshold
from ._common import (add_output_options, dump_json, fmt, model_entry, model_metrics, output_dir,
                      pca_entry, show_progress, write_figures, write_file, written_message)

HELP = "run the seed tutorial's experiment (RNN vs LSTM autoencoder) on built-in data"
DESCRIPTION = ("The seed tutorial's experiment on its built-in data: RNN and LSTM autoencoders "
               "trained on a clean synthetic series, then scored on the series with 5 spikes; "
               "prints the tutorial's window metric beside point metrics and training times.")

N_POINTS, N_ANOMALIES, KIND, WINDOW = 1000, 5, "spike", 50
HIDDEN, LATENT, LR, BATCH = 32, 16, 1e-3, 32
# the tutorial's experiment: a fixed number of epochs, no validation split, no schedule, no clip;
# thresholds from the (clean) training series
TUTORIAL_SCHEDULE = dict(min_steps=None, max_steps=None, patience=None, lr_patience=None,
                         val_fraction=0.0, clip=None, calibration="train")


def add_arguments(parser):
    parser.add_argument("--out", default="npae-out", metavar="DIR",
                        help="folder for summary.json, figures and report.html (default: npae-out)")
    parser.add_argument("--epochs", type=int, default=50, help="training epochs (default: 50)")
    parser.add_argument("--seed", type=int, default=42, help="data, initial weights and batch "
                        "order (default: 42)")
    parser.add_argument("--backend", choices=("numpy", "torch", "both"), default="numpy",
                        help="npae (numpy), the PyTorch reference (torch), or both from identical "
                        "initial weights, printing how far their losses drift (default: numpy)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="floating-point precision of the models (default: float32)")
    add_output_options(parser, no_figures_help="write summary.json only", quiet_help="no progress bars")


def _check(args):
    from ..errors import DataError

    if args.epochs < 1:
        raise DataError(f"--epochs must be at least 1, got {args.epochs}")
    if args.seed < 0:
        raise DataError(f"--seed must be >= 0, got {args.seed}")
    if args.backend != "numpy":  # before any training, not after the numpy models
        from ..backends import import_reference

        import_reference(f"--backend {args.backend}")


def run(args) -> int:
    _check(args)
    out = output_dir(args.out)
    clean, series, starts, labels = tutorial_data(args.seed, N_POINTS, N_ANOMALIES, KIND)
    backends = ("numpy", "torch") if args.backend == "both" else (args.backend,)
    print(f"npae demo: {N_POINTS} points, {N_ANOMALIES} {KIND}s at {starts.tolist()}, windows of "
          f"{WINDOW}; training on the clean series, {args.epochs} epochs, seed {args.seed}, "
          f"backend {args.backend}, {args.dtype}")

    settings = {
        "n_points": N_POINTS, "n_anomalies": N_ANOMALIES, "kind": KIND,
        "anomaly_starts": starts.tolist(), "window_size": WINDOW, "hidden_size": HIDDEN,
        "latent_size": LATENT, "epochs": args.epochs, "batch_size": BATCH, "lr": LR,
        "optimizer": "adam", "seed": args.seed, "backend": args.backend, "dtype": args.dtype,
        "trained_on": "the clean series (as the tutorial)",
        "scaler": "standard, per feature, fitted on the training windows",
        "window_threshold": "95th percentile of the scored windows' errors (the tutorial's)",
        "point_aggregate": "min", "point_threshold": "max (largest training point score)",
        "repair": 2,
    }
    models, entries, dets = {}, {}, {}
    for cell in ("rnn", "lstm"):
        for backend in backends:
            name = cell if backend == backends[0] else f"{cell}_{backend}"
            det = AnomalyDetector(cell=cell, window_size=WINDOW, hidden_size=HIDDEN,
                                  latent_size=LATENT, epochs=args.epochs, batch_size=BATCH, lr=LR,
                                  backend=backend, dtype=args.dtype, seed=args.seed,
                                  progress=show_progress(args), **TUTORIAL_SCHEDULE)
            start = time.perf_counter()
            det.fit(clean)
            wall = time.perf_counter() - start
            d = det.detect(series, keep_windows=True)
            # the tutorial's threshold: the 95th percentile of the scored windows themselves
            tut_thr = Threshold("percentile", q=95)
            window_flags = tut_thr.fit_apply(d.window_scores)
            tut = tutorial_metric(window_flags, starts, WINDOW, N_POINTS)
            point = evaluate(labels, d.point_scores, d.point_flags)
            m = model_metrics(backend, det.history_, tut, point)
            steps = args.epochs * -(-(N_POINTS - WINDOW + 1) // BATCH)
            print(f"  {name:<10} trained in {m['train_seconds']:.1f} s ({1e3 * m['train_seconds'] / steps:.1f} ms/step), "
                  f"final loss {m['final_loss']:.6f} (fit and score: {wall:.1f} s)")
            models[name] = m
            dets[name] = (det, d, tut, point)
            entries[name] = model_entry(det, d, m, window_threshold=tut_thr.value_,
                                        window_flags=window_flags)

    # the PCA baseline: the same scaler, windows, aggregation, repair and thresholds
    pca = PCADetector(window_size=WINDOW, val_fraction=0.0, calibration="train").fit(clean)
    d = pca.detect(series)
    tut_thr = Threshold("percentile", q=95)
    window_flags = tut_thr.fit_apply(d.window_scores)
    tut = tutorial_metric(window_flags, starts, WINDOW, N_POINTS)
    point = evaluate(labels, d.point_scores, d.point_flags)
    m = {"backend": "numpy", "train_seconds": float(pca.fit_seconds_), "final_loss": None,
         "n_components": int(pca.n_components_),
         "tutorial_metric": {k: float(tut[k]) for k in ("precision", "recall", "f1")},
         "point_metric": {k: point.get(k) for k in (
             "precision", "recall", "f1", "roc_auc", "pr_auc", "events_found", "events_total",
             "false_alarm_events")}}
    print(f"  {'pca':<10} fitted in {pca.fit_seconds_:.2f} s ({pca.n_components_} components "
          f"for 95 % of the variance)")
    models["pca"] = m
    dets["pca"] = (pca, d, tut, point)
    entries["pca"] = pca_entry(pca, d, m, window_threshold=tut_thr.value_, window_flags=window_flags)

    drift = {}
    if args.backend == "both":
        print("\nnumpy vs torch from identical initial weights, same batches "
              "(relative difference of the epoch losses):")
        for cell in ("rnn", "lstm"):
            a = np.array(dets[cell][0].history_.train_loss)
            b = np.array(dets[f"{cell}_torch"][0].history_.train_loss)
            rel = np.abs(a - b) / np.maximum(np.abs(b), 1e-300)
            drift[cell] = {"first_epoch": float(rel[0]), "last_epoch": float(rel[-1]),
                           "max": float(rel.max())}
            models[f"{cell}_torch"]["loss_drift"] = drift[cell]
            print(f"  {cell.upper():<5} epoch 1: {rel[0]:.1e}   epoch {len(rel)}: {rel[-1]:.1e}"
                  f"   max: {rel.max():.1e}")

    print()
    print(_table(models, dets))
    summary = {"settings": settings, "models": models}
    write_file(out / "summary.json", dump_json(summary))
    run_record = ReportRun(
        title=f"npae demo: the seed tutorial's experiment (seed {args.seed})",
        command="demo", settings=settings, series=series, feature_names=["value"],
        labels=labels, window_size=WINDOW, stride=1, models=entries,
    )
    written = [out / "summary.json"] + write_figures(out, run_record, args)
    print("\n" + written_message(written, out))
    return 0


def _table(models, dets) -> str:
    names = list(models)
    width = 14
    head = lambda n: (n.replace("_torch", " torch").upper() if "_" in n else n.upper())
    lines = []
    rule = "-" * (34 + width * len(names))
    lines.append(f"{'':<34}" + "".join(f"{head(n):>{width}}" for n in names))
    lines.append(rule)
    lines.append("Tutorial's metric (each flagged window marks its 50 points;")
    lines.append("  threshold: 95th percentile of the scored windows)")
    for key, label in (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1-Score")):
        lines.append(f"  {label:<32}" + "".join(f"{dets[n][2][key]:>{width}.4f}" for n in names))
    lines.append(f"  {'TP / FP / FN':<32}" + "".join(
        f"{'%d/%d/%d' % (dets[n][2]['tp'], dets[n][2]['fp'], dets[n][2]['fn']):>{width}}" for n in names))
    lines.append("Point metric (min over covering windows, 2 repair passes;")
    lines.append("  threshold: largest fully covered training point score)")
    rows = (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1-Score"),
            ("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"))
    for key, label in rows:
        lines.append(f"  {label:<32}" + "".join(f"{fmt(dets[n][3][key]):>{width}}" for n in names))
    lines.append(f"  {'TP / FP / FN':<32}" + "".join(
        f"{'%d/%d/%d' % (dets[n][3]['tp'], dets[n][3]['fp'], dets[n][3]['fn']):>{width}}" for n in names))
    lines.append(f"  {'Events found':<32}" + "".join(
        f"{'%d/%d' % (dets[n][3]['events_found'], dets[n][3]['events_total']):>{width}}" for n in names))
    lines.append(f"  {'False-alarm events':<32}" + "".join(
        f"{dets[n][3]['false_alarm_events']:>{width}}" for n in names))
    lines.append(f"  {'Point-adjusted F1 (inflated)':<32}" + "".join(
        f"{dets[n][3]['point_adjusted_f1']:>{width}.4f}" for n in names))
    lines.append("Training")
    lines.append(f"  {'Final loss':<32}" + "".join(f"{fmt(models[n]['final_loss'], '.6f'):>{width}}" for n in names))
    lines.append(f"  {'Train time (s)':<32}" + "".join(f"{models[n]['train_seconds']:>{width}.1f}" for n in names))
    lines.append(rule)
    return "\n".join(lines)
