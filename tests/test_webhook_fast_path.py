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
    # As a WSGI server does: Django's request_finished (resets the URL conf, …); the statuses fast
    # path answers with a plain list.
    if hasattr(response, "close"):
        response.close()
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


def _count_django_requests() -> tuple[list[object], Any]:
    seen: list[object] = []

    def receiver(sender: object, **kwargs: object) -> None:
        seen.append(sender)

    request_started.connect(receiver)
    return seen, receiver


def test_a_signed_statuses_only_body_is_queued_without_a_django_request(wsgi, whatsapp):
    seen, receiver = _count_django_requests()
    body = status_payload("wamid.quick", "read", 1700000000)
    try:
        status, headers, content = call("/webhooks/whatsapp/", body, x_hub_signature_256=sign(body, SECRET))
    finally:
        request_started.disconnect(receiver)

    assert (status, content, headers["Content-Type"]) == (200, b"{}", "application/json")
    assert list(QueuedStatus.objects.values_list("provider_message_id", "status")) == [("wamid.quick", 4)]
    assert seen == []  # Django's handler never ran for it


def test_every_other_whatsapp_request_still_reaches_the_view(wsgi, whatsapp, caplog):
    seen, receiver = _count_django_requests()
    body = status_payload("wamid.other", "delivered", 1700000000)
    try:
        forged, _, _ = call("/webhooks/whatsapp/", body, x_hub_signature_256=sign(body, "guess"))
        unsigned, _, _ = call("/webhooks/whatsapp/", body)
        garbage, _, garbage_body = call(
            "/webhooks/whatsapp/", b"[[[", x_hub_signature_256=sign(b"[[[", SECRET)
        )
        handshake, _, _ = call("/webhooks/whatsapp/", method="GET")  # no verify token: the view's 403
    finally:
        request_started.disconnect(receiver)

    assert (forged, unsigned, garbage) == (403, 403, 400)
    assert b"not JSON" in garbage_body
    assert handshake == 403
    assert len(seen) == 4  # each through Django's handler, with its logging
    assert "missing or wrong signature" in caplog.text
    assert not QueuedStatus.objects.exists()


def test_a_body_over_the_upload_limit_is_refused_by_the_handler(wsgi, whatsapp, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    body = status_payload("wamid.big", "delivered", 1700000000)
    assert len(body) > 100

    status, _, _ = call("/webhooks/whatsapp/", body, x_hub_signature_256=sign(body, SECRET))

    assert status == 400
    assert not QueuedStatus.objects.exists()


def test_a_statuses_body_that_fails_to_queue_is_tried_again_by_the_view(wsgi, whatsapp, monkeypatch):
    from sampark.messaging import statuses

    real = statuses.enqueue
    calls: list[int] = []

    def flaky(events):  # type: ignore[no-untyped-def]
        calls.append(len(events))
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return real(events)

    monkeypatch.setattr(statuses, "enqueue", flaky)
    body = status_payload("wamid.retry", "delivered", 1700000000)

    status, _, _ = call("/webhooks/whatsapp/", body, x_hub_signature_256=sign(body, SECRET))

    assert status == 200
    assert calls == [1, 1]  # the fast path's attempt, then the view's
    assert list(QueuedStatus.objects.values_list("provider_message_id", flat=True)) == ["wamid.retry"]


def test_a_body_with_an_inbound_message_goes_to_the_view_whole(wsgi, whatsapp, monkeypatch):
    from sampark.transports import events

    got: list[str] = []
    monkeypatch.setattr(events.receiver(), "inbound", lambda event: got.append(event.text))
    body = b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"1122334455667"},"contacts":[{"wa_id":"919876543210"}],"messages":[{"from":"919876543210","id":"wamid.in.1","timestamp":"1700000000","type":"text","text":{"body":"STOP"}}],"statuses":[{"id":"wamid.s.1","status":"delivered","timestamp":"1700000000","recipient_id":"919876543210"}]}}]}]}'

    status, _, _ = call("/webhooks/whatsapp/", body, x_hub_signature_256=sign(body, SECRET))

    assert status == 200
    assert got == ["STOP"]  # the view read the same body again, after the fast path declined it
    assert list(QueuedStatus.objects.values_list("provider_message_id", flat=True)) == ["wamid.s.1"]
