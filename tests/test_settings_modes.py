"""Embedded vs distributed configuration, read from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def _run_settings(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    full = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SAMPARK_SECRET_KEY")
    }
    full.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup();" + code],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_keeps_everything_under_sampark_home_in_embedded_mode(tmp_path):
    result = _run_settings(
        {"SAMPARK_HOME": str(tmp_path)},
        (
            "from django.conf import settings; from django.db import connection;"
            "c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0]);"
            "print(type(settings.HUEY).__name__, settings.HUEY.storage.filename);"
            "print(settings.DATABASES['default']['NAME']); print(settings.SAMPARK_MODE)"
        ),
    )
    assert result.returncode == 0, result.stderr
    journal, huey, db, mode = result.stdout.split("\n")[:4]
    assert journal == "wal"
    assert huey == f"SqliteHuey {tmp_path}/huey.sqlite3"
    assert db == f"{tmp_path}/sampark.sqlite3"
    assert mode == "embedded"
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_it_refuses_a_database_url_without_a_redis_url(tmp_path):
    result = _run_settings(
        {
            "SAMPARK_HOME": str(tmp_path),
            "DATABASE_URL": "postgres://postgres@127.0.0.1/x",
            "SAMPARK_SECRET_KEY": "k" * 50,
        },
        "",
    )
    assert result.returncode != 0
    assert "REDIS_URL is not" in result.stderr


def test_it_refuses_distributed_mode_without_a_shared_secret_key(tmp_path):
    result = _run_settings(
        {
            "SAMPARK_HOME": str(tmp_path),
            "DATABASE_URL": "postgres://postgres@127.0.0.1/x",
            "REDIS_URL": "redis://127.0.0.1:6379/15",
        },
        "",
    )
    assert result.returncode != 0
    assert "needs SAMPARK_SECRET_KEY" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_it_reads_the_coordinate_box_and_https_switches_from_the_environment(tmp_path):
    result = _run_settings(
        {
            "SAMPARK_HOME": str(tmp_path),
            "SAMPARK_COORDINATE_BBOX": "23.8,30.5,77.0,84.7",
            "SAMPARK_HTTPS": "true",
        },
        "from django.conf import settings as s; print(s.SAMPARK_COORDINATE_BBOX, s.SESSION_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(23.8, 30.5, 77.0, 84.7) True ('HTTP_X_FORWARDED_PROTO', 'https')"


def test_it_switches_queue_and_cache_to_redis_with_redis_url(tmp_path):
    result = _run_settings(
        {"SAMPARK_HOME": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/15"},
        (
            "from django.conf import settings; print(type(settings.HUEY).__name__, settings.CACHES['default']['BACKEND'])"
        ),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["PriorityRedisHuey", "django.core.cache.backends.redis.RedisCache"]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="distributed run only (REDIS_URL set by .ci/run)")
def test_it_runs_a_task_through_redis_and_caches_in_redis(transactional_db):
    from django.core.cache import cache
    from huey.contrib.djhuey import HUEY

    assert type(HUEY).__name__ == "PriorityRedisHuey"
    HUEY.immediate = False
    HUEY.flush()

    @HUEY.task()
    def add(a: int, b: int) -> int:
        return a + b

    result = add(2, 3)
    assert len(HUEY) == 1  # really queued in Redis
    task = HUEY.dequeue()
    HUEY.execute(task)
    assert result.get() == 5
    cache.set("sampark-ci-probe", "ठीक", 30)
    assert cache.get("sampark-ci-probe") == "ठीक"


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="distributed run only (DATABASE_URL set by .ci/run)"
)
def test_it_runs_on_postgresql_when_database_url_is_set(db):
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings.SAMPARK_MODE == "distributed"
