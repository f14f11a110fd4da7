"""Admin for the content library — read-only.

Every change to an item goes through :mod:`sampark.content.services` (the two-person rule, sources for
claims, revisions), so the admin only lists and shows; writing, reviewing and retiring happen on the
content pages, which the change form links to.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Item, ItemRevision


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ItemRevisionInline(ReadOnly, admin.TabularInline):
    model = ItemRevision
    extra = 0
    can_delete = False
    fields = ("number", "at", "by", "action", "snapshot")
    readonly_fields = fields
    ordering = ("number",)


@admin.register(Item)
class ItemAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("id", "__str__", "topic", "state", "ai_generated", "paid_advertisement", "updated_at")
    list_filter = ("state", "topic", "ai_generated", "election_matter", "paid_advertisement")
    search_fields = ("text_hi", "text_en", "hashtags")
    search_help_text = _("Words of the text in Hindi or English, or a hashtag")
    show_full_result_count = False
    fields = (
        "page_link",
        "text_hi",
        "text_en",
        "hashtags",
        "topic",
        "image_url",
        "video_url",
        "link",
        "state",
        "factual_claim",
        "source_url",
        "source_note",
        "ai_generated",
        "election_matter",
        "paid_advertisement",
        "mcmc_certificate",
        "created_by",
        "edited_by",
        "approved_by",
        "approved_at",
        "review_note",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = (ItemRevisionInline,)

    @admin.display(description=_("page"))
    def page_link(self, obj: Item) -> str:
        url = reverse("content:detail", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Review and edit on the content page"))
