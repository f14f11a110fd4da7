"""Test-wide fixtures: real data location, an immediate task queue, no network but loopback, a fresh
transport registry for every test, and the shared set-ups (the small Bihar, the feed campaign, the small
demo territory).

Two plugins run before this file (pyproject's addopts): ``tests.helpers.private_home`` gives the run its
own SAMPARK_HOME before Django's settings are read, and ``tests.helpers.ci_skips`` turns a skip into a
failure under ``CI=true``. Hypothesis profiles are loaded here, before any test module is imported.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.signals import setting_changed
from django.utils import timezone, translation

from sampark.core import shutdown
from sampark.territory import selectors as territory_selectors
from sampark.territory.demo import build_demo
from sampark.transports import events, registry
from tests.factories import kept_while
from tests.helpers import hypothesis_profiles
from tests.helpers.campaign import Campaign, build_campaign
from tests.helpers.territory import Tree, build_bihar
from tests.helpers.volunteers import NOW, TODAY

hypothesis_profiles.load()


@pytest.fixture(autouse=True)
def _huey_immediate():
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True
    yield


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # PBKDF2 dominated the suite's time; tests check our code, not the hash's cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _forget_transports(**_kwargs: Any) -> None:
    registry.reset()


@pytest.fixture(autouse=True)
def _fresh_transport_registry() -> Iterator[None]:
    """Every test starts and ends with no built transport, the stock ``TRANSPORTS`` map, the messaging
    receiver and no stop requested. While it runs, any settings change (pytest-django's ``settings``
    fixture, ``override_settings``) forgets the built transports, so a test never resets them by hand:
    the next :func:`registry.for_channel` builds them from the settings as they are now."""
    kinds = dict(registry.TRANSPORTS)
    receiver = events.current_receiver()
    registry.reset()
    setting_changed.connect(_forget_transports, dispatch_uid="tests-fresh-transport-registry")
    try:
        yield
    finally:
        setting_changed.disconnect(dispatch_uid="tests-fresh-transport-registry")
        registry.TRANSPORTS.clear()
        registry.TRANSPORTS.update(kinds)
        registry.reset()
        if receiver is not None:
            events.set_receiver(receiver)
        shutdown.reset()


@pytest.fixture(autouse=True)
def _fresh_request_limits() -> Iterator[None]:
    """Request-limit counters (the API's, the feed's) live in a process-wide cache when embedded:
    cleared around every test, so one test's requests never make another's answer 429."""
    caches["ratelimit"].clear()
    # Cached territory counts are keyed by ids, which a rolled-back test's successor may reuse.
    caches["default"].delete(territory_selectors.VERSION_KEY)
    yield
    caches["ratelimit"].clear()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data`` (or SAMPARK_DATA_DIR). Missing data skips locally but fails under CI=true."""
    path = Path(settings.SAMPARK_DATA_DIR)
    if not (path / "SOURCES.md").exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"real data not found at {path}; CI must run the real-data tests")
        pytest.skip(f"real data not found at {path} (set SAMPARK_DATA_DIR)")
    return path


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Pages call ``{% static %}``; the manifest storage used when DEBUG is off needs collectstatic first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


# --- shared set-ups ------------------------------------------------------------------------------------


@pytest.fixture
def bihar(db: None) -> Tree:
    """The small Bihar of :mod:`tests.helpers.territory`."""
    return build_bihar()


@pytest.fixture
def campaign(db: None) -> Campaign:
    """The feed campaign of :mod:`tests.helpers.campaign`."""
    return build_campaign()


@pytest.fixture
def english() -> Iterator[None]:
    """Messages checked in English (the default language is Hindi)."""
    with translation.override("en"):
        yield


@pytest.fixture(scope="module")
def demo_territory(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """The small demo territory (no people), built once for the module and rolled back after it."""
    with kept_while(django_db_blocker, lambda: build_demo(scale="small", seed=1, hooks=False)):
        yield


@pytest.fixture
def frozen_import_clock(monkeypatch: pytest.MonkeyPatch) -> datetime.datetime:
    """``timezone.now()`` is :data:`tests.helpers.volunteers.NOW` and the local date its ``TODAY``."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    return NOW
