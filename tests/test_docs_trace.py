"""docs/bptt.md names only code the plain tier actually runs.

The page cites functions as ``npae/file.py::qualname``.  The test below runs the plain tier —
every cell's layer with ``impl="loop"`` and ``impl="vectorized"``, one and two bidirectional
layers, every recurrent autoencoder on both plain tiers, the dense autoencoder in training and
evaluation mode, the loss, Adam and gradient clipping — under a profiler hook that records each
Python function entered, and asserts that every cited function was among them.  A citation of a
function that only the tests or the examples call, or one the fast tier replaced, fails here.
(tests/test_examples.py checks the other direction: each cited function names its equation.)
"""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

import npae
import npae.io
from npae.autoencoder import GRUAutoencoder, LSTMAutoencoder, RNNAutoencoder
from npae.dense import DenseAutoencoder
from npae.losses import mse_loss, mse_loss_backward
from npae.optim import SGD, Adam, clip_grad_norm_

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "bptt.md"
REF = re.compile(r"`(npae/[\w/]+\.py)::([\w.]+)`")


def _executed(run) -> set:
    """``{("npae/file.py", qualname)}`` of every npae function entered while ``run()`` runs."""
    seen = set()
    root = str(REPO / "npae") + "/"

    def hook(frame, event, arg):
        if event == "call":
            code = frame.f_code
            if code.co_filename.startswith(root):
                seen.add((Path(code.co_filename).relative_to(REPO).as_posix(), code.co_qualname))

    old = sys.getprofile()
    sys.setprofile(hook)
    try:
        run()
    finally:
        sys.setprofile(old)
    return seen


def _plain_tier():
    rng = np.random.default_rng(0)
    T, B, D, H, L = 4, 3, 2, 5, 2
    x = rng.standard_normal((T, B, D))
    for Layer in (npae.RNN, npae.LSTM, npae.GRU):
        for impl in ("loop", "vectorized"):
            for kw in ({}, {"num_layers": 2, "bidirectional": True}):
                layer = Layer(D, H, dtype=np.float64, seed=1, impl=impl, **kw)
                y, _ = layer(x)
                layer.backward(np.ones_like(y))
    windows = rng.standard_normal((B, T, D))
    for Model in (RNNAutoencoder, LSTMAutoencoder, GRUAutoencoder):
        for impl in ("loop", "vectorized"):
            model = Model(D, H, L, dtype=np.float64, seed=2, impl=impl)
            opt = Adam(model.parameters(), lr=1e-3)
            opt.zero_grad()
            x_hat = model(windows)
            loss, cache = mse_loss(x_hat, windows)
            model.backward(mse_loss_backward(cache))
            clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            SGD(model.parameters(), lr=1e-3, momentum=0.9).step()
            assert np.isfinite(loss)
    dense = DenseAutoencoder(D, T, [H, L, H], dropout=0.2, dtype=np.float64, seed=3)
    for training in (True, False):
        dense.train(training)
        y = dense(windows)
        dense.backward(np.ones_like(y))


def _pipeline(tmp_path):
    """The detector's path, which the index's word-labelled rows cite: a CSV read, a detector and
    the PCA baseline fitted and scored, a training run with the plateau schedule."""
    t = np.arange(400)
    values = np.sin(2 * np.pi * t / 25) + 0.05 * np.random.default_rng(4).standard_normal(400)
    values[300:305] += 3
    path = tmp_path / "series.csv"
    path.write_text("timestamp,value\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    series = npae.io.read_series(path).values
    for det in (npae.AnomalyDetector(cell="rnn", epochs=2, min_steps=10, max_steps=20, seed=0, lr_patience=1),
                npae.PCADetector()):
        det.fit(series[:250])
        det.predict(series)
        det.decision_function(series)


def test_the_plain_tier_runs_every_function_the_page_cites(tmp_path):
    cited = set(REF.findall(DOC.read_text()))
    assert len(cited) > 40
    assert not [c for c in cited if c[0].startswith("npae/fast/")], "the page cites the fast tier"
    ran = _executed(_plain_tier) | _executed(lambda: _pipeline(tmp_path))
    # a cited class counts as run when one of its methods ran
    ran_or_owner = ran | {(f, q.rsplit(".", 1)[0]) for f, q in ran if "." in q}
    missing = sorted(f"{f}::{q}" for f, q in cited - ran_or_owner)
    assert not missing, "cited in docs/bptt.md but not run by the plain tier: " + ", ".join(missing)


def test_the_check_can_fail():
    """The hook sees what runs and nothing else: a function the workload never calls is absent,
    and the fast kernel stays out of a plain run."""
    ran = _executed(_plain_tier)
    assert ("npae/lstm.py", "lstm_recurrence") in ran
    assert ("npae/gradcheck.py", "gradcheck") not in ran
    assert not [f for f, _ in ran if f.startswith("npae/fast/")]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_training_defaults_run_the_fast_tier(cell):
    """The other side: a default model (``impl="fast"``) trains through npae/fast/, not through
    the plain functions the page cites."""
    Model = {"rnn": RNNAutoencoder, "lstm": LSTMAutoencoder, "gru": GRUAutoencoder}[cell]
    model = Model(1, 4, 2, seed=0)
    x = np.random.default_rng(1).standard_normal((3, 5, 1)).astype(np.float32)

    def step():
        y = model(x)
        model.backward(np.ones_like(y))

    ran = _executed(step)
    assert ("npae/fast/autoencoder.py", "forward") in ran
    assert (f"npae/{cell}.py", f"{cell}_recurrence") not in ran
