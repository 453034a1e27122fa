# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # One LSTM step by hand
#
# We compute one step of an LSTM with nothing but NumPy, print the shape of every array, and
# check the result against `npae.LSTM` — then do the same for the step's backward pass, and
# finally chain several steps to see that a layer *is* this step in a loop.
#
# Equation numbers are those of `docs/bptt.md`, section 6, and of the comments in
# `npae/lstm.py`. Glossary: **T** time steps, **B** batch size, **D** input features,
# **H** hidden size, **G = 4H** gate rows (i, f, g, o, each H wide).
#
# Run it as a script (`python examples/01_lstm_step_by_hand.py`) or open it as a notebook with
# jupytext.

# %%
import numpy as np

from npae.lstm import LSTM

B, D, H = 2, 3, 4  # 2 sequences in the batch, 3 features per step, 4 hidden units
rng = np.random.default_rng(0)
layer = LSTM(D, H, dtype=np.float64, seed=0)  # float64 so hand and library agree to ~1e-15

W_ih = layer.weight_ih_l0.data  # (4H, D): rows are the blocks W_ii, W_if, W_ig, W_io
W_hh = layer.weight_hh_l0.data  # (4H, H)
b_ih = layer.bias_ih_l0.data    # (4H,)
b_hh = layer.bias_hh_l0.data    # (4H,)
for name, a in [("W_ih", W_ih), ("W_hh", W_hh), ("b_ih", b_ih), ("b_hh", b_hh)]:
    print(f"{name:5} {str(a.shape):8}")


def show(name, a, what):
    print(f"{name:9} {str(a.shape):8} {what}")


# %% [markdown]
# ## The forward step, equations (1)–(7)
#
# Inputs: the step's input `x_t` (B, D) and the previous state `h_prev`, `c_prev` (B, H).
# Vectors are rows and the batch is stacked on top, so a weight is applied as `x @ W.T`.

# %%
x_t = rng.standard_normal((B, D))
h_prev = rng.standard_normal((B, H))
c_prev = rng.standard_normal((B, H))


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


A = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh  # (1)
show("A", A, "(1) all four gate pre-activations side by side: (B, 4H)")
a_i, a_f, a_g, a_o = A[:, :H], A[:, H:2 * H], A[:, 2 * H:3 * H], A[:, 3 * H:]
i = sigmoid(a_i)  # (2)
f = sigmoid(a_f)  # (3)
g = np.tanh(a_g)  # (4)
o = sigmoid(a_o)  # (5)
for name, v, eq in [("i", i, "(2) input gate, in (0, 1)"), ("f", f, "(3) forget gate, in (0, 1)"),
                    ("g", g, "(4) candidate, in (-1, 1)"), ("o", o, "(5) output gate, in (0, 1)")]:
    show(name, v, eq)
c_t = f * c_prev + i * g  # (6)
show("c_t", c_t, "(6) new cell state = f⊙c_prev + i⊙g")
h_t = o * np.tanh(c_t)  # (7)
show("h_t", h_t, "(7) new hidden state = o⊙tanh(c_t)")

# %% [markdown]
# ## The same step with `npae.LSTM`
#
# The layer takes a sequence `(T, B, D)` (time-major, like `torch.nn.LSTM`) and initial states
# `(1, B, H)` (torch's extra "layers" axis). With T = 1 it does exactly one step: `output[0]`
# and `h_n[0]` are both our `h_t`, and `c_n[0]` is our `c_t`.

# %%
output, (h_n, c_n) = layer.forward(x_t[None], (h_prev[None], c_prev[None]))
show("output", output, "(T, B, H)")
show("h_n", h_n, "(1, B, H)")
np.testing.assert_allclose(output[0], h_t, rtol=1e-12, atol=1e-14)
np.testing.assert_allclose(h_n[0], h_t, rtol=1e-12, atol=1e-14)
np.testing.assert_allclose(c_n[0], c_t, rtol=1e-12, atol=1e-14)
print("forward: hand == npae.LSTM  ✓")

