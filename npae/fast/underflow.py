"""The backward loops' underflow stop.

A layer whose only upstream gradient arrives at the last step (the autoencoder's encoder) sends
dh (and dc) back through T steps, each usually multiplying it by factors below one (the
vanishing gradient): over a long window it decays geometrically and, in float32, reaches the
*subnormal* range (below 1.2e-38).  x86 CPUs run every multiply or add that touches a
subnormal through a microcode assist, tens to hundreds of times slower: measured, the backward
of one float32 training step at B 256, T 200, H 128 took 3.05 s, against 0.91 s with the CPU
told to flush subnormals to zero (the same numbers otherwise).  NumPy cannot set that flag, so
the fast backward loops check the carried gradient every few steps and, once all of it is below
tiny/eps of its dtype (1e-31 in float32, 1e-292 in float64), stop: the earlier steps' gradients
are then exactly zero instead of subnormal dust no float32 weight update can feel.  (The one
case where this changes an answer: if the remaining steps *amplified* the carry by ~1e25, an
exploding gradient; training would be in trouble anyway.)  The plain functions never do this.
"""

import numpy as np

UNDERFLOW_CHECK_EVERY = 8  # steps between checks: 4 reductions, about 1 % of a seed-size step


def underflow_threshold(dtype) -> float:
    """``tiny / eps`` of ``dtype``: float32 9.9e-32, float64 1.0e-292."""
    info = np.finfo(dtype)
    return float(info.tiny / info.eps)


def quiet_steps(dy, threshold) -> int:
    """How many leading steps of an upstream gradient ``dy (T, …)`` are all below ``threshold`` in
    magnitude (``T`` for ``dy=None``).  A lower layer of a stacked encoder gets its ``dy`` from the
    layer above, whose backward stopped at underflow: its early steps are zero.  Once the carry
    has underflowed *and* every earlier step's ``dy`` is that small, nothing but dust reaches
    those steps, so the loop may stop there too.  Scans from step 0 and stops at the first loud
    step (for a loud ``dy``: one reduction)."""
    if dy is None:
        return 1 << 62  # every step: there is no upstream gradient at all
    k = 0
    while k < len(dy) and not (np.abs(dy[k]).max() >= threshold):
        k += 1
    return k


def stop_if_underflowed(threshold, steps_done, rest, *carried) -> bool:
    """The fast backward loops' check (see above).  Every ``UNDERFLOW_CHECK_EVERY`` steps, if
    every entry of every array in ``carried`` is below ``threshold`` in magnitude (NaN never is),
    zero them and ``rest`` (the gradients of the steps not reached yet) and return True: the loop
    is done.  ``threshold=None`` (an upstream gradient at every step): never."""
    if threshold is None or steps_done % UNDERFLOW_CHECK_EVERY:
        return False
    if not all(a.max() < threshold and -a.min() < threshold for a in carried):
        return False
    for a in carried + (rest,):
        a[...] = 0
    return True
