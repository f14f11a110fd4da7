"""Admin for people, contact points, consent history and posts — scoped like every other query.

Lists show ``visible_to(user)``; a row can be changed or deleted only inside the editor's change scope.
Writes go through :mod:`sampark.people.services`: people are registered (with consent) by the form and the
importer, never added here; consent history is read-only and withdrawn with an action; a post is given
with ``post_assign`` and ended with ``post_end``, so unit ancestors and the coverage rollup stay right.
:class:`~sampark.people.models.BoothCoverage` is derived and has no admin. Numbers and addresses are
masked for editors without the right to see them (booth presidents and above).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import selectors, services
from .adminscope import ScopedChoicesMixin
from .forms import PersonAdminForm, PostAddForm, PostChangeForm
from .models import COUNTED_ROLES, Consent, ContactPoint, Person, Post, Tag
from .scope import Action, scope_for

TIMESTAMPS = ("created_at", "updated_at")


class ScopedAdmin(ScopedChoicesMixin, admin.ModelAdmin):
    """``visible_to`` for the list; change and delete only inside the change scope; scoped choices."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = self.model._default_manager.visible_to(request.user, Action.VIEW)  # type: ignore[attr-defined]
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def _in_change_scope(self, request: HttpRequest, obj: Any) -> bool:
        if obj is None:
            return not scope_for(request.user, Action.CHANGE).nothing
        manager = self.model._default_manager
        return manager.visible_to(request.user, Action.CHANGE).filter(pk=obj.pk).exists()  # type: ignore[attr-defined]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._in_change_scope(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._in_change_scope(request, obj)


def _recount_after_deleting(
    people_ids: list[int] | None = None, post_ids: list[int] | None = None
) -> list[int]:
    """Booths whose counted volunteers the deletion changes (read before deleting)."""
    posts = Post.objects.filter(role__in=COUNTED_ROLES, booth__isnull=False)
    condition = Q(pk__in=[])
    if people_ids:
        condition |= Q(person_id__in=people_ids)
    if post_ids:
        condition |= Q(pk__in=post_ids)
    return list(posts.filter(condition).values_list("booth_id", flat=True).distinct())


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    """Labels hold no personal data: any staff member with the permission may manage them."""

    search_fields = ("name",)
    list_display = ("name",)


