"""The suite's own guards: a private SAMPARK_HOME, skips that fail under CI=true, hypothesis derandomised
under CI, and a transport registry that is fresh in every test and follows the settings."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from hypothesis import settings as hypothesis_settings

from sampark.core import shutdown
from sampark.transports import events, registry
from sampark.transports.outbox.transport import Outbox
from tests.helpers import ci_skips, hypothesis_profiles, private_home

ROOT = Path(__file__).resolve().parent.parent
STOCK_KINDS = {"outbox", "whatsapp", "telegram", "sms", "email"}


# --- SAMPARK_HOME --------------------------------------------------------------------------------------


def test_it_runs_with_its_own_sampark_home_not_the_var_of_make_run():
    home = Path(django_settings.SAMPARK_HOME)
    assert home != (ROOT / "var").resolve()
    assert not home.is_relative_to(ROOT)
    assert home.parent == Path(tempfile.gettempdir()).resolve()
    assert home.name.startswith(private_home.PREFIX)
    assert os.environ["SAMPARK_HOME"] == str(home)  # child processes the tests start inherit it
    assert Path(django_settings.SAMPARK_RATE_LIMIT_DB).parent == home
    if django_settings.SAMPARK_MODE == "embedded":
        # (The database's NAME is pytest-django's in-memory test database once any test used it.)
        assert Path(django_settings.CACHES["default"]["LOCATION"]).parent == home


# --- skips under CI=true ---------------------------------------------------------------------------------

TINY_SUITE = """
import os
import pytest

def test_it_passes():
    assert True

def test_it_needs_fork():
    pytest.skip("needs fork and a second core")

@pytest.mark.skipif(True, reason="embedded mode only")
def test_it_serves_sqlite():
    pass

@pytest.mark.skipif(True, reason="distributed run only (DATABASE_URL set by .ci/run)")
def test_it_runs_on_postgresql():
    pass

@pytest.mark.xfail(reason="a known bug", strict=True)
def test_it_is_a_known_bug():
    assert False
"""

SKIPPED_MODULE = """
import pytest

pytest.skip("chromium is missing", allow_module_level=True)

def test_it_drives_chromium():
    pass
"""


def run_tiny_suite(tmp_path: Path, source: str = TINY_SUITE, **environ: str) -> tuple[int, dict[str, str]]:
    """Run ``source`` as a test file with the ci_skips plugin only: the exit code, and each test id (or
    the file, for a collection error) with its outcome."""
    (tmp_path / "test_tiny.py").write_text(textwrap.dedent(source))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "DATABASE_URL", "REDIS_URL")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(PYTHONPATH=str(ROOT), **environ)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:django", "-p", "no:cacheprovider",
         "-p", "tests.helpers.ci_skips", "-rA", "-q", "test_tiny.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    outcomes = {}
    for line in result.stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word == "SKIPPED":  # "SKIPPED [1] test_tiny.py:9: <reason>": named by its reason
            outcomes[rest.split(": ", 1)[1]] = word
        elif word in ("PASSED", "FAILED", "ERROR", "XFAIL"):
            outcomes[rest.split(" - ")[0].strip()] = word
    return result.returncode, outcomes


# TINY_SUITE's skip reasons (a skip report names no test, only where and why).
FORK, SQLITE = "needs fork and a second core", "embedded mode only"
POSTGRESQL = "distributed run only (DATABASE_URL set by .ci/run)"


def test_it_turns_a_skip_into_a_failure_under_ci_except_the_other_modes_tests(tmp_path):
    code, outcomes = run_tiny_suite(tmp_path, CI="true")
    assert code == 1
    assert outcomes.pop("test_tiny.py::test_it_passes") == "PASSED"
    assert outcomes.pop("test_tiny.py::test_it_needs_fork") == "FAILED"
    # Embedded pass: "embedded mode only" is no reason to skip; the PostgreSQL-only test is.
    assert outcomes.pop("test_tiny.py::test_it_serves_sqlite") == "ERROR"  # skipif skips at set-up
    assert outcomes.pop(POSTGRESQL) == "SKIPPED"
    assert outcomes.pop("test_tiny.py::test_it_is_a_known_bug") == "XFAIL"
    assert outcomes == {}


def test_it_allows_the_embedded_only_skip_on_the_postgresql_pass_only(tmp_path):
    _code, outcomes = run_tiny_suite(tmp_path, CI="true", DATABASE_URL="postgres://127.0.0.1:1/never-used")
    assert outcomes[SQLITE] == "SKIPPED"
    assert outcomes["test_tiny.py::test_it_runs_on_postgresql"] == "ERROR"
    assert outcomes["test_tiny.py::test_it_needs_fork"] == "FAILED"


def test_it_fails_a_module_skipped_at_collection_under_ci(tmp_path):
    code, outcomes = run_tiny_suite(tmp_path, SKIPPED_MODULE, CI="true")
    assert code == 2  # interrupted: an error during collection
    assert outcomes == {"test_tiny.py": "ERROR"}


def test_it_lets_tests_skip_outside_ci(tmp_path):
    code, outcomes = run_tiny_suite(tmp_path)
    assert code == 0
    assert (outcomes[FORK], outcomes[SQLITE], outcomes[POSTGRESQL]) == ("SKIPPED", "SKIPPED", "SKIPPED")
    code, outcomes = run_tiny_suite(tmp_path, SKIPPED_MODULE)
    assert (code, outcomes) == (5, {"chromium is missing": "SKIPPED"})  # 5: no test ran


@pytest.mark.parametrize(
    ("reason", "environ", "allowed"),
    [
        ("embedded mode only", {"DATABASE_URL": "postgres://x"}, True),
        ("embedded mode only", {}, False),
        ("distributed run only (REDIS_URL set by .ci/run)", {}, True),
        ("distributed run only (REDIS_URL set by .ci/run)", {"REDIS_URL": "redis://x"}, False),
        ("distributed run only (DATABASE_URL set by .ci/run)", {}, True),
        ("distributed run only (DATABASE_URL set by .ci/run)", {"DATABASE_URL": "postgres://x"}, False),
        ("needs fork and a second core", {}, False),
        ("/usr/bin/chromium is missing (apt-get install -y chromium)", {}, False),
    ],
)
def test_it_allows_only_the_listed_mode_specific_skips(reason, environ, allowed):
    assert ci_skips.allowed(reason, environ) is allowed


# --- hypothesis ------------------------------------------------------------------------------------------


def test_it_derandomises_hypothesis_under_ci_without_a_database_or_a_deadline():
    assert hypothesis_profiles.chosen({"CI": "true"}) == "ci"
    assert hypothesis_profiles.chosen({}) == "dev"
    assert hypothesis_profiles.chosen({"CI": "true", "HYPOTHESIS_PROFILE": "dev"}) == "dev"
    ci = hypothesis_settings.get_profile("ci")
    assert (ci.derandomize, ci.database, ci.deadline) == (True, None, None)
    assert hypothesis_settings.get_profile("dev").derandomize is False


def test_it_has_loaded_the_profile_of_this_run():
    current = hypothesis_settings.default
    if hypothesis_profiles.chosen() == "ci":
        assert current.derandomize and current.database is None and current.deadline is None
    elif hypothesis_profiles.chosen() == "dev":
        assert current.deadline is not None and current.deadline.total_seconds() == 1


# --- the transport registry ------------------------------------------------------------------------------
# The two "leaves" tests dirty the registry by hand, as a careless test would; each also checks that it
# started clean, so whichever runs second proves the autouse fixture reset what the other left.


def assert_fresh_registry() -> None:
    assert registry.configured.cache_info().currsize == 0
    assert set(registry.TRANSPORTS) == STOCK_KINDS
    assert all(path.startswith(f"sampark.transports.{kind}.") for kind, path in registry.TRANSPORTS.items())
    assert type(events.current_receiver()).__module__.startswith("sampark.messaging")
    assert not shutdown.stopping()


class Stray:
    def statuses(self, events: list) -> None: ...

    def inbound(self, event: object) -> None: ...


def test_a_test_that_leaves_a_stray_transport_and_a_built_registry(settings):
    assert_fresh_registry()
    settings.SAMPARK_OUTBOX = True
    assert isinstance(registry.for_channel("sms"), Outbox)
    registry.TRANSPORTS["stray"] = "sampark.transports.outbox.transport.Outbox"  # no monkeypatch
    events.set_receiver(Stray())
    shutdown.request_stop()


def test_a_test_that_leaves_them_too_finds_them_fresh(settings):
    assert_fresh_registry()
    settings.SAMPARK_OUTBOX = True
    assert isinstance(registry.for_channel("email"), Outbox)
    registry.TRANSPORTS["stray"] = "sampark.transports.outbox.transport.Outbox"
    events.set_receiver(Stray())
    shutdown.request_stop()


def test_it_builds_the_transports_from_the_settings_of_the_moment_without_a_manual_reset(settings):
    settings.SAMPARK_OUTBOX = True
    assert isinstance(registry.for_channel("sms"), Outbox)
    settings.SAMPARK_OUTBOX = False
    assert registry.for_channel("sms") is None
