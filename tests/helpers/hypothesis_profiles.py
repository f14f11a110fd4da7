"""Hypothesis profiles, registered by ``tests/conftest.py`` before any test module is imported.

``ci`` (chosen when ``CI=true``): the same examples on every run (``derandomize``), no example
database (nothing carried over from an earlier run decides what this one tries), and no deadline: CI
machines are slow and shared, and a property test there must fail on a wrong answer, never on a slow
one. ``dev`` (otherwise): random examples, the local example database, a deadline of one second per
example (generous on a busy two-core machine, yet catching a pathological slowdown).
``HYPOTHESIS_PROFILE`` names another profile explicitly. (Hypothesis has a ``ci`` profile of its own,
used when it detects a CI machine; this one replaces it, so the choice is ours and written here.) A test's own ``@settings(...)`` still wins.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping

from hypothesis import HealthCheck, settings

CI = "ci"
DEV = "dev"


def register() -> None:
    settings.register_profile(
        CI,
        parent=settings.get_profile("default"),
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    # From Hypothesis's own defaults, not from whatever is loaded: Hypothesis itself loads a profile of
    # its own when it detects a CI machine.
    settings.register_profile(
        DEV, parent=settings.get_profile("default"), deadline=datetime.timedelta(seconds=1)
    )


def chosen(environ: Mapping[str, str] = os.environ) -> str:
    if environ.get("HYPOTHESIS_PROFILE"):
        return environ["HYPOTHESIS_PROFILE"]
    return CI if environ.get("CI") == "true" else DEV


def load(environ: Mapping[str, str] = os.environ) -> str:
    register()
    name = chosen(environ)
    settings.load_profile(name)
    return name
