"""Content library pages: the list (filters and live search), write and edit, an item with its actions
and history, and the slogans CSV import.

Views parse the request and call :mod:`sampark.content.selectors` or :mod:`sampark.content.services`;
a :class:`~sampark.content.services.ContentError` goes back to the field it names (or, for a state
change, to the page as an error message). Every page needs the right to write
(:func:`selectors.may_write`): without it, a 403.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from sampark.core.numbers import group_indian
from sampark.territory.importers.base import run_import
from sampark.territory.views import HtmxHttpRequest, login_required_htmx

from . import selectors, services
from .forms import ImportForm, ItemForm, SendBackForm
from .importers import SloganImport
from .models import Item


@dataclass(frozen=True, slots=True)
class Crumb:
    label: str
    url: str = ""


def _list_crumb() -> Crumb:
    return Crumb(_("Content"), reverse("content:list"))


def _require_writer(request: HttpRequest) -> None:
    if not selectors.may_write(request.user):
        raise PermissionDenied


def _is_partial(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def _item_or_404(pk: int) -> Item:
    item = selectors.item_for(pk)
    if item is None:
        raise Http404
    return item


def _put_error(form: Any, exc: services.ContentError) -> None:
    """The service's error on its field, or above the form when the form has no such field."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


# --- list ---------------------------------------------------------------------------------------------


@login_required_htmx
def item_list(request: HtmxHttpRequest) -> HttpResponse:
    _require_writer(request)
    flt = selectors.item_filter(request.GET)
    page = Paginator(selectors.items_list(flt), selectors.PER_PAGE).get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        "page": page,
        "items": list(page.object_list),
        "filter": flt,
        "filter_query": urlencode(flt.as_params()),
    }
    if _is_partial(request):
        response = render(request, "content/item_list.html#item-results", context)
    else:
        context.update(
            states=Item.State.choices,
            topics=selectors.topics(),
            breadcrumbs=[Crumb(_("Content"))],
        )
        response = render(request, "content/item_list.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- write and edit -----------------------------------------------------------------------------------


@login_required
def item_create(request: HttpRequest) -> HttpResponse:
    _require_writer(request)
    if request.method == "POST":
        form = ItemForm(request.POST)
        if form.is_valid():
            try:
                item = services.item_create(by=request.user, **form.cleaned_data)
            except services.ContentError as exc:
                _put_error(form, exc)
            else:
                messages.success(request, _("Draft saved. Submit it for review when it is ready."))
                return redirect("content:detail", pk=item.pk)
    else:
        form = ItemForm()
    context = {"form": form, "item": None, "breadcrumbs": [_list_crumb(), Crumb(_("New item"))]}
    return render(request, "content/item_form.html", context)


@login_required
def item_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_writer(request)
    item = _item_or_404(pk)
    if request.method == "POST":
        form = ItemForm(request.POST, instance=item)
        if form.is_valid():
            try:
                services.item_update(item=item, by=request.user, **form.cleaned_data)
            except services.ContentError as exc:
                _put_error(form, exc)
            else:
                messages.success(request, _("Changes saved: the item is a draft again."))
                return redirect("content:detail", pk=item.pk)
    else:
        form = ItemForm(instance=item)
    context = {
        "form": form,
        "item": item,
        "breadcrumbs": [
            _list_crumb(),
            Crumb(_("Item #%(id)s") % {"id": item.pk}, reverse("content:detail", args=[item.pk])),
            Crumb(_("Edit")),
        ],
    }
    return render(request, "content/item_form.html", context)


# --- an item and its actions --------------------------------------------------------------------------


@login_required
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require_writer(request)
    item = _item_or_404(pk)
    context = {
        "item": item,
        "history": selectors.history(item),
        "own_text": item.edited_by_id == request.user.pk,
        "send_back_form": SendBackForm(),
        "breadcrumbs": [_list_crumb(), Crumb(_("Item #%(id)s") % {"id": item.pk})],
    }
    return render(request, "content/item_detail.html", context)


def _act(request: HttpRequest, pk: int, action: Callable[[Item], str]) -> HttpResponse:
    _require_writer(request)
    item = _item_or_404(pk)
    try:
        messages.success(request, action(item))
    except services.ContentError as exc:
        messages.error(request, exc.message)
    return redirect("content:detail", pk=item.pk)


@login_required
@require_POST
def item_submit(request: HttpRequest, pk: int) -> HttpResponse:
    def submit(item: Item) -> str:
        services.item_submit(item=item, by=request.user)
        return _("Submitted for review: someone else approves it.")

    return _act(request, pk, submit)


@login_required
@require_POST
def item_approve(request: HttpRequest, pk: int) -> HttpResponse:
    def approve(item: Item) -> str:
        services.item_approve(item=item, by=request.user)
        return _("Approved: streams may carry it now.")

    return _act(request, pk, approve)


@login_required
@require_POST
def item_send_back(request: HttpRequest, pk: int) -> HttpResponse:
    form = SendBackForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""

    def send_back(item: Item) -> str:
        services.item_send_back(item=item, by=request.user, note=note)
        return _("Sent back to its writer with your note.")

    return _act(request, pk, send_back)


@login_required
@require_POST
def item_retire(request: HttpRequest, pk: int) -> HttpResponse:
    def retire(item: Item) -> str:
        services.item_retire(item=item, by=request.user)
        return _("Retired: streams stop carrying it at their next tick.")

    return _act(request, pk, retire)


# --- import -------------------------------------------------------------------------------------------


@login_required
def item_import(request: HttpRequest) -> HttpResponse:
    """Upload a slogans CSV: every row checked, line-numbered issues shown, nothing written on an error."""
    _require_writer(request)
    report = None
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            # Saved under its own name, so the issues read "slogans.csv:7", as the CLI's do.
            folder = Path(tempfile.mkdtemp(prefix="sampark-slogans-"))
            try:
                path = folder / (get_valid_filename(Path(upload.name).name) or "slogans.csv")
                with path.open("wb") as fh:
                    for chunk in upload.chunks():
                        fh.write(chunk)
                report = run_import(SloganImport, [path], by=request.user.get_username())
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            if report.committed:
                created = report.count("slogans").created
                messages.success(
                    request,
                    ngettext(
                        "%(count)s draft added for review.", "%(count)s drafts added for review.", created
                    )
                    % {"count": group_indian(created)},
                )
            form = ImportForm()
    else:
        form = ImportForm()
    context = {
        "form": form,
        "report": report,
        "counts": report.count("slogans") if report is not None else None,
        "breadcrumbs": [_list_crumb(), Crumb(_("Import slogans"))],
    }
    return render(request, "content/item_import.html", context)
