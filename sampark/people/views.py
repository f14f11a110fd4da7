"""People and coverage pages: the list (live search), a person's page, the scoped export, coverage drill-down.

Views parse the request and call :mod:`sampark.people.selectors` (every query scoped with ``visible_to``)
or :mod:`sampark.people.services` (every change). Anything outside the reader's scope is a 404, never a
403, so a page never confirms that a person or a unit exists elsewhere; an action the reader may see but
not take (withdrawing someone else's consent without the right to change them, exporting below a
district coordinator) is a 403.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat, State
from sampark.territory.views import HtmxHttpRequest, login_required_htmx

from . import coverage, export, selectors, services
from .models import Person, Role
from .scope import Action, scope_for

logger = logging.getLogger(__name__)


def _is_partial(request: HtmxHttpRequest) -> bool:
    """An htmx request for the results only (not a history restore, which needs the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


@dataclass(frozen=True, slots=True)
class Crumb:
    label: str
    url: str = ""


@dataclass(frozen=True, slots=True)
class PersonRow:
    """One person as a list row: the number is already masked unless the reader may see it."""

    person: Person
    phone: str
    live_channels: list[str]
    other_channels: list[str]


def _rows(user: Any, people: list[Person]) -> list[PersonRow]:
    visible = selectors.phones_visible(user, [p.pk for p in people])
    rows = []
    for person in people:
        points = getattr(person, "points", [])
        rows.append(
            PersonRow(
                person=person,
                phone=selectors.shown_phone(person.phone, visible=person.pk in visible),
                live_channels=[p.get_channel_display() for p in points if p.consent_live],
                other_channels=[p.get_channel_display() for p in points if not p.consent_live],
            )
        )
    return rows


# --- people -------------------------------------------------------------------------------------------


@login_required_htmx
def people_list(request: HtmxHttpRequest) -> HttpResponse:
    error = None
    try:
        flt = selectors.people_filter(request.GET, user=request.user)
        people = selectors.people_list(request.user, flt)
    except selectors.FilterError as exc:
        error = exc
        flt = selectors.PeopleFilter(query=str(request.GET.get("q", ""))[:100])
        people = Person.objects.none()
    page = Paginator(people, selectors.PER_PAGE).get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        "page": page,
        "rows": _rows(request.user, list(page.object_list)),
        "filter": flt,
        "filter_query": urlencode(flt.as_params()),
        "error": error,
    }
    if _is_partial(request):
        response = render(request, "people/people_list.html#people-results", context)
    else:
        context.update(
            unit_choices=selectors.unit_choices(request.user),
            unit_value=request.GET.get("unit", ""),
            roles=Role.choices,
            may_export=selectors.may_export(request.user),
        )
        response = render(request, "people/people_list.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _person_or_404(request: HttpRequest, pk: int) -> Person:
    person = selectors.person_detail(request.user, pk)
    if person is None:
        raise Http404
    return person


@login_required
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person_or_404(request, pk)
    phones = pk in selectors.phones_visible(request.user, [pk])
    points = [
        {"point": point, "address": selectors.shown_address(point, visible=phones), "history": point.history}
        for point in person.points  # type: ignore[attr-defined]
    ]
    context = {
        "person": person,
        "phone": selectors.shown_phone(person.phone, visible=phones),
        "points": points,
        "posts": person.all_posts,  # type: ignore[attr-defined]
        "today": timezone.localdate(),
        "may_withdraw": selectors.may_withdraw(request.user, person),
        "may_change": selectors.can_change(request.user, person),
        "breadcrumbs": [Crumb(_("People"), reverse("people:list")), Crumb(person.name)],
    }
    return render(request, "people/person_detail.html", context)


def _via(request: HttpRequest, person: Person) -> str:
    """How a withdrawal came: by the person themself on the web, or by a coordinator (their login id)."""
    if person.user_id == request.user.pk:
        return "web"
    return f"web:user:{request.user.pk}"


@login_required
@require_POST
def consent_withdraw(request: HttpRequest, pk: int, point_id: int) -> HttpResponse:
    person = _person_or_404(request, pk)
    point = selectors.withdrawable_point(request.user, person, point_id)
    if point is None:
        if not any(p.pk == point_id for p in person.points):  # type: ignore[attr-defined]
            raise Http404
        raise PermissionDenied
    if services.consent_withdraw(contact_point=point, via=_via(request, person)) is None:
        messages.info(request, _("Consent on this channel was already withdrawn."))
    else:
        messages.success(
            request,
            _("Consent withdrawn: %(channel)s. No more messages on it.")
            % {"channel": point.get_channel_display()},
        )
    return redirect("people:detail", pk=person.pk)


@login_required
@require_POST
def consent_withdraw_all(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person_or_404(request, pk)
    if not selectors.may_withdraw(request.user, person):
        raise PermissionDenied
    count = services.consent_withdraw_all(person=person, via=_via(request, person))
    messages.success(request, _("Consent withdrawn on every channel (%(count)s).") % {"count": count})
    return redirect("people:detail", pk=person.pk)


@login_required
@require_POST
def post_end(request: HttpRequest, pk: int, post_id: int) -> HttpResponse:
    person = _person_or_404(request, pk)
    post = selectors.changeable_post(request.user, post_id, person)
    if post is None:
        if not any(p.pk == post_id for p in person.all_posts):  # type: ignore[attr-defined]
            raise Http404
        raise PermissionDenied
    if post.ended_on is not None and post.ended_on <= timezone.localdate():
        messages.info(request, _("This post has already ended."))
    else:
        try:
            services.post_end(post=post)
        except services.PeopleError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Post ended: %(post)s") % {"post": post.get_role_display()})
    return redirect("people:detail", pk=person.pk)


@login_required
def people_export(request: HttpRequest) -> HttpResponseBase:
    """The people in the reader's export scope (district coordinators and above) as CSV, with the list's
    filters; streamed in chunks so lakhs of rows never sit in memory."""
    if not selectors.may_export(request.user):
        raise PermissionDenied
    try:
        flt = selectors.people_filter(request.GET, user=request.user, action=Action.EXPORT)
    except selectors.FilterError as exc:
        raise Http404 from exc
    day = timezone.localdate()
    people = selectors.people_to_export(request.user, flt, day=day)
    # Counts and filters only: never a name or a number in the log.
    logger.info("people export by user %s (unit %s)", request.user.pk, flt.unit_key or "-")
    lines = export.csv_lines(people, user=request.user, action=Action.EXPORT, day=day)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="people.csv"'
    response["Cache-Control"] = "no-store"
    return response


# --- coverage -----------------------------------------------------------------------------------------


def coverage_url(unit: Any, **params: str) -> str:
    kind, ident = coverage.unit_key(unit).split(":", 1)
    url = reverse("people:coverage-unit", args=[kind, ident])
    return f"{url}?{urlencode(params)}" if params else url


def _ancestors(unit: Any) -> list[Any]:
    """The units above ``unit`` on the way down from its state (block path where there is one)."""
    if isinstance(unit, State):
        return []
    if isinstance(unit, District):
        return [unit.state]
    if isinstance(unit, AssemblyConstituency):
        return [unit.state, unit.district] if unit.district else [unit.state]
    if isinstance(unit, Block):
        return [unit.district.state, unit.district]
    if isinstance(unit, Panchayat):
        above = [unit.district.state, unit.district]
        return [*above, unit.block] if unit.block else above
    if isinstance(unit, Booth):
        if unit.panchayat_id:
            return [*_ancestors(unit.panchayat), unit.panchayat]
        return [*_ancestors(unit.ac), unit.ac]
    raise TypeError(unit)


def _coverage_crumbs(request: HttpRequest, unit: Any) -> list[Crumb]:
    scope = scope_for(request.user, Action.VIEW)
    crumbs = [Crumb(_("Coverage"), reverse("people:coverage"))]
    for above in _ancestors(unit):
        crumbs.append(
            Crumb(selectors.unit_label(above), coverage_url(above) if scope.contains(above) else "")
        )
    crumbs.append(Crumb(selectors.unit_label(unit)))
    return crumbs


@login_required
def coverage_home(request: HttpRequest) -> HttpResponse:
    units = selectors.coverage_home(request.user)
    if len(units) == 1:
        return redirect(coverage_url(units[0]))
    reports = [selectors.coverage_report(request.user, unit) for unit in units]
    rows = [
        {"coverage": report, "name": _name(report), "url": coverage_url(report.unit)} for report in reports
    ]
    for report in reports:
        report.children = []  # the home page shows each unit's own row only
    return render(request, "people/coverage_home.html", {"rows": rows, "targets": _targets()})


def _name(report: coverage.Coverage) -> str:
    return str(report.as_dict(with_children=False)["name"])


def _targets() -> dict[str, int]:
    return {
        "volunteers": settings.SAMPARK_TARGET_VOLUNTEERS_PER_BOOTH,
        "panchayats": settings.SAMPARK_TARGET_PANCHAYATS_PER_BLOCK,
    }


def _unit_or_404(request: HttpRequest, kind: str, ident: str) -> Any:
    unit = selectors.coverage_unit(request.user, kind, ident)
    if unit is None:
        raise Http404
    return unit


@login_required
def coverage_detail(request: HttpRequest, kind: str, ident: str) -> HttpResponse:
    unit = _unit_or_404(request, kind, ident)
    by = "ac" if request.GET.get("by") == "ac" and isinstance(unit, District) else ""
    try:
        report = selectors.coverage_report(request.user, unit, by=by)
    except PermissionError as exc:
        raise Http404 from exc
    children = [
        {
            "coverage": child,
            "name": _name(child),
            "url": coverage_url(child.unit) if child.unit is not None else "",
        }
        for child in report.children
    ]
    context = {
        "report": report,
        "unit": unit,
        "unit_label": selectors.unit_label(unit),
        "children": children,
        "by": by,
        "is_district": isinstance(unit, District),
        "show_blocks": report.blocks is not None,
        "people_url": f"{reverse('people:list')}?{urlencode({'unit': coverage.unit_key(unit)})}",
        "gaps_url": reverse("people:coverage-gaps", args=coverage.unit_key(unit).split(":", 1)),
        "targets": _targets(),
        "breadcrumbs": _coverage_crumbs(request, unit),
    }
    return render(request, "people/coverage_detail.html", context)


@login_required
def coverage_gaps(request: HttpRequest, kind: str, ident: str) -> HttpResponse:
    unit = _unit_or_404(request, kind, ident)
    try:
        booths = selectors.coverage_gaps(request.user, unit)
    except PermissionError as exc:
        raise Http404 from exc
    page = Paginator(booths, selectors.PER_PAGE).get_page(request.GET.get("page"))
    target = settings.SAMPARK_TARGET_VOLUNTEERS_PER_BOOTH
    rows = [
        {"booth": booth, "missing": target - booth.volunteers, "url": coverage_url(booth)}  # type: ignore[attr-defined]
        for booth in page.object_list
    ]
    context = {
        "unit": unit,
        "unit_label": selectors.unit_label(unit),
        "page": page,
        "rows": rows,
        "targets": _targets(),
        "unit_url": coverage_url(unit),
        "breadcrumbs": [
            *_coverage_crumbs(request, unit)[:-1],
            Crumb(selectors.unit_label(unit), coverage_url(unit)),
            Crumb(_("Gaps")),
        ],
    }
    return render(request, "people/coverage_gaps.html", context)
