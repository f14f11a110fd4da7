"""The fake WhatsApp posts each accepted message's statuses back, signed, batched and retried like Meta."""

from __future__ import annotations

import json
import threading
import time

import httpx
from aiohttp import web

from sampark.transports.fakes.server import LocalServer
from sampark.transports.fakes.whatsapp import FakeWhatsApp, Posted, StatusCallbacks
from sampark.transports.whatsapp.webhook import signature_valid

SECRET = "app-secret"
TOKEN = "t"
FAST = {"sent": (0.01, 0.02), "delivered": (0.01, 0.02), "read": (0.01, 0.02)}


class Receiver:
    """A webhook endpoint that checks signatures, refuses its first ``refuse`` POSTs with a 500 and
    records the statuses of the others."""

    def __init__(self, refuse: int = 0) -> None:
        self.refuse = refuse
        self.bodies = 0
        self.bad_signatures = 0
        self.statuses: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.app = web.Application()
        self.app.router.add_post("/webhooks/whatsapp/", self.post)

    async def post(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self.lock:
            if not signature_valid(body, request.headers.get("X-Hub-Signature-256", ""), SECRET):
                self.bad_signatures += 1
                return web.Response(status=403)
            if self.refuse:
                self.refuse -= 1
                return web.Response(status=500)
            self.bodies += 1
            for entry in json.loads(body)["entry"]:
                for change in entry["changes"]:
                    self.statuses += change["value"]["statuses"]
        return web.json_response({})


def send(url: str, to: str) -> str:
    payload = {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": "नमस्ते"}}
    response = httpx.post(
        f"{url}/v23.0/1122334455667/messages", json=payload, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200
    return str(response.json()["messages"][0]["id"])


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_it_posts_sent_delivered_and_read_for_every_accepted_message_signed_in_batches():
    receiver = Receiver()
    seen: list[Posted] = []
    with LocalServer(receiver.app) as hook:
        callbacks = StatusCallbacks(
            url=f"{hook.url}/webhooks/whatsapp/", app_secret=SECRET, delays=FAST, max_batch=4, seed=3,
            on_posted=seen.extend,
        )  # fmt: skip
        with LocalServer(FakeWhatsApp(token=TOKEN, callbacks=callbacks).app) as fake:
            ids = [send(fake.url, f"9198000000{n:02d}") for n in range(20)]
            wait_for(lambda: callbacks.snapshot()["pending"] == 0)
    assert receiver.bad_signatures == 0
    by_id: dict[str, list[str]] = {}
    for status in sorted(receiver.statuses, key=lambda s: int(s["timestamp"])):
        by_id.setdefault(status["id"], []).append(status["status"])
    assert set(by_id) == set(ids)
    assert all(sorted(found, key=["sent", "delivered", "read"].index) == ["sent", "delivered", "read"]
               for found in by_id.values())  # fmt: skip
    assert receiver.bodies < 60  # several statuses to a body, not one each
    assert {(p.wamid, p.status) for p in seen} == {(s["id"], s["status"]) for s in receiver.statuses}
    assert all(p.posted >= p.due for p in seen)
    snapshot = callbacks.snapshot()
    assert (snapshot["scheduled"], snapshot["posted"], snapshot["failed"]) == (60, 60, 0)


def test_it_retries_a_refused_post_and_counts_statuses_that_never_got_through():
    receiver = Receiver(refuse=2)
    with LocalServer(receiver.app) as hook:
        callbacks = StatusCallbacks(
            url=f"{hook.url}/webhooks/whatsapp/", app_secret=SECRET, statuses=("delivered",), delays=FAST,
            max_batch=1, retries=1, retry_s=0.05,
        )  # fmt: skip
        with LocalServer(FakeWhatsApp(token=TOKEN, callbacks=callbacks).app) as fake:
            send(fake.url, "919800000001")
            wait_for(lambda: callbacks.snapshot()["pending"] == 0)
    # First POST refused, its one retry refused too: given up, nothing recorded.
    assert receiver.statuses == []
    snapshot = callbacks.snapshot()
    assert (snapshot["posted"], snapshot["failed"], snapshot["codes"]) == (0, 1, {"500": 2})
