"""Copied booth ancestors follow relinks; CHANGE needs rank; a login with no post still sees itself."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model

from sampark.people import services
from sampark.people.coverage import coverage_of
from sampark.people.models import BoothCoverage, Person, Post, Role
from sampark.people.scope import Action, scope_for
from sampark.territory.hooks import booth_links_changed
from sampark.territory.models import Booth
from tests.helpers.territory import build_bihar

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 1, 5)


def register(n: int, booth: Booth, role: str = Role.BOOTH_VOLUNTEER, unit: object | None = None) -> Person:
    person = services.person_register(name=f"Person {n}", phone=f"98765{n:05d}", age=25, home_booth=booth)
    services.post_assign(person=person, role=role, unit=unit or booth, started_on=DAY)
    return person


def login(person: Person, name: str) -> object:
    user = get_user_model().objects.create_user(name, password="a long enough passphrase")
    person.user = user
    person.save(update_fields=["user"])
    return get_user_model().objects.get(pk=user.pk)


def test_it_moves_posts_and_coverage_with_a_relinked_booth():
    tree = build_bihar()
    booth = tree.booth  # 1-2, in Harnatand (Bagaha-1)
    volunteer = register(1, booth)
    assert BoothCoverage.objects.get(booth=booth).panchayat_id == tree.harnatand.pk
    assert coverage_of(tree.harnatand).volunteers == 1

    # The panchayat mapping relinks the booth to Naurangia, then fires the hook (as its importer does).
    Booth.objects.filter(pk=booth.pk).update(panchayat=tree.naurangia)
    booth_links_changed()

    post = Post.objects.get(person=volunteer)
    assert (post.panchayat_id, post.block_id) == (tree.naurangia.pk, tree.naurangia.block_id)
    assert BoothCoverage.objects.get(booth=booth).panchayat_id == tree.naurangia.pk
    assert coverage_of(tree.harnatand).volunteers == 0
    assert coverage_of(tree.naurangia).volunteers == 1
    assert coverage_of(tree.naurangia).panchayats_covered == 1


def test_it_lets_no_one_change_a_person_of_equal_or_higher_rank():
    tree = build_bihar()
    booth = tree.booth
    president = register(1, booth, Role.BOOTH_PRESIDENT)
    volunteer = register(2, booth)
    # The state coordinator lives at the same booth: inside the president's subtree, but senior.
    state_head = register(3, booth, Role.STATE_COORDINATOR, tree.state)
    other_president = register(4, booth, Role.BOOTH_PRESIDENT)
    user = login(president, "president")

    changeable = set(Person.objects.visible_to(user, Action.CHANGE).values_list("pk", flat=True))
    visible = set(Person.objects.visible_to(user, Action.VIEW).values_list("pk", flat=True))

    assert changeable == {volunteer.pk}
    assert {state_head.pk, other_president.pk, volunteer.pk, president.pk} <= visible


def test_a_login_whose_posts_ended_sees_only_itself():
    tree = build_bihar()
    former = register(1, tree.booth)
    register(2, tree.booth)
    post = Post.objects.get(person=former)
    services.post_end(post=post, ended_on=DAY + datetime.timedelta(days=1))
    user = login(former, "former")

    assert scope_for(user, Action.VIEW).nothing
    assert list(Person.objects.visible_to(user).values_list("pk", flat=True)) == [former.pk]
    assert not Person.objects.visible_to(user, Action.CHANGE).exists()


def test_people_are_placed_only_by_active_posts():
    tree = build_bihar()
    coordinator = register(1, tree.booth, Role.BLOCK_COORDINATOR, tree.bagaha)
    # Lives in Patna, once held a post in Bagaha-1 that has ended.
    patna_booth = Booth.objects.get(code="181-1")
    mover = services.person_register(name="Mover", phone="9876500099", age=30, home_booth=patna_booth)
    old = services.post_assign(person=mover, role=Role.BOOTH_VOLUNTEER, unit=tree.booth, started_on=DAY)
    user = login(coordinator, "block")
    assert mover.pk in set(Person.objects.visible_to(user).values_list("pk", flat=True))

    services.post_end(post=old, ended_on=DAY + datetime.timedelta(days=2))
    assert mover.pk not in set(Person.objects.visible_to(user).values_list("pk", flat=True))
