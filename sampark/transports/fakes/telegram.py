"""A fake Telegram Bot API: ``sendMessage`` and ``sendPhoto`` with injectable faults.

::

    fake = FakeTelegram("123:abc", faults={"flood": 0.1}, seed=7)
    with fake.serve() as server:            # settings.SAMPARK_TELEGRAM_API_BASE = server.url
        ...
    fake.sent                               # every accepted request, in arrival order

Faults follow a :class:`FaultPlan`: a mapping of fault -> probability drawn from a seeded RNG, a list
applied to the 1st, 2nd, … request (None = answer normally), or a callable ``plan(n, payload)``.
Every fault answers as the real API does:

* ``flood`` — 429 ``{"parameters": {"retry_after": N}}`` (and a ``Retry-After`` header);
* ``server_error`` — 500 with a Bot API JSON error; ``bad_gateway`` — 502 with an HTML page, as the
  proxy in front of the API sends;
* ``timeout`` — no answer until ``hang_s`` has passed (longer than the client's timeout) or the server stops;
* ``blocked`` — 403 "Forbidden: bot was blocked by the user";
* ``deactivated`` — 403 "Forbidden: user is deactivated";
* ``chat_not_found`` — 400 "Bad Request: chat not found".

:func:`update` and :func:`signed_update` build what Telegram posts to our webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .server import LocalServer

FaultSpec = Mapping[str, float] | Sequence[str | None] | Callable[[int, dict[str, Any]], str | None] | None

TELEGRAM_FAULTS = frozenset(
    {"flood", "server_error", "bad_gateway", "timeout", "blocked", "deactivated", "chat_not_found"}
)


class FaultPlan:
    """Which fault (or None) the n-th request gets; deterministic for a given spec and seed.

    With a probability mapping, determinism is per arrival order: concurrent senders may arrive in a
    different order from run to run, so tests that need exact outcomes use a list or a callable.
    """

    def __init__(self, spec: FaultSpec, *, seed: int, known: frozenset[str]) -> None:
        self._spec = spec
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._count = 0
        if isinstance(spec, Mapping):
            names = set(spec)
            if sum(spec.values()) > 1:
                raise ValueError("fault probabilities add up to more than 1")
        elif isinstance(spec, Sequence) and not isinstance(spec, str):
            names = {name for name in spec if name is not None}
        else:
            names = set()
        if unknown := names - known:  # a typo would otherwise silently mean "no fault"
            raise ValueError(f"unknown faults: {sorted(unknown)}; known: {sorted(known)}")
        self._known = known

    def next(self, payload: dict[str, Any]) -> str | None:
        with self._lock:
            n = self._count
            self._count += 1
            spec = self._spec
            if spec is None:
                return None
            if isinstance(spec, Mapping):
                draw, total = self._rng.random(), 0.0
                for name, probability in spec.items():
                    total += probability
                    if draw < total:
                        return name
                return None
            if callable(spec):
                fault = spec(n, payload)
                if fault is not None and fault not in self._known:
                    raise ValueError(f"unknown fault {fault!r}")
                return fault
            return spec[n] if n < len(spec) else None


@dataclass(frozen=True, slots=True)
class SentRequest:
    method: str  # "sendMessage" or "sendPhoto"
    payload: dict[str, Any]  # the JSON body exactly as received
    message_id: int


class FakeTelegram:
    """The Bot API for one bot token. ``.app`` is the aiohttp application; ``.serve()`` runs it."""

    def __init__(
        self,
        token: str,
        *,
        faults: FaultSpec = None,
        seed: int = 0,
        retry_after: int = 3,
        hang_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.retry_after = retry_after
        self.hang_s = hang_s
        self._clock = clock
        self._plan = FaultPlan(faults, seed=seed, known=TELEGRAM_FAULTS)
        self._lock = threading.Lock()
        self._sent: list[SentRequest] = []
        self._faulted: list[tuple[str, dict[str, Any]]] = []
        self._requests = 0
        self._next_id: dict[str, int] = {}
        self._stopping: asyncio.Event | None = None
        self.app = web.Application()
        self.app.router.add_post("/bot{token}/{method}", self._handle)
        self.app.on_startup.append(self._started)
        self.app.on_shutdown.append(self._stopped)

    def serve(self) -> LocalServer:
        return LocalServer(self.app)

    @property
    def sent(self) -> list[SentRequest]:
        """Accepted requests, in the order they were answered."""
        with self._lock:
            return list(self._sent)

    @property
    def requests(self) -> int:
        """Every request received, refused or not."""
        with self._lock:
            return self._requests

    @property
    def faulted(self) -> list[tuple[str, dict[str, Any]]]:
        """(fault, payload) of every request answered with a fault."""
        with self._lock:
            return list(self._faulted)

    async def _started(self, app: web.Application) -> None:
        self._stopping = asyncio.Event()

    async def _stopped(self, app: web.Application) -> None:
        # Releases "timeout" handlers, so stopping the server never waits for them.
        if self._stopping is not None:
            self._stopping.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self._requests += 1
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        if method not in ("sendMessage", "sendPhoto"):
            return _error(404, "Not Found")
        try:
            payload = json.loads(await request.read())
        except ValueError:
            return _error(400, "Bad Request: can't parse JSON")
        if not isinstance(payload, dict):
            return _error(400, "Bad Request: parameters must be an object")
        problem = _invalid(method, payload)
        if problem:
            return _error(400, problem)
        fault = self._plan.next(payload)
        if fault is not None:
            with self._lock:
                self._faulted.append((fault, payload))
            return await self._fault(fault)
        chat_id = str(payload["chat_id"])
        with self._lock:
            message_id = self._next_id.get(chat_id, 0) + 1  # ids count per chat, as Telegram's do
            self._next_id[chat_id] = message_id
            self._sent.append(SentRequest(method, payload, message_id))
        chat_key = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
        result: dict[str, Any] = {
            "message_id": message_id,
            "chat": {"id": chat_key, "type": "private"},
            "date": int(self._clock()),
        }
        if method == "sendMessage":
            result["text"] = payload["text"]
        else:
            result["photo"] = [{"file_id": f"photo-{message_id}", "width": 320, "height": 320}]
            if payload.get("caption"):
                result["caption"] = payload["caption"]
        return web.json_response({"ok": True, "result": result})

    async def _fault(self, fault: str) -> web.StreamResponse:
        if fault == "flood":
            return _error(
                429,
                f"Too Many Requests: retry after {self.retry_after}",
                parameters={"retry_after": self.retry_after},
                headers={"Retry-After": str(self.retry_after)},
            )
        if fault == "server_error":
            return _error(500, "Internal Server Error")
        if fault == "bad_gateway":
            return web.Response(
                status=502, text="<html><body>502 Bad Gateway</body></html>", content_type="text/html"
            )
        if fault == "timeout":
            assert self._stopping is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.hang_s)
            return _error(504, "Gateway Timeout")
        if fault == "blocked":
            return _error(403, "Forbidden: bot was blocked by the user")
        if fault == "deactivated":
            return _error(403, "Forbidden: user is deactivated")
        return _error(400, "Bad Request: chat not found")  # chat_not_found


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _invalid(method: str, payload: dict[str, Any]) -> str:
    """Telegram's description of what is wrong with a request, or "" when nothing is."""
    if payload.get("chat_id") in (None, ""):
        return "Bad Request: chat_id is empty"
    if method == "sendMessage":
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            return "Bad Request: message text is empty"
        if _utf16_len(text) > 4096:
            return "Bad Request: message is too long"
        return ""
    if not payload.get("photo"):
        return "Bad Request: there is no photo in the request"
    caption = payload.get("caption", "")
    if not isinstance(caption, str) or _utf16_len(caption) > 1024:
        return "Bad Request: message caption is too long"
    return ""


def _error(
    code: int,
    description: str,
    *,
    parameters: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code, headers=headers)


# --- webhook side -----------------------------------------------------------------------------------


def update(
    *,
    chat_id: int,
    text: str,
    message_id: int = 1,
    date: int = 1_767_225_600,  # 2026-01-01 00:00 UTC
    first_name: str = "Asha",
    last_name: str = "",
    update_id: int = 1,
    chat_type: str = "private",
    kind: str = "message",
) -> dict[str, Any]:
    """A Bot API ``Update`` carrying one text message (``kind``: "message", "edited_message", …)."""
    sender: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": first_name}
    if last_name:
        sender["last_name"] = last_name
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = first_name
    return {
        "update_id": update_id,
        kind: {"message_id": message_id, "from": sender, "chat": chat, "date": date, "text": text},
    }


def signed_update(secret: str, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers Telegram posts to a webhook registered with ``secret_token=secret``."""
    return (
        json.dumps(body, ensure_ascii=False).encode(),
        {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret},
    )
