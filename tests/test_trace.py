"""Trace mode (``npae.trace``) and ``npae explain``.

Oracles: the torch twin (``reference``) recomputes the encoder states, h_T, z, u, the decoder
states and x̂; the LSTM gates are checked against the cell equations (6)–(7) they must satisfy;
the summaries against NumPy on the recorded values.  ``npae explain``'s loss and one gradient
norm are recomputed with torch.  Runtime: about 3 s.
"""

import re

import numpy as np
import pytest
import torch

from npae.autoencoder import LSTMAutoencoder, RNNAutoencoder
from npae.cli import main
from npae.errors import NpaeError
from npae.trace import Trace, notify, trace_forward
from reference import to_torch

B, T, D, H, L = 2, 5, 2, 3, 2

PATH = {
    "rnn": ["x", "encoder.input_projection", "encoder.h", "h_T", "z", "u",
            "decoder.input_projection", "decoder.h0", "decoder.h", "x_hat"],
    "lstm": ["x", "encoder.input_projection", "encoder.i", "encoder.f", "encoder.g", "encoder.o",
             "encoder.c", "encoder.h", "h_T", "z", "u", "decoder.input_projection", "decoder.h0",
             "decoder.c0", "decoder.i", "decoder.f", "decoder.g", "decoder.o", "decoder.c",
             "decoder.h", "x_hat"],
}
SHAPES = {"x": (B, T, D), "encoder.h": (T, B, H), "h_T": (B, H), "z": (B, L), "u": (B, H),
          "decoder.h0": (B, H), "decoder.h": (T, B, H), "x_hat": (B, T, D)}


def make(cell, dtype=np.float64):
    cls = LSTMAutoencoder if cell == "lstm" else RNNAutoencoder
    return cls(D, H, L, dtype=dtype, seed=7)


@pytest.fixture
def x():
    return np.random.default_rng(3).standard_normal((B, T, D))


