"""The fast tier: the same computations as the plain functions, tuned for speed.

**Skip this package on a first reading.**  Everything a student needs to follow a gradient —
the one-step functions, the per-step loops and the plain vectorised versions — is in
``npae/rnn.py``, ``npae/lstm.py``, ``npae/gru.py`` and ``npae/autoencoder.py``, and
``docs/bptt.md`` cites only those.  What lives here changes how the numbers are computed, never
which numbers: every function is tested equal to its plain twin (``tests/test_fast_paths.py``:
float64 to 1e-10 relative on hypothesis-drawn shapes, float32 to float32 rounding).

    layout.py       the feature-major storage of a step, (G, B), and the weight-gradient GEMMs
    underflow.py    the backward loops' stop once the carried gradient has underflowed
    buffers.py      arrays reused from one call to the next
    threads.py      a batch split over threads (``npae.set_num_threads``); BLAS threads of a pass
    rnn.py          the RNN's recurrence and its backward, in place; inference with the inputs folded in
    lstm.py         the LSTM's kernel: inputs folded into the step's GEMM, gates from one tanh
    gru.py          the GRU's recurrence and its backward, in place
    autoencoder.py  a training step and inference of a one-layer autoencoder on the kernels

The layers (``npae.LSTM(impl="fast")``, the default) and the autoencoders (``impl="fast"``, the
default for training and scoring) call into this package; ``impl="vectorized"`` runs the plain
vectorised functions and ``impl="loop"`` the per-step loop.  docs/performance.md has what each
change measured.
"""

from .threads import get_num_threads, set_num_threads

__all__ = ["get_num_threads", "set_num_threads"]
