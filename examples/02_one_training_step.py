# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # One training step of the LSTM autoencoder, every gradient in view
#
# `model.backward(...)` does the whole backward pass in one call. Here we take it apart: we
# run the autoencoder's forward (A1)–(A5) and backward (A5')–(A1') with npae's functional core,
# print every intermediate gradient, and compare each one with PyTorch autograd on the twin
# model (`reference.to_torch`) — then take one Adam step in both and compare the new weights.
#
# Equation numbers: `docs/bptt.md` (sections 4, 6, 7, 8, 9). Glossary: **T** time steps,
# **B** windows in the batch, **D** features, **H** hidden size, **G = 4H** gate rows,
# **L** latent size. Needs torch (`pip install torch`).

# %%
import numpy as np
import torch

from npae.autoencoder import LSTMAutoencoder
from npae.data import StandardScaler, sliding_windows, synthetic_series
from npae.gradcheck import relative_error
from npae.linear import linear_backward, linear_forward
from npae.losses import mse_loss, mse_loss_backward
from npae.lstm import lstm_recurrence, lstm_recurrence_backward
from npae.optim import Adam
from npae.recurrent import input_projection, input_projection_backward
from reference import to_torch

B, T, D, H, L = 4, 20, 1, 8, 4
series = synthetic_series(300, seed=0)  # the tutorial's trend + seasonality + noise
windows = sliding_windows(series, T)  # (n, T, D), a view
x = StandardScaler().fit(windows).transform(windows)[::60][:B]  # B windows, 60 steps apart
model = LSTMAutoencoder(D, H, L, dtype=np.float64, seed=0)  # float64: agreement to ~1e-15
twin = to_torch(model)  # the PyTorch model holding the same weights
print(f"x: {x.shape} = (B, T, D);  model: {model.num_parameters()} parameters")

rows = []  # (name, shape, npae value, torch value) for the final table


def compare(name, ours, theirs, tol=1e-10):
    """Print one comparison and stop with an error if npae and torch disagree."""
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    err = relative_error(ours, theirs)
    print(f"  {name:34} {str(np.shape(ours)):13} max|·| {np.abs(ours).max():9.3e}   vs torch {err:.1e}")
    assert np.shape(ours) == np.shape(theirs), (name, np.shape(ours), np.shape(theirs))
    assert err < tol, f"{name}: npae and torch differ by {err:.2e}"


# %% [markdown]
# ## Forward, (A1)–(A5) and (M)
#
# Inside, arrays are time-major: (T, B, ·). The encoder's and the decoder's parameters are
# read as plain arrays with `layer.params()`.

# %%
enc, dec = model.encoder_lstm.params(), model.decoder_lstm.params()
x_tm = x.transpose(1, 0, 2)  # (T, B, D)
zeros = np.zeros((B, H))

XW = input_projection(x_tm, enc["weight_ih"], enc["bias_ih"], enc["bias_hh"])  # (P)  (T, B, 4H)
h_e, c_e, gates_e, tanh_c_e = lstm_recurrence(XW, zeros, zeros, enc["weight_hh"])  # (A1)
h_T = h_e[-1]  # (B, H): the only thing the encoder passes on
z, efc_cache = linear_forward(h_T, model.encoder_fc.weight.data, model.encoder_fc.bias.data)  # (A2)
u, dfc_cache = linear_forward(z, model.decoder_fc.weight.data, model.decoder_fc.bias.data)  # (A3)
UW = input_projection(u, dec["weight_ih"], dec["bias_ih"], dec["bias_hh"])  # (P) once: (B, 4H)
UW_all = np.broadcast_to(UW, (T, B, 4 * H))  # the same input u at every step, no copy
h_d, c_d, gates_d, tanh_c_d = lstm_recurrence(UW_all, u, zeros, dec["weight_hh"])  # (A4) h_0 = u, c_0 = 0
x_hat_tm, out_cache = linear_forward(h_d[1:], model.output_fc.weight.data, model.output_fc.bias.data)  # (A5)
x_hat = x_hat_tm.transpose(1, 0, 2)  # (B, T, D)
loss, loss_cache = mse_loss(x_hat, x)  # (M)

