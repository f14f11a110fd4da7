"""A fake WhatsApp Cloud API (``POST /{version}/{phone_number_id}/messages``) with injectable faults,
and helpers that build signed webhook bodies.

Usage::

    fake = FakeWhatsApp(token="t", faults={"throughput": 0.01}, seed=7)
    with LocalServer(fake.app) as server:
        transport = WhatsApp(..., api_base=f"{server.url}/v23.0")
        ...
    fake.accepted  # what WhatsApp would have sent, in arrival order

Faults are a plan, not chance: with a ``{kind: probability}`` mapping, request number *n* draws from
``random.Random(f"{seed}:{n}")``, so the same seed gives the same faults on the same request numbers
however requests interleave. A callable ``(request_number, payload) -> kind | None`` gives full control.
Requests are numbered from 1 in arrival order; faulted requests are not recorded as accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

FaultPlan = Mapping[str, float] | Callable[[int, dict[str, Any]], str | None] | None

# kind -> (HTTP status, Graph error code or None, message). "timeout" and "http_429" are handled apart.
_GRAPH_FAULTS: dict[str, tuple[int, int | None, str]] = {
    "throughput": (400, 130429, "(#130429) Rate limit hit"),
    "pair_rate": (400, 131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit"),
    "spam": (400, 131048, "(#131048) Spam rate limit hit"),
    "marketing_limit": (
        400,
        131049,
        "This message was not delivered to maintain healthy ecosystem engagement.",
    ),
    "undeliverable": (400, 131026, "Message undeliverable"),
    "reengagement": (400, 131047, "Re-engagement message"),
    "server_error": (500, None, ""),  # a bare 500, as from a proxy in front of the Graph API
    "graph_unavailable": (503, 2, "Service temporarily unavailable"),
}
FAULT_KINDS = (*_GRAPH_FAULTS, "timeout", "http_429")
_MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
_TYPES = ("text", "template", "interactive", "reaction", "location", "contacts", *_MEDIA_TYPES)


@dataclass(frozen=True, slots=True)
class Received:
    """One request the fake answered: its number, when (Unix time), the JSON, and the outcome."""

    number: int
    at: float
    payload: dict[str, Any]
    wamid: str = ""  # set when accepted
    fault: str = ""  # set when a fault was served


class FakeWhatsApp:
    """The Cloud API's send endpoint, answering like Meta (ids, Graph error JSON) from a fault plan.

    ``phone_number_id``: only this id is served (None: any). ``hang_s``: how long a "timeout" fault
    keeps the client waiting (longer than the client's timeout; cut short when the server stops).
    ``retry_after_s``: the ``Retry-After`` of an "http_429" fault.
    """

    def __init__(
        self,
        *,
        token: str = "test-token",  # noqa: S107 - a fake's fixed test credential
        phone_number_id: str | None = None,
        faults: FaultPlan = None,
        seed: int = 0,
        hang_s: float = 30.0,
        retry_after_s: int = 2,
    ) -> None:
        if isinstance(faults, Mapping):
            unknown = set(faults) - set(FAULT_KINDS)
            if unknown:
                raise ValueError(f"unknown fault kinds: {sorted(unknown)}; known: {FAULT_KINDS}")
        self.token = token
        self.phone_number_id = phone_number_id
        self.faults = faults
        self.seed = seed
        self.hang_s = hang_s
        self.retry_after_s = retry_after_s
        self._instance = uuid.uuid4().hex[:8]
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._closing: asyncio.Event | None = None
        self.app = web.Application()
        self.app.router.add_post("/{version}/{phone_number_id}/messages", self._messages)
        self.app.on_startup.append(self._start)
        self.app.on_shutdown.append(self._shutdown)

    # --- what happened (safe to read from any thread) -----------------------------------------------------

    @property
    def received(self) -> list[Received]:
        """Every request that passed authentication and validation, faulted or not, in arrival order."""
        with self._lock:
            return list(self._received)

    @property
    def accepted(self) -> list[Received]:
        """The requests answered with a message id: what WhatsApp would have delivered."""
        return [r for r in self.received if not r.fault]

    def fault_counts(self) -> Counter[str]:
        return Counter(r.fault for r in self.received if r.fault)

    # --- the endpoint -------------------------------------------------------------------------------------

    async def _start(self, app: web.Application) -> None:
        self._closing = asyncio.Event()  # created on the server's own loop

    async def _shutdown(self, app: web.Application) -> None:
        if self._closing is not None:
            self._closing.set()  # release hanging "timeout" handlers so the server stops promptly

    async def _messages(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization", "") != f"Bearer {self.token}":
            return _graph_error(
                401, 190, "Invalid OAuth access token - Cannot parse access token", type_="OAuthException"
            )
        number_id = request.match_info["phone_number_id"]
        if self.phone_number_id is not None and number_id != self.phone_number_id:
            return _graph_error(
                400,
                100,
                f"Unsupported post request. Object with ID '{number_id}' does not exist",
                type_="GraphMethodException",
            )
        try:
            payload = await request.json()
        except ValueError:
            return _graph_error(400, 100, "(#100) The request body is not valid JSON")
        problem = _shape_problem(payload)
        if problem:
            return _graph_error(400, 100, f"(#100) {problem}")

        number = next(self._numbers)
        fault = self._fault(number, payload)
        if fault:
            self._record(Received(number=number, at=time.time(), payload=payload, fault=fault))
            return await self._serve_fault(fault)
        wamid = f"wamid.fake{self._instance}.{number}"
        self._record(Received(number=number, at=time.time(), payload=payload, wamid=wamid))
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": payload["to"], "wa_id": payload["to"]}],
                "messages": [{"id": wamid}],
            }
        )

    def _record(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)

    def _fault(self, number: int, payload: dict[str, Any]) -> str:
        if self.faults is None:
            return ""
        if callable(self.faults):
            kind = self.faults(number, payload) or ""
            if kind and kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}")
            return kind
        draw = random.Random(f"{self.seed}:{number}").random()
        for kind, probability in self.faults.items():
            if draw < probability:
                return kind
            draw -= probability
        return ""

    async def _serve_fault(self, kind: str) -> web.Response:
        if kind == "timeout":
            assert self._closing is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=self.hang_s)
            return _graph_error(500, 2, "Service temporarily unavailable")  # nobody is listening by now
        if kind == "http_429":
            return web.Response(
                status=429, text="Too Many Requests", headers={"Retry-After": str(self.retry_after_s)}
            )
        status, code, message = _GRAPH_FAULTS[kind]
        if code is None:
            return web.Response(status=status, text="<html><body>Internal Server Error</body></html>")
        return _graph_error(status, code, message, transient=status >= 500)


def _shape_problem(payload: Any) -> str:
    """What the Cloud API would refuse in a send request ("" when it looks right)."""
    if not isinstance(payload, dict):
        return "The request body must be a JSON object"
    if payload.get("messaging_product") != "whatsapp":
        return "The parameter messaging_product is required and must be 'whatsapp'"
    to = payload.get("to")
    if not isinstance(to, str) or not to.isdigit():
        return "The parameter to is required and must be the recipient's number in digits"
    kind = payload.get("type", "text")
    if kind not in _TYPES:
        return f"Invalid parameter: type '{kind}' is not supported"
    body = payload.get(kind)
    if not isinstance(body, dict):
        return f"The parameter {kind} is required"
    if kind == "text":
        text = body.get("body")
        if not isinstance(text, str) or not text:
            return "The parameter text['body'] is required"
        if len(text) > 4096:
            return "Param text['body'] must be at most 4096 characters long"
    elif kind == "template":
        language = body.get("language")
        if not body.get("name") or not isinstance(language, dict) or not language.get("code"):
            return "The parameters template['name'] and template['language']['code'] are required"
    elif kind in _MEDIA_TYPES:
        if not body.get("link") and not body.get("id"):
            return f"The parameter {kind}['link'] or {kind}['id'] is required"
        if len(str(body.get("caption", ""))) > 1024:
            return f"Param {kind}['caption'] must be at most 1024 characters long"
    return ""


def _graph_error(
    status: int, code: int, message: str, *, type_: str = "OAuthException", transient: bool = False
) -> web.Response:
    error: dict[str, Any] = {
        "message": message,
        "type": type_,
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": message},
        "fbtrace_id": "AfakeTrace" + uuid.uuid4().hex[:12],
    }
    if transient:
        error["is_transient"] = True
    return web.json_response({"error": error}, status=status)


# --- webhook bodies --------------------------------------------------------------------------------------


def status_item(
    wamid: str,
    status: str,
    timestamp: int | str,
    *,
    recipient: str = "919800000001",
    error_code: int | None = None,
    error_title: str = "",
) -> dict[str, Any]:
    """One ``statuses[]`` element as the Cloud API sends it (a failure carries one ``errors[]`` entry)."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(timestamp),
        "recipient_id": recipient,
    }
    if error_code is not None:
        item["errors"] = [
            {
                "code": error_code,
                "title": error_title or "Failure",
                "message": error_title or "Failure",
                "error_data": {"details": error_title or "Failure"},
            }
        ]
    return item


def statuses_body(items: Iterable[dict[str, Any]], *, phone_number_id: str = "1122334455667") -> bytes:
    """A webhook body carrying these ``statuses[]`` items, encoded as Meta sends it (UTF-8 JSON)."""
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "5467539754836534",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "919800000000",
                                "phone_number_id": phone_number_id,
                            },
                            "statuses": list(items),
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(body, ensure_ascii=False).encode()


def status_payload(
    wamid: str,
    status: str,
    timestamp: int | str,
    *,
    recipient: str = "919800000001",
    phone_number_id: str = "1122334455667",
    error_code: int | None = None,
    error_title: str = "",
) -> bytes:
    """A webhook body with one status of one message (see :func:`statuses_body` for many)."""
    item = status_item(
        wamid, status, timestamp, recipient=recipient, error_code=error_code, error_title=error_title
    )
    return statuses_body([item], phone_number_id=phone_number_id)


def message_payload(
    sender: str,
    text: str,
    timestamp: int | str,
    *,
    wamid: str = "wamid.inbound.1",
    name: str = "",
    user_id: str = "",
    phone_number_id: str = "1122334455667",
) -> bytes:
    """A webhook body with one text message from ``sender`` (digits, no "+"), encoded as UTF-8 JSON."""
    contact: dict[str, Any] = {"profile": {"name": name}, "wa_id": sender}
    if user_id:
        contact["user_id"] = user_id
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "5467539754836534",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "919800000000",
                                "phone_number_id": phone_number_id,
                            },
                            "contacts": [contact],
                            "messages": [
                                {
                                    "from": sender,
                                    "id": wamid,
                                    "timestamp": str(timestamp),
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(body, ensure_ascii=False).encode()


def sign(body: bytes, secret: str) -> str:
    """The ``X-Hub-Signature-256`` header value Meta would send with ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
