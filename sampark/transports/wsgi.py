"""Provider webhooks served past the site's middleware: the WSGI entry point routes ``/webhooks/`` here.

A status webhook is the busiest request Sampark answers (a 1,000/s WhatsApp sender posts about 3,000 a
second) and the cheapest: verify a signature, queue a few values. Through the site's middleware
(sessions, locale, CSRF, auth, messages, htmx, static files) and a resolve over every page's URL
pattern, Django's own work was most of its cost (bench/webhooks.py). Webhooks need none of that: no
session, cookie, user, page or language. :class:`WebhookHandler` is Django's WSGI handler with no
middleware and a URL conf of the webhooks alone; the host is still checked against ``ALLOWED_HOSTS``
(400 otherwise), and exceptions still become Django's responses (400 for a body over
``DATA_UPLOAD_MAX_MEMORY_SIZE``, 500 with the error logged). The views are the same ones the test
client reaches through the full stack.

Before even that handler, :func:`with_webhooks` answers the one request that dominates — a signed
WhatsApp POST of statuses only — with no Django request at all (:func:`_whatsapp_statuses`): check the
host as Django would, read the body, and let ``whatsapp.webhook.queue_statuses_only`` verify, parse and
queue it. Building the ``WSGIRequest``, its signals and the handler's response object was still about
half of that request's CPU (bench/webhooks.py). Any other body — unsigned, malformed, with inbound
messages, or one that fails to queue — goes on to the handler unchanged, so every refusal, log line
and error answer has the one code path the tests cover.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponseBase
from django.http.request import split_domain_port, validate_host

from .events import EMPTY_JSON
from .whatsapp.webhook import queue_statuses_only

logger = logging.getLogger(__name__)

PREFIX = "/webhooks/"
URLCONF = "sampark.transports.webhook_urls"
WHATSAPP_PATH = "/webhooks/whatsapp/"
_OK_JSON = [("Content-Type", "application/json"), ("Content-Length", str(len(EMPTY_JSON)))]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class WebhookHandler(WSGIHandler):
    """Django's WSGI handler for webhook paths only: no middleware, the webhooks' URL conf."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        self._middleware_chain = convert_exception_to_response(self._checked_response)

    def _checked_response(self, request: HttpRequest) -> HttpResponseBase:
        request.get_host()  # DisallowedHost (→ 400) as CommonMiddleware would raise on the full stack
        request.urlconf = URLCONF  # type: ignore[attr-defined]
        response: HttpResponseBase = self._get_response(request)  # type: ignore[attr-defined]
        return response


def _host_allowed(environ: dict[str, Any]) -> bool:
    """Whether Django would accept this request's host (``HttpRequest.get_host``); False also for the
    cases this does not decide (a forwarded host), which the handler then decides."""
    if settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in environ:
        return False
    host = environ.get("HTTP_HOST", "")
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _whatsapp_statuses(environ: dict[str, Any]) -> bool:
    """Queue a signed statuses-only WhatsApp POST; False (with the body put back to be read again)
    for anything the handler must see."""
    if environ.get("REQUEST_METHOD") != "POST" or not _host_allowed(environ):
        return False
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if length <= 0 or (limit is not None and length > limit):
        return False
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    db = connections[DEFAULT_DB_ALIAS]
    if not db.in_atomic_block:  # what Django's request_started does; a test's transaction is left alone
        db.close_if_unusable_or_obsolete()
    try:
        return queue_statuses_only(body, environ.get("HTTP_X_HUB_SIGNATURE_256", ""))
    except Exception:
        # The handler tries again, and answers (and logs) as for any request if it fails too; the
        # queue insert is one statement, so nothing was half-queued.
        logger.debug("whatsapp statuses: fast path failed, handing the request on", exc_info=True)
        return False


def with_webhooks(site: WSGIApp) -> WSGIApp:
    """``site`` with requests under ``/webhooks/`` answered by a :class:`WebhookHandler` instead, and
    signed WhatsApp statuses queued before it (:func:`_whatsapp_statuses`)."""
    webhooks = WebhookHandler()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX):
            if path == WHATSAPP_PATH and _whatsapp_statuses(environ):
                start_response("200 OK", list(_OK_JSON))
                return [EMPTY_JSON]
            return webhooks(environ, start_response)
        return site(environ, start_response)

    return application
