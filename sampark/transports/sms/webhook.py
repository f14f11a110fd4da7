"""SMS gateway webhook: ``POST /webhooks/sms/`` with delivery reports and inbound SMS.

The contract a gateway adapter must meet::

    POST /webhooks/sms/
    Content-Type: application/json
    X-Signature: <lowercase hex HMAC-SHA256 of the raw request body, keyed with SAMPARK_SMS_WEBHOOK_SECRET>

    {
      "reports": [
        {"id": "<the id the gateway returned on send>",
         "status": "DELIVRD" | "UNDELIV" | "EXPIRED" | "REJECTD" | "SENT",
         "at": <unix seconds>,
         "error": "<operator's reason, for failures>"}
      ],
      "inbound": [
        {"from": "<E.164 digits, country code first, no +>", "text": "...", "at": <unix seconds>,
         "id": "<gateway's id of the inbound SMS>"}
      ]
    }

Either list may be absent or empty. DELIVRD means delivered to the handset, SENT handed to the
operator; every other status is a failure (adapters must map intermediate SMPP states such as ENROUTE
or ACCEPTD to SENT, not pass them through). The signature is over the bytes as sent — never re-encoded
JSON, which would change Hindi text — and a request with a missing or wrong one gets 403 and is not
read. The reply is 200 ``{}`` once parsed; a body that is not JSON, is nested too deeply or is not
this shape gets 400 with the reason. Single entries that
are malformed are logged and skipped rather than failing the batch: a gateway retrying the whole
batch would never get past them. Reports may be repeated and arrive out of order; the receiver copes.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sampark.transports import events

from .transport import SmsTransport

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Signature"

STATUSES = {"DELIVRD": "delivered", "SENT": "sent"}  # anything else is "failed"


def signature(secret: str, body: bytes) -> str:
    """The ``X-Signature`` value for ``body``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, given: str) -> bool:
    return hmac.compare_digest(signature(secret, body), given.strip().lower())


def _at(value: Any) -> datetime.datetime | None:
    if value is None:
        return timezone.now()  # a gateway that omits the time: it is happening about now
    return events.from_unix(value)


def _is_id(value: Any) -> bool:
    """A gateway's message id: a non-empty string or an integer (not a bool, which JSON also has)."""
    if isinstance(value, bool):
        return False
    return (isinstance(value, str) and bool(value.strip())) or isinstance(value, int)


def _report(item: Any) -> events.StatusEvent | None:
    if not isinstance(item, dict):
        return None
    provider_id, code, at = item.get("id"), item.get("status"), _at(item.get("at"))
    if not _is_id(provider_id) or not isinstance(code, str) or at is None:
        return None
    code = code.strip().upper()
    status = STATUSES.get(code, "failed")
    error = item.get("error")
    error = error.strip() if isinstance(error, str) else ""  # never str() of a structure
    return events.StatusEvent(
        channel="sms",
        provider_message_id=str(provider_id),
        status=status,
        at=at,
        error_code=code if status == "failed" else "",
        error_reason=(error or code) if status == "failed" else "",
    )


def _inbound(item: Any) -> events.InboundEvent | None:
    if not isinstance(item, dict):
        return None
    sender, text, at = item.get("from"), item.get("text"), _at(item.get("at"))
    if not isinstance(sender, str) or not isinstance(text, str) or at is None:
        return None
    digits = sender.strip().removeprefix("+")
    if not digits.isascii() or not digits.isdigit() or not 7 <= len(digits) <= 15:
        return None
    provider_id = item.get("id")
    if provider_id is not None and not _is_id(provider_id):
        return None
    return events.InboundEvent(
        channel="sms",
        address="+" + digits,
        text=text,
        at=at,
        provider_message_id=str(provider_id) if provider_id is not None else "",
    )


def parse_body(data: Any) -> tuple[list[events.StatusEvent], list[events.InboundEvent]]:
    """The status and inbound events a (verified) webhook body carries.

    Raises ValueError when the body is not the documented shape at all.
    """
    if not isinstance(data, dict):
        raise ValueError("body is not an object")
    reports, inbound = data.get("reports", []), data.get("inbound", [])
    if not isinstance(reports, list) or not isinstance(inbound, list):
        raise ValueError('"reports" and "inbound" must be lists')
    statuses: list[events.StatusEvent] = []
    for item in reports:
        event = _report(item)
        if event is None:
            logger.warning("sms webhook: malformed delivery report skipped")
        else:
            statuses.append(event)
    messages: list[events.InboundEvent] = []
    for item in inbound:
        message = _inbound(item)
        if message is None:
            logger.warning("sms webhook: malformed inbound message skipped")
        else:
            messages.append(message)
    return statuses, messages


@csrf_exempt
@require_POST
def sms(request: HttpRequest) -> HttpResponse:
    transport = SmsTransport.from_settings(settings)
    if transport is None:
        return JsonResponse({"error": "sms is not configured"}, status=404)
    body = request.body  # the raw bytes: the signature is over exactly these
    if not signature_valid(transport.webhook_secret, body, request.headers.get(SIGNATURE_HEADER, "")):
        return JsonResponse({"error": "bad signature"}, status=403)
    try:
        data = events.decode_json(body)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    try:
        statuses, messages = parse_body(data)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    receiver = events.receiver()
    if statuses:
        receiver.statuses(statuses)
    for message in messages:
        receiver.inbound(message)
    return HttpResponse(events.EMPTY_JSON, content_type="application/json")
