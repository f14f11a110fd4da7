"""Slogan streams: approved items published one at a time on a jittered cadence into the volunteer
feed of a unit (and, through the messaging outbox,
Telegram channels), a tick every 20–30 s by default, inside active hours.

A :class:`Tick` is the publication: one committed row per ``(stream, number)``, so a tick happens exactly
once whatever the workers do; its lateness (published − due) is kept. The stream's unit is stored with
its ancestors (as a post is), so "the streams of my booth and everything above it" is a few indexed
conditions.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from sampark.content.models import Item
from sampark.core.models import TimeStamped
from sampark.people.models import Level
from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat, State


class Stream(TimeStamped):
    class Order(models.TextChoices):
        ORDERED = "ordered", _("In order")
        ROTATING = "rotating", _("Rotating (random, no repeats)")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Running")
        PAUSED = "paused", _("Paused")

    name = models.CharField(_("name"), max_length=120)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    state = models.ForeignKey(State, on_delete=models.PROTECT, related_name="+")
    district = models.ForeignKey(District, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    ac = models.ForeignKey(
        AssemblyConstituency, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    block = models.ForeignKey(Block, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    panchayat = models.ForeignKey(
        Panchayat, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    booth = models.ForeignKey(Booth, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_feed = models.BooleanField(_("publish to the volunteer feed"), default=True)
    telegram_chats = models.JSONField(_("Telegram channels or groups"), default=list, blank=True)
    order = models.CharField(_("order"), max_length=10, choices=Order.choices, default=Order.ORDERED)
    no_repeat_within = models.PositiveSmallIntegerField(_("no repeat within (ticks)"), default=10)
    min_seconds = models.PositiveIntegerField(_("shortest gap (s)"), default=20)
    max_seconds = models.PositiveIntegerField(_("longest gap (s)"), default=30)
    active_from = models.TimeField(_("active from"), default=datetime.time(6, 0))
    active_until = models.TimeField(_("active until"), default=datetime.time(22, 0))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE)
    next_tick_at = models.DateTimeField(_("next tick due"), null=True, blank=True)
    ticks = models.PositiveIntegerField(_("ticks published"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("stream")
        verbose_name_plural = _("streams")
        indexes = [models.Index(fields=["status", "next_tick_at"], name="stream_due")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_seconds__gte=1, max_seconds__gte=models.F("min_seconds")),
                name="stream_cadence_sane",
            )
        ]

    def __str__(self) -> str:
        return self.name


class StreamEntry(models.Model):
    """An item in a stream's queue, in order."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="entries")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="stream_entries")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["stream", "position"]
        constraints = [models.UniqueConstraint(fields=["stream", "item"], name="stream_item_once")]

    def __str__(self) -> str:
        return f"{self.stream_id}#{self.position}"


class Tick(models.Model):
    """One publication of one item by one stream: exactly once per (stream, number)."""

    id = models.BigAutoField(primary_key=True)
    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="published")
    number = models.PositiveIntegerField()
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="ticks")
    due_at = models.DateTimeField()
    published_at = models.DateTimeField()
    lateness_ms = models.IntegerField()

    class Meta:
        ordering = ["-published_at"]
        constraints = [models.UniqueConstraint(fields=["stream", "number"], name="tick_once")]
        indexes = [models.Index(fields=["stream", "-published_at"], name="tick_stream_recent")]

    def __str__(self) -> str:
        return f"{self.stream_id}:{self.number}"
