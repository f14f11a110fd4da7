"""Inbound messages: stored, and STOP / START / HELP acted on, on any channel.

STOP (or UNSUBSCRIBE, रोकें, बंद — settings) withdraws consent on the channel it came on, cancels that
contact point's queued deliveries at once and queues a confirmation. The confirmation is a delivery like
any other but is only claimed once no earlier message to that contact point is still in flight
(``dispatch.claim``), so nothing reaches the person after it. START gives consent again (source: chat)
and confirms; HELP answers in the person's language. A replayed webhook stores and does nothing twice.
"""

from __future__ import annotations

import dataclasses
import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from sampark.core.text import clean, clean_lines
from sampark.people import services as people
from sampark.people.models import ContactPoint, Source
from sampark.transports.events import InboundEvent

from . import tasks
from .models import Delivery, InboundMessage

Status = Delivery.Status


def _words(names: list[str]) -> set[str]:
    return {clean(word).casefold() for word in names}


def keyword(text: str) -> str:
    """``stop``, ``start``, ``help`` or ``""`` for a message's text (NFC, spaces and case ignored)."""
    word = clean(text).casefold().strip(" .!।")
    if word in _words(settings.SAMPARK_STOP_WORDS):
        return InboundMessage.Action.STOP
    if word in _words(settings.SAMPARK_START_WORDS):
        return InboundMessage.Action.START
    if word in _words(settings.SAMPARK_HELP_WORDS):
        return InboundMessage.Action.HELP
    return InboundMessage.Action.NONE


def _contact_point(event: InboundEvent) -> ContactPoint | None:
    points = ContactPoint.objects.select_related("person")
    point = points.filter(channel=event.channel, address=event.address).first()
    if point is None and event.wa_user_id:
        point = points.filter(channel=event.channel, wa_user_id=event.wa_user_id).first()
    if point is not None and event.wa_user_id and point.wa_user_id != event.wa_user_id:
        # WhatsApp's business-scoped user id: keep it, so the contact is found even without the phone.
        ContactPoint.objects.filter(pk=point.pk).update(wa_user_id=event.wa_user_id[:64])
    return point


def reply_text(action: str, language: str) -> str:
    with translation.override(language):
        if action == InboundMessage.Action.STOP:
            return _("You will get no more messages from us here. Send START to join again.")
        if action == InboundMessage.Action.START:
            return _("Welcome back! You will get our messages here again. Send STOP to stop.")
        return _(
            "Reply STOP to stop our messages, START to get them again. Your coordinator can help with anything else."
        )


def _replayed(event: InboundEvent) -> bool:
    """Whether a message without a provider id was stored already: the same sender sent the same text
    within ``SAMPARK_INBOUND_DEDUPE_SECONDS`` of it (either side: replays may arrive out of order).

    Some SMS gateways give inbound messages no id and retry whole batches; without this, a replayed
    STOP was stored twice and confirmed twice. A person who really sends the same words twice within
    the window is taken once: for STOP, START and HELP that is the same outcome.
    """
    window = datetime.timedelta(seconds=settings.SAMPARK_INBOUND_DEDUPE_SECONDS)
    return InboundMessage.objects.filter(
        channel=event.channel,
        address=event.address[:254],
        wa_user_id=event.wa_user_id[:64],
        text=event.text,
        provider_message_id="",
        received_at__gte=event.at - window,
        received_at__lte=event.at + window,
    ).exists()


def receive(event: InboundEvent) -> InboundMessage | None:
    """Store one inbound message and act on it; ``None`` for a replay already stored (the same provider
    id, or — without one — the same sender and text within the dedupe window)."""
    # Stored, compared and read for keywords without NUL or bidirectional controls (a STOP wrapped in
    # U+202E … U+202C is still a STOP; a replay is the same text once cleaned).
    event = dataclasses.replace(event, text=clean_lines(event.text))
    action = keyword(event.text)
    now = timezone.now()
    try:
        with transaction.atomic():
            point = _contact_point(event)
            if not event.provider_message_id:
                if point is not None and connection.features.has_select_for_update:
                    # Two replays at once on PostgreSQL: the second waits here, then sees the first.
                    ContactPoint.objects.select_for_update().filter(pk=point.pk).first()
                if _replayed(event):
                    return None
            message = InboundMessage.objects.create(
                channel=event.channel,
                address=event.address[:254],
                wa_user_id=event.wa_user_id[:64],
                text=event.text,
                provider_message_id=event.provider_message_id[:128],
                received_at=event.at,
                contact_point=point,
                action=action if point is not None else InboundMessage.Action.NONE,
            )
            if point is None or action == InboundMessage.Action.NONE:
                return message
            language = point.person.language or "hi"
            if action == InboundMessage.Action.STOP:
                people.consent_withdraw(contact_point=point, at=now, via=f"{event.channel}:stop")
                Delivery.objects.filter(
                    contact_point=point, status=Status.QUEUED, broadcast__isnull=False
                ).update(status=Status.CANCELLED, error_reason="the person sent STOP", failed_at=now)
            elif action == InboundMessage.Action.START:
                people.consent_give(contact_point=point, given_at=now, source=Source.CHAT, language=language)
            Delivery.objects.create(
                contact_point=point,
                person_id=point.person_id,
                channel=point.channel,
                language=language,
                text=reply_text(action, language),
                next_attempt_at=now,
                queued_at=now,
            )
            transaction.on_commit(lambda: tasks.kick([point.channel]))
            return message
    except IntegrityError:
        # The same provider message id again: a webhook replay. Stored once, acted on once.
        return None
