"""The one outbound HTTP seam: every call to a provider goes through a client made here.

Timeouts are always set (a provider that hangs must not hold a worker), the user agent names us, and
tests fake providers with local servers on 127.0.0.1 (the test run blocks every other address).
High-volume sends use :func:`async_session` (aiohttp: 7,000+ small POSTs/s from one process here,
against 500-840 for httpx's async client, see STACK.md); everything else uses :func:`client` (httpx).
"""

from __future__ import annotations

import aiohttp
import httpx

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


def client(*, timeout_s: float = TOTAL_TIMEOUT_S) -> httpx.Client:
    """An httpx client for occasional calls (webhook registration, one-off sends)."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )
