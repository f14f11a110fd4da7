"""The fake WhatsApp Cloud API in a process of its own (its own GIL), posting statuses back to the server.

Protocol over the pipe: it sends its URL once started; then answers "stats" with the counters (sends
accepted, first/last acceptance time, the status poster's snapshot) until told "stop". Every
``sample_every``-th accepted message's "delivered" and "read" are put on ``samples`` as
``(wamid, status, due, posted)`` once the server answered their POST: the lag probe reads them.
"""

from __future__ import annotations

import time
from typing import Any

TOKEN = "bench-token"  # noqa: S105 - the fake's credential
NUMBER_ID = "1122334455667"
SECRET = "bench-app-secret"  # noqa: S105 - a throwaway home's webhook secret


def serve(
    conn: Any, webhook_url: str, sample_every: int, samples: Any, max_batch: int, in_flight: int
) -> None:
    from sampark.transports.fakes.server import LocalServer
    from sampark.transports.fakes.whatsapp import FakeWhatsApp, Posted, StatusCallbacks

    def sampled(posted: list[Posted]) -> None:
        picked = [
            (p.wamid, p.status, p.due, p.posted)
            for p in posted
            if p.status != "sent" and int(p.wamid.rsplit(".", 1)[1]) % sample_every == 0
        ]
        if picked:
            samples.put(picked)  # a feeder thread sends it: the loop does not wait for the parent

    callbacks = StatusCallbacks(
        url=webhook_url,
        app_secret=SECRET,
        phone_number_id=NUMBER_ID,
        max_batch=max_batch,
        in_flight=in_flight,
        on_posted=sampled,
    )
    fake = FakeWhatsApp(token=TOKEN, phone_number_id=NUMBER_ID, callbacks=callbacks)
    with LocalServer(fake.app) as server:
        conn.send(server.url)
        while conn.recv() == "stats":
            accepted = fake.accepted  # a copy; cheap enough at a few lakh rows every few seconds
            snapshot = callbacks.snapshot()
            lateness = sorted(snapshot.pop("lateness"))
            latency = sorted(snapshot.pop("latency"))
            conn.send(
                {
                    "accepted": len(accepted),
                    "faults": dict(fake.fault_counts()),
                    "first": accepted[0].at if accepted else None,
                    "last": accepted[-1].at if accepted else None,
                    "callbacks": snapshot,
                    "late_p99": lateness[int(len(lateness) * 0.99)] if lateness else 0.0,
                    "late_max": lateness[-1] if lateness else 0.0,
                    "post_p50": latency[len(latency) // 2] if latency else 0.0,
                    "post_p99": latency[int(len(latency) * 0.99)] if latency else 0.0,
                    "at": time.time(),
                }
            )
