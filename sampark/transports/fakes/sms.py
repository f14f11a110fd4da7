"""A fake Indian SMS gateway speaking the contract in :mod:`sampark.transports.sms.transport`.

::

    gateway = FakeSmsGateway("key", faults=["throttle", None], seed=1)
    with gateway.serve() as server:         # settings.SAMPARK_SMS_GATEWAY_URL = server.url + "/send"
        ...
    gateway.sent                            # accepted requests (id + JSON body)

It checks the bearer key, that every DLT field is present and the number is E.164 digits, as a real
gateway and the operators behind it do. Faults (see :class:`~.telegram.FaultPlan` for the plan forms):

* ``throttle`` — 429 ``{"error": ...}`` with ``Retry-After``;
* ``server_error`` — 500 JSON; ``unavailable`` — 503 with an HTML page;
* ``timeout`` — no answer until ``hang_s`` has passed or the server stops;
* ``invalid_number`` — 400 ``{"error": "invalid destination number"}``;
* ``dlt_rejected`` — 400 ``{"error": "DLT template not registered for this sender"}``.

:func:`report`, :func:`inbound` and :func:`signed_body` build what a gateway posts to our webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .server import LocalServer
from .telegram import FaultPlan, FaultSpec

SMS_FAULTS = frozenset(
    {"throttle", "server_error", "unavailable", "timeout", "invalid_number", "dlt_rejected"}
)

_DIGITS_RE = re.compile(r"^[1-9]\d{6,14}$")


@dataclass(frozen=True, slots=True)
class AcceptedSms:
    id: str
    payload: dict[str, Any]  # the JSON body exactly as received


class FakeSmsGateway:
    """One gateway account. ``.app`` is the aiohttp application (``POST /send``); ``.serve()`` runs it."""

    path = "/send"

    def __init__(
        self,
        api_key: str,
        *,
        faults: FaultSpec = None,
        seed: int = 0,
        retry_after: int = 2,
        hang_s: float = 30.0,
    ) -> None:
        self.api_key = api_key
        self.retry_after = retry_after
        self.hang_s = hang_s
        self._plan = FaultPlan(faults, seed=seed, known=SMS_FAULTS)
        self._lock = threading.Lock()
        self._sent: list[AcceptedSms] = []
        self._faulted: list[tuple[str, dict[str, Any]]] = []
        self._requests = 0
        self._stopping: asyncio.Event | None = None
        self.app = web.Application()
        self.app.router.add_post(self.path, self._handle)
        self.app.on_startup.append(self._started)
        self.app.on_shutdown.append(self._stopped)

    def serve(self) -> LocalServer:
        return LocalServer(self.app)

    @property
    def sent(self) -> list[AcceptedSms]:
        with self._lock:
            return list(self._sent)

    @property
    def requests(self) -> int:
        """Every request received, refused or not."""
        with self._lock:
            return self._requests

    @property
    def faulted(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return list(self._faulted)

    def reports(
        self, status: str = "DELIVRD", *, at: int = 1_767_225_600, error: str = ""
    ) -> list[dict[str, Any]]:
        """A delivery report of ``status`` for every accepted message (for a webhook body)."""
        return [report(sms.id, status, at=at, error=error) for sms in self.sent]

    async def _started(self, app: web.Application) -> None:
        self._stopping = asyncio.Event()

    async def _stopped(self, app: web.Application) -> None:
        if self._stopping is not None:
            self._stopping.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self._requests += 1
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.api_key}".encode()):
            return web.json_response({"error": "invalid api key"}, status=401)
        try:
            payload = json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        if not isinstance(payload, dict):
            return web.json_response({"error": "body is not an object"}, status=400)
        problem = _invalid(payload)
        if problem:
            return web.json_response({"error": problem}, status=400)
        fault = self._plan.next(payload)
        if fault is not None:
            with self._lock:
                self._faulted.append((fault, payload))
            return await self._fault(fault)
        with self._lock:
            sms = AcceptedSms(f"fake-sms-{len(self._sent) + 1}", payload)
            self._sent.append(sms)
        return web.json_response({"id": sms.id, "status": "accepted"})

    async def _fault(self, fault: str) -> web.StreamResponse:
        if fault == "throttle":
            return web.json_response(
                {"error": "rate limit exceeded"}, status=429, headers={"Retry-After": str(self.retry_after)}
            )
        if fault == "server_error":
            return web.json_response({"error": "internal error"}, status=500)
        if fault == "unavailable":
            return web.Response(
                status=503, text="<html><body>503 Service Unavailable</body></html>", content_type="text/html"
            )
        if fault == "timeout":
            assert self._stopping is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.hang_s)
            return web.json_response({"error": "timeout"}, status=504)
        if fault == "invalid_number":
            return web.json_response({"error": "invalid destination number"}, status=400)
        return web.json_response({"error": "DLT template not registered for this sender"}, status=400)


def _invalid(payload: dict[str, Any]) -> str:
    """The gateway's complaint about a request, or "" when it is acceptable."""
    for field in ("to", "sender", "text", "dlt_entity_id", "dlt_template_id", "type"):
        value = payload.get(field)
        if not isinstance(value, str) or not value:
            return f"{field} is required"
    if not _DIGITS_RE.match(payload["to"]):
        return "to must be the number's digits with the country code"
    if payload["type"] not in ("promotional", "transactional"):
        return "type must be promotional or transactional"
    if not isinstance(payload.get("unicode"), bool):
        return "unicode must be true or false"
    if not payload["unicode"] and not payload["text"].isascii():
        return "text is not GSM-7; send it with unicode true"
    return ""


# --- webhook side -----------------------------------------------------------------------------------


def report(id: str, status: str, *, at: int = 1_767_225_600, error: str = "") -> dict[str, Any]:
    """One delivery report (status: DELIVRD, UNDELIV, EXPIRED, REJECTD or SENT)."""
    item: dict[str, Any] = {"id": id, "status": status, "at": at}
    if error:
        item["error"] = error
    return item


def inbound(sender: str, text: str, *, at: int = 1_767_225_600, id: str = "fake-mo-1") -> dict[str, Any]:
    """One inbound SMS; ``sender`` is E.164 digits without the +."""
    return {"from": sender, "text": text, "at": at, "id": id}


def signed_body(
    secret: str, *, reports: Iterable[dict[str, Any]] = (), inbound: Iterable[dict[str, Any]] = ()
) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers (``X-Signature``) the gateway posts to ``/webhooks/sms/``."""
    body: dict[str, Any] = {}
    if reports := list(reports):
        body["reports"] = reports
    if inbound := list(inbound):
        body["inbound"] = inbound
    raw = json.dumps(body, ensure_ascii=False).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Signature": signature}
