"""The WSGI entry point answers provider webhooks past the site's middleware, with the same views.

The test client always goes through the full middleware stack, so these tests call
``config.wsgi.application`` itself, as granian does.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import get_resolver

from config.wsgi import application
from sampark.messaging.models import QueuedStatus
from sampark.transports import urls as transport_urls
from sampark.transports import webhook_urls
from sampark.transports.fakes.whatsapp import sign, status_payload

pytestmark = pytest.mark.django_db
SECRET = "fast-path-secret"


@pytest.fixture
def wsgi() -> Iterator[None]:
    """As the test client does: a request must not close the test's connection (it holds the test's
    transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def whatsapp(settings):
    settings.SAMPARK_WHATSAPP_TOKEN = "token"
    settings.SAMPARK_WHATSAPP_PHONE_NUMBER_ID = "1122334455667"
    settings.SAMPARK_WHATSAPP_APP_SECRET = SECRET
    settings.SAMPARK_WHATSAPP_VERIFY_TOKEN = "verify"
    settings.SAMPARK_WHATSAPP_ELIGIBILITY_ATTESTED = "test"
    return settings


def call(
    path: str, body: bytes = b"", *, method: str = "POST", host: str = "127.0.0.1", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        **{"HTTP_" + name.upper(): value for name, value in headers.items()},
    }
    started: list[Any] = []
    response = application(environ, lambda status, headers, exc=None: started.append((status, headers)))
    content = b"".join(response)
    response.close()  # as a WSGI server does: Django's request_finished (resets the URL conf, …)
    status, header_list = started[0]
    return int(status.split()[0]), dict(header_list), content


def test_it_resolves_every_webhook_path_to_the_view_the_site_resolves_it_to():
    site = get_resolver()
    fast = get_resolver("sampark.transports.webhook_urls")
    paths = ["/" + str(pattern.pattern) for pattern in webhook_urls.urlpatterns]

    # Every provider the site serves under /webhooks/ is on the fast path, to the same view.
    assert paths == ["/webhooks/" + str(pattern.pattern) for pattern in transport_urls.urlpatterns]
    for path in paths:
        assert fast.resolve(path).func is site.resolve(path).func


def test_it_queues_a_signed_status_without_running_the_sites_middleware(wsgi, whatsapp):
    body = status_payload("wamid.fast", "delivered", 1700000000)

    status, headers, content = call("/webhooks/whatsapp/", body, x_hub_signature_256=sign(body, SECRET))

    assert (status, content) == (200, b"{}")
    assert list(QueuedStatus.objects.values_list("provider_message_id", "status")) == [("wamid.fast", 3)]
    # The site's middleware (clickjacking, security headers, CSP) did not run for it …
    assert "X-Frame-Options" not in headers and "X-Content-Type-Options" not in headers
    # … and still runs for every other page.
    _status, page_headers, _content = call("/login/", method="GET")
    assert page_headers.get("X-Frame-Options") == "DENY"


def test_it_still_refuses_a_forged_signature_and_a_host_not_allowed(wsgi, whatsapp):
    body = status_payload("wamid.fast", "delivered", 1700000000)

    forged, _, _ = call("/webhooks/whatsapp/", body, x_hub_signature_256=sign(body, "guess"))
    foreign, _, _ = call(
        "/webhooks/whatsapp/", body, host="evil.example", x_hub_signature_256=sign(body, SECRET)
    )

    assert (forged, foreign) == (403, 400)
    assert not QueuedStatus.objects.exists()


def test_it_answers_404_for_a_path_under_webhooks_that_is_no_webhook(wsgi, whatsapp):
    status, _, _ = call("/webhooks/nothing/", b"{}")

    assert status == 404
