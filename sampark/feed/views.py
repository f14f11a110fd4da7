"""The volunteer feed (no login: the personal token in the URL) and the coordinator pages behind it.

Feed pages answer a token that is malformed, unknown, revoked or expired with the same small 404 page,
so a URL tells nobody anything. Every feed response is ``Cache-Control: private, no-store`` (no proxy or
shared phone keeps a copy) and ``Referrer-Policy: no-referrer`` (the token is in the URL: no image host
or share target may learn it, and not even our own proxy's access log, which records the ``Referer`` of
every static file and poll). The feed's own POSTs (``I posted it``, marking a contact, the Copy beacon)
are exempt from CSRF checks: the unguessable token in their path is the secret a CSRF token would be,
and the feed sets no cookie at all — so the ``Origin: null`` that ``no-referrer`` makes a browser send
with them does no harm here. Everywhere else the site's ``same-origin`` policy applies (the CSRF check
refuses ``Origin: null``).

The page is relative-linked (``share/<tick>/<target>/``, ``poll/`` …) under ``/f/<token>/``, so the token
appears once in the HTML rather than on every button: a first load of 12 cards and 25 contacts stays
well under 60 KB (``tests/test_feed_page.py`` measures it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sampark.people.models import Person
from sampark.streams.models import Tick

from . import selectors, services
from .forms import AssignmentForm, LinkForm
from .models import AssignmentContact, Share
from .services import AI_LABEL

POLL_SECONDS = 10  # how often an open feed asks for new ticks (a module constant: tests shorten it)
FEED_HEADERS = {
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


@dataclass(frozen=True, slots=True)
class Crumb:
    label: str
    url: str = ""


class FeedRequest(HttpRequest):
    access: services.FeedAccess  # the link, a lean person (ids, language) and their booth's ids


def _with_feed_headers(response: HttpResponse, language: str) -> HttpResponse:
    for name, value in FEED_HEADERS.items():
        response[name] = value
    response["Content-Language"] = language
    return response


def _gone(request: HttpRequest) -> HttpResponse:
    """The one answer to every token that does not open a feed."""
    response = render(request, "feed/gone.html", status=404)
    return _with_feed_headers(response, translation.get_language() or "hi")


def feed_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Resolve ``token`` to a live link (or answer 404), speak the volunteer's language, and set the
    feed's headers on whatever the view returns."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, token: str, *args: Any, **kwargs: Any) -> HttpResponse:
        access = services.link_for_token(token, timezone.now())
        if access is None:
            return _gone(request)
        feed_request: FeedRequest = request  # type: ignore[assignment]
        feed_request.access = access
        language = access.person.language or "hi"
        with translation.override(language):
            request.LANGUAGE_CODE = language
            try:
                response = view(feed_request, *args, **kwargs)
            except Http404:
                response = _gone(request)
        return _with_feed_headers(response, language)

    return wrapper


# --- cards ------------------------------------------------------------------------------------------------

# Rendered cards, per worker process: every open feed of a booth gets the same new tick within seconds,
# so a card is rendered once per language instead of once per volunteer. The key holds everything the
# HTML depends on (the item's last change included), so an entry is never stale, only unused.
_CARD_CACHE: OrderedDict[tuple[Any, ...], str] = OrderedDict()
_CARD_LOCK = threading.Lock()  # granian serves each worker's requests from several threads
CARD_CACHE_SIZE = 2048


def _card_key(tick: Tick | selectors.TickRow, version: Any, language: str, acked: bool) -> tuple[Any, ...]:
    return (tick.pk, tick.item_id, version, language, acked)


def cards_html(
    ticks: Sequence[Tick | selectors.TickRow], language: str, acked: set[int] | frozenset[int] = frozenset()
) -> str:
    """The cards of ``ticks`` in order, from the cache or rendered (ticks not loaded are loaded once)."""
    keys = []
    for tick in ticks:
        version = tick.version if isinstance(tick, selectors.TickRow) else tick.item.updated_at
        keys.append(_card_key(tick, version, language, tick.pk in acked))
    with _CARD_LOCK:
        cards = [_CARD_CACHE.get(key) for key in keys]
        for key, card in zip(keys, cards, strict=True):
            if card is not None:
                _CARD_CACHE.move_to_end(key)
    missing = [tick for tick, card in zip(ticks, cards, strict=True) if card is None]
    if missing:
        loaded = {tick.pk: tick for tick in missing if isinstance(tick, Tick)}
        unloaded = [tick.pk for tick in missing if tick.pk not in loaded]
        if unloaded:
            loaded |= Tick.objects.select_related("item").in_bulk(unloaded)
        for i, (tick, key) in enumerate(zip(ticks, keys, strict=True)):
            if cards[i] is None and tick.pk not in loaded:
                cards[i] = ""  # deleted in the meantime (its stream was deleted): nothing to show
            elif cards[i] is None:
                item = loaded[tick.pk].item
                context = {
                    "tick": loaded[tick.pk],
                    "language": language,
                    "acked": key[-1],
                    "ai_label": AI_LABEL,
                    "link": services.web_url(item.link),
                    "image": services.web_url(item.image_url),
                }
                cards[i] = render_to_string("feed/_card.html", context)
        with _CARD_LOCK:
            for key, card in zip(keys, cards, strict=True):
                if card:
                    _CARD_CACHE[key] = card
            while len(_CARD_CACHE) > CARD_CACHE_SIZE:
                _CARD_CACHE.popitem(last=False)
    return "".join(cards)  # type: ignore[arg-type]


def _int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if number >= 0 else None


def _wants_fragment(request: HttpRequest) -> bool:
    """The page's script submits forms itself and swaps in the fragment it gets back."""
    return request.headers.get("X-Feed") == "1"


