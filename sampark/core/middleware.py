"""Request rate limits for the API and the volunteer feed (django-ratelimit over the ``ratelimit`` cache).

- ``/api/…``: per client address (``SAMPARK_API_RATE``).
- ``/f/<token>/…``: per token (``SAMPARK_FEED_RATE``), never per address: a booth's volunteers share one
  mobile carrier's NAT, and one volunteer's open feed polls every ten seconds whatever the others do.

Why django-ratelimit and not pyrate-limiter (which paces our outbound sends): pyrate-limiter keeps one
bucket (an SQLite table, or a Redis key with a row per request) per *key*, made for a few senders; here
keys are every token and address that ever asks. django-ratelimit keeps one counter per key and
window in Django's cache: Redis in distributed mode (atomic, shared by every web process), each web
process's memory in the embedded one (so each granian worker counts on its own: a client may get up to
workers × the rate — a bound on abuse, not an accounting; a file cache shared by the workers cost 58 ms
a check with 1,000 open feeds). Counters are keyed by a SHA-256 of the key: no token is stored.

An answer over the limit is a 429 with ``Retry-After`` and a message in Hindi and English (JSON
``{"detail": …}`` for the API). The check runs before sessions and the database are touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_noop
from django_ratelimit.core import get_usage

from .throttle import both_languages, client_ip

FEED_PATH = re.compile(r"^/f/(?P<token>[^/]+)/")
API_PREFIX = "/api/"
TOO_MANY = gettext_noop("Too many requests: wait a minute, then try again.")
FEED_HEADERS = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}


def _address(group: str, request: HttpRequest) -> str:
    return client_ip(request)


class RateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(API_PREFIX):
            usage = get_usage(
                request, group="api", key=_address, rate=settings.SAMPARK_API_RATE, increment=True
            )
            if usage and usage["should_limit"]:
                response: HttpResponse = JsonResponse({"detail": both_languages(TOO_MANY)}, status=429)
                return self._retry_after(response, usage["time_left"])
        elif match := FEED_PATH.match(path):
            token = match["token"]
            usage = get_usage(
                request,
                group="feed",
                key=lambda group, request: token,
                rate=settings.SAMPARK_FEED_RATE,
                increment=True,
            )
            if usage and usage["should_limit"]:
                response = HttpResponse(
                    both_languages(TOO_MANY), status=429, content_type="text/plain; charset=utf-8"
                )
                for name, value in FEED_HEADERS.items():
                    response[name] = value
                return self._retry_after(response, usage["time_left"])
        return self.get_response(request)

    @staticmethod
    def _retry_after(response: HttpResponse, seconds: int) -> HttpResponse:
        response["Retry-After"] = str(max(1, seconds))
        return response
