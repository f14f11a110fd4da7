"""Admin for the feed — read-only and scoped, like the messaging admin.

Links, shares and acknowledgements are listed for the people the reader may see; assignments as
:func:`selectors.assignments_visible` allows. Nothing is written here: links are issued and revoked on
the coordinator's link page (a token must be shown once, at issue), revoking is also an admin action
through :func:`services.link_revoke`; assignments are created on their own page. No token is ever
shown (only its hash is stored) and no phone number appears.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sampark.people.adminscope import ScopedChoicesMixin
from sampark.people.models import Person
from sampark.people.scope import Action

from . import selectors, services
from .models import Acknowledgement, Assignment, FeedLink, Share


class ReadOnlyAdmin(ScopedChoicesMixin, admin.ModelAdmin):
    """Nothing is written here; the forms Django builds for viewing offer only people in scope all the same."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PersonScopedAdmin(ReadOnlyAdmin):
    """Rows of people the reader may see."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        visible = Person.objects.visible_to(request.user, Action.VIEW).values("pk")
        return super().get_queryset(request).filter(person_id__in=visible).select_related("person")


@admin.register(FeedLink)
class FeedLinkAdmin(PersonScopedAdmin):
    list_display = ("person", "created_at", "expires_at", "revoked_at", "last_used_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    fields = ("person", "created_at", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = fields
    actions = ["revoke"]
    show_full_result_count = False

    @admin.action(description=_("Revoke the selected links"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[FeedLink]) -> None:
        changeable = set(
            Person.objects.visible_to(request.user, Action.CHANGE)
            .filter(pk__in=queryset.values("person_id"))
            .values_list("pk", flat=True)
        )
        revoked = sum(
            services.link_revoke(person=link.person)
            for link in queryset.filter(revoked_at__isnull=True, person_id__in=changeable)
        )
        messages.success(
            request, ngettext("%(n)s link revoked.", "%(n)s links revoked.", revoked) % {"n": revoked}
        )


@admin.register(Share)
class ShareAdmin(PersonScopedAdmin):
    list_display = ("at", "person", "target", "tick", "item_id")
    list_filter = ("target",)
    show_full_result_count = False


@admin.register(Acknowledgement)
class AcknowledgementAdmin(PersonScopedAdmin):
    list_display = ("at", "person", "tick", "item_id")
    show_full_result_count = False


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ("title", "unit_key", "batch_size", "created_by", "created_at")
    search_fields = ("title", "=unit_key")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return selectors.assignments_visible(request.user).select_related("created_by")
