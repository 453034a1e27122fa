"""Trace mode and ``npae explain`` for the GRU, stacked and dense autoencoders.

Oracles: the torch twins recompute the recorded states (torch.nn.GRU's output, each layer of a
stacked torch LSTM, each module of the dense twin through forward hooks); the GRU gates are
checked against (G6); ``npae explain``'s loss and gradients against torch autograd.
"""

import re

import numpy as np
import pytest
import torch

import npae
import reference
from npae.cli import main

B, T, D, H, L = 3, 5, 2, 4, 2


@pytest.fixture
def x():
    return np.random.default_rng(3).standard_normal((B, T, D))


def test_gru_trace_against_torch_and_the_gru_equations(x):
    model = npae.GRUAutoencoder(D, H, L, dtype=np.float64, seed=1)
    with npae.Trace() as tr:
        y = model(x)
    assert tr.names() == ["x", "encoder.input_projection", "encoder.r", "encoder.z", "encoder.n", "encoder.h",
                          "h_T", "z", "u", "decoder.input_projection", "decoder.h0", "decoder.r", "decoder.z",
                          "decoder.n", "decoder.h", "x_hat"]
    twin = reference.to_torch(model)
    with torch.no_grad():
        out, h_n = twin.encoder_gru(torch.tensor(x))
        z = twin.encode(torch.tensor(x))
    np.testing.assert_allclose(tr["encoder.h"].value, out.numpy().transpose(1, 0, 2), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tr["z"].value, z.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(tr["x_hat"].value, y)
    assert tr["encoder.input_projection"].shape == (T, B, 3 * H)
    for side, h0 in (("encoder", np.zeros((B, H))), ("decoder", tr["decoder.h0"].value)):
        zg, n, h = (tr[f"{side}.{k}"].value for k in "znh")
        h_prev = np.concatenate([h0[None], h[:-1]])
        np.testing.assert_allclose(h, (1 - zg) * n + zg * h_prev, rtol=1e-12, atol=1e-14)  # (G6)


def test_stacked_trace_records_every_layer(x):
    model = npae.LSTMAutoencoder(D, H, L, num_layers=2, dtype=np.float64, seed=2)
    with npae.Trace() as tr:
        model(x)
    assert tr.names() == ["x", "encoder.l0.h", "encoder.l1.h", "h_T", "z", "u", "decoder.l0.h",
                          "decoder.l1.h", "x_hat"]
    twin = reference.to_torch(model)
    first = torch.nn.LSTM(D, H, batch_first=True).double()
    sd = twin.encoder_lstm.state_dict()
    first.load_state_dict({k: v for k, v in sd.items() if k.endswith("_l0")})
    with torch.no_grad():
        out0, _ = first(torch.tensor(x))
        out1, _ = twin.encoder_lstm(torch.tensor(x))
    np.testing.assert_allclose(tr["encoder.l0.h"].value, out0.numpy().transpose(1, 0, 2), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tr["encoder.l1.h"].value, out1.numpy().transpose(1, 0, 2), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(tr["h_T"].value, tr["encoder.l1.h"].value[-1])


def test_dense_trace_against_the_torch_twins_modules(x):
    model = npae.DenseAutoencoder(D, T, [6, 3, 6], dropout=0.0, dtype=np.float64, seed=3)
    with npae.Trace() as tr:
        y = model(x)
    twin = reference.to_torch(model)
    seen = {}
    for name, m in twin.named_children():
        m.register_forward_hook(lambda mod, i, o, name=name: seen.__setitem__(name, o.detach().numpy()))
    with torch.no_grad():
        twin(torch.tensor(x))
    assert tr.names() == ["x", "x_flat"] + list(seen) + ["x_hat"]
    for name, v in seen.items():
        np.testing.assert_allclose(tr[name].value, v, rtol=1e-12, atol=1e-14, err_msg=name)
    np.testing.assert_array_equal(tr["x_hat"].value, y)
    assert tr["bn0"].equation == "(N1)–(N4)"


@pytest.mark.parametrize("argv", [["--cell", "gru"], ["--cell", "lstm", "--num-layers", "2"], ["--cell", "dense"]])
def test_explain_new_models_print_true_numbers(argv, capsys):
    args = argv + ["--window-size", "12", "--hidden-size", "6", "--latent-size", "3", "--seed", "5"]
    code = main(["explain", *args])
    out = capsys.readouterr().out
    assert code == 0
    from npae.commands.explain import DENSE_BATCH, _data

    class A:
        seed, window = 5, 12

    _, starts, _, windows = _data(A)
    index = max(0, starts[0] - 6)
    assert f"window #{index}:" in out
    dense = argv[1] == "dense"
    n_layers = int(argv[3]) if len(argv) > 2 else 1
    model = npae.build_autoencoder(argv[1], 1, 6, 3, num_layers=n_layers, window_size=12, seed=5)
    twin = reference.to_torch(model)
    if dense:  # the twin's dropout would draw torch's masks: use npae's (forward hooks)
        model(windows[index:index + DENSE_BATCH])
        for k in range(3):
            mask = getattr(model, f"drop{k}").mask
            if mask is not None:
                getattr(twin, f"drop{k}").register_forward_hook(
                    lambda m, i, o, mask=mask: i[0] * torch.tensor(mask))
    xt = torch.tensor(windows[index:index + (DENSE_BATCH if dense else 1)])
    loss = torch.nn.functional.mse_loss(twin(xt), xt)
    loss.backward()
    printed = float(re.search(r"LOSS \(M\).*= ([\d.]+)", out).group(1))
    assert printed == pytest.approx(loss.item(), rel=1e-4)
    norm = float(re.search(r"output_fc\.weight\s+\(\d+, 6\)\s+‖grad‖ (\S+)", out).group(1))
    assert norm == pytest.approx(twin.output_fc.weight.grad.norm().item(), rel=1e-3)
    if dense:
        assert "bn0: (N4')–(N1')" in out and "drop2: (D1')" in out
    elif n_layers > 1:
        assert "(S2')–(S1')" in out and re.search(r"^encoder\.l1\.h\s", out, re.M)
    else:
        assert re.search(r"^encoder\.r\s.*\(G3\)", out, re.M)