@admin.register(Person)
class PersonAdmin(ScopedAdmin):
    form = PersonAdminForm
    list_display = ("name", "shown_phone", "home_booth_code", "language", "source", "created_at")
    list_filter = ("language", "source", "gender")
    list_select_related = ("home_booth",)
    # The search itself is ``get_search_results`` (names in either script, booth code, phone tail);
    # the field is declared so the admin offers a search box and person autocomplete.
    search_fields = ("name",)
    search_help_text = _("Name in Hindi or English, booth code, or the last digits of a mobile number")
    # ``referred_by`` is an autocomplete, not a raw id: a raw-id widget names whatever id it is given.
    autocomplete_fields = ("home_booth", "tags", "referred_by")
    raw_id_fields = ("user",)
    readonly_fields = ("shown_phone", "name_key", "login", *TIMESTAMPS)
    show_full_result_count = False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        # Linking a login grants the person's scope to it: only a superuser may, never an editor who
        # could otherwise give themselves the scope of a higher post held by someone in their area.
        login = "user" if request.user.is_superuser else "login"
        return [
            "name",
            "name_key",
            "shown_phone",
            "birth_date",
            "age",
            "gender",
            "language",
            "home_booth",
            "tags",
            "referred_by",
            login,
            *TIMESTAMPS,
        ]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        form.user = request.user  # type: ignore[attr-defined]
        return form

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # registration needs consent: the form and the importer call person_register

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = selectors.search_condition(term, user=request.user) | Q(home_booth__code__iexact=term)
        return queryset.filter(condition), False

    def _phones_visible(self, request: HttpRequest, obj: Person) -> bool:
        cache: dict[int, bool] = request.__dict__.setdefault("_sampark_phones", {})
        if obj.pk not in cache:
            cache[obj.pk] = obj.pk in selectors.phones_visible(request.user, [obj.pk])
        return cache[obj.pk]

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        ids = [person.pk for person in changelist.result_list]
        visible = selectors.phones_visible(request.user, ids)
        request.__dict__["_sampark_phones"] = {pk: pk in visible for pk in ids}
        self._request = request
        return changelist

    @admin.display(description=_("mobile number"))
    def shown_phone(self, obj: Person) -> str:
        request = getattr(self, "_request", None)
        visible = request is not None and self._phones_visible(request, obj)
        return selectors.shown_phone(obj.phone, visible=visible)

    @admin.display(description=_("booth"), ordering="home_booth__code")
    def home_booth_code(self, obj: Person) -> str:
        return obj.home_booth.code if obj.home_booth else "–"

    @admin.display(description=_("login"))
    def login(self, obj: Person) -> str:
        return str(obj.user) if obj.user_id else "–"

    def change_view(self, request: HttpRequest, object_id: str, *args: Any, **kwargs: Any) -> Any:
        self._request = request
        return super().change_view(request, object_id, *args, **kwargs)

    def save_model(self, request: HttpRequest, obj: Person, form: Any, change: bool) -> None:
        services.person_update(person=obj, name=obj.name, home_booth=obj.home_booth, language=obj.language)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # Erasing a person erases their contact points and consent history with them; those admins
        # refuse deleting one on its own, which must not block erasing the whole person.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed -= {str(ContactPoint._meta.verbose_name), str(Consent._meta.verbose_name)}
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Person) -> None:
        self.delete_queryset(request, Person.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True))
            booths = _recount_after_deleting(people_ids=ids)
            Person.objects.filter(pk__in=ids).delete()
            services.recount_booths(booths)


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0
    can_delete = False
    fields = ("given_at", "source", "notice_version", "notice_language", "withdrawn_at", "withdrawn_via")
    readonly_fields = fields
    ordering = ("-given_at",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return Consent.objects.visible_to(request.user, Action.VIEW).order_by("-given_at", "-id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ContactPoint)
class ContactPointAdmin(ScopedAdmin):
    list_display = ("person", "channel", "shown_address", "consent_live", "created_at")
    list_filter = ("channel", "consent_live")
    list_select_related = ("person",)
    search_fields = ("person__name", "person__name_key", "=person__home_booth__code")
    search_help_text = _("Name in Hindi or English, or booth code")
    fields = ("person", "channel", "shown_address", "wa_user_id", "consent_live", *TIMESTAMPS)
    readonly_fields = fields
    inlines = (ConsentInline,)
    actions = ("withdraw_consent",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # addresses come with registration or a chat, and consent is recorded with them

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting would delete its consent history: withdraw instead

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        ids = [point.person_id for point in changelist.result_list]
        self._visible = selectors.phones_visible(request.user, ids)
        return changelist

    def change_view(self, request: HttpRequest, object_id: str, *args: Any, **kwargs: Any) -> Any:
        point = self.get_queryset(request).filter(pk=object_id).first() if object_id.isdigit() else None
        self._visible = selectors.phones_visible(request.user, [point.person_id]) if point else set()
        return super().change_view(request, object_id, *args, **kwargs)

    @admin.display(description=_("address"))
    def shown_address(self, obj: ContactPoint) -> str:
        return selectors.shown_address(obj, visible=obj.person_id in getattr(self, "_visible", set()))

    @admin.action(description=_("Withdraw consent"), permissions=["change"])
    def withdraw_consent(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        allowed = ContactPoint.objects.visible_to(request.user, Action.CHANGE)
        count = 0
        for point in allowed.filter(pk__in=queryset.values("pk"), consent_live=True):
            if services.consent_withdraw(contact_point=point, via=f"admin:user:{request.user.pk}"):
                count += 1
        self.message_user(
            request,
            ngettext(
                "Consent withdrawn on %(count)d contact point.",
                "Consent withdrawn on %(count)d contact points.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(Consent)
class ConsentAdmin(ScopedAdmin):
    """Consent history is never edited: view only (withdraw from a contact point)."""

    list_display = ("contact_point", "person_name", "given_at", "source", "notice_version", "withdrawn_at")
    list_filter = ("source", "contact_point__channel")
    list_select_related = ("contact_point__person",)
    search_fields = (
        "contact_point__person__name",
        "contact_point__person__name_key",
        "=contact_point__person__home_booth__code",
    )
    search_help_text = _("Name in Hindi or English, or booth code")
    show_full_result_count = False

    @admin.display(description=_("person"))
    def person_name(self, obj: Consent) -> str:
        return obj.contact_point.person.name

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Post)
class PostAdmin(ScopedAdmin):
    list_display = ("person", "role", "unit_name", "started_on", "ended_on")
    list_filter = ("role", "level")
    list_select_related = ("person", "state", "district", "ac", "block", "panchayat", "booth")
    search_fields = ("person__name", "person__name_key", "=booth__code")
    search_help_text = _("Name in Hindi or English, or booth code")
    autocomplete_fields = ("person", "referred_by")
    show_full_result_count = False

    @admin.display(description=_("unit"))
    def unit_name(self, obj: Post) -> str:
        return str(obj.unit)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = PostChangeForm if obj is not None else PostAddForm
        kwargs["fields"] = None
        form = super().get_form(request, obj, change, **kwargs)
        form.user = request.user  # type: ignore[attr-defined]
        return form

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is None:
            return ["person", "role", "unit", "started_on", "ended_on", "referred_by"]
        return ["person", "role", "unit_name", "started_on", "ended_on", "referred_by", *TIMESTAMPS]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return ["person", "role", "unit_name", "started_on", "referred_by", *TIMESTAMPS]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not scope_for(request.user, Action.CHANGE).nothing

    def save_model(self, request: HttpRequest, obj: Post, form: Any, change: bool) -> None:
        if change:
            if obj.ended_on is not None and "ended_on" in form.changed_data:
                ended = services.post_end(post=obj, ended_on=obj.ended_on)
                obj.pk = ended.pk
            return
        data = form.cleaned_data
        post = services.post_assign(
            person=data["person"],
            role=data["role"],
            unit=data["unit_object"],
            started_on=data.get("started_on"),
            ended_on=data.get("ended_on"),
            referred_by=data.get("referred_by"),
        )
        obj.pk = post.pk
        obj.__dict__.update(post.__dict__)

    def delete_model(self, request: HttpRequest, obj: Post) -> None:
        self.delete_queryset(request, Post.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True))
            booths = _recount_after_deleting(post_ids=ids)
            Post.objects.filter(pk__in=ids).delete()
            services.recount_booths(booths)
