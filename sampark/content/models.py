"""The content library: slogans and posts the IT cell writes, reviews and approves before any stream
or volunteer feed may carry them.

An :class:`Item` moves draft → in review → approved → retired (``services`` enforce every rule: two
different people write and approve; a factual claim needs its source; paid political advertisements
need an MCMC certificate). Each change leaves an :class:`ItemRevision`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from sampark.core.models import TimeStamped


class Item(TimeStamped):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        REVIEW = "review", _("In review")
        APPROVED = "approved", _("Approved")
        RETIRED = "retired", _("Retired")

    text_hi = models.TextField(_("text (Hindi)"), blank=True)
    text_en = models.TextField(_("text (English)"), blank=True)
    image_url = models.URLField(_("image link"), blank=True)
    video_url = models.URLField(_("video link"), blank=True)
    link = models.URLField(_("link"), blank=True)
    hashtags = models.CharField(
        _("hashtags"), max_length=300, blank=True, help_text=_("e.g. #BoothChalo #Bihar")
    )
    topic = models.CharField(_("topic"), max_length=80, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    # Rules (CHANNELS.md): a factual claim carries its source; synthetic content is labelled wherever
    # shown; paid political advertisements carry the MCMC pre-certification.
    factual_claim = models.BooleanField(_("makes a factual claim"), default=False)
    source_url = models.URLField(_("source link"), blank=True)
    source_note = models.CharField(_("source note"), max_length=300, blank=True)
    ai_generated = models.BooleanField(_("synthetic / AI-generated"), default=False)
    election_matter = models.BooleanField(_("election matter"), default=False)
    paid_advertisement = models.BooleanField(_("paid advertisement"), default=False)
    mcmc_certificate = models.CharField(_("MCMC certificate number"), max_length=80, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("written by")
    )
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("last edited by")
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    review_note = models.CharField(_("review note"), max_length=300, blank=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("content item")
        verbose_name_plural = _("content items")
        indexes = [models.Index(fields=["state", "topic"], name="item_state_topic")]

    def __str__(self) -> str:
        return (self.text_hi or self.text_en)[:60]

    def text_for(self, language: str) -> str:
        """The text in ``language``, else the other one."""
        return (self.text_hi if language == "hi" else self.text_en) or self.text_hi or self.text_en


class ItemRevision(models.Model):
    """A snapshot of an item after each change, with who made it and why."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=20)
    snapshot = models.JSONField()

    class Meta:
        ordering = ["item", "number"]
        constraints = [models.UniqueConstraint(fields=["item", "number"], name="item_revision_once")]
        verbose_name = _("revision")
        verbose_name_plural = _("revisions")

    def __str__(self) -> str:
        return f"{self.item_id} r{self.number} {self.action}"
