"""The WhatsApp webhook: Meta's GET handshake, and signed POSTs of statuses and inbound messages.

Contract:
- WhatsApp not configured (the registry gives no :class:`WhatsApp` for the channel) → 404.
- GET: ``hub.mode=subscribe`` and ``hub.verify_token`` equal to ours → 200 with ``hub.challenge`` as
  text/plain; anything else → 403.
- POST: ``X-Hub-Signature-256: sha256=<hex>`` must be the HMAC-SHA256 of the raw body with the app
  secret, or 403 and nothing is handed on. Hashing ``request.body`` itself matters: re-encoded JSON
  differs from what Meta signed (Hindi text above all). A signed body that is not JSON, or JSON nested
  deeper than any webhook (``events.decode_json``) → 400 with the reason. Otherwise the parsed statuses
  go to ``receiver().statuses`` in one call and each inbound message to ``receiver().inbound``, then
  200 ``{}``. Unknown shapes — unknown fields, values of the wrong type, items we cannot read — are
  acknowledged with 200 and dropped: Meta retries anything else for days, and a body that will never
  parse would come back again and again. The receiver queues statuses (one insert) and is applied
  later by the worker, so the answer does not wait for the delivery table.

Meta retries a failed delivery for days, so the receiver must be idempotent; an exception in it
becomes a 500 on purpose, so that Meta tries again later.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sampark.transports import events, registry

from .parse import parse
from .transport import WhatsApp

logger = logging.getLogger(__name__)

_PREFIX = "sha256="
_SIGNATURE_META = "HTTP_X_HUB_SIGNATURE_256"


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp(request: HttpRequest) -> HttpResponse:
    transport = registry.for_channel(WhatsApp.channel)
    if not isinstance(transport, WhatsApp):
        return HttpResponse(status=404)
    if request.method == "GET":
        return _handshake(request, transport)
    # META, not request.headers: the one header we need, without building a dict of all of them.
    if not signature_valid(request.body, request.META.get(_SIGNATURE_META, ""), transport.app_secret):
        logger.warning("whatsapp webhook: missing or wrong signature")
        return HttpResponseForbidden()
    try:
        body = events.decode_json(request.body)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    found = parse(body)
    if found.statuses:
        events.receiver().statuses(found.statuses)
    for inbound in found.inbound:
        events.receiver().inbound(inbound)
    return HttpResponse(events.EMPTY_JSON, content_type="application/json")


def queue_statuses_only(body: bytes, signature: str) -> bool:
    """The view's POST for the one body that arrives thousands of times a second — signed, JSON,
    statuses and no inbound message — without a Django request: queue the statuses, True. False for
    every other body (unsigned, not JSON, with messages, WhatsApp not configured), which the caller
    then hands to :func:`whatsapp` unchanged, so that refusals, their logging and inbound messages
    have one code path. An exception (the queue's database down) propagates: nothing was queued."""
    transport = registry.for_channel(WhatsApp.channel)
    if not isinstance(transport, WhatsApp) or not signature_valid(body, signature, transport.app_secret):
        return False
    try:
        found = parse(events.decode_json(body))
    except ValueError:
        return False
    if found.inbound or not found.statuses:
        return False
    events.receiver().statuses(found.statuses)
    return True


def _handshake(request: HttpRequest, transport: WhatsApp) -> HttpResponse:
    mode = request.GET.get("hub.mode", "")
    token = request.GET.get("hub.verify_token", "")
    if mode != "subscribe" or not hmac.compare_digest(token.encode(), transport.verify_token.encode()):
        return HttpResponseForbidden()
    return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")


def signature_valid(body: bytes, header: str, secret: str) -> bool:
    """Whether ``header`` is ``sha256=`` + the hex HMAC-SHA256 of ``body`` under ``secret`` (constant time)."""
    if not secret or not header.startswith(_PREFIX):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[len(_PREFIX) :].strip().lower().encode(), expected.encode())
