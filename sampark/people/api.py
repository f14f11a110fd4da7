"""``/api/``: people and coverage as JSON for logged-in users (session auth; CSRF checked on writes).

Scoped exactly as the pages: every query goes through :mod:`sampark.people.selectors`. Anything outside
the caller's scope, or that does not exist, is a 404 with the same body; no session is a 401. Malformed
input is a 4xx, never a 500: every number is bounded to what the database can hold (an offset of 2⁶³
was an OverflowError in SQLite), every string has a length, and the OpenAPI schema declares the 400 and
422 answers of every operation, so a schema-driven fuzzer (``tests/test_api_fuzz.py``) holds us to it.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from ninja import Field, NinjaAPI, Path, Query, Schema
from ninja.errors import HttpError
from ninja.openapi.schema import OpenAPISchema
from ninja.security import django_auth

from sampark.core.text import clean

from . import selectors
from .coverage import unit_key
from .models import Person, Role
from .scope import Action, scope_for

MAX_LIMIT = 200
# The paginator's bound: a crore of rows is more people than any state's campaign has, and far inside
# the 64-bit integers SQLite and PostgreSQL take for OFFSET (2⁶³ was a 500).
MAX_OFFSET = 10**7
# Primary keys are 64-bit (BigAutoField): anything larger names nothing and is refused before a query.
MAX_ID = 2**63 - 1
UNIT_DESCRIPTION = "state, district:<LGD>, ac:<number>, block:<LGD>, booth:<code>"


class Error(Schema):
    detail: str


class InputIssue(Schema):
    type: str
    loc: list[str | int]
    msg: str


class Invalid(Schema):
    """422: the parameters did not validate (a list of issues), or a value cannot apply (a sentence)."""

    detail: str | list[InputIssue]


class SamparkAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        """Every operation declares its 400 and 422 answers (ninja lists only what a view names), so a
        client and a fuzzer know malformed input is refused, not a server error."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (Error, Invalid):
            found = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(found.pop("$defs", {}))
            components.setdefault(model.__name__, found)
        declared = {
            "400": ("Malformed request", "Error"),
            "422": ("Invalid parameters", "Invalid"),
        }
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for code, (description, name) in declared.items():
                    responses.setdefault(
                        code,
                        {
                            "description": description,
                            "content": {
                                "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                            },
                        },
                    )
        return schema


api = SamparkAPI(
    title="Sampark",
    version="1",
    urls_namespace="api",
    auth=django_auth,  # session cookie; ninja's SessionAuth checks the CSRF token on unsafe methods
    docs_decorator=login_required,
)


class PeopleQuery(Schema):
    q: str = Field(
        "", max_length=200, description="name in Devanagari or Latin, or the last digits of a mobile number"
    )
    unit: str = Field("", max_length=100, description=UNIT_DESCRIPTION)
    # The schema names the values a filter takes, so "valid by the schema" and "accepted" are the same.
    role: Role | Literal[""] = Field("", description="a post, e.g. booth_volunteer")
    consent: Literal["", "live", "withdrawn", "none"] = Field("", description="live, withdrawn or none")
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class PostOut(Schema):
    id: int
    role: str
    level: str
    unit: str
    unit_name: str
    started_on: datetime.date
    ended_on: datetime.date | None


class ConsentOut(Schema):
    given_at: datetime.datetime
    source: str
    notice_version: str
    notice_language: str
    withdrawn_at: datetime.datetime | None
    withdrawn_via: str


class ContactPointOut(Schema):
    id: int
    channel: str
    address: str
    consent_live: bool
    consents: list[ConsentOut]


class PersonOut(Schema):
    id: int
    name: str
    phone: str = Field(description="E.164 in full with the right to see numbers, else masked")
    language: str
    booth: str | None = Field(description="home booth code")
    posts: list[PostOut] = Field(description="active posts inside the caller's scope")
    consent: dict[str, bool] = Field(description="channel → consent live")


class PersonDetailOut(PersonOut):
    contact_points: list[ContactPointOut]


class PeoplePage(Schema):
    count: int
    limit: int
    offset: int
    items: list[PersonOut]


class CoverageRow(Schema):
    unit: str
    kind: str
    name: str
    booths: int
    booths_at_target: int
    coverage_percent: float
    volunteers: int
    panchayats_covered: int
    blocks: int | None
    blocks_at_target: int | None


class CoverageOut(CoverageRow):
    children: list[CoverageRow]


def _post(post: Any) -> dict[str, Any]:
    return {
        "id": post.pk,
        "role": post.role,
        "level": post.level,
        "unit": unit_key(post.unit),
        "unit_name": str(post.unit),
        "started_on": post.started_on,
        "ended_on": post.ended_on,
    }


def _person(person: Person, *, phones: bool, posts: list[Any]) -> dict[str, Any]:
    consent: dict[str, bool] = {}
    for point in getattr(person, "points", []):
        consent[point.channel] = consent.get(point.channel, False) or point.consent_live
    return {
        "id": person.pk,
        "name": person.name,
        "phone": selectors.shown_phone(person.phone, visible=phones),
        "language": person.language,
        "booth": person.home_booth.code if person.home_booth else None,
        "posts": [_post(post) for post in posts],
        "consent": consent,
    }


def _not_found() -> HttpError:
    return HttpError(404, "Not found")


@api.get("/people", response={200: PeoplePage, 401: Error, 404: Error}, summary="People in scope")
def people(request: HttpRequest, filters: Query[PeopleQuery]) -> dict[str, Any]:
    """The people the caller may see, filtered as the people page; ``limit`` at most 200.

    An unknown unit and one outside the caller's scope are the same 404."""
    try:
        flt = selectors.people_filter(filters.dict(), user=request.user)
    except selectors.FilterError as exc:
        if exc.field == "unit":
            raise _not_found() from exc
        raise HttpError(422, str(exc)) from exc
    queryset = selectors.people_list(request.user, flt)
    count = queryset.count()
    page = list(queryset[filters.offset : filters.offset + filters.limit])
    visible = selectors.phones_visible(request.user, [p.pk for p in page])
    items = [_person(p, phones=p.pk in visible, posts=p.active_posts) for p in page]  # type: ignore[attr-defined]
    return {"count": count, "limit": filters.limit, "offset": filters.offset, "items": items}


@api.get("/people/{person_id}", response={200: PersonDetailOut, 401: Error, 404: Error}, summary="One person")
def person(request: HttpRequest, person_id: int = Path(..., ge=1, le=MAX_ID)) -> dict[str, Any]:
    """A person with every post in scope (ended ones too) and each contact point's consent history."""
    found = selectors.person_detail(request.user, person_id)
    if found is None:
        raise _not_found()
    phones = found.pk in selectors.phones_visible(request.user, [found.pk])
    data = _person(found, phones=phones, posts=found.all_posts)  # type: ignore[attr-defined]
    data["contact_points"] = [
        {
            "id": point.pk,
            "channel": point.channel,
            "address": selectors.shown_address(point, visible=phones),
            "consent_live": point.consent_live,
            "consents": point.history,
        }
        for point in found.points  # type: ignore[attr-defined]
    ]
    return data


@api.get("/coverage", response={200: CoverageOut, 401: Error, 404: Error}, summary="Coverage of a unit")
def coverage(
    request: HttpRequest,
    unit: str = Query(..., max_length=100, description=UNIT_DESCRIPTION),
    by: str = Query(
        "", max_length=20, description="ac: a district's assembly constituencies instead of its blocks"
    ),
) -> dict[str, Any]:
    """``Coverage.as_dict()`` of a unit in the caller's scope and of each of its children."""
    found = selectors.unit_in_scope(clean(unit), scope_for(request.user, Action.VIEW))
    if found is None:
        raise _not_found()
    try:
        report = selectors.coverage_report(request.user, found, by="ac" if by == "ac" else "")
    except PermissionError as exc:
        raise _not_found() from exc
    return report.as_dict()
