"""Admin choice lists and autocompletes are scoped: a block coordinator (staff, every people permission)
who posts a form with the id of someone outside Bagaha-1 gets the form back with an error and without
that person's name; autocompletes offer only people inside the scope; and no form of any registered
admin offers a scoped row (person, contact point, consent, post) from outside it."""

from __future__ import annotations

import json

import pytest
from django import forms
from django.contrib import admin
from django.urls import reverse

from sampark.people.models import Consent, ContactPoint, Person, Post, Role
from tests.helpers.personas import BAGAHA_BOOTHS, build_world

pytestmark = pytest.mark.django_db
OUTSIDER = "v181-1"  # Volunteer 181-1, Patna Sadar
OUTSIDER_NAME = "Volunteer 181-1"
BLOCK_Y_NAME = "Block Y Coordinator"


@pytest.fixture
def world(settings):
    return build_world()


def test_a_post_form_with_foreign_ids_comes_back_without_their_names(world):
    block_x = world.clients["block_x"]
    data = {
        "person": world.people[OUTSIDER].pk,
        "role": Role.BOOTH_VOLUNTEER,
        "unit": "booth:1-1",
        "started_on": "2026-01-01",
        "referred_by": world.people["block_y"].pk,
    }
    response = block_x.post(reverse("admin:people_post_add"), data)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert {"person", "referred_by"} <= set(form.errors)
    page = response.content.decode()
    assert OUTSIDER_NAME not in page
    assert BLOCK_Y_NAME not in page
    assert Post.objects.filter(person=world.people[OUTSIDER]).count() == 1  # only their own booth post


def test_a_person_form_with_a_foreign_referrer_comes_back_without_the_referrers_name(world):
    sita = world.people["sita"]
    data = {
        "name": sita.name,
        "age": "30",
        "gender": sita.gender,
        "language": sita.language,
        "home_booth": sita.home_booth_id,
        "referred_by": world.people[OUTSIDER].pk,
    }
    response = world.clients["block_x"].post(reverse("admin:people_person_change", args=[sita.pk]), data)
    assert response.status_code == 200
    assert "referred_by" in response.context["adminform"].form.errors
    assert OUTSIDER_NAME not in response.content.decode()
    sita.refresh_from_db()
    assert sita.referred_by_id is None


def autocomplete(client, model: str, field: str, term: str) -> set[str]:
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "people", "model_name": model, "field_name": field, "term": term},
    )
    assert response.status_code == 200, response.content[:300]
    return {row["text"] for row in json.loads(response.content)["results"]}


@pytest.mark.parametrize(
    ("model", "field"), [("post", "person"), ("post", "referred_by"), ("person", "referred_by")]
)
def test_autocompletes_offer_only_people_inside_the_scope(world, model, field):
    found = autocomplete(world.clients["block_x"], model, field, "Volunteer")
    assert found == {f"Volunteer {code}" for code in BAGAHA_BOOTHS}
    assert autocomplete(world.clients["block_x"], model, field, "Block Y") == set()
    assert OUTSIDER_NAME in autocomplete(world.clients["block_y"], model, field, "Volunteer")


def test_no_admin_form_offers_a_scoped_row_from_outside_the_scope(world, rf):
    outsider = world.people[OUTSIDER]
    outside = {
        Person: outsider.pk,
        ContactPoint: ContactPoint.objects.filter(person=outsider).first().pk,
        Consent: Consent.objects.filter(contact_point__person=outsider).first().pk,
        Post: Post.objects.get(person=outsider).pk,
    }
    request = rf.get("/admin/")
    request.user = Person.objects.get(pk=world.people["block_x"].pk).user
    checked, offered = 0, []
    for model, model_admin in admin.site._registry.items():
        # Superusers and the add form see every field an editor could be shown.
        form_class = model_admin.get_form(request, None) if hasattr(model_admin, "get_form") else None
        if form_class is None:
            continue
        for name, field in form_class.base_fields.items():
            if isinstance(field, forms.ModelChoiceField) and field.queryset.model in outside:
                checked += 1
                pk = outside[field.queryset.model]
                if field.queryset.filter(pk=pk).exists():
                    offered.append(f"{model.__name__}.{name}")
    assert offered == []
    assert checked >= 3  # post.person, post.referred_by, person.referred_by at least
