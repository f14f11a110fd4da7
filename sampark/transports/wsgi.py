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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponseBase

PREFIX = "/webhooks/"
URLCONF = "sampark.transports.webhook_urls"

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


def with_webhooks(site: WSGIApp) -> WSGIApp:
    """``site`` with requests under ``/webhooks/`` answered by a :class:`WebhookHandler` instead."""
    webhooks = WebhookHandler()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(PREFIX):
            return webhooks(environ, start_response)
        return site(environ, start_response)

    return application
