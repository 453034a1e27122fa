"""``npae gradcheck``: the table it prints, its exit status, and that it catches a broken backward.

Oracles: the command's own two columns (finite differences, torch autograd) are checked here by
breaking a backward on purpose and watching the right rows — and only those — turn to FAIL.
Runtime: about 5 s (most of it importing torch once; the checks themselves take ~1 s).
"""

import re
import subprocess
import sys

import numpy as np
import pytest

import npae.autoencoder
import npae.gru
import npae.lstm
import npae.rnn
from npae.cli import main

ROW = re.compile(r"^(?P<model>.*?)\s{2,}(?P<tensor>\S+)\s+(?P<shape>\([\d, ]*\))\s+"
                 r"(?P<fd>\S+)\s+(?P<torch>\S+)\s+(?P<result>pass|FAIL)$")


def parse(out):
    """The table's rows as dicts, with the model name filled down."""
    rows, model = [], None
    for line in out.splitlines():
        m = ROW.match(line)
        if not m:
            continue
        d = m.groupdict()
        model = d["model"].strip() or model
        d["model"] = model
        rows.append(d)
    return rows


def number(cell):
    return float(cell.rstrip("!")) if cell not in ("—",) else None


def run(capsys, *argv):
    code = main(["gradcheck", *argv])
    out = capsys.readouterr().out
    return code, out, parse(out)


def expected_tensors(cell):
    """(model prefix, tensor) pairs the table must list: input, states, every parameter."""
    from npae.autoencoder import GRUAutoencoder, LSTMAutoencoder, RNNAutoencoder
    from npae.dense import DenseAutoencoder
    from npae.gru import GRU
    from npae.lstm import LSTM
    from npae.rnn import RNN

    layer = ["input", "h_0", "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    want = [("Linear", t) for t in ("input", "weight", "bias")]

    def deep(prefix, cls, c0):
        names = [n for n, _ in cls(2, 3, num_layers=2, bidirectional=True).named_parameters()]
        assert "weight_hh_l1_reverse" in names
        return [(prefix, t) for t in ["input", "h_0"] + (["c_0"] if c0 else []) + names]

    def ae(prefix, model):
        return [(prefix, "input")] + [(prefix, n) for n, _ in model.named_parameters()]

    if cell in ("rnn", "all"):
        want += [("RNN tanh", t) for t in layer] + [("RNN relu", t) for t in layer]
    if cell in ("lstm", "all"):
        want += [("LSTM (", t) for t in layer[:2] + ["c_0"] + layer[2:]]
        want += deep("LSTM 2 layers bidirectional", LSTM, True)
    if cell in ("gru", "all"):
        want += [("GRU (", t) for t in layer] + deep("GRU 2 layers bidirectional", GRU, False)
    if cell in ("rnn", "all"):
        want += ae("RNNAutoencoder", RNNAutoencoder(2, 3, 2))
    if cell in ("lstm", "all"):
        want += ae("LSTMAutoencoder (", LSTMAutoencoder(2, 3, 2))
        want += ae("LSTMAutoencoder 2 layers", LSTMAutoencoder(2, 3, 2, num_layers=2))
    if cell in ("gru", "all"):
        want += ae("GRUAutoencoder", GRUAutoencoder(2, 3, 2))
    if cell in ("dense", "all"):
        want += ae("DenseAutoencoder", DenseAutoencoder(2, 4, [3, 2, 3]))
    assert [n for n, _ in RNN(2, 3).named_parameters()] == layer[2:]
    assert [n for n, _ in LSTM(2, 3).named_parameters()] == layer[2:]
    return want


def test_all_pass_with_exit_status_0(capsys):
    code, out, rows = run(capsys, "--cell", "all")
    assert code == 0, out
    got = [(r["model"], r["tensor"]) for r in rows]
    want = expected_tensors("all")
    assert len(got) == len(want)
    for (model, tensor), (prefix, wtensor) in zip(got, want):
        assert model.startswith(prefix) and tensor == wtensor, (model, tensor, prefix, wtensor)
    for r in rows:
        assert r["result"] == "pass"
        assert 0 <= number(r["fd"]) < 1e-6, r
        assert 0 <= number(r["torch"]) < 1e-9, r  # float64 against torch float64
    assert f"all {len(rows)} gradients pass" in out
    assert "torch 2." in out


def test_cell_filter_and_float32(capsys):
    code, out, rows = run(capsys, "--cell", "lstm", "--dtype", "float32")
    assert code == 0, out
    models = {r["model"].split(" (")[0] for r in rows}
    assert models == {"Linear(3→2)", "LSTM", "LSTM 2 layers bidirectional", "LSTMAutoencoder",
                      "LSTMAutoencoder 2 layers"}
    assert "float64 copy" in out  # the output explains where finite differences run
    torch_errors = [number(r["torch"]) for r in rows]
    assert max(torch_errors) < 1e-4
    assert max(torch_errors) > 1e-9  # float32 rounding is visible: the comparison really ran in float32


def _transpose_dW_hh(fn, index):
    """Wrap a backward so that the recurrent weight's gradient comes back transposed (H×H: same
    shape, so only the numbers can tell)."""
    def broken(*args, **kwargs):
        out = list(fn(*args, **kwargs))
        grads = dict(out[index])
        grads["weight_hh"] = grads["weight_hh"].T.copy()
        out[index] = grads
        return tuple(out)
    return broken


def test_broken_rnn_backward_fails_with_exit_status_1(capsys, monkeypatch):
    monkeypatch.setattr(npae.rnn, "rnn_backward", _transpose_dW_hh(npae.rnn.rnn_backward, 2))
    code, out, rows = run(capsys, "--cell", "rnn")
    assert code == 1, out
    failed = {(r["model"].split(" (")[0], r["tensor"]) for r in rows if r["result"] == "FAIL"}
    # the plain autoencoder is built from the layers, so its recurrent weights fail too
    assert failed == {("RNN tanh", "weight_hh_l0"), ("RNN relu", "weight_hh_l0"),
                      ("RNNAutoencoder", "encoder_rnn.weight_hh_l0"),
                      ("RNNAutoencoder", "decoder_rnn.weight_hh_l0")}
    for r in rows:
        if r["result"] == "FAIL":  # both oracles caught it
            assert r["fd"].endswith("!") and r["torch"].endswith("!")
            assert number(r["fd"]) > 1e-3 and number(r["torch"]) > 1e-3
    assert "FAILED: 4 of" in out


def test_broken_lstm_cell_state_gradient_fails(capsys, monkeypatch):
    real = npae.lstm.lstm_backward

    def broken(dy, dh_n, dc_n, cache):  # forget the gradient arriving at c_n
        return real(dy, dh_n, None, cache)

    monkeypatch.setattr(npae.lstm, "lstm_backward", broken)
    code, out, rows = run(capsys, "--cell", "lstm")
    assert code == 1
    failed = {r["tensor"] for r in rows if r["result"] == "FAIL"}
    layer = ("LSTM (", "LSTM 2 layers")  # the layers; the autoencoders never read c_n
    lstm_rows = [r for r in rows if r["model"].startswith(layer)]
    assert all(r["result"] == "FAIL" for r in lstm_rows)  # every LSTM gradient depends on c_n
    assert failed == {r["tensor"] for r in lstm_rows}
    assert all(r["result"] == "pass" for r in rows if not r["model"].startswith(layer))


def test_broken_gru_reset_product_fails(capsys, monkeypatch):
    """b_hn's gradient without the reset gate (db_hn = Σ da_n, as if b_hn sat outside
    r ⊙ (·)): the GRUs' b_hh rows turn to FAIL in both columns."""
    real = npae.gru.gru_recurrence_backward

    def broken(dy, dh_n, h, gates, c_n, weight_hh):
        dA, dh0, dW_hh, db_hh = real(dy, dh_n, h, gates, c_n, weight_hh)
        H = c_n.shape[-1]
        db_hh = db_hh.copy()
        db_hh[2 * H:] = dA[..., 2 * H:].sum(axis=(0, 1))  # the reset gate forgotten
        return dA, dh0, dW_hh, db_hh

    monkeypatch.setattr(npae.gru, "gru_recurrence_backward", broken)
    code, out, rows = run(capsys, "--cell", "gru")
    assert code == 1
    failed = {(r["model"].split(" (")[0], r["tensor"]) for r in rows if r["result"] == "FAIL"}
    assert ("GRU", "bias_hh_l0") in failed and ("GRUAutoencoder", "decoder_gru.bias_hh_l0") in failed
    assert all(t.startswith(("bias_hh", "encoder_gru.bias_hh", "decoder_gru.bias_hh")) for _, t in failed)
    assert all(r["fd"].endswith("!") and r["torch"].endswith("!") for r in rows if r["result"] == "FAIL")


def test_without_torch(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    code, out, rows = run(capsys, "--cell", "rnn")
    assert code == 0
    assert "torch not installed" in out
    assert rows and all(r["torch"] == "—" and r["result"] == "pass" for r in rows)


def test_relative_errors_are_norm_wise():
    """The number in the table is the documented norm-wise relative error."""
    from npae.gradcheck import relative_error

    a = np.array([1.0, -2.0, 0.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(a, a + np.array([0.0, 0.02, 0.0])) == pytest.approx(0.02 / 2.0)  # max|a| = 2
    assert relative_error(a, a + np.array([0.0, 0.0, 3.0])) == pytest.approx(3.0 / 3.0)  # max|n| = 3


def test_console_entry_point_and_bad_option():
    ok = subprocess.run([sys.executable, "-m", "npae", "gradcheck", "--cell", "rnn", "--no-torch"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "skipped (--no-torch)" in ok.stdout and len(parse(ok.stdout)) == len(expected_tensors("rnn"))
    bad = subprocess.run([sys.executable, "-m", "npae", "gradcheck", "--cell", "transformer"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "invalid choice" in bad.stderr


def test_gradcheck_on_a_students_own_function():
    """The function-style API of the docstring: a right backward passes, a transposed one fails."""
    from npae.gradcheck import gradcheck

    rng = np.random.default_rng(0)
    x, W = rng.standard_normal((4, 3)), rng.standard_normal((3, 3))
    f = lambda x, W: np.tanh(x @ W)  # noqa: E731

    def back(w, x, W):
        da = w * (1 - np.tanh(x @ W) ** 2)
        return da @ W.T, x.T @ da

    def wrong(w, x, W):
        dx, dW = back(w, x, W)
        return dx, dW.T  # square, so the shape cannot give it away

    good = gradcheck(f, [x, W], back, names=["x", "W"])
    assert good.ok and good.max_rel_error < 1e-8 and "pass" in str(good)
    bad = gradcheck(f, [x, W], wrong, names=["x", "W"])
    assert not bad.ok and bad["x"].ok and not bad["W"].ok and "FAIL" in str(bad)
