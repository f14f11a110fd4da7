"""Admin for messages, broadcasts, deliveries and inbound messages — read-only and scoped.

Broadcasts and their messages are listed as :func:`selectors.broadcasts_visible` allows; deliveries and
inbound messages with ``visible_to(user)``, like every people query. Nothing here writes rows directly:
broadcasts are created on the compose page and paused, resumed or cancelled through the services (also
as admin actions); deliveries and attempts are the dispatcher's audit trail. No list shows a phone
number or address, and a detail page masks it unless the reader may see that person's numbers.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sampark.people import selectors as people_selectors
from sampark.people.phones import mask
from sampark.people.scope import Action
from sampark.transports import registry

from . import selectors, services
from .models import Broadcast, Delivery, DeliveryAttempt, InboundMessage, Message


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def whatsapp_policy_warning() -> Any:
    """WhatsApp's policy warning while no WhatsApp provider carries the channel (before anyone turns
    it on); None once one does, or while the WhatsApp package is not installed."""
    carrier = registry.for_channel("whatsapp")
    if carrier is not None and carrier.kind == "whatsapp":
        return None
    try:
        from sampark.transports.whatsapp.transport import POLICY_WARNING
    except ImportError:
        return None
    return POLICY_WARNING


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "__str__", "ai_generated", "mcmc_certificate", "created_at")
    list_filter = ("ai_generated",)
    search_fields = ("text_hi", "text_en", "=mcmc_certificate")
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        visible = selectors.broadcasts_visible(request.user).order_by().values("message_id")
        queryset = (
            Message.objects.all() if request.user.is_superuser else Message.objects.filter(pk__in=visible)
        )
        return queryset.order_by("-created_at", "-id")


class BroadcastFilter(admin.SimpleListFilter):
    """The reader's latest broadcasts (a filter over every broadcast would list thousands)."""

    title = _("broadcast")
    parameter_name = "broadcast"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [(b.pk, str(b)) for b in selectors.broadcasts_visible(request.user)[:20]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value and str(value).isdigit():
            return queryset.filter(broadcast_id=int(value))
        return queryset


@admin.register(Broadcast)
class BroadcastAdmin(ReadOnlyAdmin):
    list_display = ("id", "__str__", "status", "recipients", "created_at", "created_by", "deliveries_link")
    list_filter = ("status",)
    list_select_related = ("message", "created_by")
    readonly_fields = (
        "message",
        "audience",
        "status",
        "pause_reason",
        "recipients",
        "created_by",
        "created_at",
        "scheduled_at",
        "started_at",
        "finished_at",
    )
    actions = ("pause", "resume", "cancel")
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return selectors.broadcasts_visible(request.user)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        warning = whatsapp_policy_warning()
        if warning:
            messages.warning(request, warning)
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("deliveries"))
    def deliveries_link(self, obj: Broadcast) -> str:
        url = reverse("admin:messaging_delivery_changelist")
        return format_html('<a href="{}?broadcast={}">{}</a>', url, obj.pk, _("deliveries"))

    def _each(self, request: HttpRequest, queryset: QuerySet[Any], call: Any) -> None:
        done = refused = 0
        for broadcast in queryset:
            if not selectors.may_act(request.user, broadcast):
                refused += 1
                continue
            try:
                call(broadcast=broadcast)
            except services.BroadcastError as exc:
                self.message_user(request, f"#{broadcast.pk}: {exc.message}", messages.WARNING)
            else:
                done += 1
        if refused:
            self.message_user(
                request,
                ngettext(
                    "%(count)d broadcast is not yours to change.",
                    "%(count)d broadcasts are not yours to change.",
                    refused,
                )
                % {"count": refused},
                messages.ERROR,
            )
        self.message_user(
            request,
            ngettext("%(count)d broadcast changed.", "%(count)d broadcasts changed.", done) % {"count": done},
            messages.SUCCESS if done else messages.INFO,
        )

    @admin.action(description=_("Pause"), permissions=["view"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._each(request, queryset, services.broadcast_pause)

    @admin.action(description=_("Resume"), permissions=["view"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._each(request, queryset, services.broadcast_resume)

    @admin.action(description=_("Cancel"), permissions=["view"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._each(request, queryset, services.broadcast_cancel)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("at", "worker", "outcome", "code", "reason", "milliseconds")
    readonly_fields = fields
    ordering = ("at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "broadcast_id",
        "channel",
        "status",
        "error_code",
        "attempts",
        "queued_at",
        "sent_at",
    )
    list_filter = (BroadcastFilter, "channel", "status")
    search_fields = ("=error_code", "=provider_message_id")
    search_help_text = _("Error code or provider message id")
    show_full_result_count = False
    # The person by name only; the contact point shows its channel, never its address.
    fields = (
        "broadcast",
        "person",
        "contact_point",
        "channel",
        "language",
        "text",
        "status",
        "attempts",
        "next_attempt_at",
        "lease_owner",
        "lease_until",
        "provider_message_id",
        "error_code",
        "error_reason",
        "queued_at",
        "sent_at",
        "delivered_at",
        "read_at",
        "failed_at",
    )
    readonly_fields = fields
    inlines = (DeliveryAttemptInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return Delivery.objects.visible_to(request.user, Action.VIEW).order_by("-id")


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "channel", "action", "person_name", "short_text")
    list_filter = ("channel", "action")
    list_select_related = ("contact_point__person",)
    search_fields = ("=provider_message_id",)
    show_full_result_count = False
    fields = (
        "received_at",
        "channel",
        "shown_address",
        "person_name",
        "text",
        "action",
        "provider_message_id",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            InboundMessage.objects.visible_to(request.user, Action.VIEW)
            .select_related("contact_point__person")
            .order_by("-received_at", "-id")
        )

    def change_view(self, request: HttpRequest, object_id: str, *args: Any, **kwargs: Any) -> Any:
        row = self.get_queryset(request).filter(pk=object_id).first() if object_id.isdigit() else None
        person_id = row.contact_point.person_id if row is not None and row.contact_point else None
        self._visible = bool(request.user.is_superuser) or (
            person_id is not None and person_id in people_selectors.phones_visible(request.user, [person_id])
        )
        return super().change_view(request, object_id, *args, **kwargs)

    @admin.display(description=_("person"))
    def person_name(self, obj: InboundMessage) -> str:
        return obj.contact_point.person.name if obj.contact_point else "–"

    @admin.display(description=_("text"))
    def short_text(self, obj: InboundMessage) -> str:
        return obj.text[:60]

    @admin.display(description=_("from"))
    def shown_address(self, obj: InboundMessage) -> str:
        if getattr(self, "_visible", False):
            return obj.address
        if "@" in obj.address:
            local, _at, domain = obj.address.partition("@")
            return f"{local[:1]}•••@{domain}"
        return mask(obj.address)
