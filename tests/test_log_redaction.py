"""No feed token reaches a log line: 4xx answers under a live ``/f/<token>/`` (Django's request logger),
the feed's rate-limit refusal, a traceback quoting the path, and granian's access log when it is on —
each captured from the handler the settings configure, and each shows the path with ``[token]``."""

from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import caches
from django.test import Client

from sampark.core.logfilters import REDACTED, RedactFeedTokens, redact
from sampark.feed import services
from tests.helpers.campaign import feed_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the settings' console handler writes (its stream swapped for a buffer)."""
    handlers = [
        h for h in logging.getLogger().handlers if any(isinstance(f, RedactFeedTokens) for f in h.filters)
    ]
    assert handlers, "the settings attach the redacting filter to the root logger's handler"
    buffer = io.StringIO()
    old = [h.setStream(buffer) for h in handlers]  # type: ignore[attr-defined]
    try:
        yield buffer
    finally:
        for handler, stream in zip(handlers, old, strict=True):
            handler.setStream(stream)  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_it_never_writes_a_live_token_when_feed_requests_fail(campaign, console, settings):
    caches["ratelimit"].clear()
    settings.SAMPARK_FEED_RATE = "4/h"
    _link, token = services.link_issue(person=campaign.volunteer)
    client = Client()
    answers = [
        client.get(feed_url(token, "share/999999/whatsapp/")).status_code,  # no such tick: 404
        client.get(feed_url(token, "poll/")).status_code,  # no ``after``: 400
        client.post(feed_url(token, "poll/?after=0")).status_code,  # GET only: 405
        client.get(feed_url(token, "no/such/page/")).status_code,  # no such URL: 404
        client.get(feed_url(token)).status_code,  # over the limit of 4: 429
    ]
    assert answers == [404, 400, 405, 404, 429]
    logged = console.getvalue()
    assert token not in logged
    assert logged.count("/f/[token]/") >= 5, logged
    assert "Not Found: /f/[token]/share/999999/whatsapp/" in logged
    assert "Too Many Requests: /f/[token]/" in logged


def test_it_redacts_arguments_mappings_and_tracebacks():
    token = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
    records = [
        logging.LogRecord("x", logging.WARNING, __file__, 1, "Not Found: %s", (f"/f/{token}/poll/",), None),
        logging.LogRecord("granian.access", logging.INFO, __file__, 1, '"%(path)s" %(status)d', None, None),
        logging.LogRecord("x", logging.ERROR, __file__, 1, f"GET /f/{token}/ failed", (), None),
    ]
    records[1].args = {"path": f"/f/{token}/ack/3/", "status": 404}
    try:
        raise ValueError(f"bad path /f/{token}/mark/1/")
    except ValueError:
        records.append(logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info()))
    formatter = logging.Formatter("%(message)s")
    for record in records:
        assert RedactFeedTokens().filter(record) is True
        text = formatter.format(record)
        assert token not in text
        assert REDACTED in text
    assert redact("/static/feed/feed.js and /feed/links/3/") == "/static/feed/feed.js and /feed/links/3/"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_granians_access_log_when_switched_on_shows_no_token(tmp_path):
    """``sampark serve`` leaves granian's access log off; switched on, its lines go through our handler."""
    port = _free_port()
    token = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(SAMPARK_HOME=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    command = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1", "--no-ws", "--access-log", "config.wsgi:application"]
    output = tmp_path / "granian.log"
    with output.open("wb") as sink:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            status = None
            while status is None and time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/f/{token}/no/such/page/", timeout=5)
                except urllib.error.HTTPError as error:
                    status = error.code
                except OSError:
                    time.sleep(0.2)
            assert status == 404
            time.sleep(0.5)  # the access line is written after the response
        finally:
            server.terminate()
            server.wait(timeout=20)
    logged = output.read_bytes().decode("utf-8", "replace")
    assert token not in logged
    assert "GET /f/[token]/no/such/page/" in logged, logged  # granian's access line
    assert "Not Found: /f/[token]/no/such/page/" in logged, logged  # Django's request logger
