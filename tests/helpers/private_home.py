"""A pytest plugin (``-p tests.helpers.private_home`` in pyproject's addopts): the run's own SAMPARK_HOME.

``config/settings.py`` creates SAMPARK_HOME (default ``./var``, the one ``make run`` uses) and puts the
SQLite database, the Huey queue, the file cache and the rate-limit buckets in it. pytest-django imports
the settings in its ``pytest_load_initial_conftests`` hook, before any ``conftest.py`` is read, so the
variable must be set earlier still: a ``-p`` plugin is imported while pytest parses its arguments, which
is before that hook. Every run gets a fresh temporary directory, whatever SAMPARK_HOME was (an exported
value may well be the live one), and removes it at the end; child processes the tests start inherit it.
"""

from __future__ import annotations

import os
import shutil
import tempfile

PREFIX = "sampark-tests-"

_home = tempfile.mkdtemp(prefix=PREFIX)
os.environ["SAMPARK_HOME"] = _home


def pytest_report_header() -> str:
    return f"SAMPARK_HOME: {_home} (private to this run)"


def pytest_unconfigure() -> None:
    shutil.rmtree(_home, ignore_errors=True)
