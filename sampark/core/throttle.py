"""Who is asking (the client's address behind our own proxies) and the login lock-out (django-axes).

Login: django-axes counts failed logins per username and per address (``AXES_LOCKOUT_PARAMETERS``);
at the limit both are locked for ``AXES_COOLOFF_TIME`` and the login page says so, in Hindi and in
English, with status 429. A successful login clears the count.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _

UNKNOWN_ADDRESS = "0.0.0.0"  # noqa: S104 (a value stored for an unknown client, never bound)


def client_ip(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or behind ``SAMPARK_TRUSTED_PROXIES`` reverse proxies the
    entry of ``X-Forwarded-For`` that the outermost of them appended (entries before it are whatever the
    client chose to send, so they are never trusted). IPv6 clients are grouped by their /64, which is
    what one household or phone gets."""
    address = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.SAMPARK_TRUSTED_PROXIES
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        # No usable address (a request built in code: a test client's force_login, a command). Axes
        # stores it in an inet column, which PostgreSQL refuses for anything but an address.
        return UNKNOWN_ADDRESS
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    return str(ip)


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' check before the password is tried. Only logins through a request are throttled: a
    management command or a test calling ``authenticate()`` without one is not a login from the web,
    and Axes would otherwise refuse it with an error."""

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def both_languages(message: str) -> str:
    """``message`` in Hindi and in English, for answers given before we know whose language to speak."""
    texts = []
    for language in ("hi", "en"):
        with translation.override(language):
            texts.append(_(message))
    return " / ".join(dict.fromkeys(texts))


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The login page again (429), saying that this login is locked for a while (``AXES_LOCKOUT_CALLABLE``)."""
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    context = {
        "form": AuthenticationForm(request),
        "locked_out": True,
        "cooloff_minutes": minutes,
        "next": request.POST.get("next", "") if request.method == "POST" else "",
    }
    return render(request, "registration/login.html", context, status=429)
