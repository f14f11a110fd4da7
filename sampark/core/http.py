"""The one outbound HTTP seam: every call to a provider goes through a client made here.

Timeouts are always set (a provider that hangs must not hold a worker), the user agent names us, and
tests fake providers with local servers on 127.0.0.1 (the test run blocks every other address).
High-volume sends use :func:`async_session` (aiohttp: 7,000+ small POSTs/s from one process here,
against 500-840 for httpx's async client, see STACK.md); everything else uses :func:`client` (httpx).

Network failures are mapped to :class:`~sampark.core.errors.TransportError` here, once: :func:`post`
turns a timeout into ``code="timeout"`` and any connection failure into ``code="network"`` (both
transient), naming the service but never the URL (a Telegram URL holds the bot token). Transports only
classify the answers they do get.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from django.utils.translation import gettext

from .errors import TransportError

USER_AGENT = "Sampark/0.1 (+https://github.com/sampark)"
CONNECT_TIMEOUT_S = 5.0
TOTAL_TIMEOUT_S = 20.0


def async_session(
    *, connections: int = 64, total_timeout_s: float = TOTAL_TIMEOUT_S
) -> aiohttp.ClientSession:
    """An aiohttp session for one dispatch run: bounded connections, keep-alive, timeouts.

    Must be created inside the running event loop and closed by the caller (``async with``).
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, ttl_dns_cache=300),
        timeout=aiohttp.ClientTimeout(total=total_timeout_s, connect=CONNECT_TIMEOUT_S),
        headers={"User-Agent": USER_AGENT},
        raise_for_status=False,  # transports classify every status themselves
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """A provider's HTTP answer, read in full: status, body and headers."""

    status: int
    body: bytes
    headers: Mapping[str, str]


async def post(
    session: aiohttp.ClientSession,
    url: str,
    *,
    service: str,
    json: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """POST and read the whole answer; a timeout or a failed connection raises a transient
    :class:`TransportError` (``timeout`` / ``network``) whose reason names ``service``, not the URL."""
    try:
        async with session.post(url, json=json, data=data, headers=headers) as response:
            return Answer(response.status, await response.read(), response.headers)
    except TimeoutError:  # asyncio.TimeoutError is TimeoutError on 3.11
        raise TransportError(
            gettext("%(service)s did not answer in time; trying again later.") % {"service": service},
            permanent=False,
            code="timeout",
        ) from None
    except aiohttp.ClientError as exc:
        # The exception text may hold the URL (and with it a token): keep only its type.
        raise TransportError(
            gettext("Could not reach %(service)s (%(error)s); trying again later.")
            % {"service": service, "error": type(exc).__name__},
            permanent=False,
            code="network",
        ) from None


def client(*, timeout_s: float = TOTAL_TIMEOUT_S) -> httpx.Client:
    """An httpx client for occasional calls (webhook registration, one-off sends)."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )
