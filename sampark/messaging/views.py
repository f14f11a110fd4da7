"""Broadcast pages (list, compose with a live count and preview, detail with live progress) and the phone
simulator of the local outbox.

Views parse the request and call :mod:`sampark.messaging.selectors` (every query scoped) or
:mod:`sampark.messaging.services` / :func:`sampark.messaging.inbound.receive` (every change). As on the
people pages, anything outside the reader's scope is a 404; something the reader may see but not do
(compose without a post that may broadcast, pause someone else's broadcast, type as a person one may not
change) is a 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sampark.core.numbers import group_indian
from sampark.core.text import clean
from sampark.people.models import Channel, Person, Role
from sampark.territory.views import HtmxHttpRequest, login_required_htmx
from sampark.transports.events import InboundEvent

from . import audiences, inbound, selectors, services
from .forms import AudienceForm, BroadcastForm, PreviewForm, SimulatedMessageForm
from .models import Broadcast, Delivery

# A service error names its field; the form shows it there (``text``: the Hindi text box).
_FORM_FIELD = {"text": "text_hi", "units": "units", "roles": "roles", "channels": "channels"}


@dataclass(frozen=True, slots=True)
class Crumb:
    label: str
    url: str = ""


def _is_partial(request: HtmxHttpRequest) -> bool:
    """An htmx request for a part of the page (not a history restore, which needs the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _list_crumb() -> Crumb:
    return Crumb(_("Broadcasts"), reverse("messaging:list"))


# --- broadcasts ---------------------------------------------------------------------------------------


@login_required
def broadcast_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.broadcasts_visible(request.user), selectors.PER_PAGE).get_page(
        request.GET.get("page")
    )
    broadcasts: list[Broadcast] = list(page.object_list)
    summaries = selectors.progress_by_broadcast(broadcasts)
    context = {
        "page": page,
        "rows": [{"broadcast": b, "progress": summaries[b.pk]} for b in broadcasts],
        "may_broadcast": selectors.may_broadcast(request.user),
        "breadcrumbs": [Crumb(_("Broadcasts"))],
    }
    return render(request, "messaging/broadcast_list.html", context)


def _require_broadcaster(request: HttpRequest) -> None:
    if not selectors.may_broadcast(request.user):
        raise PermissionDenied


@login_required
def broadcast_compose(request: HttpRequest) -> HttpResponse:
    _require_broadcaster(request)
    if request.method == "POST":
        form = BroadcastForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                broadcast = services.broadcast_create(
                    by=request.user,
                    message=form.message(),
                    units=data["unit_keys"],
                    channels=data["channels"],
                    roles=data["roles"],
                    tags=data["tag_names"],
                    one_channel=data["one_channel"],
                    scheduled_at=data["scheduled_at"],
                )
            except services.BroadcastError as exc:
                form.add_error(_FORM_FIELD.get(exc.field), exc.message)
            else:
                if broadcast.recipients == 0:
                    messages.warning(
                        request, _("Nobody in this audience has live consent on the chosen channels.")
                    )
                elif broadcast.status == Broadcast.Status.SCHEDULED:
                    messages.success(request, _("Broadcast scheduled."))
                else:
                    messages.success(request, _("Broadcast created: sending."))
                return redirect("messaging:detail", pk=broadcast.pk)
    else:
        form = BroadcastForm(user=request.user)
    context = {
        "form": form,
        "breadcrumbs": [_list_crumb(), Crumb(_("New broadcast"))],
    }
    return render(request, "messaging/broadcast_compose.html", context)


@login_required_htmx
@require_POST
def broadcast_count(request: HtmxHttpRequest) -> HttpResponse:
    """The live recipient count per chosen channel for the compose form's audience (a partial)."""
    _require_broadcaster(request)
    form = AudienceForm(request.POST, user=request.user)
    counts: dict[str, int] = {}
    error = ""
    if form.is_valid():
        try:
            counts = audiences.counts_by_channel(form.audience(), sender=request.user)
        except audiences.AudienceError as exc:
            error = exc.message
    chosen = set(form.cleaned_data.get("channels") or [])
    rows = [
        (channel, label, counts.get(channel, 0))
        for channel, label in selectors.channels_on()
        if channel in chosen
    ]
    context = {
        "form": form,
        "rows": [{"channel": channel, "label": label, "count": n} for channel, label, n in rows],
        "total": sum(n for _channel, _label, n in rows),
        "one_channel": bool(form.cleaned_data.get("one_channel")),
        "error": error,
    }
    return render(request, "messaging/_count.html", context)


@login_required_htmx
@require_POST
def broadcast_preview(request: HtmxHttpRequest) -> HttpResponse:
    """What each language group would read on each chosen channel (a partial)."""
    _require_broadcaster(request)
    form = PreviewForm(request.POST)
    message = form.message()
    context = {"previews": selectors.previews(message, form.channels()), "message": message}
    return render(request, "messaging/_preview.html", context)


def _broadcast_or_404(request: HttpRequest, pk: int) -> Broadcast:
    broadcast = selectors.broadcast_for(request.user, pk)
    if broadcast is None:
        raise Http404
    return broadcast


