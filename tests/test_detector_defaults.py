"""The detector's defaults on real-style data: training to convergence, validation calibration,
thresholds free of edge effects, the automatic window, whole-series input, the PCA baseline.

Oracles: the model's own reconstructions of hand-made windows with npae.scoring's full-array
functions, np.percentile / max, scikit-learn's PCA, series of known period.  About 10 s.
"""

import json

import numpy as np
import pytest
from sklearn.decomposition import PCA

import npae
from npae.data import inject_anomalies, sliding_windows, synthetic_series
from npae.detector import AnomalyDetector, coverage_positions, matched_point_thresholds, parse_threshold
from npae.errors import DataError, ShapeError
from npae.scoring import point_scores, window_errors

T = 16
FAST = dict(cell="rnn", hidden_size=8, latent_size=4, batch_size=32, lr=1e-2, seed=0,
            dtype="float64", min_steps=60, max_steps=200, patience=5, lr_patience=2)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    clean = synthetic_series(600, period=T, trend=0.0, rng=rng)
    series, starts, labels = inject_anomalies(clean, 3, "spike", margin=60, rng=rng)
    return clean, series, labels


@pytest.fixture(scope="module")
def det(data):
    return AnomalyDetector(window_size=T, **FAST).fit(data[0])


def _step_errors(det, series):
    xs = det.scaler_.transform(np.asarray(series, dtype=float)[:, None])
    w = np.array(sliding_windows(xs, T))
    return window_errors(w, det.model_.reconstruct(w)).per_step      # (n, T)


def test_training_holds_out_the_latest_windows_and_restores_the_best(det, data):
    h = det.history_
    n = 600 - T + 1
    assert det.n_val_windows_ == round(0.2 * n) and len(h.val_loss) == h.epochs
    assert h.stop_reason in ("early_stopping", "max_steps", "epochs") and h.steps >= 60
    assert len(h.lr) == h.epochs
    # the weights held are the best epoch's: their validation loss is the smallest recorded
    xs = det.scaler_.transform(data[0][:, None])
    val = np.array(sliding_windows(xs, T))[n - det.n_val_windows_:]
    loss = np.mean((det.model_.reconstruct(val) - val) ** 2)
    assert loss == pytest.approx(min(h.val_loss), rel=1e-9)
    assert det.loss_ratio_ == pytest.approx(min(h.val_loss) / val.var(), rel=1e-9)
    assert det.undertrained_ == (det.loss_ratio_ > 0.5)


def test_thresholds_come_from_fully_covered_held_out_points(det, data):
    step = _step_errors(det, data[0])
    n = len(step)
    val_start = n - det.n_val_windows_
    assert det.calibration_ == "validation"
    assert det.threshold_ == np.percentile(step.mean(axis=1)[val_start:], 95)
    p = point_scores(step, 600, how="min")
    held = np.arange(val_start + T - 1, 600 - T + 1)   # every covering window is held out
    assert det.point_threshold_ == p[held].max()


def test_edge_points_get_thresholds_fitted_with_as_few_windows(det, data):
    """(Cal 2): the last point of a series sits only at step T - 1 of one window, the first only at
    step 0; their thresholds are the max of the calibration points' errors at those steps."""
    step = _step_errors(det, data[0])
    val_start = len(step) - det.n_val_windows_
    held = np.arange(val_start + T - 1, 600 - T + 1)
    d = det.detect(data[1])
    assert d.point_thresholds[-1] == max(step[j - T + 1, T - 1] for j in held)
    assert d.point_thresholds[0] == max(step[j, 0] for j in held)
    assert d.point_thresholds[T + 5] == det.point_threshold_         # interior
    np.testing.assert_array_equal(d.point_flags, d.point_scores > d.point_thresholds)
    tail = det.predict(data[0][-200:])
    assert not tail[-T:].any()          # the end of a normal series raises no alarm for being the end
    assert d.point_flags[data[2]].mean() >= 0.5                       # the spikes are found


