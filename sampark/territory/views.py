"""The territory browser: state → district → AC / block → panchayat → booth, with counts at every level.

Views only parse the URL and query string and call :mod:`sampark.territory.selectors`; each page costs a
fixed number of queries whatever the size of the state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from sampark.territory import selectors
from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat, State

BOOTHS_PER_PAGE = 50


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@dataclass(frozen=True, slots=True)
class Crumb:
    label: str
    url: str = ""


def _state_crumbs(state: State) -> list[Crumb]:
    return [Crumb(state.name, reverse("territory:state", args=[state.lgd_code]))]


def _district_crumbs(district: District) -> list[Crumb]:
    url = reverse("territory:district", args=[district.lgd_code])
    return [*_state_crumbs(district.state), Crumb(district.name, url)]


def _ac_crumbs(ac: AssemblyConstituency) -> list[Crumb]:
    parents = _district_crumbs(ac.district) if ac.district else _state_crumbs(ac.state)
    return [*parents, Crumb(str(ac), reverse("territory:ac", args=[ac.state.lgd_code, ac.number]))]


def _block_crumbs(block: Block) -> list[Crumb]:
    return [*_district_crumbs(block.district), Crumb(block.name, reverse("territory:block", args=[block.pk]))]


def _panchayat_crumbs(panchayat: Panchayat) -> list[Crumb]:
    parents = _block_crumbs(panchayat.block) if panchayat.block else _district_crumbs(panchayat.district)
    return [*parents, Crumb(panchayat.name, reverse("territory:panchayat", args=[panchayat.pk]))]


def login_required_htmx(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``login_required`` that, for an htmx request, sends the whole page to the login form.

    A plain redirect would be followed by htmx and the login form swapped into the search results.
    """
    protected = login_required(view)

    @wraps(view)
    def wrapper(request: HtmxHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.htmx and not request.user.is_authenticated:
            current = request.htmx.current_url_abs_path or request.get_full_path()
            return HttpResponseClientRedirect(redirect_to_login(current).url)
        return protected(request, *args, **kwargs)

    return wrapper


def _is_partial(request: HtmxHttpRequest) -> bool:
    """An htmx request for the results only (not a history restore, which needs the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


@login_required
def home(request: HttpRequest) -> HttpResponse:
    only = selectors.sole_state_with_booths()
    if only is not None:
        return redirect("territory:state", lgd_code=only.lgd_code)
    rows = selectors.states_overview()
    return render(request, "territory/home.html", {"rows": rows, "totals": selectors.totals(rows)})


@login_required
def state_detail(request: HttpRequest, lgd_code: int) -> HttpResponse:
    state = get_object_or_404(State, lgd_code=lgd_code)
    overview = selectors.state_overview(state)
    context = {
        "state": state,
        "rows": overview.districts,
        "totals": selectors.totals(overview.districts),
        "unlinked_acs": overview.unlinked_acs,
        "breadcrumbs": _state_crumbs(state),
    }
    return render(request, "territory/state_detail.html", context)


@login_required
def district_detail(request: HttpRequest, lgd_code: int) -> HttpResponse:
    district = get_object_or_404(selectors.districts_with_state(), lgd_code=lgd_code)
    ac_rows = selectors.district_acs(district)
    block_rows, outside_blocks = selectors.district_blocks(district)
    block_totals = selectors.totals(block_rows)
    context = {
        "district": district,
        "state": district.state,
        "ac_rows": ac_rows,
        "ac_totals": selectors.totals(ac_rows),
        "block_rows": block_rows,
        "block_totals": block_totals,
        "outside_blocks": outside_blocks,
        "booths": block_totals.booths + outside_blocks,
        "breadcrumbs": _district_crumbs(district),
    }
    return render(request, "territory/district_detail.html", context)


@login_required_htmx
def ac_detail(request: HtmxHttpRequest, state_lgd: int, number: int) -> HttpResponse:
    ac = get_object_or_404(selectors.acs_with_parents(), state__lgd_code=state_lgd, number=number)
    query = request.GET.get("q", "").strip()
    page = Paginator(selectors.ac_booths(ac, query), BOOTHS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"ac": ac, "state": ac.state, "query": query, "page": page}
    if _is_partial(request):
        response = render(request, "territory/ac_detail.html#booth-results", context)
    else:
        context["counts"] = selectors.booth_counts(ac=ac)
        context["breadcrumbs"] = _ac_crumbs(ac)
        response = render(request, "territory/ac_detail.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
def block_detail(request: HttpRequest, pk: int) -> HttpResponse:
    block = get_object_or_404(selectors.blocks_with_parents(), pk=pk)
    rows, outside_panchayats = selectors.block_panchayats(block)
    panchayat_totals = selectors.totals(rows)
    # Not ``block``: templates bind that name to the block tag (``{{ block.super }}``).
    context = {
        "current_block": block,
        "state": block.district.state,
        "rows": rows,
        "totals": panchayat_totals,
        "outside_panchayats": outside_panchayats,
        "booths": panchayat_totals.booths + outside_panchayats,
        "breadcrumbs": _block_crumbs(block),
    }
    return render(request, "territory/block_detail.html", context)


@login_required
def block_by_lgd(request: HttpRequest, lgd_code: int) -> HttpResponse:
    block = get_object_or_404(Block.objects.only("pk"), lgd_code=lgd_code)
    return redirect("territory:block", pk=block.pk)


@login_required
def panchayat_detail(request: HttpRequest, pk: int) -> HttpResponse:
    panchayat = get_object_or_404(selectors.panchayats_with_parents(), pk=pk)
    page = Paginator(selectors.panchayat_booths(panchayat), BOOTHS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "panchayat": panchayat,
        "state": panchayat.district.state,
        "page": page,
        "counts": selectors.booth_counts(panchayat=panchayat),
        "breadcrumbs": _panchayat_crumbs(panchayat),
    }
    return render(request, "territory/panchayat_detail.html", context)


@login_required
def panchayat_by_lgd(request: HttpRequest, lgd_code: int) -> HttpResponse:
    panchayat = get_object_or_404(Panchayat.objects.only("pk"), lgd_code=lgd_code)
    return redirect("territory:panchayat", pk=panchayat.pk)


@login_required
def booth_detail(request: HttpRequest, state_lgd: int, code: str) -> HttpResponse:
    booth: Booth = get_object_or_404(selectors.booths_with_parents(), state__lgd_code=state_lgd, code=code)
    context = {
        "booth": booth,
        "state": booth.state,
        "breadcrumbs": [*_ac_crumbs(booth.ac), Crumb(booth.code)],
    }
    return render(request, "territory/booth_detail.html", context)
