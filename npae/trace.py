"""Trace mode: watch one batch of windows travel through an autoencoder, array by array.

    from npae.trace import Trace

    with Trace() as tr:
        x_hat = model(x)          # any npae autoencoder, x (B, T, D)
    print(tr)                     # one line per intermediate: name, equation, shape, dtype, min/mean/max
    tr["z"].value                 # the latent code itself, (B, L)

Shapes use the one glossary of npae (see ``docs/bptt.md``): T time steps, B windows in the batch,
D features, H hidden size, G = k·H gate rows (k = 1 for the RNN, 4 for the LSTM), L latent size.
Inside the model everything is *time-major*, so the recurrent states appear as ``(T, B, H)``
while the input and the output keep the caller's batch-first ``(B, T, D)``.

How it works.  The autoencoder's ``forward`` calls :func:`notify` once, after it has computed its
output; with no trace active that is a single check and nothing else.  Inside a ``with Trace()``
block the innermost active trace reads the intermediates out of the model's forward cache —
the very arrays the forward computed, not a recomputation — and records each with a copy of its
value.  The input projections (P) are the only exception: the cache does not keep them, so the
trace recomputes them from cached values with the same function the forward uses
(:func:`npae.recurrent.input_projection`).

The records, in the order the data flows (``equation`` names the line of ``docs/bptt.md``)::

    x                         (B, T, D)  the windows, as given
    encoder.input_projection  (T, B, G)  (P)    x W_ihᵀ + b_ih + b_hh for every step at once
    encoder.i/f/g/o           (T, B, H)  (2)–(5) LSTM gates (LSTM only)
    encoder.c                 (T, B, H)  (6)    cell states c_1 … c_T (LSTM only)
    encoder.h                 (T, B, H)  (R2)/(7) hidden states h_1 … h_T
    h_T                       (B, H)     (A1)   the encoder's last state: all it passes on
    z                         (B, L)     (A2)   the latent code
    u                         (B, H)     (A3)   decoder_fc(z)
    decoder.input_projection  (B, G)     (P)    u W_ihᵀ + b_ih + b_hh, once, reused at every step
    decoder.h0 (and c0)       (B, H)     (A4)   the decoder starts from h_0 = u (c_0 = 0)
    decoder.i/f/g/o, decoder.c, decoder.h        as for the encoder
    x_hat                     (B, T, D)  (A5)   output_fc at every step: the reconstruction

The GRU autoencoder records ``encoder.r/z/n`` (G3)–(G5) in place of the LSTM's gates and its
input projections are (G1) (``b_ih`` only); a stacked one (``num_layers > 1``) records every
layer's states, ``encoder.l{k}.h`` / ``decoder.l{k}.h`` (S1); the dense autoencoder records the
flattened input and every layer's output (``fc0``, ``bn0``, ``act0``, ``drop0``, … ``output_fc``).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

import numpy as np

from .errors import NpaeError
from .recurrent import input_projection

__all__ = ["Trace", "TraceEntry", "is_active", "notify", "trace_forward"]

_ACTIVE: contextvars.ContextVar[tuple] = contextvars.ContextVar("npae_trace_active", default=())


@dataclass
class TraceEntry:
    """One recorded intermediate: its name, the equation that made it, shape, dtype and summary.

    ``value`` is a copy of the array (``None`` when the trace was built with ``keep_values=False``);
    ``call`` counts the forward passes seen by the trace, from 0.
    """

    name: str
    equation: str
    shape: tuple
    dtype: str
    min: float
    mean: float
    max: float
    note: str
    call: int = 0
    value: np.ndarray | None = None

    def summary(self) -> str:
        return f"min {self.min:+.3f}  mean {self.mean:+.3f}  max {self.max:+.3f}"


class Trace:
    """Context manager recording the data path of every autoencoder forward pass inside it.

    ``Trace(keep_values=True)``.  After the block: ``entries`` (a list of :class:`TraceEntry`, in
    order), ``names()``, ``tr[name]`` (the entry of that name from the latest forward pass),
    ``str(tr)`` (a table).  Traces nest; only the innermost active one records.  Only
    ``model(x)`` / ``model.forward(x)`` is traced (not ``encode``, ``decode`` or ``reconstruct``).
    """

    def __init__(self, keep_values: bool = True):
        self.keep_values = bool(keep_values)
        self.entries: list[TraceEntry] = []
        self.calls = 0
        self._token = None

    # ------------------------------------------------------------------ context manager
    def __enter__(self):
        self._token = _ACTIVE.set(_ACTIVE.get() + (self,))
        return self

    def __exit__(self, *exc):
        _ACTIVE.reset(self._token)
        self._token = None
        return False

    # ------------------------------------------------------------------ recording
    def record(self, name: str, value, equation: str = "", note: str = "") -> None:
        """Append one entry (a student may call this from their own code too)."""
        a = np.asarray(value)
        finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
        lo, mean, hi = ((float(finite.min()), float(finite.mean()), float(finite.max()))
                        if finite.size else (float("nan"),) * 3)
        self.entries.append(TraceEntry(
            name=name, equation=equation, shape=tuple(a.shape), dtype=str(a.dtype),
            min=lo, mean=mean, max=hi, note=note, call=self.calls,
            value=np.array(a, copy=True) if self.keep_values else None,
        ))

    # ------------------------------------------------------------------ reading
    def names(self) -> list[str]:
        """The recorded names of the latest forward pass, in data-path order."""
        last = self.calls - 1
        return [e.name for e in self.entries if e.call == last]

    def __getitem__(self, name: str) -> TraceEntry:
        for e in reversed(self.entries):
            if e.name == name:
                return e
        raise KeyError(f"no trace entry named {name!r}; recorded: {', '.join(self.names())}")

    def __contains__(self, name) -> bool:
        return any(e.name == name for e in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def table(self, notes: bool = False) -> str:
        """The entries as aligned text; with ``notes`` each line is followed by its explanation."""
        if not self.entries:
            return "(empty trace: no autoencoder forward pass ran inside the block)"
        wn = max(len(e.name) for e in self.entries)
        we = max([len(e.equation) for e in self.entries] + [3])
        ws = max(len(str(e.shape)) for e in self.entries)
        head = f"{'name':<{wn}}  {'eq.':<{we}}  {'shape':<{ws}}  {'dtype':<7}  summary"
        lines = [head, "-" * len(head + " min +0.000  mean +0.000  max +0.000")]
        for e in self.entries:
            if self.calls > 1 and e.name == "x":
                lines.append(f"# forward pass {e.call}")
            lines.append(f"{e.name:<{wn}}  {e.equation:<{we}}  {str(e.shape):<{ws}}  {e.dtype:<7}  {e.summary()}")
            if notes and e.note:
                lines.append(f"{'':<{wn}}  {'':<{we}}  ↳ {e.note}")
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def __repr__(self):
        return f"Trace({len(self.entries)} entries over {self.calls} forward pass(es))"


# ---------------------------------------------------------------------- the hook


def is_active() -> bool:
    """True inside a ``with Trace()`` block: a model then keeps one plain cache to be read."""
    return bool(_ACTIVE.get())


def notify(model, x, y) -> None:
    """Called by a model's ``forward`` after it ran (``x`` its input, ``y`` its output).

    Does nothing unless a :class:`Trace` is active; then the innermost one records the path.
    """
    active = _ACTIVE.get()
    if not active:
        return
    tr = active[-1]
    _record_autoencoder(tr, model, x, y)
    tr.calls += 1


def trace_forward(model, x, keep_values: bool = True):
    """Run ``model.forward(x)`` under a fresh :class:`Trace`; return ``(y, trace)``."""
    with Trace(keep_values=keep_values) as tr:
        y = model.forward(x)
    return y, tr


# ---------------------------------------------------------------------- the autoencoder's path

_GATES = (
    ("i", "(2)", "input gate σ(a_i): how much of the candidate g enters the cell"),
    ("f", "(3)", "forget gate σ(a_f): how much of c_{t-1} is kept"),
    ("g", "(4)", "candidate tanh(a_g): what could be written into the cell"),
    ("o", "(5)", "output gate σ(a_o): how much of tanh(c_t) is shown as h_t"),
)


_GRU_GATES = (
    ("r", "(G3)", "reset gate σ(a_r + c_r): how much of h_{t-1} W_hnᵀ + b_hn enters the candidate"),
    ("z", "(G4)", "update gate σ(a_z + c_z): how much of h_{t-1} is kept"),
    ("n", "(G5)", "candidate tanh(a_n + r⊙c_n): the proposed new state"),
)


def _record_recurrence(tr, side, state, cell, H):
    """The states of one recurrent layer (encoder or decoder), from its cache ``state``."""
    h = state["h"]  # (T+1, B, H) with h[0] the initial state
    if cell == "gru":
        for k, (gname, eq, note) in enumerate(_GRU_GATES):
            tr.record(f"{side}.{gname}", state["gates"][..., k * H:(k + 1) * H], eq, note)
        tr.record(f"{side}.h", h[1:], "(G6)", "hidden states h_1 … h_T = (1-z)⊙n + z⊙h_{t-1}")
    elif cell == "lstm":
        gates = state["gates"]  # activated, (T, B, 4H), rows i, f, g, o
        for k, (gname, eq, note) in enumerate(_GATES):
            tr.record(f"{side}.{gname}", gates[..., k * H:(k + 1) * H], eq, note)
        tr.record(f"{side}.c", state["c"][1:], "(6)", "cell states c_1 … c_T = f⊙c_{t-1} + i⊙g")
        tr.record(f"{side}.h", h[1:], "(7)", "hidden states h_1 … h_T = o⊙tanh(c_t)")
    else:
        tr.record(f"{side}.h", h[1:], "(R1)–(R2)",
                  "hidden states h_1 … h_T = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)")


def _record_autoencoder(tr, model, x, y):
    cache = getattr(model, "_cache", None)
    cell = getattr(model, "cell", None)
    if cell == "dense":
        return _record_dense(tr, model, x, y)
    if getattr(cache, "through_layers", False):  # the layers' own caches hold the arrays
        return _record_layers(tr, model, x, y)
    blocks = getattr(cache, "caches", None)  # a fast pass: npae/fast/autoencoder.py
    if blocks is None:
        raise NpaeError(
            f"npae.trace cannot read the forward cache of {type(model).__name__}: only npae's "
            "autoencoders are traced, and their cache layout must match "
            "npae/trace.py::_record_autoencoder (update it if the autoencoder changed)"
        )
    if len(blocks) != 1:
        raise NpaeError(f"npae.trace reads a forward cache of one block; {type(model).__name__} "
                        f"split its batch into {len(blocks)} (npae.set_num_threads)")
    c = blocks[0]
    x_tm, enc_state, u, dec_state = c.x_tm, c.enc_state, c.u, c.dec_state
    h_T, z = c.efc_cache[0], c.dfc_cache[0]
    H = model.hidden_size
    G = {"lstm": "4H", "gru": "3H"}.get(cell, "H")
    enc, dec = model.encoder.params(), model.decoder.params()
    T = x_tm.shape[0]
    # the GRU projects with b_ih only, (G1): its b_hh sits inside the reset product
    eq, b_hh, terms = ("(G1)", None, "b_ih") if cell == "gru" else ("(P)", "bias_hh", "b_ih + b_hh")

    tr.record("x", x, "", "the input windows, batch-first (B, T, D) as the caller gave them")
    tr.record("encoder.input_projection",
              input_projection(x_tm, enc["weight_ih"], enc["bias_ih"], b_hh and enc[b_hh]), eq,
              f"x_t W_ihᵀ + {terms} for all T={T} steps in one matrix product, time-major "
              f"(T, B, G) with G = {G}")
    _record_recurrence(tr, "encoder", enc_state, cell, H)
    tr.record("h_T", h_T, "(A1)",
              "the encoder's last hidden state: the only thing the encoder passes on")
    tr.record("z", z, "(A2)", "latent code z = h_T W_eᵀ + b_e (encoder_fc): the bottleneck")
    tr.record("u", u, "(A3)", "u = z W_dᵀ + b_d (decoder_fc), back to the hidden size")
    tr.record("decoder.input_projection",
              input_projection(u, dec["weight_ih"], dec["bias_ih"], b_hh and dec[b_hh]), eq,
              f"u W_ihᵀ + {terms} computed once: the decoder's input is u at every one of "
              f"the T={T} steps")
    tr.record("decoder.h0", dec_state["h"][0], "(A4)", "the decoder starts from h_0 = u")
    if cell == "lstm":
        tr.record("decoder.c0", dec_state["c"][0], "(A4)", "and from c_0 = 0")
    _record_recurrence(tr, "decoder", dec_state, cell, H)
    tr.record("x_hat", y, "(A5)",
              "x̂_t = h_t W_oᵀ + b_o (output_fc at every step), batch-first (B, T, D)")


def _record_layers(tr, model, x, y):
    """A stacked autoencoder (``num_layers > 1``): every layer's states, from the layers' caches."""
    N = model.num_layers
    tr.record("x", x, "", "the input windows, batch-first (B, T, D) as the caller gave them")
    for side, layer in (("encoder", model.encoder), ("decoder", model.decoder)):
        if side == "decoder":
            tr.record("h_T", model.encoder_fc._cache[0], "(A1)",
                      f"the last of the {N} encoder layers' final state: all the encoder passes on")
            tr.record("z", model.decoder_fc._cache[0], "(A2)", "latent code z = h_T W_eᵀ + b_e (encoder_fc)")
        caches = layer._cache[0]["caches"]
        for k, c in enumerate(caches):
            if side == "decoder" and k == 0:
                tr.record("u", c["h"][0], "(A3)", "u = z W_dᵀ + b_d (decoder_fc): the decoder's input "
                          f"at every step and h_0 of each of its {N} layers")
            masked = " (its input: the layer below's output ⊙ the dropout mask (D1))" if \
                k and layer.dropout_masks is not None else ""
            tr.record(f"{side}.l{k}.h", c["h"][1:], "(S1)",
                      f"layer {k}'s hidden states h_1 … h_T, (T, B, H){masked}")
    tr.record("x_hat", y, "(A5)", "x̂_t = h_t W_oᵀ + b_o of the last decoder layer, (B, T, D)")


_DENSE_NOTES = {
    "fc": ("(L1)", "Linear"), "bn": ("(N1)–(N4)", "batch norm over the batch: (x - μ)/√(σ²+ε), then γ, β"),
    "act": ("", "the activation"), "drop": ("(D1)", "dropout: x ⊙ m in training mode, x in eval mode"),
}


def _record_dense(tr, model, x, y):
    """The dense autoencoder: the flattened input, then every layer's output."""
    outs = getattr(model, "_trace_outputs", None) or []
    tr.record("x", x, "", "the input windows, (B, T, D)")
    tr.record("x_flat", x.reshape(x.shape[0], -1), "", "each window flattened to F = T·D values")
    for name, v in outs:
        kind = name.rstrip("0123456789") if name != "output_fc" else "fc"
        eq, note = _DENSE_NOTES[kind]
        if kind == "bn" and not model.training:
            eq, note = "(N6)", "batch norm with the running statistics (eval mode)"
        if kind == "act":
            note = f"{model.activation} (derivative from the output in the backward)"
        tr.record(name, v, eq, note + f", ({', '.join(['B'] + [str(d) for d in v.shape[1:]])})")
    tr.record("x_hat", y, "(L1)", "output_fc's output reshaped to (B, T, D): the reconstruction")
