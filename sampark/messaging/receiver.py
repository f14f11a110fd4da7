"""What messaging does with webhook events: statuses move deliveries forward, inbound goes to inbound."""

from __future__ import annotations

from sampark.transports.events import InboundEvent, StatusEvent


class WebhookReceiver:
    def statuses(self, events: list[StatusEvent]) -> None:
        from . import statuses

        statuses.apply_statuses(events)

    def inbound(self, event: InboundEvent) -> None:
        from . import inbound

        inbound.receive(event)