def _live_context(request: HttpRequest, broadcast: Broadcast) -> dict[str, Any]:
    progress = selectors.progress(broadcast)
    return {
        "broadcast": broadcast,
        "progress": progress,
        "failures": selectors.failure_reasons(broadcast),
        "status_labels": [label for _value, label in Delivery.Status.choices],
        "may_act": selectors.may_act(request.user, broadcast),
        # Refreshed every 2 s while rows are still on their way (an empty broadcast has nothing to show).
        "polling": broadcast.status == Broadcast.Status.SENDING and progress.handled < progress.total,
    }


@login_required_htmx
def broadcast_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    broadcast = _broadcast_or_404(request, pk)
    context = _live_context(request, broadcast)
    if _is_partial(request):
        response = render(request, "messaging/broadcast_detail.html#broadcast-live", context)
    else:
        audience = broadcast.audience
        roles = dict(Role.choices)
        channels = dict(Channel.choices)
        context.update(
            message=broadcast.message,
            units=selectors.audience_units(broadcast),
            roles=[roles.get(role, role) for role in audience.roles],
            channels=[channels.get(channel, channel) for channel in audience.channels],
            breadcrumbs=[_list_crumb(), Crumb(_("Broadcast #%(id)s") % {"id": broadcast.pk})],
        )
        response = render(request, "messaging/broadcast_detail.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _act(request: HttpRequest, pk: int, action: Callable[[Broadcast], str]) -> HttpResponse:
    """Run ``action`` (a service call returning the success message) on a broadcast the reader may act on."""
    broadcast = _broadcast_or_404(request, pk)
    if not selectors.may_act(request.user, broadcast):
        raise PermissionDenied
    try:
        messages.success(request, action(broadcast))
    except services.BroadcastError as exc:
        messages.error(request, exc.message)
    return redirect("messaging:detail", pk=broadcast.pk)


def _pause(broadcast: Broadcast) -> str:
    services.broadcast_pause(broadcast=broadcast)
    return _("Broadcast paused. Messages already handed over may still arrive.")


def _resume(broadcast: Broadcast) -> str:
    services.broadcast_resume(broadcast=broadcast)
    return _("Broadcast resumed.")


def _cancel(broadcast: Broadcast) -> str:
    cancelled = services.broadcast_cancel(broadcast=broadcast)
    return _("Broadcast cancelled: %(count)s messages will not be sent.") % {"count": group_indian(cancelled)}


@login_required
@require_POST
def broadcast_pause(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, _pause)


@login_required
@require_POST
def broadcast_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, _resume)


@login_required
@require_POST
def broadcast_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, _cancel)


# --- the phone simulator ------------------------------------------------------------------------------


@login_required_htmx
def simulator(request: HtmxHttpRequest) -> HttpResponse:
    query = clean(str(request.GET.get("q") or ""))[:100]
    context = {
        "query": query,
        "people": selectors.simulator_people(request.user, query),
        "breadcrumbs": [Crumb(_("Phone simulator"))],
    }
    if _is_partial(request):
        response = render(request, "messaging/simulator.html#simulator-people", context)
    else:
        response = render(request, "messaging/simulator.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _person_or_404(request: HttpRequest, person_id: int) -> Person:
    person = selectors.simulator_person(request.user, person_id)
    if person is None:
        raise Http404
    return person


def _phone_context(
    request: HttpRequest, person: Person, form: SimulatedMessageForm | None = None
) -> dict[str, Any]:
    points = selectors.simulator_points(request.user, person)
    may_send = selectors.may_simulate(request.user, person)
    if may_send and form is None:
        form = SimulatedMessageForm(points=points)
    return {
        "person": person,
        "points": points,
        "chat": selectors.chat(request.user, person),
        "may_send": may_send,
        "form": form if may_send else None,
        "can_simulate": any(choice.simulated for choice in points),
    }


@login_required_htmx
def simulator_person(request: HtmxHttpRequest, person_id: int) -> HttpResponse:
    person = _person_or_404(request, person_id)
    context = _phone_context(request, person)
    if _is_partial(request):
        response = render(request, "messaging/simulator_person.html#phone-chat", context)
    else:
        context["breadcrumbs"] = [
            Crumb(_("Phone simulator"), reverse("messaging:simulator")),
            Crumb(person.name),
        ]
        response = render(request, "messaging/simulator_person.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required_htmx
@require_POST
def simulator_send(request: HtmxHttpRequest, person_id: int) -> HttpResponse:
    """Receive a message as if the person had sent it on one of their outbox channels: it goes through
    the same inbound handling as a provider's webhook (STOP really unsubscribes them)."""
    person = _person_or_404(request, person_id)
    if not selectors.may_simulate(request.user, person):
        raise PermissionDenied
    points = selectors.simulator_points(request.user, person)
    form = SimulatedMessageForm(request.POST, points=points)
    if form.is_valid():
        point = form.points[form.cleaned_data["point"]]
        inbound.receive(
            InboundEvent(
                channel=point.channel,
                address=point.address,
                text=form.cleaned_data["text"],
                at=timezone.now(),
                provider_message_id=f"sim-{uuid.uuid4()}",
            )
        )
        if not _is_partial(request):
            return redirect("messaging:simulator-person", person_id=person.pk)
        form = SimulatedMessageForm(points=points)
    context = _phone_context(request, person, form)
    if _is_partial(request):
        return render(request, "messaging/simulator_person.html#phone", context)
    context["breadcrumbs"] = [Crumb(_("Phone simulator"), reverse("messaging:simulator")), Crumb(person.name)]
    return render(request, "messaging/simulator_person.html", context, status=400)
