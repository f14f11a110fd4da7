"""A pytest plugin (``-p tests.helpers.ci_skips`` in pyproject's addopts): under ``CI=true`` a skipped
test is a failed test, unless its skip is one of the mode-specific skips listed in :data:`ALLOWED`.

A skip hides a test that did not run: a missing Chromium, one core where fork needs two, a missing
data folder. Locally that is a convenience; in CI it would let a green run prove nothing. CI runs the
suite twice (embedded, then PostgreSQL + Redis: ``.ci/run``), so a test made for one mode is rightly
skipped in the other, and only then: each allowed reason holds only in the mode that justifies it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Mapping

import pytest


def _distributed(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("DATABASE_URL"))


# Skip reason (exactly as the test gives it) -> when it is a legitimate skip in CI.
ALLOWED: dict[str, Callable[[Mapping[str, str]], bool]] = {
    # tests/test_serve.py and tests/test_soak.py start the real embedded server (SQLite + SqliteHuey);
    # the PostgreSQL pass has no embedded database to give them. They run in the embedded pass.
    "embedded mode only": _distributed,
    # tests/test_settings_modes.py: a task really queued in Redis needs the REDIS_URL of the second
    # pass; the first (embedded) pass has no Redis by design.
    "distributed run only (REDIS_URL set by .ci/run)": lambda environ: not environ.get("REDIS_URL"),
    # tests/test_settings_modes.py: the PostgreSQL engine check needs the second pass's DATABASE_URL.
    "distributed run only (DATABASE_URL set by .ci/run)": lambda environ: not _distributed(environ),
}


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("CI") == "true"


def skip_reason(longrepr: object) -> str:
    """The reason of a skip report (pytest stores ``(path, line, "Skipped: <reason>")``)."""
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return str(reason).removeprefix("Skipped: ")


def allowed(reason: str, environ: Mapping[str, str] = os.environ) -> bool:
    rule = ALLOWED.get(reason)
    return rule is not None and rule(environ)


def _fail(report: pytest.TestReport | pytest.CollectReport) -> None:
    reason = skip_reason(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (
        f"skipped under CI=true: {reason!r}. A skipped test proves nothing in CI: provide what it "
        "needs, or (for a test of one mode only) add its reason to tests/helpers/ci_skips.py ALLOWED."
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    skipped = report.skipped and not hasattr(report, "wasxfail")
    if in_ci() and skipped and not allowed(skip_reason(report.longrepr)):
        _fail(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    # A module-level ``pytest.skip(allow_module_level=True)`` or ``importorskip`` skips at collection.
    report: pytest.CollectReport = yield
    if in_ci() and report.skipped and not allowed(skip_reason(report.longrepr)):
        _fail(report)
    return report
