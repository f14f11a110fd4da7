"""Admin for streams and their ticks (with each tick's Telegram posts) — read-only and scoped.

Streams are listed as :func:`selectors.streams_visible` allows (their unit inside the reader's area),
ticks through their stream; a tick's channel posts are outbox rows of
messaging (``source`` = ``stream_tick``), shown on the tick's page. Nothing here writes a row directly: streams are created
on the streams page; pausing and resuming go through the services (also as admin actions, for the
streams the reader may manage); ticks are the ticker's record.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sampark.content.admin import ReadOnly
from sampark.messaging import services as outbox

from . import selectors, services
from .models import Stream, StreamEntry, Tick


class StreamEntryInline(ReadOnly, admin.TabularInline):
    model = StreamEntry
    extra = 0
    can_delete = False
    fields = ("position", "item")
    readonly_fields = fields
    ordering = ("position",)


@admin.register(Stream)
class StreamAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("name", "level", "status", "min_seconds", "max_seconds", "next_tick_at", "ticks")
    list_filter = ("status", "level", "order")
    search_fields = ("name",)
    show_full_result_count = False
    fields = (
        "name",
        "level",
        "state",
        "district",
        "ac",
        "block",
        "panchayat",
        "booth",
        "status",
        "order",
        "no_repeat_within",
        "min_seconds",
        "max_seconds",
        "active_from",
        "active_until",
        "to_feed",
        "telegram_chats",
        "next_tick_at",
        "ticks",
        "created_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = (StreamEntryInline,)
    actions = ("pause", "resume")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return selectors.streams_visible(request.user)

    def _each(self, request: HttpRequest, queryset: QuerySet[Any], call: Any) -> None:
        done = refused = 0
        for stream in queryset:
            if not selectors.may_manage(request.user, stream):
                refused += 1
                continue
            call(stream=stream, by=request.user)
            done += 1
        if refused:
            self.message_user(
                request,
                ngettext(
                    "%(count)d stream is not yours to change.",
                    "%(count)d streams are not yours to change.",
                    refused,
                )
                % {"count": refused},
                messages.ERROR,
            )
        self.message_user(
            request,
            ngettext("%(count)d stream changed.", "%(count)d streams changed.", done) % {"count": done},
            messages.SUCCESS if done else messages.INFO,
        )

    @admin.action(description=_("Pause"), permissions=["view"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._each(request, queryset, services.stream_pause)

    @admin.action(description=_("Resume"), permissions=["view"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._each(request, queryset, services.stream_resume)


@admin.register(Tick)
class TickAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("stream", "number", "item", "due_at", "published_at", "lateness_ms")
    list_select_related = ("stream", "item")
    list_filter = ("stream__status",)
    search_fields = ("stream__name",)
    show_full_result_count = False
    fields = ("stream", "number", "item", "due_at", "published_at", "lateness_ms", "channel_posts")
    readonly_fields = fields

    @admin.display(description=_("Telegram posts"))
    def channel_posts(self, obj: Tick) -> str:
        rows = outbox.posts_of(source=services.TICK_SOURCE, source_ids=[obj.pk]).values_list(
            "address", "status", "attempts", "maybe_duplicate", "error_reason"
        )
        labels = dict(outbox.Delivery.Status.choices)
        return (
            format_html_join(
                "\n",
                "<div>{} — {} ({} {}){}{}</div>",
                (
                    (
                        address,
                        labels.get(status, status),
                        attempts,
                        _("attempts"),
                        f" — {reason}" if reason else "",
                        f" — {_('may have been sent twice')}" if twice else "",
                    )
                    for address, status, attempts, twice, reason in rows
                ),
            )
            or "—"
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        streams = selectors.streams_visible(request.user).order_by().values("pk")
        return Tick.objects.filter(stream_id__in=streams).order_by("-published_at", "-id")
