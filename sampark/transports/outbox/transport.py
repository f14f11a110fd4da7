"""The local outbox: messages are kept, not sent, and shown on the phone simulator page.

The default for every channel without a configured provider (``make run``, the demo, tests): the
whole flow — fan-out, claims, rate limits, statuses, STOP — runs with no provider account. The
delivery row itself is the kept message; the provider id only marks it as the outbox's.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from sampark.transports.base import Limit, Outgoing, Transport


class Outbox(Transport):
    kind = "outbox"
    channel = ""  # one instance per channel it stands in for

    def __init__(self, channel: str, *, per_second: int = 1000) -> None:
        self.channel = channel  # type: ignore[misc]
        self._limit = Limit(per_second)

    @classmethod
    def from_settings(cls, settings: Any) -> Outbox | None:
        # Built by the registry for each channel that has no provider; no settings of its own.
        return None

    @property
    def sender(self) -> str:
        return f"outbox:{self.channel}"

    @property
    def limit(self) -> Limit:
        return self._limit

    async def send(self, session: aiohttp.ClientSession, message: Outgoing) -> str:
        return f"outbox-{message.delivery_id}"
