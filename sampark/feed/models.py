"""The volunteer feed: personal links, what volunteers share and acknowledge, and click-to-chat
assignments.

A :class:`FeedLink` is a volunteer's personal, password-less way in: a random token whose SHA-256 is
stored (the token itself never is), revocable and rotatable, with an expiry. A :class:`Share` is one
tap on a share button (who, which tick and item, which target), an :class:`Acknowledgement` an
"I posted it". :class:`TickReach` counts feed views per tick and booth (a counter, not a row per view:
ten lakh volunteers × a tick every 25 s). An :class:`Assignment` splits a unit's consenting WhatsApp
contacts into batches per volunteer; each :class:`AssignmentContact` is opened by the volunteer with a
personalised ``wa.me`` link and marked by hand — nothing automates WhatsApp.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sampark.people.models import ContactPoint, Person
from sampark.streams.models import Tick
from sampark.territory.models import Booth


class FeedLink(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="feed_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The newest tick this person's feed has shown (tick ids grow in publication order): views of ticks
    # above it are first views and counted in TickReach; rotation carries it over to the new link.
    seen_tick_id = models.BigIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("feed link")
        verbose_name_plural = _("feed links")
        constraints = [
            # One live link per person: rotating revokes the old one in the same transaction.
            models.UniqueConstraint(
                fields=["person"], condition=Q(revoked_at__isnull=True), name="feed_link_live"
            )
        ]

    def __str__(self) -> str:
        return f"feed link of {self.person_id}"


class Share(models.Model):
    class Target(models.TextChoices):
        WHATSAPP = "whatsapp", _("WhatsApp")
        TELEGRAM = "telegram", _("Telegram")
        X = "x", _("X")
        FACEBOOK = "facebook", _("Facebook")
        COPY = "copy", _("Copy")

    id = models.BigAutoField(primary_key=True)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="shares")
    tick = models.ForeignKey(Tick, on_delete=models.CASCADE, related_name="shares")
    item_id = models.BigIntegerField()  # the tick's item, copied: reach per item needs no join
    booth = models.ForeignKey(Booth, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    target = models.CharField(max_length=10, choices=Target.choices)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("share")
        verbose_name_plural = _("shares")
        indexes = [
            models.Index(fields=["item_id", "target"], name="share_item_target"),
            models.Index(fields=["person", "at"], name="share_person"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.target} {self.tick_id}"


class Acknowledgement(models.Model):
    """ "I posted it": once per person and tick."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="acknowledgements")
    tick = models.ForeignKey(Tick, on_delete=models.CASCADE, related_name="acknowledgements")
    item_id = models.BigIntegerField()
    booth = models.ForeignKey(Booth, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "tick"], name="ack_once")]
        indexes = [models.Index(fields=["item_id"], name="ack_item")]

    def __str__(self) -> str:
        return f"{self.person_id} ack {self.tick_id}"


class TickReach(models.Model):
    """Feed views of one tick from one booth's volunteers (a counter, incremented set-based)."""

    tick = models.ForeignKey(Tick, on_delete=models.CASCADE, related_name="reach")
    item_id = models.BigIntegerField()
    booth = models.ForeignKey(Booth, on_delete=models.CASCADE, related_name="+")
    views = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tick", "booth"], name="reach_once")]
        indexes = [models.Index(fields=["item_id"], name="reach_item")]

    def __str__(self) -> str:
        return f"{self.tick_id}@{self.booth_id}: {self.views}"


class Assignment(models.Model):
    """A click-to-chat task: a personalised message to a unit's consenting WhatsApp contacts, split into
    batches of ``batch_size`` per volunteer."""

    title = models.CharField(_("title"), max_length=120)
    template = models.TextField(_("message"), help_text=_("{name} becomes each contact's name"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    unit_key = models.CharField(_("unit"), max_length=40)
    batch_size = models.PositiveSmallIntegerField(_("contacts per volunteer"), default=25)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")

    def __str__(self) -> str:
        return self.title


class AssignmentContact(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("To do")
        SENT = "sent", _("Sent")
        NOT_ON_WHATSAPP = "no_wa", _("Not on WhatsApp")
        REPLIED = "replied", _("Replied")
        STOPPED = "stopped", _("Asked to stop")

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="contacts")
    volunteer = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="assigned_contacts")
    contact_point = models.ForeignKey(ContactPoint, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assignment", "contact_point"], name="assignment_contact_once")
        ]
        indexes = [models.Index(fields=["volunteer", "status"], name="assignment_volunteer")]

    def __str__(self) -> str:
        return f"{self.assignment_id}: {self.contact_point_id} → {self.volunteer_id}"