def _back(anchor: str) -> HttpResponse:
    """After a form posted without the script: the feed again, at the card or contact acted on (303)."""
    response = HttpResponseRedirect(f"../../#{anchor}")
    response.status_code = 303
    return response


# --- the volunteer feed ---------------------------------------------------------------------------------


@require_GET
@feed_view
def feed_page(request: FeedRequest) -> HttpResponse:
    access = request.access
    person = selectors.volunteer(access.person.pk)
    before = _int(request.GET.get("before"))
    ticks = selectors.feed_ticks(access.booth, before=before)
    services.count_views(person=access.person, ticks=ticks, link=access.link)
    language = translation.get_language() or "hi"
    acked = selectors.acknowledged(person, [tick.pk for tick in ticks])
    context = {
        "person": person,
        "ticks": ticks,
        "cards": mark_safe(cards_html(ticks, language, acked)),  # noqa: S308 - rendered by our templates
        "language": language,
        "batches": selectors.batches_for(person) if before is None else [],
        "older": ticks[-1].pk if len(ticks) == selectors.FEED_SIZE else None,
        # An older page is a page of history: it does not poll.
        "live": before is None,
        "poll_seconds": POLL_SECONDS,
    }
    return render(request, "feed/page.html", context)


@require_GET
@feed_view
def feed_poll(request: FeedRequest) -> HttpResponse:
    """Ticks newer than ``after`` as cards to put on top (200), or 204 when there is none. The hot path
    of the feed — every open feed asks every few seconds — so it builds no ORM query: two statements
    when nothing is new (the token lookup and the new ticks), two more to count a new tick's view, and
    cards come from the card cache (rendered once per worker and language)."""
    after = _int(request.GET.get("after"))
    if after is None:
        return HttpResponseBadRequest()
    access = request.access
    ticks = selectors.new_ticks(access.booth, after)
    if not ticks:
        return HttpResponse(status=204)
    services.count_views(person=access.person, ticks=ticks, link=access.link)
    return HttpResponse(cards_html(ticks, translation.get_language() or "hi"))


@require_http_methods(["GET", "POST"])
@feed_view
def feed_share(request: FeedRequest, tick_id: int, target: str) -> HttpResponse:
    """A share button: record who shared which tick where, then hand over to the share intent (302).
    Copy happens in the page; its beacon POSTs here and gets 204."""
    access = request.access
    tick = selectors.tick_for(access.booth, tick_id)
    if tick is None or target not in Share.Target.values:
        raise Http404
    if target == Share.Target.COPY:
        if request.method != "POST":
            raise Http404
        services.share_record(person=access.person, tick=tick, target=target)
        return HttpResponse(status=204)
    if request.method != "GET":
        raise Http404
    text = services.share_text(tick.item, translation.get_language() or "hi")
    url = services.share_url(target, text, services.web_url(tick.item.link))
    if not url:
        raise Http404
    services.share_record(person=access.person, tick=tick, target=target)
    return HttpResponseRedirect(url)


@require_POST
@feed_view
def feed_ack(request: FeedRequest, tick_id: int) -> HttpResponse:
    """ "I posted it" (idempotent)."""
    access = request.access
    tick = selectors.tick_for(access.booth, tick_id)
    if tick is None:
        raise Http404
    services.acknowledge(person=access.person, tick=tick)
    if _wants_fragment(request):
        return render(request, "feed/_acked.html")
    return _back(f"t{tick.pk}")


@require_GET
@feed_view
def feed_chat(request: FeedRequest, contact_id: int) -> HttpResponse:
    """Open WhatsApp on a chat with one assigned contact, the personalised message typed in (302). The
    volunteer presses send; nothing here sends anything."""
    row = selectors.contact_for(request.access.person, contact_id)
    if row is None:
        raise Http404
    point = row.contact_point
    if not point.consent_live or row.status == AssignmentContact.Status.STOPPED:
        return _back(f"a{row.assignment_id}")  # consent withdrawn meanwhile: never open that chat
    text = services.personalise(row.assignment.template, point.person.name)
    return HttpResponseRedirect(services.wa_me_link(point.address, text))


@require_POST
@feed_view
def feed_mark(request: FeedRequest, contact_id: int) -> HttpResponse:
    """Sent / not on WhatsApp / replied / asked to stop, for one of the volunteer's own contacts."""
    volunteer = request.access.person
    row = selectors.contact_for(volunteer, contact_id)
    if row is None:
        raise Http404
    try:
        services.assignment_mark(volunteer=volunteer, contact=row, status=request.POST.get("s", ""))
    except services.FeedError as exc:
        if _wants_fragment(request):
            return HttpResponse(exc.message, status=409, content_type="text/plain; charset=utf-8")
        return _back(f"a{row.assignment_id}")
    if _wants_fragment(request):
        return render(request, "feed/_contact.html", {"row": row})
    return _back(f"a{row.assignment_id}")


# --- coordinators: links ----------------------------------------------------------------------------


def _person_or_404(request: HttpRequest, person_id: int) -> Person:
    person = selectors.person_for(request.user, person_id)
    if person is None:
        raise Http404
    return person


@login_required
@require_http_methods(["GET", "POST"])
def link_manage(request: HttpRequest, person_id: int) -> HttpResponse:
    """Issue (or rotate) and revoke a person's feed link. A new link is shown on this response only:
    its token is stored nowhere, not even in the session."""
    person = _person_or_404(request, person_id)
    may_change = selectors.may_change(request.user, person)
    form = LinkForm()
    token_url = ""
    if request.method == "POST":
        if not may_change:
            raise PermissionDenied
        if request.POST.get("action") == "revoke":
            if services.link_revoke(person=person):
                messages.success(request, _("Feed link revoked: the old address no longer opens anything."))
            return redirect("feed:link", person_id=person.pk)
        form = LinkForm(request.POST)
        if form.is_valid():
            try:
                _link, token = services.link_issue(
                    person=person, by=request.user, days=form.cleaned_data["days"]
                )
            except services.FeedError as exc:
                form.add_error("days" if exc.field == "days" else None, exc.message)
            else:
                token_url = request.build_absolute_uri(reverse("feed:page", args=[token]))
    link = selectors.live_link(person)
    context = {
        "person": person,
        "link": link,
        "form": form,
        "may_change": may_change,
        "token_url": token_url,
        "send_url": services.wa_me_link(str(person.phone), token_url) if token_url else "",
        "breadcrumbs": [
            Crumb(_("People"), reverse("people:list")),
            Crumb(person.name, reverse("people:detail", args=[person.pk])),
            Crumb(_("Feed link")),
        ],
    }
    response = render(request, "feed/link_manage.html", context)
    # The site's ``same-origin`` referrer policy applies: ``no-referrer`` here made Chromium send
    # ``Origin: null`` with the issue form, which the CSRF check refuses. The page's own address holds no
    # token, and ``same-origin`` tells WhatsApp (the send button) nothing either.
    response["Cache-Control"] = "private, no-store"
    return response


# --- coordinators: assignments ------------------------------------------------------------------------


def _assignments_crumb() -> Crumb:
    return Crumb(_("Click-to-chat assignments"), reverse("feed:assignments"))


@login_required
def assignment_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.assignments_visible(request.user).select_related("created_by"), 50).get_page(
        request.GET.get("page")
    )
    assignments = list(page.object_list)
    done = selectors.progress_by_assignment([a.pk for a in assignments])
    context = {
        "page": page,
        "rows": [{"assignment": a, "done": done[a.pk][0], "total": done[a.pk][1]} for a in assignments],
        "may_assign": selectors.may_assign(request.user),
        "breadcrumbs": [Crumb(_("Click-to-chat assignments"))],
    }
    return render(request, "feed/assignment_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def assignment_create(request: HttpRequest) -> HttpResponse:
    if not selectors.may_assign(request.user):
        raise PermissionDenied
    form = AssignmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            assignment = services.assignment_create(
                by=request.user,
                title=data["title"],
                template=data["template"],
                unit_key=data["unit_key"],
                batch_size=data["batch_size"],
            )
        except services.FeedError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Assignment created: each volunteer sees their batch in their feed."))
            return redirect("feed:assignment", pk=assignment.pk)
    context = {"form": form, "breadcrumbs": [_assignments_crumb(), Crumb(_("New assignment"))]}
    return render(request, "feed/assignment_form.html", context)


@login_required
def assignment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    assignment = selectors.assignment_for(request.user, pk)
    if assignment is None:
        raise Http404
    progress = selectors.progress(assignment)
    context = {
        "assignment": assignment,
        "progress": progress,
        "statuses": AssignmentContact.Status.choices,
        "breadcrumbs": [_assignments_crumb(), Crumb(assignment.title)],
    }
    return render(request, "feed/assignment_detail.html", context)