# %% [markdown]
# ## The backward step, equations (7')–(1')
#
# Say the loss sends back `dh` for h_t and `dc` for c_t (random here: an all-ones gradient
# would hide transposition bugs). Each line inverts one forward line, newest first.

# %%
dh = rng.standard_normal((B, H))
dc_in = rng.standard_normal((B, H))

tc = np.tanh(c_t)
do = dh * tc  # (7') h = o⊙tanh(c): rule 3 gives do ...
dc = dc_in + dh * o * (1 - tc ** 2)  # (7') ... and c gets a second gradient through tanh
di, dg, df = dc * g, dc * i, dc * c_prev  # (6') c = f⊙c_prev + i⊙g
dc_prev = dc * f  # (6') the cell carry: only a product with the forget gate
dA = np.concatenate([di * i * (1 - i),  # (2') σ' from the output
                     df * f * (1 - f),  # (3')
                     dg * (1 - g ** 2),  # (4') tanh' from the output
                     do * o * (1 - o)], axis=1)  # (5')
show("dA", dA, "(2')–(5') gradient of the pre-activations: (B, 4H)")
dx_t = dA @ W_ih  # (1')
dh_prev = dA @ W_hh  # (1') the carry to step t-1
dW_ih = dA.T @ x_t  # (1')
dW_hh = dA.T @ h_prev  # (1')
db = dA.sum(axis=0)  # (1') the same for b_ih and b_hh
for name, v in [("dx_t", dx_t), ("dh_prev", dh_prev), ("dc_prev", dc_prev), ("dW_ih", dW_ih),
                ("dW_hh", dW_hh), ("db", db)]:
    show(name, v, "")

# %% [markdown]
# `layer.backward(grad_output, (grad_h_n, grad_c_n))` takes the gradients of `output` and of the
# final states. `output[0]` and `h_n` are the same h_t, so their gradients add up (rule 4 of
# `docs/bptt.md`): we split our `dh` between them to show it.

# %%
layer.zero_grad()
layer.forward(x_t[None], (h_prev[None], c_prev[None]))
grad_x, (grad_h0, grad_c0) = layer.backward((0.25 * dh)[None], ((0.75 * dh)[None], dc_in[None]))
checks = [("dx_t", grad_x[0], dx_t), ("dh_prev", grad_h0[0], dh_prev), ("dc_prev", grad_c0[0], dc_prev),
          ("dW_ih", layer.weight_ih_l0.grad, dW_ih), ("dW_hh", layer.weight_hh_l0.grad, dW_hh),
          ("db_ih", layer.bias_ih_l0.grad, db), ("db_hh", layer.bias_hh_l0.grad, db)]
for name, ours, hand in checks:
    np.testing.assert_allclose(ours, hand, rtol=1e-10, atol=1e-13, err_msg=name)
print("backward: hand == npae.LSTM for", ", ".join(n for n, _, _ in checks), " ✓")

# %% [markdown]
# ## A layer is this step in a loop
#
# Five steps by hand, each starting from the state the previous one produced, equal one call
# of the layer on a (T=5, B, D) sequence.

# %%
T = 5
xs = rng.standard_normal((T, B, D))
h, c = h_prev, c_prev
for t in range(T):
    A = xs[t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh  # (1)
    i, f, o = sigmoid(A[:, :H]), sigmoid(A[:, H:2 * H]), sigmoid(A[:, 3 * H:])  # (2), (3), (5)
    g = np.tanh(A[:, 2 * H:3 * H])  # (4)
    c = f * c + i * g  # (6)
    h = o * np.tanh(c)  # (7)
output, (h_n, c_n) = layer.forward(xs, (h_prev[None], c_prev[None]))
show("output", output, f"(T, B, H) for T = {T}")
np.testing.assert_allclose(output[-1], h, rtol=1e-12, atol=1e-14)
np.testing.assert_allclose(h_n[0], h, rtol=1e-12, atol=1e-14)
np.testing.assert_allclose(c_n[0], c, rtol=1e-12, atol=1e-14)
print(f"{T} hand steps == npae.LSTM on the sequence  ✓")
print("all checks passed")