@pytest.mark.parametrize("stride", [1, 3])
def test_coverage_positions_match_the_windows(stride):
    N = 50
    lo, hi = coverage_positions(N, 8, stride)
    starts = np.arange(0, N - 8 + 1, stride)
    for j in range(starts[-1] + 8):
        pos = sorted(j - s for s in starts if s <= j < s + 8)
        assert (lo[j], hi[j]) == (pos[0], pos[-1])
        assert pos == list(range(lo[j], hi[j] + 1, stride))
    E = np.random.default_rng(0).random((30, 8))
    thr = matched_point_thresholds(E, parse_threshold("max"), "min", N, 8, stride)
    j = N // 2
    assert thr[j] == E[:, lo[j]:hi[j] + 1:stride].min(axis=1).max()


def test_auto_window_is_one_period_and_is_recorded(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(800)
    series = np.sin(2 * np.pi * t / 24) + 0.1 * rng.normal(size=800)
    det = AnomalyDetector(**FAST).fit(series)
    assert det.window_size == "auto" and det.window_size_ == 24
    det.save(tmp_path / "a.npz")
    back = AnomalyDetector.load(tmp_path / "a.npz")
    assert back.window_size_ == 24
    np.testing.assert_array_equal(back.score_points(series), det.score_points(series))
    np.testing.assert_array_equal(back.point_thresholds(800), det.point_thresholds(800))


def test_version_1_files_still_load(det, data, tmp_path):
    det.save(tmp_path / "v2.npz")
    with np.load(tmp_path / "v2.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    config = json.loads(str(arrays["config"]))
    config["format_version"] = 1
    for key in ("window_size", "windows_input", "calibration", "loss_ratio", "undertrained"):
        del config[key]
    for key in ("min_steps", "max_steps", "lr_patience", "lr_factor", "calibration"):
        del config["params"][key]
    config["params"]["window_size"] = T
    arrays["config"] = np.array(json.dumps(config))
    del arrays["calibration_scores"], arrays["calibration_errors"]
    with open(tmp_path / "v1.npz", "wb") as f:
        np.savez(f, **arrays)
    back = AnomalyDetector.load(tmp_path / "v1.npz")
    assert back.window_size_ == T and back.point_threshold_ == det.point_threshold_
    d = back.detect(data[1])
    np.testing.assert_array_equal(d.point_thresholds, det.point_threshold_)   # one number, as v1
    np.testing.assert_array_equal(d.window_scores, det.decision_function(data[1]))


def test_whole_series_input_scores_each_series():
    rng = np.random.default_rng(1)
    t = np.linspace(0, 2 * np.pi, 40)
    normal = np.sin(t)[None] + 0.05 * rng.normal(size=(60, 40))
    odd = np.cos(3 * t)[None] + 0.05 * rng.normal(size=(10, 40))
    det = AnomalyDetector(**FAST).fit(normal[..., None])
    assert det.window_size_ == 40 and det.calibration_ == "validation windows"
    test = np.concatenate([normal[:10], odd])[..., None]
    scores = det.decision_function(test)
    xs = det.scaler_.transform(test)
    np.testing.assert_allclose(scores, window_errors(xs, det.model_.reconstruct(xs)).window,
                               rtol=1e-12)
    train_scores = window_errors(*(2 * [det.scaler_.transform(normal[..., None])])).window
    assert train_scores.shape == (60,)
    held = det.scaler_.transform(normal[..., None])[60 - det.n_val_windows_:]
    assert det.threshold_ == np.percentile(window_errors(held, det.model_.reconstruct(held)).window, 95)
    np.testing.assert_array_equal(det.predict(test), scores > det.threshold_)
    assert npae.metrics.roc_auc(np.r_[np.zeros(10), np.ones(10)].astype(bool), scores) > 0.9
    with pytest.raises(ShapeError, match="length 40"):
        det.predict(np.zeros((3, 30, 1)))
    with pytest.raises(ShapeError, match="same kind"):
        det.predict(np.zeros(100))


def test_pca_detector_reconstructs_as_scikit_learn(data):
    pca = npae.PCADetector(window_size=T, val_fraction=0.2).fit(data[0])
    xs = pca.scaler_.transform(data[0][:, None])
    w = np.array(sliding_windows(xs, T))
    n_fit = len(w) - pca.n_val_windows_
    ref = PCA(n_components=0.95, svd_solver="full").fit(w[:n_fit].reshape(n_fit, -1))
    assert pca.n_components_ == ref.n_components_
    flat = w.reshape(len(w), -1)
    expected = ref.inverse_transform(ref.transform(flat)).reshape(w.shape)
    _, rec = pca.reconstruct(data[0])
    np.testing.assert_allclose(rec, expected, rtol=1e-8, atol=1e-10)
    d = pca.detect(data[1])
    np.testing.assert_array_equal(d.point_flags, d.point_scores > d.point_thresholds)
    assert d.point_flags[data[2]].mean() >= 0.5
    with pytest.raises(DataError, match="variance"):   # validated in fit
        npae.PCADetector(variance=1.5).fit(data[0])


def test_same_seed_same_result(data):
    a = AnomalyDetector(window_size=T, **FAST).fit(data[0])
    b = AnomalyDetector(window_size=T, **FAST).fit(data[0])
    assert a.history_.train_loss == b.history_.train_loss
    np.testing.assert_array_equal(a.score_points(data[1]), b.score_points(data[1]))


def test_pca_detector_saves_and_loads(data, tmp_path):
    pca = npae.PCADetector(window_size=T).fit(data[0])
    pca.save(tmp_path / "p.npz")
    back = npae.PCADetector.load(tmp_path / "p.npz")
    assert back.get_params() == pca.get_params() and back.n_components_ == pca.n_components_
    a, b = pca.detect(data[1]), back.detect(data[1])
    np.testing.assert_array_equal(a.point_scores, b.point_scores)
    np.testing.assert_array_equal(a.point_thresholds, b.point_thresholds)
    np.testing.assert_array_equal(a.window_scores, b.window_scores)
    AnomalyDetector(window_size=T, **FAST).fit(data[0]).save(tmp_path / "ae.npz")
    with pytest.raises(DataError, match="not a saved npae PCA detector"):
        npae.PCADetector.load(tmp_path / "ae.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="damaged"):
        npae.PCADetector.load(tmp_path / "junk.npz")


@pytest.mark.parametrize("cell, extra", [("gru", {}), ("lstm", {"num_layers": 2, "dropout": 0.1}),
                                         ("dense", {"num_layers": 2, "dropout": 0.2})])
def test_every_model_of_the_family_detects_saves_and_loads(data, tmp_path, cell, extra):
    """AnomalyDetector(cell=…) builds the model build_autoencoder builds, trains it, and a saved
    detector (dense: batch-norm buffers too) reloads to the same scores, bit for bit."""
    from npae.autoencoder import build_autoencoder

    kw = dict(FAST, cell=cell, window_size=T, batch_size=16, **extra)
    det = AnomalyDetector(**kw).fit(data[0])
    want = build_autoencoder(cell, 1, det.hidden_size, det.latent_size, window_size=T,
                             num_layers=extra.get("num_layers", 1), dropout=extra.get("dropout", 0.0),
                             seed=det.seed)
    assert type(det.model_) is type(want)
    assert {k: v.shape for k, v in det.model_.state_dict().items()} == \
        {k: v.shape for k, v in want.state_dict().items()}
    det.save(tmp_path / "d.npz")
    back = AnomalyDetector.load(tmp_path / "d.npz")
    assert back.get_params() == det.get_params()
    np.testing.assert_array_equal(back.score_points(data[1]), det.score_points(data[1]))
    np.testing.assert_array_equal(back.predict(data[1]), det.predict(data[1]))


# ---------------------------------------------------------------------------------------------
# The "auto" training rules (label-free: the window, the features, the steps an epoch holds)
# ---------------------------------------------------------------------------------------------

def test_auto_sizes_grow_with_the_window_and_the_features():
    from npae.detector import AUTO_LONG_WINDOW

    det = AnomalyDetector()
    assert det.model_sizes(12, 1) == (32, 16)
    assert det.model_sizes(AUTO_LONG_WINDOW, 1) == (32, 16)
    assert det.model_sizes(AUTO_LONG_WINDOW + 1, 1) == (64, 32)
    assert det.model_sizes(50, 40) == (80, 40)                  # at least 2·D
    assert AnomalyDetector(hidden_size=10).model_sizes(300, 1) == (10, 5)
    assert AnomalyDetector(hidden_size=10, latent_size=7).model_sizes(300, 1) == (10, 7)
    assert AnomalyDetector(latent_size=3).model_sizes(300, 1) == (64, 3)


def test_auto_sizes_build_the_model_and_survive_save_and_load(tmp_path):
    x = synthetic_series(420, period=200, trend=0.0, rng=np.random.default_rng(1))
    det = AnomalyDetector(cell="rnn", window_size=170, seed=0, min_steps=2, max_steps=2,
                          val_fraction=0.2).fit(x)
    assert (det.hidden_size_, det.latent_size_) == (64, 32)
    assert det.model_.encoder_fc.weight.shape == (32, 64)
    det.save(tmp_path / "d.npz")
    back = AnomalyDetector.load(tmp_path / "d.npz")
    assert back.hidden_size == "auto" and back.hidden_size_ == 64
    np.testing.assert_array_equal(back.decision_function(x), det.decision_function(x))


def test_auto_learning_rate_per_cell_and_explicit_values_win(data):
    assert AnomalyDetector(cell="rnn").learning_rate() == 1e-3
    for cell in ("lstm", "gru", "dense"):
        assert AnomalyDetector(cell=cell).learning_rate() == 1e-2
    assert AnomalyDetector(cell="rnn", lr=0.05).learning_rate() == 0.05
    opts = {k: v for k, v in FAST.items() if k != "lr"}
    det = AnomalyDetector(window_size=T, **opts).fit(data[0])
    assert det.history_.lr[0] == 1e-3                            # the rnn's rule reached Adam
    for bad in ("fast", 0.0, -1e-3, float("nan"), True):
        with pytest.raises(DataError, match="lr must be"):   # validated in fit (scikit-learn)
            AnomalyDetector(lr=bad, window_size=T).fit(data[0])


def test_auto_patience_counts_optimiser_steps():
    from npae.detector import LR_PATIENCE_STEPS, PATIENCE_STEPS

    assert PATIENCE_STEPS == 500 and LR_PATIENCE_STEPS == {"rnn": 200}
    rnn, lstm = AnomalyDetector(cell="rnn", batch_size=32), AnomalyDetector(batch_size=32)
    assert rnn.patience_epochs(55) == (250, 100)                 # ECG200: 2 steps an epoch
    assert lstm.patience_epochs(55) == (250, 5)                  # the gated cells: 5 epochs
    assert rnn.patience_epochs(32 * 10) == (50, 20)
    assert rnn.patience_epochs(32 * 30) == (20, 7)               # ⌈200 / 30⌉; 500 / 30 < 20
    assert rnn.patience_epochs(32 * 1000) == (20, 5)             # at least the epoch defaults
    assert rnn.patience_epochs(33) == (500, 200)                 # 33 = one step (1 joins 32)
    assert AnomalyDetector(patience=7, lr_patience=3).patience_epochs(55) == (7, 3)
    assert AnomalyDetector(patience=None, lr_patience=None).patience_epochs(55) == (None, None)
    for bad in (dict(patience="soon"), dict(lr_patience=-1), dict(patience=0)):
        with pytest.raises(DataError):                       # validated in fit (scikit-learn)
            AnomalyDetector(window_size=16, **bad).fit(np.sin(np.arange(200) / 3.0))
