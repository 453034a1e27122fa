"""Shared test set-up: hypothesis profiles, a headless matplotlib, torch on one thread.

Profiles: ``ci`` (default, used by ``.ci/run``) draws fewer examples so the whole suite stays
within minutes on 2 cores; ``dev`` draws many more.  Choose with
``HYPOTHESIS_PROFILE=dev pytest`` (or ``pytest --hypothesis-profile=dev``).
"""

import os

import matplotlib
import pytest
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


@pytest.fixture(autouse=True, scope="session")
def _torch_one_thread():
    """torch's intra-op threads spin against each other on a busy 2-core machine (a 0.2 s fit
    took 35 s with 2 threads under load); the tests' small models gain nothing from a second
    thread.  The results do not depend on it: the parity tests compare in float64."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


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


COLLECTED = {}


def pytest_collection_modifyitems(session, config, items):
    """Remember how many tests a run of the whole suite collects (the README quotes it)."""
    whole = [str(a).rstrip("/") for a in config.args] in ([], ["tests"], [str(config.rootpath / "tests")])
    COLLECTED["whole_suite"] = whole and not config.getoption("keyword") \
        and not config.getoption("markexpr")
    COLLECTED["count"] = len(items)
