"""What messaging does with webhook events: statuses are queued for the worker's loop to apply in
batches (``statuses.enqueue``, applied by ``statuses.drain``), inbound messages are acted on at once
(``inbound.receive``: a STOP must cancel what is queued before the next dispatch claim)."""

from __future__ import annotations

from sampark.transports.events import InboundEvent, StatusEvent

from . import inbound, statuses


class WebhookReceiver:
    def statuses(self, events: list[StatusEvent]) -> None:
        statuses.enqueue(events)

    def inbound(self, event: InboundEvent) -> None:
        inbound.receive(event)
