"""Shared test set-up: hypothesis profiles and a headless matplotlib.

Profiles: ``ci`` (default, used by ``.ci/run``) draws fewer examples so the whole suite stays
within minutes on 2 cores; ``dev`` draws many more.  Choose with
``HYPOTHESIS_PROFILE=dev pytest`` (or ``pytest --hypothesis-profile=dev``).
"""

import os

import matplotlib
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_terminal_summary(terminalreporter):
    """Print the largest float64 discrepancy against torch that the parity tests measured."""
    try:
        from helpers import WORST
    except ImportError:  # pragma: no cover
        return
    if WORST:
        terminalreporter.write_sep("-", "largest float64 relative discrepancy vs torch")
        for kind, err in sorted(WORST.items()):
            terminalreporter.write_line(f"{kind:<28} {err:.2e}")
