"""scikit-learn's estimator conventions and pandas in / pandas out, for both detectors.

Oracles: scikit-learn's own estimator checks (those that apply to an unsupervised detector of
a series) and ``sklearn.base.clone``; pandas' own index equality.
"""

import numpy as np
import pytest

import npae
from npae.errors import DataError

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.utils import estimator_checks as ec  # noqa: E402

FAST = dict(window_size=5, epochs=1, min_steps=2, max_steps=2, patience=None, hidden_size=4,
            latent_size=2, seed=0)


def detectors():
    return [npae.AnomalyDetector(**FAST), npae.PCADetector(window_size=5)]


# The checks that need no scikit-learn "tags": those that fit on scikit-learn's generated data
# read the tags of a BaseEstimator, and npae does not depend on scikit-learn.
APPLICABLE = ["check_estimator_cloneable", "check_get_params_invariance", "check_set_params",
              "check_no_attributes_set_in_init", "check_parameters_default_constructible",
              "check_do_not_raise_errors_in_init_or_set_params", "check_estimator_repr"]


@pytest.mark.parametrize("check", APPLICABLE)
@pytest.mark.parametrize("make", [0, 1], ids=["AnomalyDetector", "PCADetector"])
def test_scikit_learn_estimator_checks_that_apply(check, make):
    det = detectors()[make]
    getattr(ec, check)(type(det).__name__, det)


@pytest.mark.parametrize("make", [0, 1], ids=["AnomalyDetector", "PCADetector"])
def test_clone_gives_an_unfitted_twin_with_the_same_params(make):
    det = detectors()[make].set_params(q=97.5)
    twin = clone(det)
    assert twin is not det and twin.get_params() == det.get_params()
    assert twin.get_params(deep=True) == det.get_params(deep=False)
    x = np.sin(np.arange(200) / 3.0)
    det.fit(x)
    assert getattr(clone(det), "model_", None) is None       # clone never copies a fit


def test_parameters_are_validated_in_fit_not_in_init():
    det = npae.AnomalyDetector(seed=-1)                      # stored as given (sklearn)
    assert det.seed == -1
    with pytest.raises(DataError, match="seed"):
        det.fit(np.zeros(300))
    with pytest.raises(DataError, match="q"):
        npae.AnomalyDetector(**FAST).set_params(q=150).fit(np.zeros(300))
    fitted = npae.AnomalyDetector(**FAST).fit(np.sin(np.arange(200) / 3.0))
    with pytest.raises(DataError):                           # a fitted one refuses at once
        fitted.set_params(q=150)
    assert fitted.q == 95.0


def test_pandas_in_pandas_out_keeps_the_index():
    pd = pytest.importorskip("pandas")
    t = pd.date_range("2024-01-01", periods=400, freq="5min")
    frame = pd.DataFrame({"a": np.sin(np.arange(400) / 4.0), "b": np.cos(np.arange(400) / 7.0)},
                         index=t)
    det = npae.AnomalyDetector(**FAST).fit(frame.iloc[:200])
    assert det.feature_names_in_ == ["a", "b"]
    points = det.score_points(frame)
    assert isinstance(points, pd.Series) and points.index.equals(t)
    np.testing.assert_array_equal(points.to_numpy(), det.score_points(frame.to_numpy()))
    flags = det.predict(frame)
    assert flags.index.equals(t) and flags.dtype == bool
    errors = det.feature_errors(frame)
    assert list(errors.columns) == ["a", "b"] and errors.index.equals(t)
    windows = det.decision_function(frame)
    assert windows.index.equals(t[:400 - 5 + 1])              # each window at its first point
    assert isinstance(det.score_points(frame.to_numpy()), np.ndarray)   # NumPy in, NumPy out
    series = frame["a"]
    pca = npae.PCADetector(window_size=5).fit(series.iloc[:200])
    out = pca.score_points(series)
    assert out.index.equals(t) and out.name == "a"
