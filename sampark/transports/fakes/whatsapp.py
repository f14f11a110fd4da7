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

Status callbacks: give ``callbacks=StatusCallbacks(url=..., app_secret=...)`` and every accepted message
gets its "sent", "delivered" and "read" statuses posted back to that webhook URL later, signed with the
app secret, several statuses to a body, as the Cloud API does (see :class:`StatusCallbacks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
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

import aiohttp
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
        callbacks: StatusCallbacks | None = None,
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
        self.callbacks = callbacks
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
        if self.callbacks is not None:
            await self.callbacks.start()

    async def _shutdown(self, app: web.Application) -> None:
        if self._closing is not None:
            self._closing.set()  # release hanging "timeout" handlers so the server stops promptly
        if self.callbacks is not None:
            await self.callbacks.stop()

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
        at = time.time()
        self._record(Received(number=number, at=at, payload=payload, wamid=wamid))
        if self.callbacks is not None:
            self.callbacks.schedule(wamid, payload["to"], at)
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


def entries_body(
    groups: Iterable[Iterable[dict[str, Any]]], *, phone_number_id: str = "1122334455667"
) -> bytes:
    """A webhook body batching several ``entry[]`` objects, one per group of ``statuses[]`` items: the
    shape Meta sends a busy number (one POST carrying the updates of several messages)."""
    entries = [
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
        for items in groups
    ]
    return json.dumps({"object": "whatsapp_business_account", "entry": entries}, ensure_ascii=False).encode()


# --- status callbacks: the fake posting back what happened to each message -------------------------------

# Seconds from the previous step (acceptance, then the previous status) to each status, drawn uniformly:
# "sent" when the message leaves Meta, "delivered" when the phone has it, "read" when it is opened.
DEFAULT_DELAYS: dict[str, tuple[float, float]] = {
    "sent": (0.2, 1.5),
    "delivered": (0.5, 4.0),
    "read": (2.0, 30.0),
}


_Planned = tuple[float, int, str, str, str, int, float]


@dataclass(frozen=True, slots=True)
class Posted:
    """One status the fake posted and the server answered 200: the message, the status, when WhatsApp
    would have sent it (``due``, Unix time) and when the POST carrying it started (``posted``)."""

    wamid: str
    status: str
    due: float
    posted: float


class StatusCallbacks:
    """Posts each accepted message's statuses to a webhook ``url`` as the Cloud API does.

    For every message handed to :meth:`schedule`, the ``statuses`` (in order) fall due after the
    ``delays`` (uniform in ``[low, high]`` seconds from the previous step, drawn from ``seed``). Every
    ``tick_s`` the statuses due are posted, 1..``max_batch`` to a body (one ``entry`` each, see
    :func:`entries_body`), signed with ``app_secret`` in ``X-Hub-Signature-256``, at most ``in_flight``
    POSTs at once; the status's ``timestamp`` is its due time in whole seconds. A POST answered with
    anything but 200, or failing, is retried after ``retry_s`` up to ``retries`` times (Meta retries
    too), then counted as failed. ``on_posted`` (called on the server's loop, keep it cheap) gets the
    :class:`Posted` statuses of each POST answered 200.

    Runs on the fake server's event loop (:class:`FakeWhatsApp` starts and stops it); the counters in
    :meth:`snapshot` are safe to read from any thread.
    """

    def __init__(
        self,
        *,
        url: str,
        app_secret: str,
        phone_number_id: str = "1122334455667",
        statuses: tuple[str, ...] = ("sent", "delivered", "read"),
        delays: Mapping[str, tuple[float, float]] = DEFAULT_DELAYS,
        max_batch: int = 4,
        in_flight: int = 64,
        tick_s: float = 0.02,
        retries: int = 3,
        retry_s: float = 1.0,
        timeout_s: float = 30.0,
        seed: int = 0,
        on_posted: Callable[[list[Posted]], None] | None = None,
    ) -> None:
        unknown = [s for s in statuses if s not in delays]
        if unknown:
            raise ValueError(f"no delay given for statuses {unknown}")
        if max_batch < 1 or in_flight < 1:
            raise ValueError("max_batch and in_flight must be at least 1")
        self.url = url
        self.app_secret = app_secret
        self.phone_number_id = phone_number_id
        self.statuses = statuses
        self.delays = dict(delays)
        self.max_batch = max_batch
        self.in_flight = in_flight
        self.tick_s = tick_s
        self.retries = retries
        self.retry_s = retry_s
        self.timeout_s = timeout_s
        self.on_posted = on_posted
        self._rng = random.Random(seed)
        self._sequence = itertools.count()
        # (post at, sequence, wamid, status, recipient, tries, due): a heap ordered by when to post; due
        # is when WhatsApp would have sent the status (a retry posts later, its due time stays).
        self._due: list[_Planned] = []
        self._lock = threading.Lock()
        self._scheduled = 0
        self._posted = 0
        self._failed = 0
        self._requests = 0
        self._codes: Counter[str] = Counter()
        self._lateness: list[float] = []  # posted - due, per POST (its first status)
        self._latency: list[float] = []  # seconds from sending a POST to its answer
        self._pump: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: Any = None
        self._slots: asyncio.Semaphore | None = None

    def schedule(self, wamid: str, recipient: str, accepted_at: float) -> None:
        """Plan the statuses of one accepted message (call on the server's loop)."""
        at = accepted_at
        for status in self.statuses:
            low, high = self.delays[status]
            at += self._rng.uniform(low, high)
            heapq.heappush(self._due, (at, next(self._sequence), wamid, status, recipient, 0, at))
        with self._lock:
            self._scheduled += len(self.statuses)

    def snapshot(self) -> dict[str, Any]:
        """Counters so far: statuses scheduled, posted (answered 200), failed (retries exhausted), pending
        (scheduled, not yet posted or failed), POSTs made, answers by HTTP status (or exception name),
        and per POST its lateness (seconds after due) and latency (seconds to its answer)."""
        with self._lock:
            return {
                "scheduled": self._scheduled,
                "posted": self._posted,
                "failed": self._failed,
                "pending": self._scheduled - self._posted - self._failed,
                "requests": self._requests,
                "codes": dict(self._codes),
                "lateness": list(self._lateness),
                "latency": list(self._latency),
            }

    async def start(self) -> None:
        # The fake plays Meta here, not Sampark calling a provider: its POSTs are the provider's, so
        # they do not go through sampark.core.http (which is for our own outbound calls).
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.in_flight),
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            headers={"User-Agent": "facebookexternalua"},
        )
        self._slots = asyncio.Semaphore(self.in_flight)
        self._pump = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        assert self._slots is not None
        while True:
            now = time.time()
            ready: list[_Planned] = []
            while self._due and self._due[0][0] <= now:
                ready.append(heapq.heappop(self._due))
            start = 0
            while start < len(ready):
                size = self._rng.randint(1, self.max_batch)
                group = ready[start : start + size]
                start += size
                await self._slots.acquire()  # back-pressure: a slow webhook makes statuses late
                task = asyncio.get_running_loop().create_task(self._post(group))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(self.tick_s)

    async def _post(self, group: list[_Planned]) -> None:
        assert self._slots is not None
        try:
            body = entries_body(
                (
                    [status_item(wamid, status, int(due), recipient=recipient)]
                    for _at, _n, wamid, status, recipient, _t, due in group
                ),
                phone_number_id=self.phone_number_id,
            )
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, self.app_secret)}
            posted = time.time()
            try:
                async with self._session.post(self.url, data=body, headers=headers) as response:
                    await response.read()
                    code = str(response.status)
            except (TimeoutError, OSError, aiohttp.ClientError) as exc:
                code = type(exc).__name__
            with self._lock:
                self._requests += 1
                self._codes[code] += 1
                self._lateness.append(posted - group[0][6])
                self._latency.append(time.time() - posted)
                if code == "200":
                    self._posted += len(group)
            if code == "200":
                if self.on_posted is not None:
                    self.on_posted([Posted(g[2], g[3], g[6], posted) for g in group])
                return
            again = [g for g in group if g[5] < self.retries]
            with self._lock:
                self._failed += len(group) - len(again)
            retry_at = time.time() + self.retry_s
            for _at, n, wamid, status, recipient, tries, due in again:
                heapq.heappush(self._due, (retry_at, n, wamid, status, recipient, tries + 1, due))
        finally:
            self._slots.release()
