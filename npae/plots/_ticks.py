"""The tick labels of a log axis as plain numbers (0.5, 0.01, 1e-05), not 5×10⁻¹.

This module imports matplotlib at the top, to subclass its ``Formatter``: only
:func:`npae.plots._style._log_scale` imports it, when a figure is drawn, so ``import npae.plots``
still needs only NumPy.
"""

from __future__ import annotations

import math

from matplotlib.ticker import Formatter


class PlainLogFormatter(Formatter):
    """Label a log axis's ticks with ``f"{x:g}"``.  Major ticks are always labelled; minor ones
    (``minor=True``) only at 2× and 5× a power of ten, and only while the axis spans less than
    1.5 decades, where the major ticks alone would leave too few labels to read a value."""

    def __init__(self, minor):
        self.minor = minor

    def __call__(self, x, pos=None):
        if x <= 0:
            return ""
        if self.minor:  # label 2× and 5× ticks, and only when the axis spans < 1.5 decades
            lo, hi = sorted(self.axis.get_view_interval())
            if lo <= 0 or hi / lo > 10 ** 1.5 or round(x / 10 ** math.floor(math.log10(x))) not in (2, 5):
                return ""
        return f"{x:g}"