for name, a in [("XW  (P)", XW), ("h_e (A1)  h_0 … h_T", h_e), ("z   (A2)", z), ("u   (A3)", u),
                ("UW  (P)", UW), ("h_d (A4)  h_0 … h_T", h_d), ("x_hat (A5)", x_hat)]:
    print(f"  {name:22} {a.shape}")
print(f"  loss (M) = {float(loss):.6f}")
np.testing.assert_allclose(x_hat, model.forward(x), rtol=1e-13, atol=1e-14)
print("our step-by-step forward == model.forward  ✓")

# %% [markdown]
# ## The same forward in PyTorch, keeping every intermediate's gradient
#
# The twin's `forward` would hide its intermediates, so we spell it out and call
# `retain_grad()` on each. Two tricks make the paths of u visible: u goes into the decoder as two
# separate clones — one repeated over the T steps as input, one as the initial state h_0 — and
# the repeated input `dec_in` keeps a gradient per step.

# %%
xt = torch.tensor(x, requires_grad=True)
_, (h_T_t, _) = twin.encoder_lstm(xt)
h_T_t = h_T_t[0]
z_t = twin.encoder_fc(h_T_t)
u_t = twin.decoder_fc(z_t)
u_input, u_state = u_t.clone(), u_t.clone()
dec_in = u_input.unsqueeze(1).repeat(1, T, 1)  # (B, T, H): T copies of u
h_dec_t, _ = twin.decoder_lstm(dec_in, (u_state.unsqueeze(0), torch.zeros(1, B, H, dtype=torch.float64)))
x_hat_t = twin.output_fc(h_dec_t)
for tensor in (h_T_t, z_t, u_t, u_input, u_state, dec_in, h_dec_t, x_hat_t):
    tensor.retain_grad()
target = torch.tensor(x)  # the target is the data; no gradient flows into it (as in the tutorial)
loss_t = torch.nn.functional.mse_loss(x_hat_t, target)
loss_t.backward()
np.testing.assert_allclose(x_hat_t.detach().numpy(), twin(xt).detach().numpy(), rtol=1e-13)
np.testing.assert_allclose(float(loss), loss_t.item(), rtol=1e-13)
print(f"torch forward == npae forward, loss {loss_t.item():.6f}  ✓")

# %% [markdown]
# ## Backward, (M') then (A5')–(A1'), compared with torch at every step

# %%
print("(M')   dx̂ = (2/N)(x̂ - x), N = B·T·D")
dx_hat = mse_loss_backward(loss_cache)
compare("dx̂", dx_hat, x_hat_t.grad)

print("(A5')  output_fc at every step: dh_dec_t = dx̂_t W_o")
dh_d, g_out = linear_backward(dx_hat.transpose(1, 0, 2), out_cache)  # (T, B, H)
compare("dh_dec (decoder outputs)", dh_d.transpose(1, 0, 2), h_dec_t.grad)

print("(A4')  decoder through time, newest step first: (7')–(1'), then (P') on u")
dA_d, dh0_d, _dc0_d, dW_hh_d = lstm_recurrence_backward(
    dh_d, None, None, h_d, c_d, gates_d, tanh_c_d, dec["weight_hh"])  # dc_0 is thrown away: c_0 = 0
print(f"  dA_dec (gate pre-activations)      {dA_d.shape}   (torch's fused LSTM does not expose it)")
per_step = dA_d @ dec["weight_ih"]  # (T, B, H): what the copy of u at step t receives
compare("du at each step (T copies)", per_step.transpose(1, 0, 2), dec_in.grad)
du_input, dW_ih_d, db_d = input_projection_backward(dA_d.sum(axis=0), u, dec["weight_ih"])  # (P')
compare("du via the inputs = Σ_t (copies)", du_input, u_input.grad)
compare("du via h_0", dh0_d, u_state.grad)
du = du_input + dh0_d  # u was used T + 1 times: rule 4
compare("du = both", du, u_t.grad)