def torch_path(model, x):
    """The intermediates, recomputed by the torch twin (batch-first where torch is)."""
    twin = to_torch(model)
    enc = getattr(twin, f"encoder_{model.cell}")
    dec = getattr(twin, f"decoder_{model.cell}")
    with torch.no_grad():
        xt = torch.tensor(x)
        out_e, state = enc(xt)
        h_T = (state[0] if model.cell == "lstm" else state)[0]
        z = twin.encoder_fc(h_T)
        u = twin.decoder_fc(z)
        hx = (u[None], torch.zeros_like(u)[None]) if model.cell == "lstm" else u[None]
        out_d, _ = dec(u[:, None, :].repeat(1, T, 1), hx)
        W, b1, b2 = enc.weight_ih_l0, enc.bias_ih_l0, enc.bias_hh_l0
        proj = xt.transpose(0, 1) @ W.T + b1 + b2
        x_hat = twin(xt)
    return {k: v.numpy() for k, v in {"encoder.h": out_e.transpose(0, 1), "h_T": h_T, "z": z,
                                      "u": u, "decoder.h0": u, "decoder.h": out_d.transpose(0, 1),
                                      "encoder.input_projection": proj, "x_hat": x_hat}.items()}


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_records_the_data_path_against_torch(cell, x):
    model = make(cell)
    with Trace() as tr:
        y = model(x)
    assert tr.names() == PATH[cell]
    G = 4 * H if cell == "lstm" else H
    assert tr["encoder.input_projection"].shape == (T, B, G)
    assert tr["decoder.input_projection"].shape == (B, G)
    for name, shape in SHAPES.items():
        assert tr[name].shape == shape, name
        assert tr[name].dtype == "float64"
    for name, want in torch_path(model, x).items():
        np.testing.assert_allclose(tr[name].value, want, rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(tr["x_hat"].value, y)
    for e in tr:  # every summary is the summary of the recorded array
        assert (e.min, e.mean, e.max) == pytest.approx((e.value.min(), e.value.mean(), e.value.max()))
        assert e.equation or e.name == "x"
        assert e.note


@pytest.mark.parametrize("side", ["encoder", "decoder"])
def test_lstm_gates_satisfy_the_cell_equations(side, x):
    model = make("lstm")
    _, tr = trace_forward(model, x)
    i, f, g, o, c, h = (tr[f"{side}.{k}"].value for k in "ifgoch")
    c0 = np.zeros((B, H)) if side == "encoder" else tr["decoder.c0"].value
    c_prev = np.concatenate([c0[None], c[:-1]])
    np.testing.assert_allclose(c, f * c_prev + i * g, rtol=1e-12, atol=1e-14)  # (6)
    np.testing.assert_allclose(h, o * np.tanh(c), rtol=1e-12, atol=1e-14)  # (7)
    for gate in (i, f, o):
        assert np.all((gate > 0) & (gate < 1))
    assert np.all(np.abs(g) < 1)
    assert not np.allclose(i, f)  # distinct blocks, not the same slice twice


def test_trace_does_not_change_the_output_and_records_only_inside(x):
    model = make("lstm", np.float32)
    y0 = model(x)
    with Trace() as tr:
        y1 = model(x)
    y2 = model(x)
    np.testing.assert_array_equal(y0, y1)
    np.testing.assert_array_equal(y0, y2)
    assert tr.calls == 1 and len(tr) == len(PATH["lstm"])
    assert tr["z"].dtype == "float32"


def test_two_passes_nesting_and_keep_values(x):
    model = make("rnn")
    with Trace(keep_values=False) as outer:
        model(x)
        with Trace() as inner:
            model(x[:1])
        model(x[1:])
    assert inner.calls == 1 and inner["z"].shape == (1, L)  # only the innermost trace recorded
    assert outer.calls == 2 and len(outer) == 2 * len(PATH["rnn"])
    assert outer["z"].shape == (1, L) and outer["z"].call == 1  # the latest pass
    assert all(e.value is None for e in outer)
    assert "# forward pass 1" in outer.table()
    with pytest.raises(KeyError, match="no trace entry named 'nope'"):
        outer["nope"]


def test_unknown_cache_is_a_clear_error():
    class Fake:
        _cache = ("not", "an", "autoencoder", "cache")

    notify(Fake(), None, None)  # no trace active: nothing happens
    with Trace(), pytest.raises(NpaeError, match="cannot read the forward cache"):
        notify(Fake(), None, None)


def _explain(capsys, *argv):
    code = main(["explain", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_explain_prints_the_path_and_true_numbers(cell, capsys):
    args = ["--cell", cell, "--window-size", "20", "--hidden-size", "8", "--latent-size", "4", "--seed", "5"]
    code, out, _ = _explain(capsys, *args)
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()
             if line and line.split()[0] in PATH[cell] and "(" in line]
    assert names == PATH[cell]
    assert re.search(r"^encoder\.h\s.*\(20, 1, 8\)", out, re.M)
    assert re.search(r"^z\s.*\(1, 4\)", out, re.M)

    # recompute the loss and one gradient with torch, on the window explain chose
    from npae.commands.explain import _data

    class A:
        seed, window = 5, 20

    _, starts, _, windows = _data(A)
    index = max(0, starts[0] - 10)
    assert f"window #{index}:" in out
    model = (LSTMAutoencoder if cell == "lstm" else RNNAutoencoder)(1, 8, 4, seed=5)
    twin = to_torch(model)
    xt = torch.tensor(windows[index:index + 1])
    loss = torch.nn.functional.mse_loss(twin(xt), xt)
    loss.backward()
    printed = float(re.search(r"LOSS \(M\).*= ([\d.]+)", out).group(1))
    assert printed == pytest.approx(loss.item(), rel=1e-4)
    norm = float(re.search(r"output_fc\.weight\s+\(1, 8\)\s+‖grad‖ (\S+)", out).group(1))
    assert norm == pytest.approx(twin.output_fc.weight.grad.norm().item(), rel=1e-3)
    steps = re.search(r"‖dL/dx_t‖ at (.*)", out).group(1)
    assert steps.startswith("t=1: ") and "t=20: " in steps


@pytest.mark.parametrize("argv, message", [
    (["--window", "1"], "--window must be at least 2"),
    (["--window-size", "1"], "--window must be at least 2"),     # the old spelling, an alias
    (["--index", "5000"], "--index must be in [0, 950]"),
    (["--epochs", "-1"], "--epochs must be >= 0"),
])
def test_explain_bad_arguments(capsys, argv, message):
    code, out, err = _explain(capsys, *argv)
    assert code == 2 and message in err and err.count("\n") == 1
