"""Scoped choice lists for every admin form that offers people, contact points, consents or posts
(:class:`ScopedChoicesMixin`), used by the people admin and by every other app's admin of rows that
point at people."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from .scope import Action


def scoped_choices(model: type[Any], request: HttpRequest) -> QuerySet[Any] | None:
    """What ``request.user`` may see of ``model`` when it is scoped (people, contact points, consents,
    posts), else None (territory units, tags: public or not personal)."""
    manager = model._default_manager
    if not hasattr(manager, "visible_to"):
        return None
    return manager.visible_to(request.user, Action.VIEW)


class ScopedChoicesMixin:
    """Every ForeignKey and many-to-many choice list of the form offers only what the editor may see.

    Without it, a form re-rendered with a foreign id (a bad POST, or one crafted to probe) showed that
    person's name: the select's chosen option and the raw-id widget's label are looked up through the
    field's queryset, unscoped by default. Autocompletes ask the related model's admin, whose
    ``get_queryset`` is scoped (:class:`ScopedAdmin`); raw-id widgets are not used for scoped models
    (their label is read past any queryset)."""

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        scoped = scoped_choices(db_field.remote_field.model, request)
        if scoped is not None:
            kwargs["queryset"] = scoped
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        scoped = scoped_choices(db_field.remote_field.model, request)
        if scoped is not None:
            kwargs["queryset"] = scoped
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]