print("(A3')  decoder_fc: dz = du W_d")
dz, g_dfc = linear_backward(du, dfc_cache)
compare("dz", dz, z_t.grad)

print("(A2')  encoder_fc: dh_T = dz W_e — the only gradient the encoder receives")
dh_T, g_efc = linear_backward(dz, efc_cache)
compare("dh_T (encoder's last state)", dh_T, h_T_t.grad)

print("(A1')  encoder through time from dh_T, then (P')")
dA_e, _, _, dW_hh_e = lstm_recurrence_backward(
    None, dh_T, None, h_e, c_e, gates_e, tanh_c_e, enc["weight_hh"])
print(f"  dA_enc (gate pre-activations)      {dA_e.shape}")
dx_tm, dW_ih_e, db_e = input_projection_backward(dA_e, x_tm, enc["weight_ih"])
compare("dx (input windows)", dx_tm.transpose(1, 0, 2), xt.grad)
step_norms = np.linalg.norm(dx_tm, axis=(1, 2))
print(f"  ‖dx_t‖ over t = 1 … {T}: {step_norms[0]:.1e} … {step_norms[-1]:.1e} "
      "(the gradient shrinks on its way back in time)")

# %% [markdown]
# ## Every parameter's gradient
#
# The pieces above, by torch's parameter names. Both biases of a recurrent layer get the same
# gradient (they enter (P) as a sum). We also check that `model.backward` — the one-call
# version — accumulates exactly the same gradients.

# %%
ours = {
    "encoder_lstm.weight_ih_l0": dW_ih_e, "encoder_lstm.weight_hh_l0": dW_hh_e,
    "encoder_lstm.bias_ih_l0": db_e, "encoder_lstm.bias_hh_l0": db_e,
    "encoder_fc.weight": g_efc["weight"], "encoder_fc.bias": g_efc["bias"],
    "decoder_fc.weight": g_dfc["weight"], "decoder_fc.bias": g_dfc["bias"],
    "decoder_lstm.weight_ih_l0": dW_ih_d, "decoder_lstm.weight_hh_l0": dW_hh_d,
    "decoder_lstm.bias_ih_l0": db_d, "decoder_lstm.bias_hh_l0": db_d,
    "output_fc.weight": g_out["weight"], "output_fc.bias": g_out["bias"],
}
torch_grads = {n: p.grad for n, p in twin.named_parameters()}
assert list(ours) == list(torch_grads), "parameter names and order match torch's"
for name, g in ours.items():
    compare(name, g, torch_grads[name])

model.zero_grad()
model.forward(x)
dx_model = model.backward(mse_loss_backward(loss_cache))
np.testing.assert_allclose(dx_model, dx_tm.transpose(1, 0, 2), rtol=1e-12, atol=1e-15)
for name, p in model.named_parameters():
    np.testing.assert_allclose(p.grad, ours[name], rtol=1e-12, atol=1e-15, err_msg=name)
print("model.backward accumulates the same gradients  ✓")

# %% [markdown]
# ## One Adam step in both frameworks
#
# At the first step the bias correction makes m̂ = g and v̂ = g², so every weight moves by about
# lr in the direction of −g (section 9 of `docs/bptt.md`).

# %%
before = model.state_dict()
Adam(model.parameters(), lr=1e-3).step()
torch.optim.Adam(twin.parameters(), lr=1e-3).step()
after_torch = twin.state_dict()
worst = 0.0
for name, w in model.state_dict().items():
    worst = max(worst, relative_error(w, after_torch[name].numpy()))
    step = np.abs(w - before[name])
    assert np.all(step <= 1e-3 * (1 + 1e-6)), f"{name}: the first Adam step is at most lr"
print(f"after one Adam step: largest move {max(np.abs(w - before[n]).max() for n, w in model.state_dict().items()):.2e} "
      f"(lr = 1e-3); weights vs torch: {worst:.1e}")
assert worst < 1e-12
print("all checks passed")
