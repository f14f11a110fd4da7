"""Stream pages (list, new, a stream's ticks with pause and resume) and the war room.

Views parse the request and call :mod:`sampark.streams.selectors` (every query scoped: see its
docstring for who sees and does what) or :mod:`sampark.streams.services`. A stream outside the reader's
area is a 404; one they may see but not manage (pause, resume) a 403; creating a stream without a post
that may broadcast, a 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sampark.content import selectors as content_selectors
from sampark.content.models import Item
from sampark.core.text import clean
from sampark.people import coverage
from sampark.territory.views import HtmxHttpRequest, login_required_htmx

from . import selectors, services
from .forms import StreamForm
from .models import Stream

# A service error names its field; the form shows it there.
_FORM_FIELD = {"min_seconds": "min_seconds", "to_feed": "to_feed", "items": "items"}


@dataclass(frozen=True, slots=True)
class Crumb:
    label: str
    url: str = ""


def _is_partial(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def _list_crumb() -> Crumb:
    return Crumb(_("Streams"), reverse("streams:list"))


def _stream_or_404(request: HttpRequest, pk: int) -> Stream:
    stream = selectors.stream_for(request.user, pk)
    if stream is None:
        raise Http404
    return stream


# --- list and new -------------------------------------------------------------------------------------


@login_required
def stream_list(request: HttpRequest) -> HttpResponse:
    streams = selectors.with_last_lateness(selectors.streams_visible(request.user))
    page = Paginator(streams, selectors.PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": selectors.stream_rows(page.object_list),
        "may_create": selectors.may_create(request.user),
        "on_time_ms": selectors.ON_TIME_MS,
        "breadcrumbs": [Crumb(_("Streams"))],
    }
    return render(request, "streams/stream_list.html", context)


def _picker_items(request: HttpRequest, chosen: list[int]) -> list[Item]:
    query = clean(str(request.GET.get("item_q") or ""))[:100]
    return content_selectors.approved_items(query, include=chosen)


def _chosen(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit()]


@login_required
def stream_create(request: HttpRequest) -> HttpResponse:
    if not selectors.may_create(request.user):
        raise PermissionDenied
    if request.method == "POST":
        form = StreamForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                stream = services.stream_create(
                    by=request.user,
                    name=data["name"],
                    unit=data["unit_obj"],
                    items=data["items"],
                    order=data["order"],
                    min_seconds=data["min_seconds"],
                    max_seconds=data["max_seconds"],
                    active_from=data["active_from"],
                    active_until=data["active_until"],
                    to_feed=data["to_feed"],
                    telegram_chats=data["telegram_chats"],
                    no_repeat_within=data["no_repeat_within"],
                )
            except services.StreamError as exc:
                field = data["unit_field"] if exc.field == "unit" else _FORM_FIELD.get(exc.field)
                form.add_error(field, exc.message)
            else:
                messages.success(request, _("Stream created: its first tick is due now."))
                return redirect("streams:detail", pk=stream.pk)
        chosen = _chosen(request.POST.getlist("items"))
    else:
        form = StreamForm(user=request.user)
        chosen = []
    context = {
        "form": form,
        "picker_items": _picker_items(request, chosen),
        "chosen": chosen,
        "breadcrumbs": [_list_crumb(), Crumb(_("New stream"))],
    }
    return render(request, "streams/stream_form.html", context)


@login_required_htmx
def stream_items(request: HtmxHttpRequest) -> HttpResponse:
    """The item picker of the new-stream form, searched (a partial); checked items stay listed."""
    if not selectors.may_create(request.user):
        raise PermissionDenied
    chosen = _chosen(request.GET.getlist("items"))
    context = {"picker_items": _picker_items(request, chosen), "chosen": chosen}
    return render(request, "streams/stream_form.html#item-picker", context)


# --- a stream -----------------------------------------------------------------------------------------


@login_required_htmx
def stream_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    stream = _stream_or_404(request, pk)
    context: dict[str, Any] = {
        "stream": stream,
        "ticks": selectors.recent_ticks(stream),
        "on_time_ms": selectors.ON_TIME_MS,
        "may_manage": selectors.may_manage(request.user, stream),
    }
    if _is_partial(request):
        response = render(request, "streams/stream_detail.html#stream-ticks", context)
    else:
        context.update(
            unit_label=selectors.stream_rows([stream])[0].unit_label,
            entries=selectors.queue(stream),
            breadcrumbs=[_list_crumb(), Crumb(stream.name)],
        )
        response = render(request, "streams/stream_detail.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _manage(request: HttpRequest, pk: int) -> Stream:
    stream = _stream_or_404(request, pk)
    if not selectors.may_manage(request.user, stream):
        raise PermissionDenied
    return stream


@login_required
@require_POST
def stream_pause(request: HttpRequest, pk: int) -> HttpResponse:
    stream = _manage(request, pk)
    services.stream_pause(stream=stream, by=request.user)
    messages.success(request, _("Stream paused: no more ticks until you resume it."))
    return redirect("streams:detail", pk=stream.pk)


@login_required
@require_POST
def stream_resume(request: HttpRequest, pk: int) -> HttpResponse:
    stream = _manage(request, pk)
    services.stream_resume(stream=stream, by=request.user)
    messages.success(request, _("Stream resumed: its next tick is due now (or when its active hours begin)."))
    return redirect("streams:detail", pk=stream.pk)


# --- the war room -------------------------------------------------------------------------------------


@login_required_htmx
def war_room(request: HtmxHttpRequest) -> HttpResponse:
    """Streams today, reach of recent items by area, top sharers. ``?unit=<key>`` drills into an area
    (one where the reader sees at least one booth), ``?item=<id>`` narrows areas and sharers to an item."""
    area = None
    key = clean(str(request.GET.get("unit") or ""))
    if key:
        try:
            area = coverage.parse_unit(key)
        except coverage.UnknownUnit as exc:
            raise Http404 from exc
        if not selectors.area_allowed(request.user, area):
            raise Http404
    item = None
    item_id = str(request.GET.get("item") or "")
    if item_id:
        item = selectors.published_item(int(item_id)) if item_id.isdigit() else None
        if item is None:
            raise Http404
    room = selectors.war_room(request.user, area=area, item=item)
    context: dict[str, Any] = {
        "room": room,
        "unit_key": coverage.unit_key(area) if area is not None else "",
        "on_time_ms": selectors.ON_TIME_MS,
    }
    if _is_partial(request):
        response = render(request, "streams/war_room.html#war-room-live", context)
    else:
        crumbs = [Crumb(_("War room"), reverse("streams:war-room"))]
        if area is not None:
            crumbs.append(Crumb(room.area_label))
        context["breadcrumbs"] = crumbs
        response = render(request, "streams/war_room.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response
