"""Broadcasts and the delivery outbox.

A :class:`Broadcast` sends one :class:`Message` to an :class:`Audience`. Creating it writes one
:class:`Delivery` row per recipient contact point, set-based, in the creating transaction (the outbox
rule, STACK.md); workers claim rows under a lease, send through the channel's transport and record every
attempt (:class:`DeliveryAttempt`). Provider webhooks move a row forward (sent → delivered → read),
never back. :class:`InboundMessage` keeps everything people send us (STOP, START, HELP, replies).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sampark.people.models import Channel, ContactPoint, Person
from sampark.people.scope import ScopedQuerySet


class DeliveryQuerySet(ScopedQuerySet["Delivery"]):
    scope_booth_prefix = "person__home_booth__"
    scope_person_path = "person_id"


class InboundQuerySet(ScopedQuerySet["InboundMessage"]):
    scope_booth_prefix = "contact_point__person__home_booth__"
    scope_person_path = "contact_point__person_id"


class Message(models.Model):
    """What to say, in Hindi and English, and what each channel needs besides the text."""

    text_hi = models.TextField(_("text (Hindi)"), blank=True)
    text_en = models.TextField(_("text (English)"), blank=True)
    link = models.URLField(_("link"), blank=True)
    media_url = models.URLField(_("image or video link"), blank=True)
    subject = models.CharField(_("email subject"), max_length=200, blank=True)
    # TRAI DLT: every SMS carries its registered template id (and the entity id from settings).
    sms_dlt_template_id = models.CharField(_("SMS DLT template id"), max_length=40, blank=True)
    sms_promotional = models.BooleanField(_("promotional SMS"), default=True)
    # WhatsApp outside the 24-hour window: an approved template with its body parameters.
    wa_template_name = models.CharField(_("WhatsApp template name"), max_length=120, blank=True)
    wa_template_language = models.CharField(_("WhatsApp template language"), max_length=10, blank=True)
    wa_template_params = models.JSONField(_("WhatsApp template parameters"), default=list, blank=True)
    # Election rules: MCMC pre-certification of political advertisements; synthetic content labelled.
    mcmc_certificate = models.CharField(_("MCMC certificate number"), max_length=80, blank=True)
    ai_generated = models.BooleanField(_("synthetic / AI-generated content"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        return (self.text_hi or self.text_en)[:60]

    def text_for(self, language: str) -> str:
        """The text a person with ``language`` gets: theirs, else the other one."""
        return (self.text_hi if language == "hi" else self.text_en) or self.text_hi or self.text_en


class Audience(models.Model):
    """Who receives a broadcast: people placed under ``units`` (unit keys like ``district:2``), holding
    one of ``roles`` (any role when empty), carrying one of ``tags`` (tag names; any when empty),
    reached on ``channels`` — every consented channel, or only
    the first in that order each person has (``one_channel``). Only live consent counts."""

    units = models.JSONField(_("units"), default=list)
    roles = models.JSONField(_("posts"), default=list, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    channels = models.JSONField(_("channels"), default=list)
    one_channel = models.BooleanField(_("only the first channel each person has"), default=False)

    class Meta:
        verbose_name = _("audience")
        verbose_name_plural = _("audiences")

    def __str__(self) -> str:
        return ", ".join(self.units) or "—"


class Broadcast(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        CANCELLED = "cancelled", _("Cancelled")
        DONE = "done", _("Done")

    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="broadcasts")
    audience = models.ForeignKey(Audience, on_delete=models.PROTECT, related_name="broadcasts")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.SENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="broadcasts", null=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    recipients = models.PositiveIntegerField(_("deliveries"), default=0)
    # Why it was paused when the system paused it (e.g. WhatsApp's spam rate limit on the sender).
    pause_reason = models.CharField(_("paused because"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.message}"


class Delivery(models.Model):
    """One message to one recipient on one channel: the outbox row workers claim and update.

    Every outgoing message is one of these, whatever produced it. Three shapes, told apart by columns:

    - a broadcast's row (``broadcast`` set): rendered from the broadcast's message, sent only while the
      broadcast is sending and the contact point's consent is live;
    - a reply (no broadcast, a ``contact_point``): a STOP confirmation or a HELP answer with its own
      ``text``, sent last to its contact point;
    - an address row (no contact point): a post to an ``address`` that is not a person — a Telegram
      channel, say — carrying its own ``text``, ``link`` and ``media_url``. ``source`` and ``source_id``
      say what produced it (``stream_tick`` and the tick's id) so that app can find its posts without
      messaging knowing about it.

    ``maybe_duplicate``: the row's lease expired (or a stop cut it off) while it may have been in flight,
    so the provider may have got it twice; every such event also writes an attempt row.
    """

    class Status(models.IntegerChoices):
        # Ordered: a provider status only ever moves a row forward (a late "delivered" never undoes
        # "read"). FAILED and CANCELLED end a row from any earlier state.
        QUEUED = 0, _("Queued")
        SENDING = 1, _("Sending")
        SENT = 2, _("Sent")
        DELIVERED = 3, _("Delivered")
        READ = 4, _("Read")
        FAILED = 5, _("Failed")
        CANCELLED = 6, _("Cancelled")

    id = models.BigAutoField(primary_key=True)
    # Null for a one-off reply (a STOP confirmation, a HELP answer), which goes through the same outbox.
    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="deliveries", null=True)
    # Null for an address row (a Telegram channel post): it goes to ``address``, not to a person.
    contact_point = models.ForeignKey(
        ContactPoint, on_delete=models.CASCADE, related_name="deliveries", null=True, blank=True
    )
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="deliveries", null=True, blank=True
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    language = models.CharField(_("language"), max_length=5, default="hi")
    # An address row's recipient (a chat id, "@channel"); empty when the contact point says where.
    address = models.CharField(_("address"), max_length=254, blank=True, default="", db_default="")
    # A reply's or an address row's own text (broadcast deliveries render their broadcast's message).
    text = models.TextField(blank=True)
    link = models.URLField(_("link"), max_length=500, blank=True, default="", db_default="")
    media_url = models.URLField(
        _("image or video link"), max_length=500, blank=True, default="", db_default=""
    )
    # What produced an address row (e.g. "stream_tick") and its id there: a reference, not a foreign key.
    source = models.CharField(_("source"), max_length=20, blank=True, default="", db_default="")
    source_id = models.BigIntegerField(_("source id"), null=True, blank=True)
    status = models.PositiveSmallIntegerField(_("status"), choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    maybe_duplicate = models.BooleanField(_("may have been sent twice"), default=False, db_default=False)
    next_attempt_at = models.DateTimeField(_("next attempt"))
    lease_owner = models.CharField(max_length=40, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=128, blank=True)
    error_code = models.CharField(_("error code"), max_length=20, blank=True)
    error_reason = models.CharField(_("reason"), max_length=300, blank=True)
    queued_at = models.DateTimeField(_("queued at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        indexes = [
            # Progress per channel and status, and the claim of a broadcast's due rows.
            models.Index(fields=["broadcast", "status", "channel"], name="delivery_progress"),
            # The claim: a channel's queued rows that are due, oldest first, in the claim's exact order
            # (``next_attempt_at, id``): with ``id`` missing, PostgreSQL sorted every due row of a
            # state-wide broadcast for each lot of 128 (0.9 s a claim at 1.9 lakh rows).
            models.Index(
                fields=["channel", "next_attempt_at", "id"], name="delivery_due_order", condition=Q(status=0)
            ),
            # The sweeper: expired leases.
            models.Index(fields=["lease_until"], name="delivery_leased", condition=Q(status=1)),
            # Webhook statuses find their row by the provider's id. Not partial: SQLite uses a partial
            # index only when the query repeats its condition, and the status UPDATE then scanned.
            models.Index(fields=["channel", "provider_message_id"], name="delivery_provider_id"),
            # STOP cancels a contact point's pending rows.
            models.Index(fields=["contact_point", "status"], name="delivery_contact_status"),
            # Address rows: per-recipient spacing by address, and "the posts of this tick".
            models.Index(
                fields=["channel", "address"],
                name="delivery_address",
                condition=Q(contact_point__isnull=True),
            ),
            models.Index(fields=["source", "source_id"], name="delivery_source", condition=~Q(source="")),
        ]
        constraints = [
            # A row without a contact point must say where it goes.
            models.CheckConstraint(
                condition=Q(contact_point__isnull=False) | ~Q(address=""), name="delivery_has_recipient"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} #{self.pk}"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery, with its outcome: the audit trail of the dispatcher."""

    class Outcome(models.TextChoices):
        SENT = "sent", _("Sent")
        RETRY = "retry", _("Will retry")
        FAILED = "failed", _("Failed")
        # The row went back to the queue while it may already have been sent (see maybe_duplicate).
        EXPIRED = "expired", _("Lease expired, may have been sent")
        STOPPED = "stopped", _("Cut off by a stop, may have been sent")

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    worker = models.CharField(max_length=40)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    code = models.CharField(max_length=20, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    milliseconds = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.outcome} {self.at:%Y-%m-%d %H:%M:%S}"


class InboundMessage(models.Model):
    """Something a person sent us, on any channel, with what we did about it."""

    class Action(models.TextChoices):
        NONE = "", _("Stored")
        STOP = "stop", _("Unsubscribed")
        START = "start", _("Resubscribed")
        HELP = "help", _("Help sent")

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    address = models.CharField(_("from"), max_length=254)
    wa_user_id = models.CharField(max_length=64, blank=True)
    text = models.TextField(_("text"), blank=True)
    provider_message_id = models.CharField(max_length=128, blank=True)
    received_at = models.DateTimeField(_("received at"))
    contact_point = models.ForeignKey(
        ContactPoint, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound"
    )
    action = models.CharField(_("action"), max_length=8, choices=Action.choices, blank=True)

    objects = InboundQuerySet.as_manager()

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        constraints = [
            # A webhook replay stores nothing twice.
            models.UniqueConstraint(
                fields=["channel", "provider_message_id"],
                name="inbound_once",
                condition=~Q(provider_message_id=""),
            )
        ]
        indexes = [
            # A message without a provider id is a replay when the same sender sent the same text just
            # before (``inbound.receive``): found by sender and time.
            models.Index(fields=["channel", "address", "received_at"], name="inbound_sender_time"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.received_at:%Y-%m-%d %H:%M} {self.action or '-'}"


class StatusReport(models.Model):
    """What a provider reported about one message: the fields a waiting and a queued status share."""

    channel = models.CharField(max_length=10)
    provider_message_id = models.CharField(max_length=128)
    status = models.PositiveSmallIntegerField(choices=Delivery.Status.choices)
    at = models.DateTimeField()
    error_code = models.CharField(max_length=20, blank=True)
    error_reason = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        abstract = True


class EarlyStatus(StatusReport):
    """A provider status for a message id we have not recorded yet.

    A fast provider can report "sent" before the worker has written the id it got back; such statuses
    wait here and are applied when the worker records the send. Ids that never turn up are purged
    after a day (``tasks.purge_early_statuses``): a replay or a stranger's id changes nothing.
    """

    class Meta:
        indexes = [models.Index(fields=["channel", "provider_message_id"], name="early_status_id")]
        constraints = [
            # A replayed report for an unknown id waits once, not once per replay.
            models.UniqueConstraint(
                fields=["channel", "provider_message_id", "status"], name="early_status_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.provider_message_id} {self.status}"


class QueuedStatus(StatusReport):
    """A provider status a webhook received and has not applied yet.

    The webhook only appends here (one cheap insert, then 200); the ``messaging.statuses`` loop of the
    worker applies the queue in set-based batches (:func:`sampark.messaging.statuses.drain`), oldest
    first, and deletes what it applied in the same transaction. Applying is monotonic and idempotent,
    so a row applied twice (two drains racing) changes nothing the second time.
    """

    id = models.BigAutoField(primary_key=True)

    def __str__(self) -> str:
        return f"{self.channel} {self.provider_message_id} {self.status}"
