"""Test-wide fixtures: real data location, an immediate task queue, no network but loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings


@pytest.fixture(autouse=True)
def _huey_immediate():
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True
    yield


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # PBKDF2 dominated the suite's time; tests check our code, not the hash's cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
